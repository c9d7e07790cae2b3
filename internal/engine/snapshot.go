package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// snapRun is the snapshot phase of a run. The router owns it; a splitter goroutine
// produces chunks in key order, and up to parallelism reader goroutines read them.
//
// A chunk is recorded in a table's progress when the router dispatches it (Pending, and
// Next moves past it) and leaves Pending when its last row has been routed. A checkpoint
// is never taken with a chunk half routed, so every chunk it records as done is whole in
// the sink, and every chunk it records as pending is read again after a restart. Without
// a joiner, a checkpoint waits until no chunk is in flight; with one (the stream runs
// beside the snapshot, connector.SnapshotJoiner), only until no chunk is being delivered.
//
// Marks (event.Change.Mark), where the sink writes them (connector.SnapshotMarker): the
// first row routed of a table that had none is its first,
// and of a snapshot that had none, the snapshot's first. The last is known only once the
// table has no chunk left to read, so the router holds back each table's last routed row
// (tableRun.held) and the progress of the chunk it came from, until one of:
//
//	the table brings another row          the held row goes unmarked
//	the table has no chunk left           marked last of its table, and of the snapshot
//	                                      when every other table is done
//	a checkpoint, a schema change, a      unmarked, so that a checkpoint records only
//	change of the stream to that table    rows in the sink and the stream's changes stay
//	                                      behind the reads they follow (releaseAll)
//
// A chunk whose read ended while it holds the row counts as read (it frees its reader and
// no longer holds back a checkpoint) but is recorded done only when the row goes.
type snapRun struct {
	reader     connector.ChunkReader
	joiner     connector.SnapshotJoiner // nil: snapshot first, stream after
	tables     []*tableRun
	queue      []*chunkRun // pending chunks of the checkpoint, dispatched before new ones
	splits     chan splitMsg
	work       chan *chunkRun
	inflight   int
	delivering int  // joined chunks whose rows are being routed
	paused     bool // a checkpoint is waiting for in-flight chunks
	splitCtx   context.Context
	splitEnd   context.CancelFunc
	closed     bool
	marks      bool // the sink marks reads (connector.SnapshotMarker)
	fresh      bool // no table had progress when the run began: marks the snapshot's first row
	routed     bool // a row has been routed
	holding    int  // tables holding a row
	// byID finds a table by its ID (releaseFor: a change of the stream, among a thousand
	// tables); unsplit and unfinished are where tables[:i] are all split, and all
	// finished, so far (the router asks after every message: allSplit, finished).
	byID                map[event.TableID]*tableRun
	unsplit, unfinished int
}

type tableRun struct {
	schema  *event.Schema
	prog    snapshot.TableProgress
	hint    snapshot.SplitHint
	started time.Time // when this run began reading the table
	rows0   int64     // rows already read by earlier runs
	est     int64     // the source's row estimate (0: unknown)
	logged  bool      // its start has been logged
	fresh   bool      // nothing of it was read before this run
	routed  bool      // a row of it has been routed
	reading int       // its chunks being read
	held    [1]event.Change
	heldBy  *chunkRun // the chunk of the held row; nil: none held
}

type chunkRun struct {
	t          *tableRun
	c          snapshot.Chunk
	log        string // the Pos.Log of the chunk's rows
	rows       int64  // written by the reader until it reports done
	delivering bool   // the router has routed some of its rows (joined chunks)
	read       bool   // read whole; recorded done when the row it holds goes
}

type splitMsg struct {
	t     *tableRun
	chunk snapshot.Chunk
	done  bool // every chunk of t has been produced
}

func newSnapRun(state *checkpoint.SnapshotState, schemas []*event.Schema, reader connector.ChunkReader, joiner connector.SnapshotJoiner) *snapRun {
	s := &snapRun{reader: reader, joiner: joiner, fresh: true, byID: make(map[event.TableID]*tableRun, len(schemas))}
	byID := map[event.TableID]*snapshot.TableProgress{}
	for i := range state.Tables {
		byID[state.Tables[i].Table] = &state.Tables[i]
	}
	for _, schema := range schemas {
		t := &tableRun{schema: schema, prog: snapshot.TableProgress{Table: schema.ID}, fresh: true}
		if p := byID[schema.ID]; p != nil {
			t.fresh = p.Rows == 0 && p.Done == 0 && len(p.Pending) == 0
			s.fresh = s.fresh && t.fresh
			t.prog = *p
			t.prog.Pending = nil
			for _, c := range p.Pending {
				s.queue = append(s.queue, &chunkRun{t: t, c: c})
			}
		}
		s.addTable(t)
	}
	return s
}

// addTable adds table t to the snapshot.
func (s *snapRun) addTable(t *tableRun) {
	s.tables = append(s.tables, t)
	s.byID[t.schema.ID] = t
}

// start launches the splitter and the readers.
func (s *snapRun) start(r *run) {
	m, ok := r.e.sink.(connector.SnapshotMarker)
	s.marks = ok && m.MarksSnapshot()
	var toSplit []*tableRun
	var done, seen int64
	for _, t := range s.tables {
		if !t.prog.Split {
			toSplit = append(toSplit, t)
		}
		done += int64(t.prog.Done)
		seen += int64(t.prog.NextIndex)
	}
	r.e.stats.ChunksDone.Store(done)
	r.e.stats.ChunksSplit.Store(seen)
	s.splits = make(chan splitMsg)
	s.work = make(chan *chunkRun, r.cfg.Parallelism)
	s.splitCtx, s.splitEnd = context.WithCancel(r.gctx)
	s.split(r, toSplit)
	for range r.cfg.Parallelism {
		r.goSafe(func() error {
			for cr := range s.work {
				if err := s.read(r, cr); err != nil {
					return err
				}
			}
			return nil
		})
	}
	r.e.stats.SplitFinished.Store(len(toSplit) == 0)
}

// split starts a splitter goroutine for tables, after estimating their rows.
func (s *snapRun) split(r *run, tables []*tableRun) {
	est, _ := s.reader.(connector.RowEstimator)
	for _, t := range tables {
		t.hint = snapshot.SplitHint{Rows: r.cfg.ChunkRows, After: t.prog.Next, FirstIndex: t.prog.NextIndex}
		t.started, t.rows0 = time.Now(), t.prog.Rows
		if est != nil && !t.prog.Finished() {
			t.est, _ = est.EstimateRows(r.gctx, t.schema)
		}
		t.est = max(t.est, t.prog.Rows) // never below what is read: Stats.SnapshotEstimate adds them up
		r.e.stats.SnapshotEstimate.Add(t.est)
		r.e.stats.SnapshotRows.Add(t.prog.Rows)
		s.tableMetrics(r, t)
	}
	sctx := s.splitCtx
	r.goSafe(func() error {
		for _, t := range tables {
			for c, err := range s.reader.SplitChunks(sctx, t.schema, t.hint) {
				if err != nil {
					if sctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("split table %s into chunks: %w", t.schema.ID, err)
				}
				select {
				case s.splits <- splitMsg{t: t, chunk: c}:
				case <-sctx.Done():
					return nil
				}
			}
			select {
			case s.splits <- splitMsg{t: t, done: true}:
			case <-sctx.Done():
				return nil
			}
		}
		return nil
	})
}

// add snapshots a table that joined the selection while the stream runs.
func (s *snapRun) add(r *run, schema *event.Schema) {
	if slices.ContainsFunc(s.tables, func(t *tableRun) bool { return t.schema.ID == schema.ID && !t.prog.Finished() }) {
		return
	}
	s.tables = slices.DeleteFunc(s.tables, func(t *tableRun) bool { return t.schema.ID == schema.ID })
	s.unsplit, s.unfinished = 0, 0 // (the tables after it moved)
	t := &tableRun{schema: schema, prog: snapshot.TableProgress{Table: schema.ID}, fresh: true}
	s.addTable(t)
	r.e.stats.SplitFinished.Store(false)
	s.split(r, []*tableRun{t})
}

// read reads one chunk and sends its rows to the router, then reports it done.
func (s *snapRun) read(r *run, cr *chunkRun) error {
	ctx := r.gctx
	readMicros := time.Now().UnixMicro()
	deliver := func(schema *event.Schema, rows []event.Row) error {
		changes := make([]event.Change, len(rows))
		size := int64(0)
		for i, row := range rows {
			changes[i] = event.Change{Op: event.OpRead, Schema: schema, After: row,
				Pos: event.Pos{Log: cr.log, Off: uint64(cr.rows) + uint64(i)}, CommitMicros: readMicros}
			size += int64(changes[i].Size())
		}
		cr.rows += int64(len(rows))
		n, err := r.sem.Acquire(ctx, size)
		if err != nil {
			return err
		}
		select {
		case r.in <- msg{kind: msgRows, changes: changes, chunk: cr, bytes: n}:
			return nil
		case <-ctx.Done():
			r.sem.Release(n)
			return ctx.Err()
		}
	}
	var err error
	if s.joiner != nil {
		err = s.joiner.JoinChunk(ctx, cr.t.schema, cr.c, deliver)
	} else {
		err = s.reader.ReadChunk(ctx, cr.t.schema, cr.c, func(rows []event.Row) error { return deliver(cr.t.schema, rows) })
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if r.stopFlag.Load() { // a joined chunk cannot finish once the stream has stopped
			select {
			case r.in <- msg{kind: msgChunkLeft, chunk: cr}:
			case <-ctx.Done():
			}
			return nil
		}
		return fmt.Errorf("read chunk %d of table %s: %w", cr.c.Index, cr.t.schema.ID, err)
	}
	select {
	case r.in <- msg{kind: msgChunkDone, chunk: cr}:
	case <-ctx.Done():
	}
	return nil
}

// wantSplit reports whether the router should take a new chunk from the splitter now.
func (s *snapRun) wantSplit(r *run) bool {
	return !s.paused && len(s.queue) == 0 && s.inflight < r.cfg.Parallelism && !s.allSplit()
}

// dispatchQueued dispatches chunks pending from the checkpoint while there is room.
func (s *snapRun) dispatchQueued(r *run) error {
	for !s.paused && len(s.queue) > 0 && s.inflight < r.cfg.Parallelism {
		cr := s.queue[0]
		s.queue = s.queue[1:]
		s.dispatch(cr)
	}
	return nil
}

func (s *snapRun) dispatch(cr *chunkRun) {
	cr.log = "snapshot:" + cr.t.schema.ID.String() + ":" + strconv.Itoa(cr.c.Index)
	cr.t.prog.Pending = append(cr.t.prog.Pending, cr.c)
	cr.t.reading++
	s.inflight++
	s.work <- cr // never blocks: capacity is parallelism and inflight < parallelism
}

func (s *snapRun) onSplit(r *run, m splitMsg) error {
	t := m.t
	if m.done {
		t.prog.Split = true
		r.e.stats.SplitFinished.Store(s.allSplit())
		return s.settle(r, t)
	}
	t.prog.Next = m.chunk.Hi
	t.prog.NextIndex = m.chunk.Index + 1
	if m.chunk.Hi == nil {
		t.prog.Split = true // the last chunk is open-ended
	}
	r.e.stats.ChunksSplit.Add(1)
	if !t.logged {
		t.logged = true
		r.e.log.Info("snapshotting a table", "table", t.schema.ID, "rows_estimated", t.est, "resumed_at_chunk", t.hint.FirstIndex)
		r.e.note("snapshot_started", t.schema.ID.String(), fmt.Sprintf("about %d rows; from chunk %d", t.est, t.hint.FirstIndex))
	}
	if r.e.m != nil {
		r.e.m.SnapshotChunksSeen.WithLabelValues(r.cfg.Pipeline, t.schema.ID.String()).Set(float64(t.prog.NextIndex))
	}
	s.dispatch(&chunkRun{t: t, c: m.chunk})
	return nil
}

// onRows routes rows of chunk cr, holding back the last where the sink marks reads (see
// snapRun).
func (s *snapRun) onRows(r *run, cr *chunkRun, changes []event.Change, bytes int64) error {
	if len(changes) == 0 {
		return nil
	}
	if !s.marks {
		return r.route(changes, bytes)
	}
	t := cr.t
	if !t.routed && t.fresh {
		changes[0].Mark |= event.FirstInTable
		if !s.routed && s.fresh {
			changes[0].Mark |= event.FirstInSnapshot
		}
	}
	t.routed, s.routed = true, true
	if err := s.release(r, t, 0); err != nil {
		return err
	}
	n := len(changes) - 1
	t.held[0], t.heldBy = changes[n], cr
	s.holding++
	return r.route(changes[:n], bytes)
}

// onChunkDone takes the end of chunk cr's read.
func (s *snapRun) onChunkDone(r *run, cr *chunkRun) error {
	t := cr.t
	s.inflight--
	t.reading--
	if cr.delivering {
		s.delivering--
		cr.delivering = false
	}
	cr.read = true
	if t.heldBy != cr {
		s.record(r, cr)
	}
	return s.settle(r, t)
}

// onChunkLeft takes a chunk left unread because the run stops: it stays pending, and a
// row of it that is held goes now.
func (s *snapRun) onChunkLeft(r *run, cr *chunkRun) error {
	s.inflight--
	cr.t.reading--
	if cr.delivering {
		s.delivering--
	}
	if cr.t.heldBy == cr {
		cr.t.heldBy = nil // not recorded: the chunk is read again
		s.holding--
		return r.route(cr.t.held[:], 0)
	}
	return nil
}

// settle lets table t's held row go, marked last, once t has nothing left to read.
func (s *snapRun) settle(r *run, t *tableRun) error {
	if t.heldBy == nil || t.reading > 0 || !t.prog.Split || s.queued(t) {
		return nil
	}
	mark := event.LastInTable
	if !slices.ContainsFunc(s.tables, func(u *tableRun) bool { return u != t && !s.tableDone(u) }) {
		mark |= event.LastInSnapshot
	}
	return s.release(r, t, mark)
}

// release routes table t's held row, if any, with mark, and records its chunk done if
// its read has ended.
func (s *snapRun) release(r *run, t *tableRun, mark event.SnapshotMark) error {
	cr := t.heldBy
	if cr == nil {
		return nil
	}
	t.heldBy = nil
	s.holding--
	t.held[0].Mark |= mark
	if err := r.route(t.held[:], 0); err != nil {
		return err
	}
	if cr.read {
		s.record(r, cr)
	}
	return nil
}

// releaseAll routes every held row unmarked (see snapRun).
func (s *snapRun) releaseAll(r *run) error {
	for _, t := range s.tables {
		if s.holding == 0 {
			return nil
		}
		if err := s.release(r, t, 0); err != nil {
			return err
		}
	}
	return nil
}

// releaseFor lets go, unmarked, the held rows of the tables that changes touch: a change
// of the stream must not overtake the read it follows.
func (s *snapRun) releaseFor(r *run, changes []event.Change) error {
	var last *event.Schema
	for i := range changes {
		if changes[i].Schema == last { // changes come in runs of one table
			continue
		}
		last = changes[i].Schema
		if t := s.byID[last.ID]; t != nil && t.heldBy != nil {
			if err := s.release(r, t, 0); err != nil {
				return err
			}
			if s.holding == 0 {
				return nil
			}
		}
	}
	return nil
}

func (s *snapRun) queued(t *tableRun) bool {
	return slices.ContainsFunc(s.queue, func(q *chunkRun) bool { return q.t == t })
}

// tableDone reports whether every chunk of t is recorded done.
func (s *snapRun) tableDone(t *tableRun) bool {
	return t.prog.Finished() && t.reading == 0 && t.heldBy == nil && !s.queued(t)
}

// record records chunk cr done: its rows are all routed.
func (s *snapRun) record(r *run, cr *chunkRun) {
	t := cr.t
	t.prog.Pending = slices.DeleteFunc(t.prog.Pending, func(c snapshot.Chunk) bool { return c.Index == cr.c.Index })
	t.prog.Done++
	t.prog.Rows += cr.rows
	r.e.stats.ChunksDone.Add(1)
	r.e.stats.SnapshotRows.Add(cr.rows)
	if t.est < t.prog.Rows { // the estimate was short: it grows with what is read
		r.e.stats.SnapshotEstimate.Add(t.prog.Rows - t.est)
		t.est = t.prog.Rows
	}
	s.tableMetrics(r, t)
	if t.prog.Finished() {
		took := time.Since(t.started).Round(time.Millisecond)
		r.e.log.Info("snapshotted a table", "table", t.schema.ID, "rows", t.prog.Rows, "chunks", t.prog.Done, "took", took)
		r.e.note("snapshot_finished", t.schema.ID.String(), fmt.Sprintf("%d rows in %d chunks, %s", t.prog.Rows, t.prog.Done, took))
	}
}

// tableMetrics exports a table's snapshot progress, with an ETA at its rate so far.
func (s *snapRun) tableMetrics(r *run, t *tableRun) {
	if r.e.m == nil {
		return
	}
	pl, name := r.cfg.Pipeline, t.schema.ID.String()
	r.e.m.SnapshotChunksDone.WithLabelValues(pl, name).Set(float64(t.prog.Done))
	r.e.m.SnapshotRowsRead.WithLabelValues(pl, name).Set(float64(t.prog.Rows))
	r.e.m.SnapshotRowsTotal.WithLabelValues(pl, name).Set(float64(t.est))
	eta := 0.0
	if read := t.prog.Rows - t.rows0; read > 0 && t.est > t.prog.Rows && !t.prog.Finished() {
		rate := float64(read) / time.Since(t.started).Seconds()
		eta = float64(t.est-t.prog.Rows) / rate
	}
	r.e.m.SnapshotETA.WithLabelValues(pl, name).Set(eta)
}

func (s *snapRun) allSplit() bool {
	for ; s.unsplit < len(s.tables); s.unsplit++ { // a split table stays split
		if !s.tables[s.unsplit].prog.Split {
			return false
		}
	}
	return true
}

// finished reports whether every chunk of every table is done.
func (s *snapRun) finished() bool {
	if s.inflight > 0 || len(s.queue) > 0 || s.holding > 0 {
		return false
	}
	for ; s.unfinished < len(s.tables); s.unfinished++ { // a finished table stays finished
		if !s.tables[s.unfinished].prog.Finished() {
			return false
		}
	}
	return true
}

// state is the snapshot part of a checkpoint (a copy).
func (s *snapRun) state() *checkpoint.SnapshotState {
	st := &checkpoint.SnapshotState{}
	for _, t := range s.tables {
		p := t.prog
		p.Pending = slices.Clone(t.prog.Pending)
		for _, q := range s.queue {
			if q.t == t {
				p.Pending = append(p.Pending, q.c)
			}
		}
		st.Tables = append(st.Tables, p)
	}
	return st
}

func (s *snapRun) stopSplitting() {
	if s.splitEnd != nil {
		s.splitEnd()
	}
	// Queued chunks stay queued: state() records them as pending for the next run.
}

func (s *snapRun) close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.splitEnd != nil {
		s.splitEnd()
	}
	if s.work != nil {
		close(s.work)
	}
}
