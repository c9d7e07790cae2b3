package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// TestRowsPerSecondHoldsTheSnapshotBack reads 4,000 rows with a 2,000 rows/s limit: after
// the first second's burst, the limiter must have made the reader wait (a lower bound on
// the time taken, which a slow machine cannot break).
func TestRowsPerSecondHoldsTheSnapshotBack(t *testing.T) {
	exec(t, `CREATE DATABASE slow; USE slow; CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_4000`)
	s, err := New(context.Background(), Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "slow.t", RowsPerSecond: 2000},
		connector.Env{Pipeline: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := 0
	err = s.ReadChunk(context.Background(), tables[0], snapshot.Chunk{Table: tables[0].ID}, func(rows []event.Row) error {
		n += len(rows)
		return nil
	})
	if err != nil || n != 4000 {
		t.Fatalf("read %d rows: %v", n, err)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("4,000 rows at 2,000 rows/s (burst 2,000) took %s; the limit did not hold", took)
	}
}
