package postgres

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/sink/file"
	"github.com/weir-data/weir/internal/testenv"
)

// keyShapes are the primary keys the randomized test runs with.
var keyShapes = []struct {
	name, ddl string
	key       func(n int) string // SQL literal(s) of key n, in column order
	cols      string
	seqKey    string             // the key of row g, as SQL over the series column g
	where     func(n int) string // the condition selecting key n
	move      func(n int) string // the SET clause giving a row key n
}{
	{"int", "id BIGINT PRIMARY KEY", func(n int) string { return fmt.Sprint(n) }, "id", "g",
		func(n int) string { return fmt.Sprintf("id = %d", n) }, func(n int) string { return fmt.Sprintf("id = %d", n) }},
	{"composite", "region INT, id BIGINT, PRIMARY KEY (region, id)",
		func(n int) string { return fmt.Sprintf("%d, %d", n%7, n) }, "region, id", "g % 7, g",
		func(n int) string { return fmt.Sprintf("region = %d AND id = %d", n%7, n) },
		func(n int) string { return fmt.Sprintf("region = %d, id = %d", n%7, n) }},
	{"text", "id TEXT COLLATE \"C\" PRIMARY KEY", func(n int) string { return fmt.Sprintf("'k%09d'", n) }, "id",
		"'k' || lpad(g::text, 9, '0')", func(n int) string { return fmt.Sprintf("id = 'k%09d'", n) },
		func(n int) string { return fmt.Sprintf("id = 'k%09d'", n) }},
	{"uuid", "id UUID PRIMARY KEY", func(n int) string { return fmt.Sprintf("'%s'", uuidOf(n)) }, "id",
		"md5(g::text)::uuid", func(n int) string { return fmt.Sprintf("id = '%s'", uuidOf(n)) },
		func(n int) string { return fmt.Sprintf("id = '%s'", uuidOf(n)) }},
}

// uuidOf is md5(n::text)::uuid, computed the way the server does for the seeded rows.
func uuidOf(n int) string {
	h := md5hex(fmt.Sprint(n))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// TestSnapshotUnderConcurrentWritesConverges copies a 200,000-row table while concurrent
// transactions insert, update (moving keys across chunks too) and delete during the whole
// snapshot and after it; once the pipeline has caught up, the rows the sink holds (its
// changelog folded by key) equal the source's exactly, and every change is in the
// changelog once. Parallelism 1 and 4; integer, composite, text and uuid keys.
func TestSnapshotUnderConcurrentWritesConverges(t *testing.T) {
	rows := 200000
	if testing.Short() {
		rows = 20000
	}
	for _, shape := range keyShapes {
		for _, par := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/p%d", shape.name, par), func(t *testing.T) {
				db := fmt.Sprintf("conv_%s_%d", shape.name, par)
				identity := "FULL" // full before images: the changelog check compares whole rows
				if shape.name == "composite" || shape.name == "text" {
					identity = "DEFAULT" // deletes carry the key alone
				}
				createDB(t, db, fmt.Sprintf(`CREATE TABLE t (%s, v INT NOT NULL, note VARCHAR(64), amount NUMERIC(12,2));
					ALTER TABLE t REPLICA IDENTITY `+identity+`;
					INSERT INTO t (%s, v, note, amount) SELECT %s, g %% 1000, 'row ' || g, g / 100.0 FROM generate_series(1, %d) g`,
					shape.ddl, shape.cols, shape.seqKey, rows))
				w := testenv.Workload{Table: "t", Existing: rows, Seed: uint64(par*10 + len(shape.name)), Postgres: true,
					Insert: func(n int) string { return fmt.Sprintf("(%s, %d, 'new', 1.5)", shape.key(n), n%1000) },
					Where:  shape.where, MoveTo: shape.move, Update: "v = v + 1, note = 'updated'"}
				runConvergence(t, db, par, w, restarts[shape.name])
			})
		}
	}
}

// restarts is how often each shape's pipeline is stopped during the snapshot and started
// again from its checkpoint: a resumed snapshot joins its remaining chunks as exactly.
var restarts = map[string]int{"int": 2, "uuid": 3}

// runConvergence runs a pipeline from table t of db into a file sink while w writes, and
// checks the sink's changelog folds to the source table and holds each change once.
// restarts > 0 stops the pipeline that many times early in the run (in the snapshot) and
// starts it again from its checkpoint; the e2e chaos suite SIGKILLs the process.
func runConvergence(t *testing.T, db string, par int, w testenv.Workload, restarts int) {
	dir := t.TempDir()
	conn := connect(t, db)
	w.Exec = func(q string) error {
		_, err := conn.Exec(context.Background(), q)
		return err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var txns int
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		if txns, err = w.Run(stop); err != nil {
			t.Error(err)
		}
	}()

	cfg := engine.Config{Pipeline: db, Parallelism: par, CheckpointInterval: 100 * time.Millisecond, ChunkRows: 8096}
	stats := &engine.Stats{}
	start := func() (context.CancelFunc, chan error, func()) {
		src, err := New(context.Background(), options(db, "public.t"), connector.Env{Pipeline: db, Parallelism: par, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		sink, err := file.New(dir+"/out", db, "postgres", false)
		if err != nil {
			t.Fatal(err)
		}
		store, _ := checkpoint.OpenLocal(dir + "/state")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := engine.New(cfg, src, sink, store, engine.Options{Stats: stats}).Run(ctx)
			done <- err
		}()
		return cancel, done, func() { sink.Close(); store.Close(); src.Close() }
	}
	cancel, done, closeAll := start()
	deadline := time.Now().Add(3 * time.Minute)
	for i := range restarts {
		time.Sleep(time.Duration(300+200*i) * time.Millisecond)
		cancel()
		<-done
		closeAll()
		cancel, done, closeAll = start()
	}
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

	src := open(t, options(db, "public.t"), db+"_check", 1)
	tables, err := src.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, err := conformance.TableImage(tables[0], readAll(t, src, tables[0]))
	if err != nil {
		t.Fatal(err)
	}
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
	closeAll()
	if diff != "" {
		t.Fatalf("after %d concurrent transactions the sink differs from the source: %s", txns, diff)
	}
	recs, _ := conformance.ReadFileSink(dir + "/out")
	if err := conformance.CheckChangelog(recs, keyCols); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows, %d concurrent transactions, %d restarts: sink equals source, each change once", len(want), txns, restarts)
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
