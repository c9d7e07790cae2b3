package mysql

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/file"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/testenv"
)

// keyShapes are the primary keys the randomized test runs with.
var keyShapes = []struct {
	name, ddl string
	key       func(n int) string // SQL literal(s) of key n, in column order
	cols      string
	seqKey    string             // the key of row seq, as SQL over the seq column
	where     func(n int) string // the condition selecting key n (index-friendly)
}{
	{"int", "id BIGINT NOT NULL, PRIMARY KEY (id)", func(n int) string { return fmt.Sprint(n) }, "id", "seq",
		func(n int) string { return fmt.Sprintf("id = %d", n) }},
	{"composite", "region INT NOT NULL, id BIGINT NOT NULL, PRIMARY KEY (region, id)",
		func(n int) string { return fmt.Sprintf("%d, %d", n%7, n) }, "region, id", "seq % 7, seq",
		func(n int) string { return fmt.Sprintf("region = %d AND id = %d", n%7, n) }},
	{"string", "id VARCHAR(40) NOT NULL, PRIMARY KEY (id)", func(n int) string { return fmt.Sprintf("'k%09d'", n) }, "id",
		"CONCAT('k', LPAD(seq, 9, '0'))", func(n int) string { return fmt.Sprintf("id = 'k%09d'", n) }},
	{"binstring", "id VARCHAR(40) COLLATE utf8mb4_bin NOT NULL, PRIMARY KEY (id)", func(n int) string { return fmt.Sprintf("'k%09d'", n) }, "id",
		"CONCAT('k', LPAD(seq, 9, '0'))", func(n int) string { return fmt.Sprintf("id = 'k%09d'", n) }},
}

// TestSnapshotUnderConcurrentWritesConverges copies a 200,000-row table while concurrent
// transactions insert, update (moving keys across chunks too) and delete during the whole
// snapshot and after it; once the pipeline has caught up, the rows the sink holds (its
// changelog folded by key) equal the source's exactly. Parallelism 1 and 4; integer,
// composite and string keys.
//
// The binlog streams from the position taken before the snapshot while chunks are read,
// each in a consistent snapshot whose binlog position MariaDB reports, and each chunk is
// delivered inside the stream at that position (join.go). Where Go orders the keys as the
// server does (integers, composite integers, text under a binary collation) the changelog
// must also be clean: every key read or inserted once before it is updated or deleted,
// each change once. Text keys under a case-insensitive collation may see a change before
// their chunk; the folded rows must still be equal.
func TestSnapshotUnderConcurrentWritesConverges(t *testing.T) {
	rows := 200000
	if testing.Short() {
		rows = 20000
	}
	for _, shape := range keyShapes {
		for _, par := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/p%d", shape.name, par), func(t *testing.T) {
				runConvergence(t, shape.name, shape.ddl, shape.cols, shape.seqKey, shape.key, shape.where, par, rows, "")
			})
		}
	}
}

// TestWatermarkJoinConverges is the same with chunks joined by binlog watermarks
// (scan.snapshot.join: watermark, watermark.go), as on MySQL, on every key shape: the
// rows equal the source's, and where Go orders the keys the changelog is clean (each
// change once).
func TestWatermarkJoinConverges(t *testing.T) {
	rows := 50000
	if testing.Short() {
		rows = 20000
	}
	for _, shape := range keyShapes {
		for _, par := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/p%d", shape.name, par), func(t *testing.T) {
				runConvergence(t, shape.name, shape.ddl, shape.cols, shape.seqKey, shape.key, shape.where, par, rows, "watermark")
			})
		}
	}
}

func runConvergence(t *testing.T, shapeName, ddl, cols, seqKey string, key, where func(int) string, par, rows int, join string) {
	dbName := fmt.Sprintf("conv_%s_%d%s", shapeName, par, join)
	exec(t, fmt.Sprintf(`CREATE DATABASE %[1]s; USE %[1]s;
		CREATE TABLE t (%[2]s, v INT NOT NULL, note VARCHAR(64), amount DECIMAL(12,2));
		INSERT INTO t (%[3]s, v, note, amount) SELECT %[4]s, seq %% 1000, CONCAT('row ', seq), seq / 100 FROM seq_1_to_%[5]d`,
		dbName, ddl, cols, seqKey, rows))

	dir := t.TempDir()
	src, err := New(context.Background(), Options{Host: "127.0.0.1", Port: db.Port, User: "root",
		Tables: dbName + ".t", Heartbeat: 200 * time.Millisecond, Join: join}, connector.Env{Pipeline: dbName, Parallelism: par})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink, err := file.New(dir+"/out", dbName, "mariadb", false)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	stats := &engine.Stats{}
	cfg := engine.Config{Pipeline: dbName, Parallelism: par, CheckpointInterval: 100 * time.Millisecond, ChunkRows: 8096}

	// The workload: random transactions until told to stop, on its own connection.
	conn, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", db.Port), "root", "", dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var txns int
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := testenv.Workload{Conn: conn, Table: "t", Existing: rows, Seed: uint64(par*10 + len(shapeName)),
			Insert: func(n int) string { return fmt.Sprintf("(%s, %d, 'new', 1.5)", key(n), n%1000) },
			Where:  where, MoveTo: func(n int) string { return moveKey(shapeName, n) },
			Update: "v = v + 1, note = 'updated'"}
		var err error
		if txns, err = w.Run(stop); err != nil {
			t.Error(err)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := engine.New(cfg, src, sink, store, engine.Options{Stats: stats}).Run(ctx)
		done <- err
	}()
	// Writes go on through the snapshot and a little after it.
	deadline := time.Now().Add(2 * time.Minute)
	for stats.Phase() != engine.PhaseStream {
		select {
		case err := <-done:
			t.Fatalf("the pipeline stopped during the snapshot: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshot does not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Wait until the sink holds what the source holds.
	tables, err := src.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := readTable(t, src, tables[0])
	keyCols := map[string][]string{tables[0].ID.String(): tables[0].KeyNames()}
	var diff string
	for time.Now().Before(deadline) {
		recs, err := conformance.ReadFileSink(dir + "/out")
		if err != nil {
			t.Fatal(err)
		}
		got, err := conformance.Fold(recs, keyCols)
		if err != nil {
			t.Fatal(err)
		}
		if diff = conformance.DiffImages(want, got, 10); diff == "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if diff != "" {
		t.Fatalf("after %d concurrent transactions the sink differs from the source: %s", txns, diff)
	}
	if shapeName != "string" {
		recs, _ := conformance.ReadFileSink(dir + "/out")
		if err := conformance.CheckChangelog(recs, keyCols); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d rows, %d concurrent transactions: sink equals source", len(want), txns)
}

// moveKey renders the SET clause that gives a row the new key n.
func moveKey(shape string, n int) string {
	switch shape {
	case "composite":
		return fmt.Sprintf("region = %d, id = %d", n%7, n)
	case "string", "binstring":
		return fmt.Sprintf("id = 'k%09d'", n)
	}
	return fmt.Sprintf("id = %d", n)
}

// readTable reads a whole table through the source (as the sink would see its rows).
func readTable(t *testing.T, s *Source, sc *event.Schema) map[string]map[string]any {
	t.Helper()
	var rows []event.Row
	err := s.ReadChunk(context.Background(), sc, snapshot.Chunk{Table: sc.ID}, func(rs []event.Row) error {
		rows = append(rows, rs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := conformance.TableImage(sc, rows)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ddlSink records what a sink applying schema changes would see: how many batches it was
// given since its last commit when a schema change comes, and whether that commit's
// checkpoint still had the snapshot to finish.
type ddlSink struct {
	connector.Sink
	mu                     sync.Mutex
	sinceCommit            int  // batches applied since the last Commit
	snapshotOpen           bool // the last committed checkpoint has chunks to go
	changes, during, ahead int  // schema changes seen; of those, during the snapshot, and with data not committed
}

func (s *ddlSink) Apply(ctx context.Context, b *connector.Batch) error {
	s.mu.Lock()
	s.sinceCommit++
	s.mu.Unlock()
	return s.Sink.Apply(ctx, b)
}

func (s *ddlSink) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	s.mu.Lock()
	s.sinceCommit, s.snapshotOpen = 0, cp.Snapshot != nil && !cp.Snapshot.Finished()
	s.mu.Unlock()
	return s.Sink.Commit(ctx, cp)
}

func (s *ddlSink) ApplySchema(ctx context.Context, c *event.SchemaChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
	if s.snapshotOpen {
		s.during++
	}
	if s.sinceCommit > 0 {
		s.ahead++
	}
	return nil
}

// TestSchemaChangeDuringSnapshotIsCheckpointedFirst: a DDL that reaches the sink finds
// everything before it committed with a checkpoint: during the snapshot, so the sink
// (which commits its open transactions before running DDL) never commits snapshot rows
// ahead of a checkpoint; after it, so a replay never writes rows of the old shape into the
// new table.
func TestSchemaChangeDuringSnapshotIsCheckpointedFirst(t *testing.T) {
	exec(t, `DROP DATABASE IF EXISTS ddlsnap; CREATE DATABASE ddlsnap; USE ddlsnap;
		CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL);
		INSERT INTO t SELECT seq, seq FROM seq_1_to_40000`)
	dir := t.TempDir()
	// The snapshot is held back until the three DDLs have reached the sink, then let go:
	// each step waits for an event, none for time. At 1,000 rows a second the table takes
	// 40 s of wall time however busy the machine; the stream's changes share the rate and
	// wait behind the chunks already admitted, so the three DDLs take about a quarter of
	// that (measured on 2 cores: 11,000 rows read by then), leaving some 29 s for a
	// busy machine's slowness.
	src, err := New(context.Background(), Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "ddlsnap.t",
		Heartbeat: 100 * time.Millisecond, RowsPerSecond: 1000}, connector.Env{Pipeline: "ddlsnap", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := file.New(dir+"/out", "ddlsnap", "mariadb", false)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sink := &ddlSink{Sink: out, snapshotOpen: true} // a fresh start: the snapshot is to come
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	stats := &engine.Stats{}
	cfg := engine.Config{Pipeline: "ddlsnap", Parallelism: 2, CheckpointInterval: time.Minute, ChunkRows: 1000}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := engine.New(cfg, src, sink, store, engine.Options{Stats: stats}).Run(ctx)
		done <- err
	}()
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	seen := func(f func() bool) func() bool {
		return func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return f() }
	}
	until("snapshot rows in the sink", func() bool { return stats.RowsOut.Load() > 0 }) // none committed: the checkpoint interval is long
	for i := range 3 {
		exec(t, fmt.Sprintf("USE ddlsnap; UPDATE t SET v = v + 1 WHERE id = %d; ALTER TABLE t ADD COLUMN c%d INT", i+1, i))
		until(fmt.Sprintf("schema change %d in the sink", i+1), seen(func() bool { return sink.changes == i+1 }))
	}
	src.throttle.Unlimit()
	until("the checkpoint that ends the snapshot", seen(func() bool { return !sink.snapshotOpen }))
	exec(t, "USE ddlsnap; UPDATE t SET v = v + 1 WHERE id = 9; ALTER TABLE t DROP COLUMN c0")
	until("the schema change after the snapshot", seen(func() bool { return sink.changes == 4 }))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.changes != 4 || sink.during != 3 || sink.ahead != 0 {
		t.Fatalf("%d schema changes reached the sink, want 4, %d during the snapshot, want 3; %d of them with applied data not yet committed, want 0",
			sink.changes, sink.during, sink.ahead)
	}
}
