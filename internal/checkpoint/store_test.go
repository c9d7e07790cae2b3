package checkpoint

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/types"
)

// stores opens two handles on one store (two processes' views) for each implementation.
func stores(t *testing.T) map[string]func() Store {
	dir := t.TempDir()
	table := "cp_" + time.Now().Format("150405_000000000")
	return map[string]func() Store{
		"local": func() Store {
			s, err := OpenLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func() Store {
			s, err := OpenPostgres(context.Background(), pg.URL("postgres"), table)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func sample(gen, seq int64) *Checkpoint {
	return &Checkpoint{
		Pipeline: "p", Generation: gen, Seq: seq, Position: `{"gtid":"0-1-42"}`,
		Snapshot: &SnapshotState{Tables: []snapshot.TableProgress{{
			Table: event.TableID{Schema: "shop", Table: "orders"}, Next: event.Row{event.Int(100), event.String("k")}, NextIndex: 3,
			Pending: []snapshot.Chunk{{Table: event.TableID{Schema: "shop", Table: "orders"}, Index: 2,
				Lo: event.Row{event.Int(50), event.String("a")}, Hi: event.Row{event.Int(100), event.String("k")}}},
			Done: 2, Rows: 99}}},
		Schemas: []*event.Schema{{ID: event.TableID{Schema: "shop", Table: "orders"},
			Columns: []event.Column{{Name: "id", Type: types.Type{Kind: types.Int64}}, {Name: "price", Type: types.Type{Kind: types.Decimal, Precision: 65, Scale: 30}, Nullable: true}},
			Key:     []int{0}}},
		Changes: 1234,
		Time:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestStores(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := open()
			if cp, err := a.Load(ctx, "p"); err != nil || cp != nil {
				t.Fatalf("fresh store: %v, %v", cp, err)
			}
			genA, err := a.Acquire(ctx, "p")
			if err != nil {
				t.Fatal(err)
			}
			want := sample(genA, 1)
			if err := a.Save(ctx, want); err != nil {
				t.Fatal(err)
			}
			got, err := a.Load(ctx, "p")
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v (%v)", got, want, err)
			}

			// A second process: the local store refuses it while the first holds the
			// pipeline; the shared store lets it take over and fences the first.
			b := open()
			genB, err := b.Acquire(ctx, "p")
			if name == "local" {
				if !errors.Is(err, ErrBusy) {
					t.Fatalf("second process: %v, want ErrBusy", err)
				}
				a.Release(ctx, "p")
				if genB, err = b.Acquire(ctx, "p"); err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if genB <= genA {
				t.Fatalf("generation %d after %d", genB, genA)
			}
			if err := a.Save(ctx, sample(genA, 2)); !errors.Is(err, ErrFenced) {
				t.Fatalf("stale writer saved: %v", err)
			}
			if err := b.Save(ctx, sample(genB, 2)); err != nil {
				t.Fatal(err)
			}
			if err := a.Reset(ctx, "p", genA); !errors.Is(err, ErrFenced) {
				t.Fatalf("stale writer reset: %v", err)
			}
			if err := b.Reset(ctx, "p", genB); err != nil {
				t.Fatal(err)
			}
			if cp, err := b.Load(ctx, "p"); err != nil || cp != nil {
				t.Fatalf("after reset: %v, %v", cp, err)
			}
		})
	}
}

// TestRequests: a request another process adds is listed, oldest first, by the process
// holding the pipeline until it says it is done; Running tells a held pipeline.
func TestRequests(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			holder, other := open(), open()
			gen, err := holder.Acquire(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			cp := sample(gen, 1)
			cp.Pipeline = "r"
			if err := holder.Save(ctx, cp); err != nil {
				t.Fatal(err)
			}
			h, o := holder.(Requester), other.(Requester)
			if running, err := o.Running(ctx, "r"); err != nil || !running {
				t.Fatalf("Running while held: %v, %v", running, err)
			}
			first, second := NewRequest([]string{"db.a"}), NewRequest([]string{"db.b", "db.c"})
			second.Time = first.Time.Add(time.Second)
			for _, r := range []Request{second, first} {
				if err := o.Request(ctx, "r", r); err != nil {
					t.Fatal(err)
				}
			}
			got, err := h.Requests(ctx, "r")
			if err != nil || len(got) != 2 || got[0].ID != first.ID || !reflect.DeepEqual(got[1].Resnapshot, second.Resnapshot) {
				t.Fatalf("requests: %+v, %v", got, err)
			}
			if err := h.Done(ctx, "r", []string{first.ID}); err != nil {
				t.Fatal(err)
			}
			if got, err := h.Requests(ctx, "r"); err != nil || len(got) != 1 || got[0].ID != second.ID {
				t.Fatalf("after one is done: %+v, %v", got, err)
			}
			if got, err := o.Requests(ctx, "elsewhere"); err != nil || len(got) != 0 {
				t.Fatalf("another pipeline's requests: %+v, %v", got, err)
			}
			if name == "local" {
				holder.Release(ctx, "r")
				if running, err := o.Running(ctx, "r"); err != nil || running {
					t.Fatalf("Running once released: %v, %v", running, err)
				}
			}
		})
	}
}
