package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// TestOneReaderPerServerID: a second reader with the pipeline's server-id is refused,
// naming the connection that holds it, and the first goes on reading; a reader beside the
// pipeline (preview) takes an id of its own and runs alongside.
func TestOneReaderPerServerID(t *testing.T) {
	exec(t, `CREATE DATABASE sid; CREATE TABLE sid.t (id INT PRIMARY KEY)`)
	first, tables, start := openAt(t, `sid.t`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan int64, 100)
	done := make(chan error, 1)
	go func() {
		done <- first.Stream(ctx, start, tables, func(_ context.Context, b event.Batch) error {
			for _, c := range b.Changes {
				got <- c.After[0].Int()
			}
			return nil
		})
	}()
	exec(t, "INSERT INTO sid.t VALUES (1)")
	waitRow := func(want int64) {
		t.Helper()
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("row %d, want %d", id, want)
			}
		case err := <-done:
			t.Fatalf("the first reader stopped: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("row %d never came", want)
		}
	}
	waitRow(1)

	second := open(t, `sid.t`) // same pipeline name, so the same server-id
	err := second.Stream(context.Background(), start, tables, func(context.Context, event.Batch) error { return nil })
	if err == nil || fault.Classify(err) != fault.Fatal || !strings.Contains(err.Error(), "is in use by another reader of this server, connection") ||
		!strings.Contains(err.Error(), "KILL ") {
		t.Fatalf("a second reader with the same server-id: %v", err)
	}

	preview, err := New(context.Background(), Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "sid.t", Heartbeat: time.Second},
		connector.Env{Pipeline: "test", Parallelism: 1, Role: "preview"})
	if err != nil {
		t.Fatal(err)
	}
	defer preview.Close()
	if preview.serverID == first.serverID {
		t.Fatalf("preview took the pipeline's server-id %d", first.serverID)
	}
	errDone := errors.New("done")
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	perr := make(chan error, 1)
	go func() {
		perr <- preview.Stream(pctx, start, tables, func(_ context.Context, b event.Batch) error {
			for _, c := range b.Changes {
				if c.After[0].Int() == 2 {
					return errDone
				}
			}
			return nil
		})
	}()
	exec(t, "INSERT INTO sid.t VALUES (2)")
	if err := <-perr; !errors.Is(err, errDone) {
		t.Fatalf("preview beside the pipeline: %v", err)
	}
	waitRow(2) // the pipeline's reader was not thrown off
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServerIDs(t *testing.T) {
	for _, c := range []struct {
		id, role string
		want     uint32
	}{{"5400-5404", "", 5400}, {"5400-5404", "preview", 5404}, {"77", "", 77}} {
		if got, err := serverID(c.id, "p", c.role); err != nil || got != c.want {
			t.Errorf("server-id %q role %q: %d, %v; want %d", c.id, c.role, got, err, c.want)
		}
	}
	a, _ := serverID("", "p", "")
	b, _ := serverID("", "p", "preview")
	c, _ := serverID("77", "p", "preview")
	if a == b || c == 77 || b == 0 || c == 0 {
		t.Errorf("derived ids: pipeline %d, preview %d, preview beside 77: %d", a, b, c)
	}
}
