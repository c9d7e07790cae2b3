package postgres

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/event"
)

// streamUntil streams s from pos and hands each batch to f until f returns true or a
// minute passes.
func streamUntil(t *testing.T, s *Source, pos event.Position, tables []*event.Schema, f func(b event.Batch) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	finished := false
	err := s.Stream(ctx, pos, tables, func(_ context.Context, b event.Batch) error {
		if f(b) {
			finished = true
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !finished {
		t.Fatal("the stream did not deliver what was expected within a minute")
	}
}

// TestUnchangedToastedValues: an update that leaves a TOASTed value alone never emits a
// placeholder as data. Under REPLICA IDENTITY DEFAULT the column is marked unchanged (a
// sink keeps what it holds); under FULL the old row's value is used.
func TestUnchangedToastedValues(t *testing.T) {
	createDB(t, "toast", `CREATE TABLE d (id INT PRIMARY KEY, v INT, big TEXT);
		CREATE TABLE f (id INT PRIMARY KEY, v INT, big TEXT);
		ALTER TABLE f REPLICA IDENTITY FULL;
		INSERT INTO d SELECT 1, 0, string_agg(md5(g::text), '') FROM generate_series(1, 4000) g;
		INSERT INTO f SELECT * FROM d`)
	s := open(t, options("toast", "public.d, public.f"), "toast", 1)
	ctx := context.Background()
	tables, pos := tablesAndStart(t, s)
	exec(t, "toast", "UPDATE d SET v = 1; UPDATE f SET v = 1")
	var big string
	if err := connect(t, "toast").QueryRow(ctx, "SELECT big FROM d").Scan(&big); err != nil {
		t.Fatal(err)
	}
	got := map[string]event.Row{}
	streamUntil(t, s, pos, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			got[c.Schema.ID.Table] = c.After
		}
		return len(got) == 2
	})
	bigCol := tables[0].ColumnIndex("big")
	if v := got["d"][bigCol]; v.Rep() != event.RepUnchanged {
		t.Errorf("REPLICA IDENTITY DEFAULT: the untouched TOASTed column reads %.40v; want it marked unchanged", v)
	}
	if v := got["f"][bigCol]; v.Str() != big {
		t.Errorf("REPLICA IDENTITY FULL: the untouched TOASTed column reads %.40v (%d bytes); want the old value (%d bytes)", v, len(v.Str()), len(big))
	}
	if got["d"][1].Int() != 1 || got["f"][1].Int() != 1 {
		t.Error("the updated column is not the new value")
	}
}

// TestMillionRowTransaction: one transaction of a million rows streams in parts with
// bounded memory, and every row arrives, in order, with one boundary at its end: with
// protocol 2 the server streams it while it runs and weir spills it to a file until the
// commit; with protocol 1 the server spills it and sends it at the commit. Either way
// weir holds maxTxnBatch changes at a time.
func TestMillionRowTransaction(t *testing.T) {
	for _, inProgress := range []bool{true, false} {
		t.Run(fmt.Sprintf("in-progress=%v", inProgress), func(t *testing.T) { millionRows(t, inProgress) })
	}
}

func millionRows(t *testing.T, inProgress bool) {
	createDB(t, "bigtxn", `CREATE TABLE t (id INT PRIMARY KEY, pad TEXT)`)
	o := options("bigtxn", "public.t")
	o.NoStreamInProgress = !inProgress
	s := open(t, o, "bigtxn", 1)
	tables, pos := tablesAndStart(t, s)
	const rows = 1_000_000
	exec(t, "bigtxn", "INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 1000000) g")

	// The tests before may have left a large heap whose garbage the next collection would
	// only take at twice its size: start from a collected heap.
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // sample the heap while the transaction streams
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()
	n, boundaries, next := 0, 0, int64(1)
	streamUntil(t, s, pos, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			if c.After[0].Int() != next {
				t.Fatalf("row %d arrived where %d was next", c.After[0].Int(), next)
			}
			next++
		}
		n += len(b.Changes)
		if b.Boundary && len(b.Changes) > 0 {
			boundaries++
		}
		return n == rows
	})
	close(stop)
	wg.Wait()
	if boundaries != 1 {
		t.Errorf("%d batches with a boundary carried rows; want 1, at the commit", boundaries)
	}
	// A million rows of ~100 bytes are ~250 MB as events; the stream must never hold them.
	if p := peak.Load(); p > 64<<20 {
		t.Errorf("the heap peaked at %d MiB while the transaction streamed; want it bounded (< 64 MiB)", p>>20)
	}
	if streamed := s.streamed.Load() > 0; streamed != inProgress {
		t.Errorf("the transaction was streamed in progress: %v, want %v", streamed, inProgress)
	}
	t.Logf("1,000,000 rows in one transaction; heap peak %d MiB", peak.Load()>>20)
}

// TestTruncateAndColumnChanges: TRUNCATE and columns added, retyped and dropped reach the
// stream as schema changes at their place, and the rows after them have the new shape.
func TestTruncateAndColumnChanges(t *testing.T) {
	createDB(t, "ddl", `CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10)); INSERT INTO t VALUES (1, 1, 'x')`)
	s := open(t, options("ddl", "public.t"), "ddl", 1)
	tables, pos := tablesAndStart(t, s)
	exec(t, "ddl", `INSERT INTO t VALUES (2, 2, 'y');
		TRUNCATE t;
		ALTER TABLE t ADD COLUMN c TEXT DEFAULT 'new';
		ALTER TABLE t ALTER COLUMN b TYPE VARCHAR(50);
		ALTER TABLE t DROP COLUMN a;
		INSERT INTO t (id, b) VALUES (3, 'z')`)
	var seen []string
	streamUntil(t, s, pos, tables, func(b event.Batch) bool {
		if b.Schema != nil {
			seen = append(seen, b.Schema.String())
		}
		for _, c := range b.Changes {
			seen = append(seen, c.Op.String()+" "+c.After[0].String()+" "+strings.Join(c.Schema.KeyNames(), ",")+" cols="+colNames(c.Schema))
		}
		return len(seen) > 0 && strings.HasPrefix(seen[len(seen)-1], "insert 3")
	})
	want := []string{
		"insert 2 id cols=id,a,b",
		"truncate table ddl.public.t",
		"drop column ddl.public.t.a",
		"modify column ddl.public.t.b",
		"add column ddl.public.t.c",
		"insert 3 id cols=id,b,c",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the stream gave\n  %s\nwant\n  %s", strings.Join(seen, "\n  "), strings.Join(want, "\n  "))
	}
}

func colNames(s *event.Schema) string {
	var out []string
	for _, c := range s.Columns {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

// TestPartitionedTableAndOrigins: a partitioned table is read through its root, by
// snapshot and stream (the partitions never appear); transactions replayed by a
// replication origin named in filter.origins are left out.
func TestPartitionedTableAndOrigins(t *testing.T) {
	createDB(t, "parts", `CREATE TABLE m (id INT, region INT, v INT, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
		CREATE TABLE m_1 PARTITION OF m FOR VALUES IN (1);
		CREATE TABLE m_2 PARTITION OF m FOR VALUES IN (2);
		INSERT INTO m SELECT g, 1 + g % 2, g FROM generate_series(1, 100) g;
		SELECT pg_replication_origin_create('elsewhere')`)
	o := options("parts", `public.m.*`)
	o.SkipOrigins = []string{"elsewhere"}
	s := open(t, o, "parts", 1)
	ctx := context.Background()
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].ID.Table != "m" {
		t.Fatalf("tables %v; want the root m alone", tables)
	}
	if rows := readAll(t, s, tables[0]); len(rows) != 100 {
		t.Fatalf("the snapshot through the root read %d rows, want 100", len(rows))
	}
	pos, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, "parts")
	for _, q := range []string{
		"SELECT pg_replication_origin_session_setup('elsewhere')",
		"INSERT INTO m VALUES (1000, 1, 0)", // replayed from elsewhere: left out
		"SELECT pg_replication_origin_session_reset()",
		"INSERT INTO m VALUES (1001, 2, 0)",
		"UPDATE m SET region = 1 WHERE id = 1001 AND region = 2", // moves between partitions
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var got []string
	streamUntil(t, s, pos, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			got = append(got, fmt.Sprintf("%s %s %v", c.Op, c.Schema.ID.Table, c.Row()[0]))
		}
		return len(got) >= 3
	})
	// A row moving between partitions is a delete and an insert, both of the root.
	want := []string{"insert m 1001", "delete m 1001", "insert m 1001"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("the stream gave %q, want %q", got, want)
	}
}

// TestStreamedTransactionAborts: of transactions streamed while in progress, a rolled-back
// savepoint's rows and a whole rolled-back transaction are left out; the rest arrives.
func TestStreamedTransactionAborts(t *testing.T) {
	createDB(t, "abort", `CREATE TABLE t (id INT PRIMARY KEY, pad TEXT)`)
	o := options("abort", "public.t")
	o.WorkMem = "64kB" // the server streams anything larger
	s := open(t, o, "abort", 1)
	ctx := context.Background()
	tables, pos := tablesAndStart(t, s)
	exec(t, "abort", `BEGIN;
		INSERT INTO t SELECT g, repeat('a', 100) FROM generate_series(1, 5000) g;
		SAVEPOINT s1;
		INSERT INTO t SELECT g, repeat('b', 100) FROM generate_series(5001, 10000) g;
		ROLLBACK TO SAVEPOINT s1;
		INSERT INTO t SELECT g, repeat('c', 100) FROM generate_series(10001, 15000) g;
		COMMIT`)
	conn := connect(t, "abort")
	if _, err := conn.Exec(ctx, `BEGIN; INSERT INTO t SELECT g, 'x' FROM generate_series(20001, 30000) g; ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	exec(t, "abort", `INSERT INTO t VALUES (-1, 'end')`)
	var ids []int64
	streamUntil(t, s, pos, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			ids = append(ids, c.After[0].Int())
		}
		return len(ids) > 0 && ids[len(ids)-1] == -1
	})
	if s.streamed.Load() < 2 {
		t.Fatalf("%d transactions streamed in progress; the test needs both large ones streamed", s.streamed.Load())
	}
	if len(ids) != 10001 {
		t.Fatalf("%d rows arrived, want 10,001 (5,000 before the savepoint, 5,000 after it, the last row)", len(ids))
	}
	for i, id := range ids[:10000] {
		want := int64(i + 1)
		if i >= 5000 {
			want = int64(i + 5001)
		}
		if id != want {
			t.Fatalf("row %d is %d, want %d", i, id, want)
		}
	}
}
