package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/types"
)

// Joining the snapshot into the stream exactly, while both run (DESIGN §3.2).
//
// A chunk is read in the snapshot a temporary replication slot exports when it is
// created. That snapshot sees exactly the transactions whose commit record lies before the
// slot's consistent point P — PostgreSQL makes it so, waiting for the transactions that
// were running to end — which is what the main slot's stream calls "before P". So the
// chunk is handed to the engine inside the stream at P: after every transaction that
// commits before P, before any other. Its rows are never older than a change the sink
// already has, nor newer than one still to come.
//
// This is exact where a low/high watermark pair (pg_current_wal_lsn() around a plain
// SELECT) is not: PostgreSQL writes a commit to the WAL before the transaction becomes
// visible, so a watermark read before the SELECT can lie after a commit the SELECT does
// not see. The temporary slot cannot be fooled so: TestInvisibleCommitBeforeTheChunk
// holds a commit in exactly that state. It also makes a resumed snapshot the same as a
// fresh one.
//
// One temporary slot serves every chunk that starts within epochMax of it (an epoch):
// creating a slot costs more than reading a chunk. The phases of an epoch and of a chunk
// (JoinChunk), and what the stream does meanwhile:
//
//	hold      (epoch) read the WAL insert point L; hold the stream at L (it may not
//	          begin a transaction that commits at or after L). If it already has, read L
//	          again.
//	slot      (epoch) create a temporary slot exporting its snapshot: its point P ≥ L;
//	          move the hold to P
//	read      (chunk) import the snapshot in a REPEATABLE READ transaction and COPY the
//	          chunk's rows out
//	wait      (chunk) until the stream has emitted every transaction before P (a logical
//	          message written now wakes a stream with nothing else to read)
//	deliver   (chunk) hand the rows to the engine with the stream's schema of the table
//	          at P, record the chunk's key range as delivered
//	finish    (epoch) once it is old or idle and its last chunk is delivered: release the
//	          stream, drop the slot
//
// Meanwhile the stream leaves out the changes of keys whose chunk has not been delivered
// yet (the chunk will hold them: its P is after them), as snapshot.Fill says.

// joinAttempts bounds how many times one chunk is read again after racing the stream.
const joinAttempts = 50

// joiner is the meeting point of the stream and the chunk readers of one Source.
type joiner struct {
	mu      sync.Mutex
	live    bool          // a Stream runs
	coming  bool          // a Stream is about to run (Snapshotting was called), or runs
	at      pglogrepl.LSN // every transaction that commits before here has been emitted
	begun   pglogrepl.LSN // the commit point of the latest transaction the stream began
	holds   []pglogrepl.LSN
	wake    chan struct{} // closed and replaced when live, at or holds change
	schemas map[event.TableID]*event.Schema
	// progress is the durable snapshot progress per table (Snapshotting); fills what
	// has been delivered of the tables being snapshotted.
	progress map[event.TableID][]snapshot.Chunk
	fills    map[event.TableID]*snapshot.Fill
	tempSeq  atomic.Int64
	// epoch is the open exported snapshot chunks join (nil: none); opening is closed
	// when the one being opened is there.
	epoch   *epoch
	opening chan struct{}
}

func newJoiner() *joiner {
	return &joiner{wake: make(chan struct{}), fills: map[event.TableID]*snapshot.Fill{}, schemas: map[event.TableID]*event.Schema{},
		progress: map[event.TableID][]snapshot.Chunk{}}
}

// signal wakes the waiters; j.mu is held.
func (j *joiner) signal() {
	close(j.wake)
	j.wake = make(chan struct{})
}

// wait blocks until cond holds (checked with j.mu held), the stream stops or ctx ends.
// idle, when set, runs every time the wait wakes without cond holding.
func (j *joiner) wait(ctx context.Context, cond func() bool) error {
	j.mu.Lock()
	for {
		if cond() {
			j.mu.Unlock()
			return nil
		}
		if !j.live && !j.coming {
			j.mu.Unlock()
			return fault.AsRetryable(errors.New("the replication stream stopped while a snapshot chunk waited for it"))
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

func (j *joiner) release(p pglogrepl.LSN) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if i := slices.Index(j.holds, p); i >= 0 {
		j.holds = slices.Delete(j.holds, i, i+1)
	}
	j.signal()
}

// JoinsSnapshots: every PostgreSQL 10+ server can (temporary slots export snapshots).
func (s *Source) JoinsSnapshots() bool { return true }

// AddsNewTables is scan.newly-added-table.enabled.
func (s *Source) AddsNewTables() bool { return !s.o.NoNewTables }

// Snapshotting records which tables are being snapshotted and what of them is durable.
func (s *Source) Snapshotting(progress []snapshot.TableProgress) {
	j := s.join
	j.mu.Lock()
	defer j.mu.Unlock()
	j.coming = true
	j.fills = map[event.TableID]*snapshot.Fill{}
	j.progress = map[event.TableID][]snapshot.Chunk{}
	for i := range progress {
		p := &progress[i]
		if !p.Finished() {
			j.progress[p.Table] = p.DoneRanges()
		}
	}
}

// startStream marks the stream live at from, with its tables; ordered says which
// tables' keys Go orders as the server does.
func (j *joiner) startStream(from pglogrepl.LSN, tables map[event.TableID]*table, ordered func(*event.Schema) bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.live, j.holds = true, nil
	j.at, j.begun = from, 0
	for id, done := range j.progress {
		if t := tables[id]; t != nil {
			j.fills[id] = snapshot.NewFill(keyKinds(t.schema), ordered(t.schema), done)
		} else {
			j.fills[id] = nil // joins the stream at its first chunk
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

func keyKinds(s *event.Schema) []types.Kind {
	out := make([]types.Kind, len(s.Key))
	for i, k := range s.Key {
		out[i] = s.Columns[k].Type.Kind
	}
	return out
}

// gate is passed by the stream before it begins a transaction that commits at f: it
// waits while a chunk is held at or before f. beat runs while it waits, to keep the
// replication connection alive.
func (j *joiner) gate(ctx context.Context, f pglogrepl.LSN) error {
	return j.wait(ctx, func() bool {
		if slices.ContainsFunc(j.holds, func(h pglogrepl.LSN) bool { return f >= h }) {
			return false
		}
		j.begun = f
		return true
	})
}

// reached moves the stream's emitted point forward to p.
func (j *joiner) reached(p pglogrepl.LSN) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if p > j.at {
		j.at = p
		j.signal()
	}
}

// holding reports whether a chunk waits for the stream to reach a point it has not.
func (j *joiner) holding() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.ContainsFunc(j.holds, func(h pglogrepl.LSN) bool { return h > j.at })
}

// unfilled leaves out the changes of keys whose snapshot chunk is still to be delivered.
// A key-moving update is judged by both its keys.
func (j *joiner) unfilled(changes []event.Change) []event.Change {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.fills) == 0 || len(changes) == 0 {
		return changes
	}
	out := changes[:0]
	for i := range changes {
		c := changes[i]
		f, filling := j.fills[c.Schema.ID]
		if !filling {
			out = append(out, c)
			continue
		}
		if f == nil { // the table joins the stream at its first chunk: nothing before it
			continue
		}
		if c.Op != event.OpUpdate || c.Before == nil {
			if f.Delivered(c.Schema.KeyOf(c.Row())) {
				out = append(out, c)
			}
			continue
		}
		beforeIn := f.Delivered(c.Schema.KeyOf(c.Before))
		afterIn := f.Delivered(c.Schema.KeyOf(c.After))
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

// JoinChunk reads chunk c of t exactly at a point of the WAL and delivers it inside the
// stream at that point (see the top of this file).
func (s *Source) JoinChunk(ctx context.Context, t *event.Schema, c snapshot.Chunk, deliver func(*event.Schema, []event.Row) error) error {
	j := s.join
	if err := j.wait(ctx, func() bool { return j.live }); err != nil {
		return err
	}
	for range joinAttempts {
		e, err := s.acquireEpoch(ctx)
		if err != nil {
			return err
		}
		done, err := s.joinOnce(ctx, e, t, c, deliver)
		j.releaseEpoch(e, !done && err == nil)
		if err != nil || done {
			return err
		}
	}
	return fault.AsRetryable(fmt.Errorf("chunk %d of %s: read %d times, each time raced by the stream or by DDL", c.Index, t.ID, joinAttempts))
}

// joinOnce reads and delivers a chunk in epoch e; done is false when it must be read
// again (in a newer epoch).
func (s *Source) joinOnce(ctx context.Context, e *epoch, t *event.Schema, c snapshot.Chunk, deliver func(*event.Schema, []event.Row) error) (done bool, err error) {
	j := s.join
	p := e.point
	j.mu.Lock()
	known := j.schemas[t.ID] // the stream's, as of a point before P: it is held at P
	j.mu.Unlock()

	rows, schema, err := s.readInSnapshot(ctx, e, t.ID, known, c)
	if err != nil {
		return false, err
	}
	if j.holding() {
		if _, err := s.pool.Exec(ctx, "SELECT pg_logical_emit_message(false, 'weir', '')"); err != nil {
			return false, fmt.Errorf("wake the stream: %w", err)
		}
	}
	if err := j.wait(ctx, func() bool { return j.at >= p }); err != nil {
		return false, err
	}
	j.mu.Lock()
	cur := j.schemas[t.ID]
	f, filling := j.fills[t.ID]
	switch {
	case cur == nil && schema == nil: // the table is not there at P: nothing to deliver
	case cur == nil: // the table joins the stream here
		j.schemas[t.ID] = schema
		cur = schema
	case !slices.Equal(cur.KeyNames(), t.KeyNames()):
		j.mu.Unlock()
		return false, fault.AsFatal(fmt.Errorf("the primary key of %s changed from (%s) to (%s) while it was being snapshotted, "+
			"so its chunks, split by the old key, no longer describe it; start the pipeline over (a new name, or remove its checkpoint) "+
			"to snapshot it by the new key", t.ID, strings.Join(t.KeyNames(), ", "), strings.Join(cur.KeyNames(), ", ")))
	case cur != known: // the stream's schema moved while the chunk was read: read it again
		j.mu.Unlock()
		return false, nil
	}
	if filling && f == nil && cur != nil {
		ordered, _ := s.keyOrdered(ctx, cur)
		f = snapshot.NewFill(keyKinds(cur), ordered, nil)
		j.fills[t.ID] = f
	}
	j.mu.Unlock()
	if cur != nil && schema != nil {
		for part := range slices.Chunk(rows, 1024) {
			if err := deliver(cur, part); err != nil {
				return false, err
			}
		}
	}
	j.mu.Lock()
	if f != nil && f.Add(c) {
		delete(j.fills, t.ID) // the whole table is in: nothing is left out of the stream any more
	}
	j.mu.Unlock()
	return true, nil
}

// epochMax is how long one exported snapshot takes new chunks, and so about how long the
// stream is held at its point: chunks read in it share the cost of the temporary slot.
// epochIdle is how long an epoch no chunk uses stays open for the next one.
const (
	epochMax  = 2 * time.Second
	epochIdle = 50 * time.Millisecond
)

// epoch is one temporary slot's exported snapshot at point, shared by the chunks read
// while it is open. The stream is held at point from before the slot is created until
// the epoch is closed and its last chunk delivered.
type epoch struct {
	point    pglogrepl.LSN
	snapshot string
	conn     *pgconn.PgConn // the replication connection that exports the snapshot
	born     time.Time
	users    int  // chunks reading or delivering in it
	closed   bool // takes no more chunks
	idle     *time.Timer
	tables   map[event.TableID]*table // the tables as the snapshot has them (nil: absent)
	mu       sync.Mutex               // guards tables
}

// acquireEpoch returns the open epoch, or opens one.
func (s *Source) acquireEpoch(ctx context.Context) (*epoch, error) {
	j := s.join
	for {
		j.mu.Lock()
		if e := j.epoch; e != nil && !e.closed && time.Since(e.born) < epochMax {
			e.users++
			if e.idle != nil {
				e.idle.Stop()
				e.idle = nil
			}
			j.mu.Unlock()
			return e, nil
		}
		if ch := j.opening; ch != nil {
			j.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		j.opening = ch
		j.mu.Unlock()
		e, err := s.openEpoch(ctx)
		j.mu.Lock()
		close(ch)
		j.opening = nil
		if e != nil {
			if old := j.epoch; old != nil && !old.closed {
				old.closed = true
				if old.users == 0 {
					j.finish(old)
				}
			}
			j.epoch, e.users = e, 1
		}
		j.mu.Unlock()
		if e != nil || err != nil {
			return e, err
		}
		// raced by the stream: read the insert point again
	}
}

// openEpoch holds the stream at the WAL insert point L, creates a temporary slot (its
// point P ≥ L) and moves the hold to P. It returns nil, nil when the stream had already
// passed L.
func (s *Source) openEpoch(ctx context.Context) (*epoch, error) {
	j := s.join
	var l pglogrepl.LSN
	if err := s.pool.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()").Scan(&l); err != nil {
		return nil, fmt.Errorf("read the WAL insert point: %w", err)
	}
	j.mu.Lock()
	switch {
	case !j.live:
		j.mu.Unlock()
		return nil, fault.AsRetryable(errors.New("a snapshot chunk was read while the replication stream was not running"))
	case j.begun >= l || j.at > l:
		j.mu.Unlock()
		return nil, nil
	}
	j.holds = append(j.holds, l)
	j.mu.Unlock()
	conn, err := s.replConn(ctx)
	if err == nil {
		// Named by the session it lives in (a temporary slot is dropped when its session
		// ends), so that it never meets one an earlier attempt left on a session the
		// server has not yet seen die.
		name := fmt.Sprintf("%s_c%d_%d", s.slot, conn.PID(), j.tempSeq.Add(1))
		if len(name) > 63 {
			name = fmt.Sprintf("weir_c%d_%d", conn.PID(), j.tempSeq.Add(1))
		}
		var ts *tempSlot
		if ts, err = s.createTempSlot(ctx, conn, name); err == nil {
			j.mu.Lock()
			if i := slices.Index(j.holds, l); i >= 0 {
				j.holds[i] = ts.point
			}
			j.mu.Unlock()
			return &epoch{point: ts.point, snapshot: ts.snapshot, conn: conn, born: time.Now(), tables: map[event.TableID]*table{}}, nil
		}
		conn.Close(context.WithoutCancel(ctx))
	}
	j.release(l)
	return nil, err
}

// releaseEpoch ends a chunk's use of e; stale closes e (a chunk must be read again, in a
// newer snapshot). An epoch is finished when it is closed or old and no chunk uses it,
// or when it has been idle for epochIdle.
func (j *joiner) releaseEpoch(e *epoch, stale bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.users--
	if stale {
		e.closed = true
	}
	if e.users > 0 {
		return
	}
	if e.closed || time.Since(e.born) >= epochMax {
		j.finish(e)
		return
	}
	e.idle = time.AfterFunc(epochIdle, func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		if e.users == 0 && e.idle != nil {
			j.finish(e)
		}
	})
}

// finish closes e: the stream is released from its point and its slot dropped (with its
// connection: the slot is temporary). j.mu is held.
func (j *joiner) finish(e *epoch) {
	e.closed, e.idle = true, nil
	if j.epoch == e {
		j.epoch = nil
	}
	if i := slices.Index(j.holds, e.point); i >= 0 {
		j.holds = slices.Delete(j.holds, i, i+1)
	}
	j.signal()
	go e.conn.Close(context.Background())
}

// readInSnapshot reads chunk c of table id in epoch e's snapshot: with the columns of
// known, the stream's schema (a column the table no longer has reads as NULL), or with
// the table's columns there when the stream does not know it yet. schema is what the rows
// hold; nil when the table does not exist in the snapshot.
func (s *Source) readInSnapshot(ctx context.Context, e *epoch, id event.TableID, known *event.Schema, c snapshot.Chunk) (rows []event.Row, schema *event.Schema, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("connect for chunk %d of %s: %w", c.Index, id, err)
	}
	defer pc.Release()
	tx, err := pc.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, fmt.Errorf("begin the snapshot of chunk %d of %s: %w", c.Index, id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+e.snapshot+"'"); err != nil {
		return nil, nil, fmt.Errorf("import snapshot %s for chunk %d of %s: %w", e.snapshot, c.Index, id, err)
	}
	e.mu.Lock()
	now, described := e.tables[id]
	e.mu.Unlock()
	if !described { // the catalog as of the snapshot: once per table and epoch
		if now, err = s.describe(ctx, tx, id.Schema, id.Table); err != nil {
			return nil, nil, err
		}
		e.mu.Lock()
		e.tables[id] = now
		e.mu.Unlock()
	}
	if now == nil {
		return nil, nil, tx.Commit(ctx)
	}
	tb := now
	if known != nil {
		if tb, err = s.table(known); err != nil {
			return nil, nil, err
		}
	}
	rows = make([]event.Row, 0, 8192)
	err = s.copyChunk(ctx, pc.Conn().PgConn(), tb, now.schema, c, func(rs []event.Row) error {
		rows = append(rows, rs...)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return rows, tb.schema, tx.Commit(ctx)
}
