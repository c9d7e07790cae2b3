package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/sink/file"
)

// pipe is a MariaDB → file pipeline running in the test's process.
type pipe struct {
	t      *testing.T
	dir    string
	stats  *engine.Stats
	cancel context.CancelFunc
	done   chan error
}

// startPipe runs a pipeline over tables, keeping its state and output in dir (a second
// pipe on the same dir resumes the first).
func startPipe(t *testing.T, dir, tables string, rowsPerSecond int64, chunkRows int, opts ...func(*Options)) *pipe {
	t.Helper()
	o := Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: tables, Heartbeat: 200 * time.Millisecond, RowsPerSecond: rowsPerSecond}
	for _, f := range opts {
		f(&o)
	}
	src, err := New(context.Background(), o, connector.Env{Pipeline: "join", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := file.New(dir+"/out", "join", "mariadb", false)
	if err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.OpenLocal(dir + "/state")
	if err != nil {
		t.Fatal(err)
	}
	p := &pipe{t: t, dir: dir, stats: &engine.Stats{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	cfg := engine.Config{Pipeline: "join", Parallelism: 2, CheckpointInterval: 100 * time.Millisecond, ChunkRows: chunkRows}
	go func() {
		_, err := engine.New(cfg, src, sink, store, engine.Options{Stats: p.stats}).Run(ctx)
		sink.Close()
		store.Close()
		src.Close()
		p.done <- err
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// stop ends the pipeline gracefully (a final checkpoint) and fails the test on its error.
func (p *pipe) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	if err := <-p.done; err != nil {
		p.t.Error(err)
	}
}

func (p *pipe) records() []conformance.Record {
	p.t.Helper()
	recs, err := conformance.ReadFileSink(p.dir + "/out")
	if err != nil {
		p.t.Fatal(err)
	}
	return recs
}

// waitFor polls cond until it holds; the pipeline must not fail meanwhile.
func (p *pipe) waitFor(what string, cond func() bool) {
	p.t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-p.done:
			p.cancel = nil
			p.t.Fatalf("the pipeline stopped while waiting for %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// converged waits until the sink's folded rows equal the tables' (each keyed by id), with
// fix applied to the folded image first, and checks the changelog is clean (without a fix:
// with one, before images change shape at the DDL the fix stands for).
func (p *pipe) converged(tables []string, fix func(map[string]map[string]any)) {
	p.t.Helper()
	keys := map[string][]string{}
	want := map[string]map[string]any{}
	src := open(p.t, strings.Join(tables, ","))
	for _, name := range tables {
		keys[name] = []string{"id"}
	}
	schemas, err := src.Tables(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	for _, sc := range schemas {
		for k, v := range readTable(p.t, src, sc) {
			want[k] = v
		}
	}
	var diff string
	defer func() {
		if p.t.Failed() && diff != "" {
			p.t.Logf("the sink's rows against the source's, when the wait ended:\n%s", diff)
		}
	}()
	p.waitFor("the sink to equal the source", func() bool {
		got, err := conformance.Fold(p.records(), keys)
		if err != nil {
			p.t.Fatal(err)
		}
		if fix != nil {
			fix(got)
		}
		diff = conformance.DiffImages(want, got, 10)
		return diff == ""
	})
	if fix != nil {
		return
	}
	if err := conformance.CheckChangelog(p.records(), keys); err != nil {
		p.t.Fatal(err)
	}
}

// TestStreamFlowsDuringSnapshot: while a slow snapshot is still reading a table, a change
// to a row whose chunk has been delivered reaches the sink — the stream does not wait for
// the snapshot to end — and a row inserted into a range still to come arrives once, with
// its chunk.
func TestStreamFlowsDuringSnapshot(t *testing.T) {
	exec(t, `CREATE DATABASE jflow; USE jflow; CREATE TABLE jflow.t (id INT PRIMARY KEY, v INT NOT NULL);
		INSERT INTO jflow.t SELECT seq, 0 FROM seq_1_to_60000`)
	p := startPipe(t, t.TempDir(), "jflow.t", 10000, 1000) // about 6 s of snapshot: room for a busy machine
	var first any
	p.waitFor("a first chunk in the sink", func() bool {
		for _, r := range p.records() {
			if r.Op == "r" {
				first = r.After["id"]
				return true
			}
		}
		return false
	})
	exec(t, fmt.Sprintf(`UPDATE jflow.t SET v = 1 WHERE id = %v; INSERT INTO jflow.t VALUES (60001, 2)`, first))
	p.waitFor("the update in the sink", func() bool {
		for _, r := range p.records() {
			if r.Op == "u" && fmt.Sprint(r.After["id"]) == fmt.Sprint(first) {
				return true
			}
		}
		return false
	})
	if ph := p.stats.Phase(); ph != engine.PhaseSnapshot {
		t.Fatalf("the update reached the sink in phase %s; the snapshot should still be running (rate-limited)", ph)
	}
	p.waitFor("the end of the snapshot", func() bool { return p.stats.Phase() == engine.PhaseStream })
	p.converged([]string{"jflow.t"}, nil)
}

// TestDDLDuringSnapshot adds and drops columns while a table is being snapshotted and
// written to: chunks read after each DDL carry the new columns, rows before it the old
// ones, nothing fails, and the sink (with the DDL applied to what it held, as a sink
// applying schema changes would) equals the source.
func TestDDLDuringSnapshot(t *testing.T) {
	exec(t, `CREATE DATABASE jddl; USE jddl; CREATE TABLE jddl.t (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(20));
		INSERT INTO jddl.t SELECT seq, 0, 'n' FROM seq_1_to_30000`)
	p := startPipe(t, t.TempDir(), "jddl.t", 10000, 1000)
	chunks := func(n int64) func() bool { return func() bool { return p.stats.ChunksDone.Load() >= n } }
	p.waitFor("a few chunks", chunks(3))
	exec(t, `ALTER TABLE jddl.t ADD COLUMN c2 INT NOT NULL DEFAULT 7; UPDATE jddl.t SET v = 1 WHERE id IN (5, 15000, 29000)`)
	p.waitFor("more chunks", chunks(12))
	exec(t, `ALTER TABLE jddl.t DROP COLUMN note; UPDATE jddl.t SET v = 2, c2 = 8 WHERE id IN (6, 16000, 29500); INSERT INTO jddl.t VALUES (30001, 3, 9)`)
	p.waitFor("the end of the snapshot", func() bool { return p.stats.Phase() == engine.PhaseStream })
	p.converged([]string{"jddl.t"}, func(img map[string]map[string]any) {
		for _, row := range img {
			delete(row, "note")
			if _, ok := row["c2"]; !ok {
				row["c2"] = float64(7)
			}
		}
	})
	var with, without int
	for _, r := range p.records() {
		if r.Op != "r" {
			continue
		}
		if _, ok := r.After["c2"]; ok {
			with++
		} else {
			without++
		}
	}
	if with == 0 || without == 0 {
		t.Fatalf("%d chunk rows with the added column and %d without: the DDL should fall inside the snapshot", with, without)
	}
}

// TestTableJoinsWhileStreaming: tables that join the selection with rows in them while
// the pipeline streams — renamed in from elsewhere, created LIKE another and filled from
// it — are snapshotted beside the stream, and their later changes follow.
func TestTableJoinsWhileStreaming(t *testing.T) {
	exec(t, `CREATE DATABASE jjoin; CREATE DATABASE jjoin_stage; USE jjoin;
		CREATE TABLE jjoin.t1 (id INT PRIMARY KEY, v INT NOT NULL);
		INSERT INTO jjoin.t1 SELECT seq, seq FROM seq_1_to_2000`)
	p := startPipe(t, t.TempDir(), `jjoin.t\.*`, 0, 500)
	p.waitFor("streaming", func() bool { return p.stats.Phase() == engine.PhaseStream })
	exec(t, `USE jjoin_stage; CREATE TABLE jjoin_stage.x (id INT PRIMARY KEY, v INT NOT NULL);
		INSERT INTO jjoin_stage.x SELECT seq, seq * 2 FROM seq_1_to_3000;
		RENAME TABLE jjoin_stage.x TO jjoin.t2;
		CREATE TABLE jjoin.t3 LIKE jjoin.t1;
		INSERT INTO jjoin.t3 SELECT * FROM jjoin.t1;
		UPDATE jjoin.t1 SET v = -1 WHERE id = 1`)
	// t2 was full when it joined, so its rows come as reads. t3 joined empty, at its
	// CREATE … LIKE: whether its chunk is read before or after the INSERT … SELECT commits
	// is a race, so its rows come as reads or as inserts.
	p.waitFor("the joined tables' rows", func() bool {
		n2, n3 := 0, 0
		for _, r := range p.records() {
			switch {
			case r.Source.Table == "t2" && r.Op == "r":
				n2++
			case r.Source.Table == "t3" && (r.Op == "r" || r.Op == "c"):
				n3++
			}
		}
		return n2 >= 3000 && n3 >= 2000
	})
	exec(t, `UPDATE jjoin.t2 SET v = 0 WHERE id <= 10; DELETE FROM jjoin.t3 WHERE id > 1990; INSERT INTO jjoin.t2 VALUES (5000, 5)`)
	p.converged([]string{"jjoin.t1", "jjoin.t2", "jjoin.t3"}, nil)
}

// TestWidenedSelectionOnResume: a pipeline stopped and started again with a selection
// that now matches another table snapshots that table beside its stream.
func TestWidenedSelectionOnResume(t *testing.T) {
	exec(t, `CREATE DATABASE jwide; USE jwide; CREATE TABLE jwide.a (id INT PRIMARY KEY, v INT NOT NULL);
		CREATE TABLE jwide.b (id INT PRIMARY KEY, v INT NOT NULL);
		INSERT INTO jwide.a SELECT seq, seq FROM seq_1_to_2000; INSERT INTO jwide.b SELECT seq, seq FROM seq_1_to_3000`)
	dir := t.TempDir()
	p := startPipe(t, dir, "jwide.a", 0, 500)
	p.waitFor("streaming", func() bool { return p.stats.Phase() == engine.PhaseStream })
	p.stop()
	exec(t, `UPDATE jwide.a SET v = 0 WHERE id = 1; UPDATE jwide.b SET v = 0 WHERE id = 1`)
	p = startPipe(t, dir, "jwide.a,jwide.b", 0, 500)
	exec(t, `UPDATE jwide.b SET v = -2 WHERE id = 2`)
	p.converged([]string{"jwide.a", "jwide.b"}, nil)
}

// TestNewTablesDisabled: with scan.newly-added-table.enabled false, a table renamed into
// the selection is not copied: nothing of it reaches the sink, and the final checkpoint
// holds no snapshot of it.
func TestNewTablesDisabled(t *testing.T) {
	exec(t, `CREATE DATABASE jnone; USE jnone; CREATE TABLE t1 (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO t1 VALUES (1, 1);
		CREATE TABLE staged (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO staged VALUES (1, 1), (2, 2)`)
	dir := t.TempDir()
	p := startPipe(t, dir, `jnone.t\.*`, 0, 500, func(o *Options) { o.NoNewTables = true })
	p.waitFor("streaming", func() bool { return p.stats.Phase() == engine.PhaseStream })
	exec(t, `RENAME TABLE jnone.staged TO jnone.t2; UPDATE jnone.t2 SET v = 5; UPDATE jnone.t1 SET v = 9`)
	p.waitFor("the marker update", func() bool {
		for _, r := range p.records() {
			if r.Op == "u" && r.Source.Table == "t1" {
				return true
			}
		}
		return false
	})
	p.stop()
	for _, r := range p.records() {
		if r.Source.Table == "t2" {
			t.Fatalf("t2 was captured (%s) with scan.newly-added-table.enabled false", r.Op)
		}
	}
	store, err := checkpoint.OpenLocal(dir + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cp, err := store.Load(context.Background(), "join")
	if err != nil || cp == nil {
		t.Fatalf("no final checkpoint: %v", err)
	}
	if cp.Snapshot != nil {
		for _, tp := range cp.Snapshot.Tables {
			if tp.Table.Table == "t2" {
				t.Fatal("the final checkpoint holds a snapshot of t2")
			}
		}
	}
}

// TestKeyChangeDuringSnapshot: a table whose primary key changes while it is being
// snapshotted cannot be read by its old chunks; the pipeline stops with a message that
// says so and what to do, rather than copy wrong ranges.
func TestKeyChangeDuringSnapshot(t *testing.T) {
	exec(t, `CREATE DATABASE jkey; USE jkey; CREATE TABLE t (id INT PRIMARY KEY, u INT NOT NULL);
		INSERT INTO t SELECT seq, 100000 - seq FROM seq_1_to_30000`)
	p := startPipe(t, t.TempDir(), "jkey.t", 10000, 1000)
	p.waitFor("a few chunks", func() bool { return p.stats.ChunksDone.Load() >= 3 })
	exec(t, `ALTER TABLE jkey.t DROP PRIMARY KEY, ADD PRIMARY KEY (u)`)
	var err error
	select {
	case err = <-p.done:
		p.cancel = nil
	case <-time.After(time.Minute):
		t.Fatal("the pipeline went on after its table's primary key changed mid-snapshot")
	}
	if err == nil || !strings.Contains(err.Error(), "primary key of jkey.t changed from (id) to (u)") {
		t.Fatalf("got %v", err)
	}
}

// TestResumedSnapshotFinishesOnAnIdleServer: a snapshot stopped halfway resumes after the
// server has moved to a new binlog file (a restart, FLUSH BINARY LOGS) and then writes
// nothing: the chunks read there are delivered, since the stream knows it has read
// everything up to them from the new file's first events and the server's heartbeats.
func TestResumedSnapshotFinishesOnAnIdleServer(t *testing.T) {
	exec(t, `DROP DATABASE IF EXISTS jidle; CREATE DATABASE jidle; USE jidle;
		CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL);
		INSERT INTO t SELECT seq, seq FROM seq_1_to_3000`)
	dir := t.TempDir()
	p := startPipe(t, dir, "jidle.t", 1000, 200)
	time.Sleep(1200 * time.Millisecond)
	p.stop()
	exec(t, "FLUSH BINARY LOGS")
	p = startPipe(t, dir, "jidle.t", 0, 200)
	deadline := time.Now().Add(30 * time.Second)
	for p.stats.Phase() != engine.PhaseStream {
		if time.Now().After(deadline) {
			t.Fatalf("the resumed snapshot did not finish on an idle server (phase %v)", p.stats.Phase())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	reads := map[string]bool{}
	for _, r := range p.records() {
		if r.Op == "r" {
			reads[fmt.Sprint(r.After["id"])] = true
		}
	}
	if len(reads) != 3000 {
		t.Fatalf("%d distinct rows read, want 3000", len(reads))
	}
}
