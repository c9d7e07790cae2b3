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
				runConvergence(t, shape.name, shape.ddl, shape.cols, shape.seqKey, shape.key, shape.where, par, rows)
			})
		}
	}
}

func runConvergence(t *testing.T, shapeName, ddl, cols, seqKey string, key, where func(int) string, par, rows int) {
	dbName := fmt.Sprintf("conv_%s_%d", shapeName, par)
	exec(t, fmt.Sprintf(`CREATE DATABASE %[1]s; USE %[1]s;
		CREATE TABLE t (%[2]s, v INT NOT NULL, note VARCHAR(64), amount DECIMAL(12,2));
		INSERT INTO t (%[3]s, v, note, amount) SELECT %[4]s, seq %% 1000, CONCAT('row ', seq), seq / 100 FROM seq_1_to_%[5]d`,
		dbName, ddl, cols, seqKey, rows))

	dir := t.TempDir()
	src, err := New(context.Background(), Options{Host: "127.0.0.1", Port: db.Port, User: "root",
		Tables: dbName + ".t", Heartbeat: 200 * time.Millisecond}, connector.Env{Pipeline: dbName, Parallelism: par})
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
