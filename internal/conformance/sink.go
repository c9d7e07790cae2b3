package conformance

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
)

// SinkHarness is how the sink suite drives one sink connector.
type SinkHarness struct {
	// Open opens a new instance of the sink for pipeline "conformance", as a new process
	// would after the previous one died. The suite closes it.
	Open func(t *testing.T) connector.Sink
	// Read returns what the sink has committed so far, as change records in an order that
	// keeps each key's changes in commit order.
	Read func(t *testing.T) []Record
	// ExactlyOnce: a change applied, lost in a crash before commit, and applied again
	// after a restart is committed once. Otherwise it may be committed twice (at least once).
	ExactlyOnce bool
	// Image, when set, is what a sink that keeps one row per key (an upserting table)
	// holds, keyed as Fold keys it; the suite then compares that with the fold of the
	// changes instead of reading records.
	Image func(t *testing.T) map[string]map[string]any
}

// checkCommitted checks that the sink holds exactly the first n changes of m.
func checkCommitted(t *testing.T, h SinkHarness, m *datagen.Model, n int64) {
	t.Helper()
	if h.Image == nil {
		if err := CheckDatagen(h.Read(t), m, n, false); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := Fold(datagenRecords(t, m, n), idKeys(m))
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffImages(want, h.Image(t), 10); d != "" {
		t.Fatalf("the sink does not hold the fold of the %d changes:\n%s", n, d)
	}
}

// RunSinkSuite runs the conformance tests every sink must pass.
func RunSinkSuite(t *testing.T, h SinkHarness) {
	t.Run("OrderPerKeyAcrossPartitions", func(t *testing.T) { sinkOrderPerKey(t, h) })
	t.Run("CrashBeforeCommitThenReplay", func(t *testing.T) { sinkReplay(t, h) })
	t.Run("CheckpointKept", func(t *testing.T) { sinkCheckpointKept(t, h) })
}

var suiteTables = []event.TableID{{Schema: "conf", Table: "a"}, {Schema: "conf", Table: "b"}}

// partitionByKey splits changes over n partitions by key, as the engine does: one key's
// changes in one partition, in order.
func partitionByKey(changes []event.Change, n int) [][]event.Change {
	out := make([][]event.Change, n)
	for _, c := range changes {
		k := c.Row()[0].Int()
		p := int(k % int64(n))
		out[p] = append(out[p], c)
	}
	return out
}

// applyConcurrently applies each partition's changes from its own goroutine, in batches
// of batch changes, as the engine's writers do.
func applyConcurrently(t *testing.T, s connector.Sink, parts [][]event.Change, batch int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for p, changes := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(changes); i += batch {
				b := &connector.Batch{Partition: p, Changes: changes[i:min(i+batch, len(changes))]}
				if err := s.Apply(context.Background(), b); err != nil {
					errs <- fmt.Errorf("apply to partition %d: %w", p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func suiteCheckpoint(seq int64, pos event.Position, changes int64) *checkpoint.Checkpoint {
	return &checkpoint.Checkpoint{Pipeline: "conformance", Generation: 1, Seq: seq, Position: pos,
		Changes: changes, Time: time.Now().UTC()}
}

func sinkOrderPerKey(t *testing.T, h SinkHarness) {
	m := datagen.NewModel(3, 200, suiteTables)
	s := h.Open(t)
	defer s.Close()
	const n = 3000
	b := m.Changes(0, n, 1, 0)
	applyConcurrently(t, s, partitionByKey(b.Changes, 4), 97)
	if err := s.Commit(context.Background(), suiteCheckpoint(1, "3000", n)); err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, h, m, n)
}

func sinkReplay(t *testing.T, h SinkHarness) {
	m := datagen.NewModel(5, 100, suiteTables)
	first, second := m.Changes(0, 1000, 1, 0), m.Changes(1000, 1000, 1, 0)

	s := h.Open(t)
	applyConcurrently(t, s, partitionByKey(first.Changes, 3), 50)
	if err := s.Commit(context.Background(), suiteCheckpoint(1, "1000", 1000)); err != nil {
		t.Fatal(err)
	}
	applyConcurrently(t, s, partitionByKey(second.Changes, 3), 50)
	s.Close() // the process dies before its next commit

	s = h.Open(t)
	defer s.Close()
	if k, ok := s.(connector.CheckpointKeeper); ok {
		cp, err := k.LoadCheckpoint(context.Background(), "conformance")
		if err != nil {
			t.Fatal(err)
		}
		if cp == nil || cp.Seq != 1 || cp.Position != "1000" {
			t.Fatalf("after a crash the sink keeps checkpoint %+v, want seq 1 at position 1000", cp)
		}
	}
	applyConcurrently(t, s, partitionByKey(second.Changes, 3), 50)
	if err := s.Commit(context.Background(), suiteCheckpoint(2, "2000", 2000)); err != nil {
		t.Fatal(err)
	}
	if h.ExactlyOnce || h.Image != nil {
		checkCommitted(t, h, m, 2000)
		return
	}
	if recs := h.Read(t); len(recs) < 2000 {
		t.Fatalf("at least once: %d records committed, want at least 2000", len(recs))
	}
}

func sinkCheckpointKept(t *testing.T, h SinkHarness) {
	s := h.Open(t)
	if _, ok := s.(connector.CheckpointKeeper); !ok {
		s.Close()
		return // the engine's store keeps the checkpoint for this sink; nothing to check
	}
	for seq := int64(1); seq <= 3; seq++ {
		// An empty commit still records the checkpoint: an idle source's position advances.
		if err := s.Commit(context.Background(), suiteCheckpoint(seq, event.Position(fmt.Sprint(seq*10)), 0)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = h.Open(t)
	defer s.Close()
	cp, err := s.(connector.CheckpointKeeper).LoadCheckpoint(context.Background(), "conformance")
	if err != nil {
		t.Fatal(err)
	}
	if cp == nil || cp.Seq != 3 || cp.Position != "30" {
		t.Fatalf("a reopened sink keeps %+v, want seq 3 at position 30", cp)
	}
}
