package mysql

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/snapshot"
)

// Joining the snapshot into the binlog stream exactly, while both run (DESIGN §3.2).
//
// MariaDB reads each chunk in a START TRANSACTION WITH CONSISTENT SNAPSHOT and reports the
// binlog position P that snapshot stands at (binlog_snapshot_file/position): the chunk
// holds exactly the transactions that end at or before P. The stream runs from the
// position taken before the snapshot. A chunk is handed to the engine inside the stream
// at P: after every transaction before P, before any after it. So the rows of a chunk are
// never older than a change the sink already has, nor newer than one still to come, and
// no key needs comparing for the join to be exact — text keys under any collation too.
//
// The phases of one chunk (JoinChunk) and what the stream does meanwhile:
//
//	read      open the consistent snapshot, learn P, hold the stream at P (it may not
//	          begin a transaction after P), read the rows (and the table's columns, for
//	          a table joining the stream)
//	wait      until the stream has emitted every transaction before P
//	deliver   check the stream's schema of the table at P is the one the rows were read
//	          with, hand the rows to the engine, record the chunk's key range as
//	          delivered, release the stream
//
// A read whose P the stream has already passed (it began a transaction after P before
// the hold was placed: a commit in the binlog not yet visible to new snapshots) is read
// again; so is one that DDL raced (MariaDB refuses a consistent read of a table altered
// after the snapshot began, error 1412, and the stream's schema at P must match).
//
// Meanwhile the stream leaves out the changes of keys whose chunk has not been delivered
// yet (the chunk will hold them: its P is after them). Where Go cannot order the keys as
// the server does (text under a non-binary collation) nothing is left out once a table's
// first chunk is delivered: a change of a key before its chunk then reaches the sink
// first, as an upsert the chunk overwrites with the same or a newer row.
//
// A table that joins the selection with rows in it while the stream runs (renamed in,
// CREATE TABLE … LIKE / AS SELECT), or that a widened selection adds on resume, is
// snapshotted the same way; the stream takes it up at its first chunk, with the columns
// read inside that chunk's snapshot.

// joinAttempts bounds how many times one chunk is read again after racing the stream.
const joinAttempts = 50

// place is a point in the binlog.
type place struct {
	file string
	pos  uint32
}

func (a place) before(b place) bool {
	if a.file != b.file {
		return a.file < b.file
	}
	return a.pos < b.pos
}

// joiner is the meeting point of the stream and the chunk readers of one Source.
type joiner struct {
	mu      sync.Mutex
	live    bool  // a Stream runs
	coming  bool  // a Stream is about to run (Snapshotting was called), or runs
	at      place // the stream has emitted every transaction that ends at or before here
	begun   place // the latest transaction the stream began starts before here
	holds   []place
	wake    chan struct{} // closed and replaced when live, at or holds change
	schemas map[event.TableID]*event.Schema
	// fills are the tables being snapshotted; installs the tables that join the stream
	// at their first chunk, for the stream to take up before its next transaction.
	fills    map[event.TableID]*fill
	installs []*table
	// windows are the chunks being read between watermarks (watermark.go), leftOut the
	// last transaction per table the stream left a change out of; executed is the GTID
	// set of the transactions before the one begun at begun, begunGTID that one's GTID
	// (MySQL; joined only when a chunk needs them, not per transaction).
	windows             []*window
	leftOut             map[event.TableID]leftOut
	executed, begunGTID string
}

// fill is what has been delivered of one table's snapshot.
type fill struct {
	known   bool // the stream decodes the table
	ordered bool // Go orders its keys as the server does
	cols    []*column
	done    []snapshot.Chunk // delivered key ranges, merged
	any     bool
}

func newJoiner() *joiner {
	return &joiner{wake: make(chan struct{}), fills: map[event.TableID]*fill{}, schemas: map[event.TableID]*event.Schema{},
		leftOut: map[event.TableID]leftOut{}}
}

// signal wakes the waiters; j.mu is held.
func (j *joiner) signal() {
	close(j.wake)
	j.wake = make(chan struct{})
}

// wait blocks until cond holds (checked with j.mu held), the stream stops or ctx ends.
func (j *joiner) wait(ctx context.Context, cond func() bool) error {
	j.mu.Lock()
	for {
		if cond() {
			j.mu.Unlock()
			return nil
		}
		if !j.live && !j.coming {
			j.mu.Unlock()
			return fault.AsRetryable(errors.New("the binlog stream stopped while a snapshot chunk waited for it"))
		}
		w := j.wake
		j.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
		j.mu.Lock()
	}
}

func (j *joiner) release(p place) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if i := slices.Index(j.holds, p); i >= 0 {
		j.holds = slices.Delete(j.holds, i, i+1)
	}
	j.signal()
}

// JoinsSnapshots: a MariaDB server tells the binlog position of a consistent snapshot;
// any server can be read between binlog watermarks (watermark.go).
func (s *Source) JoinsSnapshots() bool { return s.flavor == "mariadb" || s.watermarks }

// AddsNewTables is scan.newly-added-table.enabled.
func (s *Source) AddsNewTables() bool { return !s.noNewTables }

// Snapshotting records which tables are being snapshotted and what of them is durable.
func (s *Source) Snapshotting(progress []snapshot.TableProgress) {
	j := s.join
	j.mu.Lock()
	defer j.mu.Unlock()
	j.coming = true
	j.fills = map[event.TableID]*fill{}
	for i := range progress {
		p := &progress[i]
		if p.Finished() {
			continue
		}
		f := &fill{done: p.DoneRanges()}
		f.any = len(f.done) > 0
		j.fills[p.Table] = f
	}
}

// startStream marks the stream live at from, with its tables.
func (j *joiner) startStream(from position, tables map[event.TableID]*table) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.live, j.holds = true, nil
	j.at, j.begun, j.executed, j.begunGTID = place{from.File, from.Pos}, place{}, "", ""
	clear(j.leftOut)
	for id, f := range j.fills {
		if t := tables[id]; t != nil {
			f.setKey(t)
		}
	}
	j.publish(tables)
	j.signal()
}

func (j *joiner) stopStream() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.live, j.coming = false, false
	j.signal()
}

// publish copies the stream's schemas for the chunk readers; j.mu is held.
func (j *joiner) publish(tables map[event.TableID]*table) {
	clear(j.schemas)
	for id, t := range tables {
		j.schemas[id] = t.schema
	}
}

func (f *fill) setKey(t *table) {
	f.known = true
	f.cols = make([]*column, len(t.schema.Key))
	for i, k := range t.schema.Key {
		f.cols[i] = t.cols[k]
	}
	f.ordered = goOrdered(f.cols)
}

// delivered reports whether the chunk holding key has been delivered.
func (f *fill) delivered(key event.Row) bool {
	if !f.any {
		return false
	}
	if !f.ordered {
		return true // cannot place the key: let it through (see the comment at the top)
	}
	for _, d := range f.done {
		if (d.Lo == nil || compareKeys(f.cols, key, d.Lo) >= 0) && (d.Hi == nil || compareKeys(f.cols, key, d.Hi) < 0) {
			return true
		}
	}
	return false
}

// add records chunk c as delivered, merging it with the ranges it touches. It reports
// whether the whole key range is now delivered.
func (f *fill) add(c snapshot.Chunk) bool {
	f.any = true
	f.done = append(f.done, snapshot.Chunk{Lo: c.Lo, Hi: c.Hi})
	slices.SortFunc(f.done, func(a, b snapshot.Chunk) int {
		switch {
		case a.Lo == nil:
			return -1
		case b.Lo == nil:
			return 1
		}
		return compareKeys(f.cols, a.Lo, b.Lo)
	})
	merged := f.done[:1]
	for _, d := range f.done[1:] {
		last := &merged[len(merged)-1]
		if last.Hi != nil && d.Lo != nil && compareKeys(f.cols, last.Hi, d.Lo) == 0 {
			last.Hi = d.Hi
			continue
		}
		merged = append(merged, d)
	}
	f.done = merged
	return len(f.done) == 1 && f.done[0].Lo == nil && f.done[0].Hi == nil
}

// gate is passed by the stream before it begins a transaction that starts at b (GTID
// gtid, if any): it takes up joining tables, and waits while a chunk read at a position
// before b is still to be delivered.
func (r *reader) gate(ctx context.Context, b place, gtid string) error {
	j := r.s.join
	return j.wait(ctx, func() bool { // j.mu is held; the stream is live
		for _, t := range j.installs {
			r.tables[t.schema.ID] = t
		}
		j.installs = nil
		if slices.ContainsFunc(j.holds, func(p place) bool { return !b.before(p) }) {
			return false
		}
		j.begun = b
		j.executed, j.begunGTID = r.pos.GTID, gtid // the set after the last complete transaction, and this one
		return true
	})
}

// reached moves the stream's emitted point forward to p.
func (r *reader) reached(p place) {
	j := r.s.join
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.at.before(p) {
		j.at = p
		j.signal()
	}
}

// unfilled leaves out the changes of keys whose snapshot chunk is still to be delivered.
// A key-moving update is judged by both its keys. It marks the transaction (leftOut) for
// the reads of later chunks to see (watermark.go); where Go cannot place the keys, every
// change of the table is marked, the ones passed on too: a chunk still to come may hold
// the key, and its read must not see an older row than the sink already has.
func (r *reader) unfilled(changes []event.Change) []event.Change {
	j := r.s.join
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.fills) == 0 || len(changes) == 0 {
		return changes
	}
	out := changes[:0]
	for i := range changes {
		c := changes[i]
		f := j.fills[c.Schema.ID]
		if f == nil {
			out = append(out, c)
			continue
		}
		if c.Op != event.OpUpdate || c.Before == nil {
			in := f.delivered(c.Schema.KeyOf(c.Row()))
			j.noteChange(f, c, !in, !in)
			if !in || !f.ordered {
				j.leftOut[c.Schema.ID] = leftOut{at: j.begun, executed: j.executed, gtid: j.begunGTID}
			}
			if in {
				out = append(out, c)
			}
			continue
		}
		beforeIn := f.delivered(c.Schema.KeyOf(c.Before))
		afterIn := f.delivered(c.Schema.KeyOf(c.After))
		j.noteChange(f, c, !beforeIn, !afterIn)
		if !beforeIn || !afterIn || !f.ordered {
			j.leftOut[c.Schema.ID] = leftOut{at: j.begun, executed: j.executed, gtid: j.begunGTID}
		}
		switch {
		case beforeIn && afterIn:
			out = append(out, c)
		case beforeIn: // moved into a chunk still to come: gone from here
			out = append(out, c.With(event.OpDelete, c.Before, nil))
		case afterIn: // moved out of a chunk still to come: new here
			out = append(out, c.With(event.OpInsert, nil, c.After))
		}
	}
	return out
}

// backfill has the engine snapshot a table that joined the selection at this point of
// the stream: the stream forgets what it knew of it and takes it up at its first chunk.
func (r *reader) backfill(ctx context.Context, id event.TableID) error {
	switch {
	case r.s.noNewTables:
		r.s.log.Warn("a table joined the selection with rows already in it; they are not copied "+
			"(scan.newly-added-table.enabled is false), nor are its changes: its schema is unknown", "table", id)
		return nil
	case !r.s.JoinsSnapshots():
		r.s.log.Warn("a table joined the selection with rows already in it; they are not copied "+
			"(this server cannot join a snapshot into the stream): run the table in a new pipeline", "table", id)
		return nil
	}
	conn, err := r.s.pool.get(ctx)
	if err != nil {
		return err
	}
	tb, err := describe(conn, id.Schema, id.Table, r.s.columnOpts(id.Schema, id.Table))
	r.s.pool.put(conn)
	if err != nil {
		return fault.AsFatal(fmt.Errorf("table %s joined the selection at %s: %w", id, r.txnLog, err))
	}
	if tb == nil {
		return nil // gone again since: its DROP follows in the binlog
	}
	delete(r.tables, id)
	j := r.s.join
	j.mu.Lock()
	j.fills[id] = &fill{}
	j.publish(r.tables)
	j.mu.Unlock()
	r.s.log.Info("a table joined the selection with rows in it: snapshotting it beside the stream", "table", id, "at", r.txnLog)
	return r.emit(ctx, event.Batch{Backfill: tb.schema})
}

// JoinChunk reads chunk c of t in a consistent snapshot and delivers it inside the stream
// at the snapshot's binlog position (see the top of this file).
func (s *Source) JoinChunk(ctx context.Context, t *event.Schema, c snapshot.Chunk, deliver func(*event.Schema, []event.Row) error) error {
	for range joinAttempts {
		done, err := s.joinOnce(ctx, t, c, deliver)
		if err != nil || done {
			return err
		}
	}
	return fault.AsRetryable(fmt.Errorf("chunk %d of %s: read %d times, each time raced by DDL or a commit the stream had already passed",
		c.Index, t.ID, joinAttempts))
}

// joinOnce makes one attempt at a chunk; done is false when it must be read again.
func (s *Source) joinOnce(ctx context.Context, t *event.Schema, c snapshot.Chunk, deliver func(*event.Schema, []event.Row) error) (done bool, err error) {
	j := s.join
	id := t.ID
	// The engine starts the stream before the chunks; it may not be reading yet.
	if err := j.wait(ctx, func() bool { return j.live }); err != nil {
		return false, err
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return false, err
	}
	read := s.readHeld
	if s.watermarks {
		read = s.readWatermarked
	}
	tb, rows, at, raced, err := read(ctx, conn, id, c)
	if err != nil {
		conn.Close() // it may be mid-result: never reuse it
		s.pool.release()
		return false, err
	}
	s.pool.put(conn)
	if at == (place{}) {
		return false, nil // the stream had passed the snapshot's position
	}
	defer j.release(at)
	if s.watermarks {
		defer func() {
			j.mu.Lock()
			w := j.windowOf(id, c)
			j.mu.Unlock()
			if w != nil {
				j.closeWindow(w)
			}
		}()
	}
	// Wait until everything before the snapshot has been emitted.
	if err := j.wait(ctx, func() bool { return !j.at.before(at) }); err != nil {
		return false, err
	}
	if raced {
		return false, nil // read again, now that the stream has the DDL that got in the way
	}
	j.mu.Lock()
	cur, f := j.schemas[id], j.fills[id] // the stream's, as of P: it cannot pass P while held
	var schema *event.Schema
	switch {
	case cur == nil && tb != nil && f != nil && !f.known: // the table joins the stream here
		f.setKey(tb)
		j.installs = append(j.installs, tb)
		j.schemas[id] = tb.schema
		schema = tb.schema
	case cur == nil: // the table is not there at P (dropped or renamed before): nothing to deliver
	case !slices.Equal(cur.KeyNames(), t.KeyNames()):
		j.mu.Unlock()
		return false, fault.AsFatal(fmt.Errorf("the primary key of %s changed from (%s) to (%s) while it was being snapshotted, "+
			"so its chunks, split by the old key, no longer describe it; start the pipeline over (a new name, or remove its checkpoint) "+
			"to snapshot it by the new key", id, strings.Join(t.KeyNames(), ", "), strings.Join(cur.KeyNames(), ", ")))
	case tb == nil || !sameColumns(cur, tb.schema): // the server changed it after P: read again
		j.mu.Unlock()
		return false, nil
	default:
		schema = cur
	}
	if w := j.windowOf(id, c); w != nil && schema != nil {
		rows = w.reconcile(schema, rows) // the stream is held at the high watermark: the window is still
	}
	j.mu.Unlock()
	if schema != nil {
		for chunk := range slices.Chunk(rows, 1024) {
			if err := deliver(schema, chunk); err != nil {
				return false, err
			}
		}
	}
	j.mu.Lock()
	if f != nil && f.add(c) {
		delete(j.fills, id) // the whole table is in: nothing is left out of the stream any more
	}
	j.mu.Unlock()
	return true, nil
}

// readHeld opens a consistent snapshot on conn, holds the stream at its position and reads
// the table's columns and chunk c's rows inside it. at is zero when the stream had already
// passed the position (read again); raced is set when DDL got in the way of the read.
func (s *Source) readHeld(ctx context.Context, conn *client.Conn, id event.TableID, c snapshot.Chunk) (tb *table, rows []event.Row, at place, raced bool, err error) {
	if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return nil, nil, at, false, fmt.Errorf("start a consistent snapshot for chunk %d of %s: %w", c.Index, id, err)
	}
	p, err := snapshotPlace(conn)
	if err != nil {
		return nil, nil, at, false, err
	}
	j := s.join
	j.mu.Lock()
	switch {
	case !j.live:
		j.mu.Unlock()
		return nil, nil, at, false, fault.AsRetryable(errors.New("a snapshot chunk was read while the binlog stream was not running"))
	case !j.begun.before(p):
		j.mu.Unlock()
		_, err := conn.Execute("COMMIT")
		return nil, nil, at, false, err
	}
	j.holds = append(j.holds, p)
	known := j.schemas[id] // the stream's, as of a point before P
	j.mu.Unlock()
	at = p
	defer func() {
		if err != nil {
			j.release(p)
			at = place{}
		}
	}()

	// A table the stream knows is read with the stream's schema: if DDL changed it before
	// P the stream's schema at P differs and the chunk is read again; if after, the read
	// fails with 1412. Only a table joining the stream has its columns read here.
	if known != nil {
		tb, err = s.table(known)
	} else {
		tb, err = describe(conn, id.Schema, id.Table, s.columnOpts(id.Schema, id.Table))
	}
	switch {
	case err != nil && ddlRace(err):
		tb, raced = nil, true
	case err != nil:
		return nil, nil, at, false, fmt.Errorf("read the columns of %s for chunk %d: %w", id, c.Index, err)
	}
	if tb != nil {
		err = s.readChunk(ctx, conn, tb, c, func(rs []event.Row) error {
			rows = append(rows, rs...)
			return nil
		})
		if err != nil && ddlRace(err) {
			tb, rows, raced, err = nil, nil, true, nil
		}
		if err != nil {
			return nil, nil, at, false, err
		}
	}
	if _, err := conn.Execute("COMMIT"); err != nil {
		return nil, nil, at, false, fmt.Errorf("end the consistent snapshot: %w", err)
	}
	return tb, rows, at, raced, nil
}

// snapshotPlace reads the binlog position of the session's consistent snapshot.
func snapshotPlace(conn *client.Conn) (place, error) {
	var p place
	res, err := conn.Execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return p, fmt.Errorf("read the snapshot's binlog position: %w", err)
	}
	for i := range res.RowNumber() {
		name, _ := res.GetString(i, 0)
		val, _ := res.GetString(i, 1)
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			p.file = val
		case "binlog_snapshot_position":
			fmt.Sscan(val, &p.pos)
		}
	}
	if p.file == "" {
		return p, fault.AsFatal(errors.New("the server reports no binlog position for a consistent snapshot (binlog_snapshot_file): is log_bin on?"))
	}
	return p, nil
}

// ddlRace reports whether a read failed because DDL changed the table under it.
func ddlRace(err error) bool {
	var me *gomysql.MyError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Code {
	case 1412, // ER_TABLE_DEF_CHANGED: altered after the consistent snapshot began
		1054, // ER_BAD_FIELD_ERROR: a column the read names is gone
		1146: // ER_NO_SUCH_TABLE
		return true
	}
	return false
}

// sameColumns reports whether two schemas of a table decode rows alike.
func sameColumns(a, b *event.Schema) bool {
	if a == b {
		return true
	}
	if len(a.Columns) != len(b.Columns) || !slices.Equal(a.Key, b.Key) {
		return false
	}
	for i := range a.Columns {
		x, y := &a.Columns[i], &b.Columns[i]
		if x.Name != y.Name || !reflect.DeepEqual(x.Type, y.Type) || x.Nullable != y.Nullable || x.SourceType != y.SourceType {
			return false
		}
	}
	return true
}
