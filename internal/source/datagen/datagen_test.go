package datagen_test

import (
	"context"
	"testing"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
)

func TestConformance(t *testing.T) {
	tables := []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}}
	conformance.RunSourceSuite(t, conformance.SourceHarness{
		Open: func(*testing.T) connector.Source {
			s := datagen.New(datagen.NewModel(1, 1000, tables), -1)
			s.SetTransactionSize(3)
			return s
		},
		Rows:        func(*testing.T, event.TableID) int64 { return 1000 },
		MakeChanges: func(*testing.T, int) {}, // generated
	})
}

// TestModelKeepsKeysConsistent replays the model's log over a map and checks that every
// change applies to the state the model says it does: inserts of absent keys, updates and
// deletes of present keys with the before image the state holds.
func TestModelKeepsKeysConsistent(t *testing.T) {
	for _, rows := range []int64{0, 1, 2, 10, 1000} {
		m := datagen.NewModel(9, rows, []event.TableID{{Schema: "a", Table: "b"}, {Schema: "a", Table: "c"}})
		state := map[[2]int64]int{} // (table, key) → version
		for ti := range m.Tables {
			for k := int64(1); k <= rows; k++ {
				state[[2]int64{int64(ti), k}] = 0
			}
		}
		for i := int64(0); i < 20000; i++ {
			st := m.StepAt(i)
			k := [2]int64{int64(st.Table), st.Key}
			v, present := state[k]
			switch st.Op {
			case event.OpInsert:
				if present {
					t.Fatalf("rows=%d change %d: insert of present key %v", rows, i, k)
				}
				state[k] = st.After
			case event.OpUpdate, event.OpDelete:
				if !present || v != st.Before {
					t.Fatalf("rows=%d change %d: %s of key %v with before version %d; state has %v (present %v)", rows, i, st.Op, k, st.Before, v, present)
				}
				if st.Op == event.OpDelete {
					delete(state, k)
				} else {
					state[k] = st.After
				}
			}
		}
	}
}

// TestStreamStopsAtMaxChanges: the last transaction is cut at max-changes, never past it.
func TestStreamStopsAtMaxChanges(t *testing.T) {
	s := datagen.New(datagen.NewModel(1, 10, []event.TableID{{Schema: "a", Table: "b"}}), -1)
	s.SetTransactionSize(3)
	s.SetMaxChanges(1000)
	n := 0
	err := s.Stream(t.Context(), "998", nil, func(_ context.Context, b event.Batch) error {
		n += len(b.Changes)
		if !b.Boundary || b.End != "1000" {
			t.Errorf("batch ends at %q boundary=%v, want 1000 at a boundary", b.End, b.Boundary)
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("got %d changes, %v; want 2", n, err)
	}
}
