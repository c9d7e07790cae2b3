package mysql

import (
	"context"
	"testing"
	"time"
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
