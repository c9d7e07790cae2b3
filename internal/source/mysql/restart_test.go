package mysql

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/sink/file"
)

// TestSourceServerCrash crashes the MariaDB server (SIGKILL, then it starts again) while
// a supervised pipeline streams from it: the pipeline reconnects, resumes from its
// checkpoint and ends equal to the source.
func TestSourceServerCrash(t *testing.T) {
	exec(t, `CREATE DATABASE crash; USE crash; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t SELECT seq, 0 FROM seq_1_to_1000`)
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	cfg := engine.Config{Pipeline: "crash", Parallelism: 2, CheckpointInterval: 100 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	restarts := 0
	go func() {
		_, err := engine.Supervise(ctx, engine.RestartPolicy{Initial: 100 * time.Millisecond, Max: time.Second},
			slog.New(slog.DiscardHandler), func(error) { restarts++ },
			func(ctx context.Context) (*engine.Result, error) {
				src, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "crash.t",
					Heartbeat: 200 * time.Millisecond, Timeout: 2 * time.Second}, connector.Env{Pipeline: "crash", Parallelism: 2})
				if err != nil {
					return nil, err
				}
				defer src.Close()
				sink, err := file.New(dir+"/out", "crash", "mariadb", false)
				if err != nil {
					return nil, err
				}
				defer sink.Close()
				return engine.New(cfg, src, sink, store, engine.Options{}).Run(ctx)
			})
		done <- err
	}()
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := db.Exec("crash", fmt.Sprintf("UPDATE t SET v = v + 1 WHERE id = %d; INSERT INTO t VALUES (%d, 1)", i%1000+1, 1001+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 100)
	time.Sleep(500 * time.Millisecond)
	if err := db.Kill(); err != nil {
		t.Fatal(err)
	}
	write(100, 200)

	s := open(t, "crash.t")
	tables, _ := s.Tables(context.Background())
	want := readTable(t, s, tables[0])
	keys := map[string][]string{"crash.t": {"id"}}
	var diff string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		recs, err := conformance.ReadFileSink(dir + "/out")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := conformance.Fold(recs, keys)
		if diff = conformance.DiffImages(want, got, 5); diff == "" {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if diff != "" {
		t.Fatalf("after the server crash (%d restarts of the pipeline): %s", restarts, diff)
	}
	t.Logf("the pipeline restarted %d times and caught up: %d rows equal", restarts, len(want))
}
