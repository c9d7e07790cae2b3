package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/sink/discard"
	"github.com/weir-data/weir/internal/source/datagen"
)

// TestSnapshotMetrics: per-table chunks, rows read, the source's estimate and the ETA.
func TestSnapshotMetrics(t *testing.T) {
	ms := metrics.New(prometheus.NewRegistry())
	store, _ := checkpoint.OpenLocal(t.TempDir())
	defer store.Close()
	src := datagen.New(datagen.NewModel(1, 1000, tables), 0)
	cfg := engine.Config{Pipeline: "m", Parallelism: 2, ChunkRows: 100, CheckpointInterval: time.Second}
	res, err := engine.New(cfg, snapshotOnly{src}, &discard.Writer{}, store, engine.Options{Metrics: ms}).Run(context.Background())
	if err != nil || !res.Finished {
		t.Fatalf("%v %v", res, err)
	}
	for _, id := range tables {
		name := id.String()
		for metric, want := range map[*prometheus.GaugeVec]float64{
			ms.SnapshotChunksDone: 10, ms.SnapshotChunksSeen: 10, ms.SnapshotRowsRead: 1000,
			ms.SnapshotRowsTotal: 1000, ms.SnapshotETA: 0,
		} {
			if got := testutil.ToFloat64(metric.WithLabelValues("m", name)); got != want {
				t.Errorf("%s: got %v, want %v", name, got, want)
			}
		}
	}
}
