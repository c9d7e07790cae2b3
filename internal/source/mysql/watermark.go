package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/snapshot"
)

// Joining a snapshot chunk into the binlog stream by watermarks, where the server does not
// tell a consistent snapshot's binlog position (MySQL; MariaDB with scan.snapshot.join:
// watermark). The idea is DBLog's and Flink CDC's incremental snapshot; the window opens
// earlier than theirs, at the stream, not at the server's log end.
//
// The phases of one chunk (readWatermarked, then joinOnce and reconcile):
//
//	open     a window opens on the chunk's key range: from then on the stream notes, for
//	         each key of the range, the last change it reads (whether it passed the
//	         change on or left it out for the chunk to come). A table that joins the
//	         stream is installed in it now, so that its changes are read from here.
//	visible  the read is made to see every transaction the stream left a change of the
//	         table out of before the window opened (see below)
//	read     the chunk's rows, with a plain SELECT
//	high     H, the server's binlog end after the read; the stream is held at H
//	wait     until the stream has emitted every transaction before H
//	deliver  the chunk less every key the window noted; for each noted key whose last
//	         change was left out and is not a delete, that change's row instead. Then the
//	         chunk's range is delivered and the window closes.
//
// Why it is exact: a change of the chunk's range that commits before the window opens is
// in the binlog before the stream's position then, so the stream has read it: it was left
// out (the range was not delivered), and the SELECT, which starts later, sees it. A change
// in the window may or may not be in the rows read; its key's row is replaced by what the
// stream knows at H, which is the last change before H. Changes after H come after the
// chunk.
//
// "The SELECT sees it" is what the visible phase makes true. A server writes a
// transaction to the binlog before it makes it visible, so the stream can read a change
// a SELECT begun a moment later does not see (DESIGN §3.2 (a); DBLog and Flink CDC have
// this gap, and the chaos suite lost a row to it). The stream marks, per table, the last
// transaction that left a change out (leftOut); the read waits until that transaction is
// visible:
//   - MariaDB: the chunk is read inside START TRANSACTION WITH CONSISTENT SNAPSHOT, whose
//     binlog position (binlog_snapshot_position) must lie past the mark; an earlier one
//     is let go and taken again a moment later.
//   - MySQL with GTIDs: WAIT_FOR_EXECUTED_GTID_SET(the executed set at the mark) first;
//     gtid_executed takes a transaction in only once the engine has committed it (the
//     GTID-based low watermark of Debezium's read-only incremental snapshot).
//   - MySQL without GTIDs has no way to tell, read-only: the gap stays, and the pipeline
//     says so when it starts (turn on gtid_mode).
//
// Keys Go cannot order as the server does (text under a non-binary collation) cannot be
// placed in a range: every noted key is reconciled with every window of its table, so a
// key changed during the window may be delivered as a row of a chunk that is not its own
// (an upsert the key's own chunk writes again). Once the table's first chunk is delivered
// such changes are passed on, not left out (join.go), so the mark covers them too: else a
// change the stream passed on before a window opened could be missing from the read,
// whose stale row would then overwrite it in the sink (the chaos suite lost a row so).

// window is the changes the stream noted for one chunk being read.
type window struct {
	table event.TableID
	chunk snapshot.Chunk
	notes map[string]note // by key (event.Value.AppendKey)
	// since is the last transaction that left a change of the table out before the
	// window opened: the read must see it.
	since leftOut
}

// leftOut marks a transaction the stream left a change of a table out of: at lies inside
// it (a snapshot position past at includes it); executed is the GTID set before it and
// gtid its own (empty without GTIDs).
type leftOut struct {
	at             place
	executed, gtid string
}

// gtids is the GTID set that includes the marked transaction ("" without GTIDs).
func (m leftOut) gtids() string {
	if m.gtid == "" {
		return m.executed
	}
	return strings.TrimPrefix(m.executed+","+m.gtid, ",")
}

// note is the last change of a key in a window, and whether the stream left it out.
type note struct {
	change  event.Change
	leftOut bool
	deleted bool // the key's last change removed it (a delete, or a key moved away)
}

// readWatermarked reads chunk c of table id between binlog watermarks. at is the high
// watermark H, zero when the stream had already begun a transaction after it (read
// again); raced is set when DDL got in the way of the read.
func (s *Source) readWatermarked(ctx context.Context, conn *client.Conn, id event.TableID, c snapshot.Chunk) (tb *table, rows []event.Row, at place, raced bool, err error) {
	j := s.join
	j.mu.Lock()
	if !j.live {
		j.mu.Unlock()
		return nil, nil, at, false, fault.AsRetryable(errors.New("a snapshot chunk was read while the binlog stream was not running"))
	}
	known := j.schemas[id]
	j.mu.Unlock()
	if known != nil {
		tb, err = s.table(known)
	} else if tb, err = describe(conn, id.Schema, id.Table, s.columnOpts(id.Schema, id.Table)); err == nil && tb == nil {
		return nil, nil, at, true, nil // gone: its DROP follows in the binlog
	}
	if err != nil {
		if ddlRace(err) {
			return nil, nil, at, true, nil
		}
		return nil, nil, at, false, fmt.Errorf("read the columns of %s for chunk %d: %w", id, c.Index, err)
	}
	if len(tb.schema.Key) == 0 {
		return nil, nil, at, false, fault.AsFatal(fmt.Errorf("table %s has no primary key: its snapshot cannot join the stream by watermarks "+
			"(scan.snapshot.join: watermark, the only way on MySQL), which place each change by its key; add a primary key, "+
			"set scan.incremental.snapshot.chunk.key-column to a unique NOT NULL column, or leave the table out of tables", id))
	}
	w := j.openWindow(id, c, tb, known == nil)
	defer func() {
		if err != nil || at == (place{}) || raced {
			j.closeWindow(w)
		}
	}()
	inTxn, err := s.seeLeftOut(ctx, conn, w.since)
	if err != nil {
		return nil, nil, at, false, fmt.Errorf("chunk %d of %s: %w", c.Index, id, err)
	}
	err = s.readChunk(ctx, conn, tb, c, func(rs []event.Row) error {
		rows = append(rows, rs...)
		return nil
	})
	if inTxn {
		if _, cerr := conn.Execute("COMMIT"); err == nil && cerr != nil {
			err = fmt.Errorf("end the consistent snapshot of chunk %d of %s: %w", c.Index, id, cerr)
		}
	}
	if err != nil {
		if ddlRace(err) {
			return nil, nil, at, true, nil
		}
		return nil, nil, at, false, err
	}
	high, err := logEnd(conn)
	if err != nil {
		return nil, nil, at, false, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case !j.live:
		return nil, nil, at, false, fault.AsRetryable(errors.New("a snapshot chunk was read while the binlog stream was not running"))
	case !j.begun.before(high):
		return nil, nil, at, false, nil
	}
	j.holds = append(j.holds, high)
	return tb, rows, high, false, nil
}

// seeLeftOut makes the reads that follow on conn see the transaction mark names (the
// visible phase above). On MariaDB it leaves conn in a consistent snapshot (inTxn): the
// caller commits it after the read.
func (s *Source) seeLeftOut(ctx context.Context, conn *client.Conn, mark leftOut) (inTxn bool, err error) {
	switch {
	case mark.at == (place{}):
		return false, nil // nothing of the table was left out yet
	case s.flavor == "mariadb":
		start := time.Now()
		for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
			if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
				return false, fmt.Errorf("start a consistent snapshot: %w", err)
			}
			p, err := snapshotPlace(conn)
			if err == nil && mark.at.before(p) {
				return true, nil
			}
			if _, cerr := conn.Execute("COMMIT"); err == nil {
				err = cerr
			}
			if err != nil {
				return false, err
			}
			if s.visibleWaits.Add(1); time.Since(start) > visibleWait {
				return false, fault.AsRetryable(fmt.Errorf("the server has not made visible, in %s, a transaction the binlog holds at %s:%d",
					visibleWait, mark.at.file, mark.at.pos))
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
	case mark.gtids() != "":
		res, err := conn.Execute("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", mark.gtids(), int(visibleWait/time.Second))
		if err != nil {
			return false, fmt.Errorf("wait for the transactions the binlog holds to be visible (WAIT_FOR_EXECUTED_GTID_SET): %w", err)
		}
		s.visibleWaits.Add(1) // counted as a wait whether or not the server had to
		if timedOut, _ := res.GetInt(0, 0); timedOut != 0 {
			return false, fault.AsRetryable(fmt.Errorf("the server has not made visible, in %s, the transactions the binlog holds up to %s",
				visibleWait, mark.gtids()))
		}
	}
	return false, nil
}

// visibleWait bounds how long a chunk waits for a transaction in the binlog to become
// visible: a moment normally; longer means a server in trouble.
const visibleWait = time.Minute

// logEnd is the server's binlog end now (SHOW MASTER STATUS: REPLICATION CLIENT, BINLOG
// MONITOR on MariaDB).
func logEnd(conn *client.Conn) (place, error) {
	res, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
		return place{}, fmt.Errorf("read the binlog position (SHOW MASTER STATUS; needs REPLICATION CLIENT): %w", err)
	}
	if res.RowNumber() == 0 {
		return place{}, fault.AsFatal(errors.New("the binary log is off on the server: start it with log_bin, binlog_format=ROW and binlog_row_image=FULL"))
	}
	file, _ := res.GetString(0, 0)
	pos, _ := res.GetUint(0, 1)
	return place{file, uint32(pos)}, nil
}

// openWindow starts noting the stream's changes of chunk c's range. A table the stream
// does not know yet (joining) is installed in it, keyed, so that it reads its changes from
// its next transaction on.
func (j *joiner) openWindow(id event.TableID, c snapshot.Chunk, tb *table, install bool) *window {
	j.mu.Lock()
	defer j.mu.Unlock()
	w := &window{table: id, chunk: c, notes: map[string]note{}, since: j.leftOut[id]}
	j.windows = append(j.windows, w)
	if f := j.fills[id]; f != nil && !f.known {
		f.setKey(tb)
	}
	if install {
		j.installs = append(j.installs, tb)
		j.schemas[id] = tb.schema
	}
	return w
}

func (j *joiner) closeWindow(w *window) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, x := range j.windows {
		if x == w {
			j.windows = append(j.windows[:i], j.windows[i+1:]...)
			return
		}
	}
}

// windowOf returns the open window of chunk c of table id; j.mu is held.
func (j *joiner) windowOf(id event.TableID, c snapshot.Chunk) *window {
	for _, w := range j.windows {
		if w.table == id && w.chunk.Index == c.Index {
			return w
		}
	}
	return nil
}

// noteChange records, in every open window whose range holds the key, the last change of
// each key a change touches: the key before an update that moves it (as deleted) and the
// key after. leftOut says whether the stream left the side out. j.mu is held.
func (j *joiner) noteChange(f *fill, c event.Change, beforeOut, afterOut bool) {
	if len(j.windows) == 0 {
		return
	}
	s := c.Schema
	var before, after event.Row
	switch c.Op {
	case event.OpDelete:
		before = s.KeyOf(c.Before)
	case event.OpUpdate:
		after = s.KeyOf(c.After)
		if c.Before != nil {
			if b := s.KeyOf(c.Before); string(keyString(b)) != string(keyString(after)) {
				before = b
			}
		}
	default:
		after = s.KeyOf(c.After)
	}
	for _, w := range j.windows {
		if w.table != s.ID {
			continue
		}
		if before != nil && f.inRange(before, w.chunk) {
			w.notes[string(keyString(before))] = note{change: c, leftOut: beforeOut, deleted: true}
		}
		if after != nil && f.inRange(after, w.chunk) {
			w.notes[string(keyString(after))] = note{change: c, leftOut: afterOut}
		}
	}
}

// inRange reports whether key may be in chunk c's range: surely where Go orders the keys
// as the server does, else always (see the top of this file).
func (f *fill) inRange(key event.Row, c snapshot.Chunk) bool {
	if !f.known || !f.ordered {
		return true
	}
	return (c.Lo == nil || compareKeys(f.cols, key, c.Lo) >= 0) && (c.Hi == nil || compareKeys(f.cols, key, c.Hi) < 0)
}

// reconcile puts a chunk read between watermarks right with what its window noted (the
// deliver phase above); j.mu is held, and the stream is held at the high watermark.
func (w *window) reconcile(s *event.Schema, rows []event.Row) []event.Row {
	if len(w.notes) == 0 {
		return rows
	}
	out := rows[:0:0]
	for _, r := range rows {
		if _, ok := w.notes[string(keyString(s.KeyOf(r)))]; !ok {
			out = append(out, r)
		}
	}
	for _, n := range w.notes {
		if n.leftOut && !n.deleted && n.change.After != nil {
			out = append(out, n.change.After)
		}
	}
	return out
}

// keyString is a key's bytes, for map keys.
func keyString(key event.Row) []byte {
	var b []byte
	for _, v := range key {
		b = v.AppendKey(b)
	}
	return b
}
