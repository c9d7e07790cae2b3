package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/metrics"
)

// TestMetricsAndRateLimit: WAL messages are counted; the WAL the slot holds back is
// reported while nothing is acknowledged; and scan.rate-limit.rows-per-second holds the
// stream back (2,000 rows at 1,000 rows/s, burst 1,024: at least a second).
func TestMetricsAndRateLimit(t *testing.T) {
	createDB(t, "met", `CREATE TABLE t (id INT PRIMARY KEY, pad TEXT)`)
	ms := metrics.New(prometheus.NewRegistry())
	ctx := context.Background()
	o := options("met", "public.t")
	o.Heartbeat, o.RowsPerSecond = 100*time.Millisecond, 1000
	s, err := New(ctx, o, connector.Env{Pipeline: "met", Metrics: ms})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables, _ := s.Tables(ctx)
	from, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, "met", `INSERT INTO t SELECT g, repeat('x', 1000) FROM generate_series(1, 2000) g`)
	n := 0
	start := time.Now()
	streamUntil(t, s, from, tables, func(b event.Batch) bool {
		n += len(b.Changes)
		return n == 2000 && time.Since(start) > 300*time.Millisecond // a few heartbeats for the slot metric
	})
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("2,000 rows at 1,000 rows/s took %s; the limit did not hold", took)
	}
	if e := testutil.ToFloat64(ms.SourceEvents.WithLabelValues("met")); e < 2000 {
		t.Errorf("WAL messages counted: %v, want at least the 2,000 inserts", e)
	}
	if b := testutil.ToFloat64(ms.SourceRetained.WithLabelValues("met")); b < 2000*1000 {
		t.Errorf("retained WAL %v bytes, want at least the 2 MB written since the unacknowledged start", b)
	}
}
