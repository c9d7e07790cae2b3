package mysql

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/weir-data/weir/internal/event"
)

// TestGTIDPositionsBothFlavours drives the reader's commit with MySQL and MariaDB GTIDs
// (no MySQL server is installable here): the position after each transaction is the
// executed set including it, and it round-trips through the checkpoint encoding.
func TestGTIDPositionsBothFlavours(t *testing.T) {
	cases := []struct {
		flavor, start string
		txns          []string
		want          string
	}{
		{"mysql", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5",
			[]string{"3e11fa47-71ca-11e1-9e33-c80aa9429562:6", "3e11fa47-71ca-11e1-9e33-c80aa9429562:7", "a0b1c2d3-0000-0000-0000-000000000001:1"},
			"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7,a0b1c2d3-0000-0000-0000-000000000001:1"},
		{"mariadb", "0-1-41", []string{"0-1-42", "1-2-7", "0-1-43"}, "0-1-43,1-2-7"},
	}
	for _, c := range cases {
		gset, err := gomysql.ParseGTIDSet(c.flavor, c.start)
		if err != nil {
			t.Fatal(err)
		}
		var emitted []event.Batch
		r := &reader{s: &Source{flavor: c.flavor, join: newJoiner()}, gset: gset, pos: position{GTID: c.start, File: "bin.000001", Pos: 4},
			emit: func(_ context.Context, b event.Batch) error { emitted = append(emitted, b); return nil }}
		r.file = "bin.000002"
		for i, g := range c.txns {
			if err := r.begin(context.Background(), g, &replication.EventHeader{}); err != nil {
				t.Fatal(err)
			}
			if err := r.commit(context.Background(), &replication.EventHeader{LogPos: uint32(100 * (i + 1))}); err != nil {
				t.Fatal(err)
			}
		}
		last := emitted[len(emitted)-1]
		if !last.Boundary {
			t.Fatal("a commit must end at a boundary")
		}
		p, err := decodePosition(last.End)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := gomysql.ParseGTIDSet(c.flavor, p.GTID)
		want, _ := gomysql.ParseGTIDSet(c.flavor, c.want)
		if !got.Equal(want) || p.File != "bin.000002" || p.Pos != 300 {
			t.Errorf("%s: position %+v, want GTID %s at bin.000002:300", c.flavor, p, c.want)
		}
	}
}

func TestWatchSilence(t *testing.T) {
	// Events keep coming: the read goes on.
	ctx, stop := context.WithCancelCause(context.Background())
	var seen atomic.Int64
	done := make(chan struct{})
	go func() { watchSilence(ctx, &seen, 80*time.Millisecond, stop); close(done) }()
	for range 20 {
		seen.Add(1)
		time.Sleep(10 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatalf("stopped while events came: %v", context.Cause(ctx))
	}
	// Silence: the read is stopped, with the cause the stream reports.
	<-done
	if !errors.Is(context.Cause(ctx), errSilent) {
		t.Fatalf("cause %v, want errSilent", context.Cause(ctx))
	}
}
