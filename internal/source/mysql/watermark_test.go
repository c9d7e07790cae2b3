package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// TestChunkSeesWhatTheStreamLeftOut: a chunk read by watermarks sees the transaction the
// stream last left a change of its table out of, even when that transaction is in the
// binlog and not yet visible to a read begun then (DESIGN §3.2 (a)). The mark is put just
// past the binlog's end, inside the next transaction: the read must wait for that
// transaction's commit, then see its row.
func TestChunkSeesWhatTheStreamLeftOut(t *testing.T) {
	exec(t, "CREATE DATABASE IF NOT EXISTS wmvis")
	exec(t, "CREATE OR REPLACE TABLE wmvis.t (id INT PRIMARY KEY, v INT)")
	exec(t, "INSERT INTO wmvis.t VALUES (1, 1)")
	s := open(t, "wmvis.t")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := s.pool.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.pool.put(conn)
	end, err := logEnd(conn)
	if err != nil {
		t.Fatal(err)
	}
	mark := leftOut{at: place{end.file, end.pos + 1}}

	read := make(chan int64, 1)
	go func() {
		inTxn, err := s.seeLeftOut(ctx, conn, mark)
		if err != nil || !inTxn {
			t.Errorf("seeLeftOut: in a snapshot %v, %v", inTxn, err)
			read <- -1
			return
		}
		res, err := conn.Execute("SELECT COUNT(*) FROM wmvis.t")
		conn.Execute("COMMIT")
		if err != nil {
			t.Error(err)
			read <- -1
			return
		}
		n, _ := res.GetInt(0, 0)
		read <- n
	}()
	// Commit the marked transaction only once the read has found it not yet visible.
	for s.visibleWaits.Load() == 0 {
		select {
		case n := <-read:
			t.Fatalf("the read went ahead (it saw %d rows) before the transaction it must see was committed", n)
		case <-ctx.Done():
			t.Fatal("the read neither waited nor went ahead")
		case <-time.After(time.Millisecond):
		}
	}
	exec(t, "INSERT INTO wmvis.t VALUES (2, 2)")
	if n := <-read; n != 2 {
		t.Fatalf("the read saw %d rows, want 2: it missed the transaction the stream had left out", n)
	}
}

// TestUnorderedKeysMarkPassedChanges: once the first chunk of a table whose keys Go
// cannot order is delivered, the stream passes its changes on; it must still mark them
// for the reads of the chunks to come, which may hold the keys. Without the mark a read
// could miss a change the sink already has and overwrite it with the older row.
func TestUnorderedKeysMarkPassedChanges(t *testing.T) {
	id := event.TableID{Schema: "s", Table: "t"}
	schema := &event.Schema{ID: id, Columns: []event.Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
	for _, ordered := range []bool{false, true} {
		j := newJoiner()
		j.fills[id] = &fill{known: true, ordered: ordered, any: true, cols: []*column{{name: "id", byteOrdered: ordered}},
			done: []snapshot.Chunk{{Hi: event.Row{event.String("m")}}}}
		j.begun = place{"bin.000001", 400}
		r := &reader{s: &Source{join: j}}
		out := r.unfilled([]event.Change{{Schema: schema, Op: event.OpInsert, After: event.Row{event.String("a"), event.Int(1)}}})
		if len(out) != 1 {
			t.Fatalf("ordered=%v: the change of a delivered key was left out", ordered)
		}
		mark, marked := j.leftOut[id]
		if !ordered && (!marked || mark.at != j.begun) {
			t.Errorf("unordered keys: a change passed on was not marked for later reads to see (mark %+v)", mark)
		}
		if ordered && marked {
			t.Errorf("ordered keys: a change of a delivered range was marked (%+v); only changes left out need be", mark)
		}
	}
}
