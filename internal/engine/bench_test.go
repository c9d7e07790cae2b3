package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/sink/discard"
	"github.com/weir-data/weir/internal/source/datagen"
)

// BenchmarkEngine measures the hot path datagen → engine → discarding sink: one op is one
// change, so ns/op is the cost per change and allocs/op the allocations per change
// (datagen's own included; see BenchmarkDatagen for those alone).
func BenchmarkEngine(b *testing.B) {
	for _, p := range []int{1, 4} {
		b.Run("parallelism="+string(rune('0'+p)), func(b *testing.B) {
			benchEngine(b, []event.TableID{{Schema: "bench", Table: "t"}}, p, engine.Options{})
		})
	}
}

// BenchmarkEngineTables is BenchmarkEngine (parallelism 4, with metrics) over 1 and over
// 1,000 tables, the changes spread over them: a cost per table paid per message or per
// batch shows as ns/op growing with the tables (the per-table input counters were flushed
// by a scan of every table known, each message: 1,000 tables 5.2 µs/op against 2.2; the
// output counters looked up by their labels per run of one table's changes in a batch).
func BenchmarkEngineTables(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			ids := make([]event.TableID, n)
			for i := range ids {
				ids[i] = event.TableID{Schema: "bench", Table: fmt.Sprintf("t%04d", i)}
			}
			benchEngine(b, ids, 4, engine.Options{Metrics: metrics.New(prometheus.NewRegistry())})
		})
	}
}

// benchEngine runs b.N datagen changes over tables ids through the engine into a
// discarding sink, and checks they all went out.
func benchEngine(b *testing.B, ids []event.TableID, parallelism int, o engine.Options) {
	src := datagen.New(datagen.NewModel(1, 0, ids), -1)
	src.SetMaxChanges(int64(b.N))
	store, err := checkpoint.OpenLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	sink := &discard.Writer{}
	cfg := engine.Config{Pipeline: "bench", Parallelism: parallelism, CheckpointInterval: time.Second}
	e := engine.New(cfg, latestOnly{src}, sink, store, o)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	res, err := e.Run(context.Background())
	if err != nil || !res.Finished {
		b.Fatalf("run: %v %v", res, err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "changes/s")
	if sink.Applied() != int64(b.N) {
		b.Fatalf("applied %d of %d", sink.Applied(), b.N)
	}
}

// BenchmarkDatagen measures generating changes alone.
func BenchmarkDatagen(b *testing.B) {
	m := datagen.NewModel(1, 0, []event.TableID{{Schema: "bench", Table: "t"}})
	b.ReportAllocs()
	for i := 0; i < b.N; i += 1024 {
		m.Changes(int64(i), 1024, 1, 0)
	}
}

type latestOnly struct{ *datagen.Source }

func (latestOnly) StartupMode() string { return "latest-offset" }

// BenchmarkEngineOnly measures the engine alone: a source that re-emits one prebuilt batch
// of small rows, into a discarding sink. One op is one change.
func BenchmarkEngineOnly(b *testing.B) {
	for _, p := range []int{1, 4} {
		b.Run("parallelism="+string(rune('0'+p)), func(b *testing.B) {
			m := datagen.NewModel(1, 0, []event.TableID{{Schema: "bench", Table: "t"}})
			src := &replaySource{batch: m.Changes(0, 1024, 1, 0), total: b.N}
			store, err := checkpoint.OpenLocal(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			sink := &discard.Writer{}
			cfg := engine.Config{Pipeline: "bench", Parallelism: p, CheckpointInterval: time.Second}
			e := engine.New(cfg, src, sink, store, engine.Options{})
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			if _, err := e.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "changes/s")
			if sink.Applied() != int64(b.N) {
				b.Fatalf("applied %d of %d", sink.Applied(), b.N)
			}
		})
	}
}

// replaySource emits one batch again and again (read-only downstream, so sharing is safe
// here) until total changes are out, each ending at a transaction boundary.
type replaySource struct {
	batch event.Batch
	total int
}

func (s *replaySource) Tables(context.Context) ([]*event.Schema, error) {
	return []*event.Schema{s.batch.Changes[0].Schema}, nil
}
func (s *replaySource) Position(context.Context) (event.Position, error) { return "0", nil }
func (s *replaySource) StartupMode() string                              { return "latest-offset" }
func (s *replaySource) Close() error                                     { return nil }
func (s *replaySource) Stream(ctx context.Context, _ event.Position, _ []*event.Schema, emit func(context.Context, event.Batch) error) error {
	for sent := 0; sent < s.total; {
		b := s.batch
		b.Changes = b.Changes[:min(len(b.Changes), s.total-sent)]
		b.End, b.Boundary = "x", true
		if err := emit(ctx, b); err != nil {
			return err
		}
		sent += len(b.Changes)
	}
	return nil
}
