package mysql

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/metrics"
)

// TestMetrics: binlog events are counted, and the bytes of binlog the server keeps after
// the acknowledged position are reported.
func TestMetrics(t *testing.T) {
	exec(t, `CREATE DATABASE met; CREATE TABLE met.t (id INT PRIMARY KEY, pad VARCHAR(200))`)
	ms := metrics.New(prometheus.NewRegistry())
	ctx := context.Background()
	s, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "met.t"}, connector.Env{Pipeline: "met", Metrics: ms})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables, _ := s.Tables(ctx)
	from, _ := s.Position(ctx)
	exec(t, `USE met; INSERT INTO t SELECT seq, REPEAT('x', 200) FROM seq_1_to_500`)
	streamIDs(t, s, from, tables, 500)
	if n := testutil.ToFloat64(ms.SourceEvents.WithLabelValues("met")); n < 3 {
		t.Fatalf("binlog events counted: %v", n)
	}
	p, _ := decodePosition(from)
	if pos := testutil.ToFloat64(ms.SourcePosition.WithLabelValues("met", p.File)); pos <= float64(p.Pos) {
		t.Fatalf("binlog position metric %v, want past %d in %s", pos, p.Pos, p.File)
	}
	if err := s.Ack(ctx, from); err != nil {
		t.Fatal(err)
	}
	if b := testutil.ToFloat64(ms.SourceRetained.WithLabelValues("met")); b < 500*200 {
		t.Fatalf("retained bytes after the acknowledged position: %v, want at least the 100 kB written since", b)
	}
}
