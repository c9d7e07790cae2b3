package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/snapshot"
)

// run is one execution of a pipeline. Its router (loop) is the only goroutine that touches
// its fields; sources, chunk readers and sink writers talk to it through channels.
type run struct {
	e   *Engine
	cfg Config
	gen int64

	// Checkpoint state.
	cpAvg      time.Duration // how long checkpoints usually take (noteSlow)
	seq        int64
	durable    int64          // changes durable as of the last checkpoint
	routed     int64          // changes handed to writers since the last checkpoint
	position   event.Position // stream: the last transaction boundary routed; snapshot: S
	atBoundary bool           // nothing after position has been handed to writers
	spilled    bool           // a transaction too large to hold was handed to writers in part
	pending    []event.Change // changes of the current, unfinished transaction
	pendBytes  int64
	schemas    []*event.Schema // latest schema per table, in first-seen order
	last       *checkpoint.Checkpoint
	paused     map[event.TableID]bool // tables paused on request (checkpoint.Checkpoint.Paused): their rows are not routed
	pausedIDs  []event.TableID        // the same, as each checkpoint carries them
	idx        *indexer               // builds the source's indexes in the sink (indexes.go); nil: the sink does not

	snap                *snapRun                  // nil: no snapshot in this run
	snapDone            *checkpoint.SnapshotState // the finished snapshot's state, for the checkpoints after it
	joiner              connector.SnapshotJoiner  // non-nil: the stream runs beside the snapshot
	finishAfterSnapshot bool
	streaming           bool
	streamCancel        context.CancelFunc
	stopping            bool
	stopFlag            atomic.Bool // stopping, for the chunk readers
	cpDue               bool
	polled              time.Time // when requests were last looked for (requests.go)

	g    *errgroup.Group
	gctx context.Context
	in   chan msg
	sem  *byteBudget

	parts   []partition
	writers []chan writeItem
	free    chan []event.Change
	keybuf  []byte
	tstats  tableStatsCache
	tfOut   []event.Change // the transform stage's output, reused

	hashSchema *event.Schema // the schema whose table hash tableHash is (add)
	tableHash  uint64
}

type msgKind uint8

const (
	msgStream    msgKind = iota + 1 // a batch from Source.Stream
	msgStreamEnd                    // Source.Stream returned (err set on failure)
	msgRows                         // rows of a snapshot chunk
	msgChunkDone                    // a chunk has been read whole
	msgChunkLeft                    // a chunk was left unread because the run is stopping
)

type msg struct {
	kind    msgKind
	batch   event.Batch
	changes []event.Change
	chunk   *chunkRun
	bytes   int64
	err     error
}

type writeItem struct {
	changes []event.Change
	bytes   int64 // the changes' Size, summed as route counted it
	settled bool  // connector.Batch.Settled
	barrier chan<- struct{}
}

func newRun(ctx context.Context, e *Engine, gen int64, cp *checkpoint.Checkpoint) (*run, error) {
	r := &run{e: e, cfg: e.cfg, gen: gen, last: cp, atBoundary: true}
	mode := "initial"
	if m, ok := e.source.(connector.StartupModer); ok {
		mode = m.StartupMode()
	}
	chunker, canSnapshot := e.source.(connector.ChunkReader)
	if (mode == "initial" || mode == "snapshot") && !canSnapshot {
		return nil, connector.Unsupported("source", "snapshots (scan.startup.mode: "+mode+")")
	}
	if e.cfg.Batch && mode != "initial" && mode != "snapshot" {
		return nil, fault.AsFatal(fmt.Errorf("execution.runtime-mode BATCH copies a snapshot and finishes, but scan.startup.mode is %s: "+
			"set it to snapshot, or run in STREAMING mode", mode))
	}
	r.finishAfterSnapshot = mode == "snapshot" || e.cfg.Batch
	if j, ok := e.source.(connector.SnapshotJoiner); ok && j.JoinsSnapshots() && !r.finishAfterSnapshot {
		r.joiner = j
	}

	if cp != nil {
		r.seq, r.durable, r.position = cp.Seq, cp.Changes, cp.Position
		r.pausedIDs = cp.Paused
		for _, id := range cp.Paused {
			if r.paused == nil {
				r.paused = map[event.TableID]bool{}
			}
			r.paused[id] = true
		}
		r.schemas = cp.Schemas
		if len(r.schemas) == 0 {
			tables, err := e.source.Tables(ctx)
			if err != nil {
				return nil, fmt.Errorf("resolve tables: %w", err)
			}
			r.schemas = tables
		}
		if cp.Snapshot != nil {
			if cp.Snapshot.Finished() && r.finishAfterSnapshot {
				return r, nil // nothing left: execute reports Finished
			}
			if !cp.Snapshot.Finished() {
				r.snap = newSnapRun(cp.Snapshot, r.schemas, chunker, r.joiner)
			}
		}
		if err := r.addNewTables(ctx, cp); err != nil {
			return nil, err
		}
		e.log.Info("resuming from checkpoint", "seq", cp.Seq, "position", cp.Position,
			"snapshot", r.snap != nil, "generation", gen)
	} else {
		tables, err := e.source.Tables(ctx)
		if err != nil {
			return nil, fmt.Errorf("resolve tables: %w", err)
		}
		for _, t := range tables {
			if err := t.Validate(); err != nil {
				return nil, fmt.Errorf("resolve tables: %w", err)
			}
		}
		r.schemas = tables
		pos, err := e.source.Position(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the source's current position: %w", err)
		}
		r.position = pos
		if mode == "initial" || mode == "snapshot" {
			r.snap = newSnapRun(&checkpoint.SnapshotState{}, tables, chunker, r.joiner)
		}
		e.log.Info("starting fresh", "tables", len(tables), "position", pos, "mode", mode, "generation", gen)
	}
	return r, nil
}

// execute runs the phase machine of Engine.Run.
func (r *run) execute(ctx context.Context) (*Result, error) {
	if r.snap == nil && r.finishAfterSnapshot {
		r.enter(PhaseFinished)
		return &Result{Finished: true, Checkpoint: r.last}, nil
	}
	if r.e.tf != nil {
		if err := r.e.tf.Prepare(r.schemas); err != nil {
			return nil, fmt.Errorf("prepare the transforms and routes: %w", err)
		}
	}
	if err := SinkIsNotSource(ctx, r.e.source, r.e.sink, r.schemas, r.e.tf); err != nil {
		return nil, err
	}
	if err := sinkCanMakeTables(r.e.sink, r.schemas, r.e.tf); err != nil {
		return nil, fault.AsFatal(err)
	}
	if r.last != nil && len(r.last.Resnapshot) > 0 {
		if err := emptyForResnapshot(ctx, r.e.log, r.e.sink, r.schemas, r.last.Resnapshot, r.e.tf); err != nil {
			return nil, err
		}
	}
	for _, id := range r.pausedIDs {
		r.e.log.Info("a table is paused on request: its rows are not written until it is copied again (weir resnapshot)", "table", id)
		r.e.note("table_paused", id.String(), checkpoint.PausedOnRequest)
	}
	if r.e.tf != nil {
		if r.snap != nil {
			for _, t := range r.snap.tables {
				if err := r.pushFilter(t.schema); err != nil {
					return nil, err
				}
			}
		}
	}
	parent := context.WithoutCancel(ctx) // a stop lets the run drain; only an abort cuts it
	if r.e.abort != nil {
		parent = r.e.abort
	}
	base, cancel := context.WithCancel(parent)
	defer cancel()
	r.g, r.gctx = errgroup.WithContext(base)
	r.in = make(chan msg, 16)
	r.sem = newByteBudget(r.cfg.QueueMaxBytes)
	r.startWriters()
	r.startIndexer(ctx)

	switch {
	case r.snap != nil && r.joiner != nil: // the phase is the snapshot's from the start: never stream before it
		r.enter(PhaseSnapshot)
		r.startStream()
		r.snap.start(r)
	case r.snap != nil:
		r.enter(PhaseSnapshot)
		r.snap.start(r)
	default:
		r.enter(PhaseStream)
		r.startStream()
	}
	finished, loopErr := r.loop(ctx)

	// Wind down: writers drain and exit, producers are cancelled.
	for _, w := range r.writers {
		close(w)
	}
	if r.snap != nil {
		r.snap.close()
	}
	cancel()
	waitErr := r.g.Wait()
	r.stopIndexer(finished && loopErr == nil && (waitErr == nil || errors.Is(waitErr, context.Canceled)))
	if loopErr != nil {
		return nil, loopErr
	}
	if waitErr != nil && !errors.Is(waitErr, context.Canceled) {
		return nil, waitErr
	}
	if finished {
		r.enter(PhaseFinished)
	}
	return &Result{Finished: finished, Checkpoint: r.last}, nil
}

// loop is the router: it receives what producers send, routes it to writers, takes
// checkpoints and moves through the phases. It returns whether the pipeline finished.
func (r *run) loop(ctx context.Context) (finished bool, err error) {
	flush := time.NewTicker(r.cfg.BatchMaxDelay)
	defer flush.Stop()
	cpTick := time.NewTicker(r.cfg.CheckpointInterval)
	defer cpTick.Stop()
	stop := ctx.Done()
	for {
		var splits <-chan splitMsg
		if r.snap != nil && !r.stopping {
			if err := r.snap.dispatchQueued(r); err != nil {
				return false, err
			}
			if r.snap.wantSplit(r) {
				splits = r.snap.splits
			}
		}
		select {
		case <-r.gctx.Done():
			return false, r.groupErr()
		case <-stop:
			stop = nil
			r.stopping = true
			r.stopFlag.Store(true)
			r.e.log.Info("stopping: draining in-flight work for a final checkpoint")
			if r.streamCancel != nil {
				r.streamCancel()
			}
			if r.snap != nil {
				r.snap.stopSplitting()
			}
		case m := <-r.in:
			done, err := r.handle(m)
			if err != nil || done {
				return done, err
			}
		case s := <-splits:
			if err := r.snap.onSplit(r, s); err != nil {
				return false, err
			}
		case <-flush.C:
			if err := r.flushAll(); err != nil {
				return false, err
			}
			if r.e.m != nil {
				r.e.m.QueueBytes.WithLabelValues(r.cfg.Pipeline).Set(float64(r.sem.Held()))
			}
		case <-cpTick.C:
			r.cpDue = true
		}

		if r.snap != nil && r.snap.finished() {
			if err := r.finishSnapshot(); err != nil {
				return false, err
			}
			if r.finishAfterSnapshot {
				return true, nil
			}
			if r.joiner != nil {
				r.enter(PhaseStream)
				continue
			}
			if r.stopping {
				return false, nil
			}
			r.enter(PhaseStream)
			r.startStream()
			continue
		}
		if r.cpDue && r.canCheckpoint() {
			if err := r.checkpoint(); err != nil {
				return false, err
			}
			if asked, err := r.requested(); err != nil || asked {
				if asked {
					r.e.log.Info("a request from another process waits: resuming from the checkpoint just taken to take it up", "seq", r.seq)
					err = ErrRequested
				}
				return false, err
			}
		}
		if r.stopping && !r.streaming && (r.snap == nil || r.snap.inflight == 0) {
			if r.canCheckpoint() {
				if err := r.checkpoint(); err != nil {
					return false, err
				}
			} else {
				r.e.log.Warn("stopped inside a transaction too large to hold; the last checkpoint stands",
					"position", r.position)
			}
			return false, nil
		}
	}
}

// goSafe runs f in the run's group; a panic in it fails the run (and so the pipeline),
// not the process.
func (r *run) goSafe(f func() error) {
	r.g.Go(func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fault.AsFatal(fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
			}
		}()
		return f()
	})
}

func (r *run) groupErr() error {
	err := context.Cause(r.gctx)
	if err == nil || errors.Is(err, context.Canceled) {
		return fmt.Errorf("pipeline %q: run cancelled", r.cfg.Pipeline)
	}
	return err
}

// handle processes one message from a producer.
func (r *run) handle(m msg) (finished bool, err error) {
	defer r.sem.Release(m.bytes)
	switch m.kind {
	case msgStream:
		b := &m.batch
		if b.Schema != nil {
			return false, r.applySchemaChange(b.Schema, b.End)
		}
		if b.Backfill != nil {
			r.backfill(b.Backfill)
			return false, nil
		}
		r.e.stats.RowsIn.Add(int64(len(b.Changes)))
		if !b.Boundary {
			// Hold the transaction until its end, unless it outgrows half the queue.
			r.pending = append(r.pending, b.Changes...)
			r.pendBytes += m.bytes
			if r.pendBytes > r.cfg.QueueMaxBytes/2 {
				r.spilled = true
				if err := r.routeStream(r.pending, r.pendBytes); err != nil {
					return false, err
				}
				r.pending, r.pendBytes = nil, 0
			}
			r.atBoundary = false
			return false, nil
		}
		if len(r.pending) > 0 {
			if err := r.routeStream(r.pending, r.pendBytes); err != nil {
				return false, err
			}
			r.pending, r.pendBytes = nil, 0
		}
		if err := r.routeStream(b.Changes, m.bytes); err != nil {
			return false, err
		}
		r.position, r.atBoundary, r.spilled = b.End, true, false
		if n := len(b.Changes); n > 0 && r.e.m != nil {
			lag := time.Since(time.UnixMicro(b.Changes[n-1].CommitMicros)).Seconds()
			r.e.m.SourceLag.WithLabelValues(r.cfg.Pipeline).Set(max(lag, 0))
		}
	case msgStreamEnd:
		r.streaming = false
		if m.err != nil && !r.stopping {
			return false, fmt.Errorf("stream changes from the source: %w", m.err)
		}
		if r.stopping {
			return false, nil
		}
		// A bounded source has ended: what it sent last is complete.
		if len(r.pending) > 0 {
			if err := r.routeStream(r.pending, r.pendBytes); err != nil {
				return false, err
			}
			r.pending, r.pendBytes = nil, 0
		}
		r.atBoundary, r.spilled = true, false
		r.e.log.Info("the source has no more changes: finishing", "position", r.position)
		return true, r.checkpoint()
	case msgRows:
		r.e.stats.RowsIn.Add(int64(len(m.changes)))
		if r.joiner != nil && !m.chunk.delivering {
			m.chunk.delivering = true
			r.snap.delivering++
			if len(m.changes) > 0 {
				r.noteSchema(m.changes[0].Schema)
			}
		}
		return false, r.snap.onRows(r, m.chunk, m.changes, m.bytes)
	case msgChunkDone:
		return false, r.snap.onChunkDone(r, m.chunk)
	case msgChunkLeft: // it stays pending: the next run reads it
		return false, r.snap.onChunkLeft(r, m.chunk)
	}
	return false, nil
}

// routeStream routes changes of the stream, after the held snapshot rows of their
// tables (snapRun).
func (r *run) routeStream(changes []event.Change, bytes int64) error {
	if r.snap != nil && r.snap.holding > 0 {
		if err := r.snap.releaseFor(r, changes); err != nil {
			return err
		}
	}
	return r.route(changes, bytes)
}

// canCheckpoint reports whether the state now is a consistent cut: no chunk half read,
// no transaction half handed to writers.
func (r *run) canCheckpoint() bool {
	if r.snap != nil && r.joiner != nil {
		return r.snap.delivering == 0 && r.atBoundary && !r.spilled
	}
	if r.snap != nil && r.snap.inflight > 0 {
		r.snap.paused = true // let in-flight chunks end; dispatch none until the checkpoint
		return false
	}
	return r.atBoundary && !r.spilled
}

func (r *run) finishSnapshot() error {
	rows := int64(0)
	for _, t := range r.snap.tables {
		rows += t.prog.Rows
	}
	r.e.log.Info("snapshot finished", "tables", len(r.snap.tables), "rows", rows)
	r.snapDone = r.snap.state()
	if r.joiner != nil {
		r.cpDue = true // the stream runs: the next transaction boundary is the checkpoint
	} else if err := r.checkpoint(); err != nil {
		return err
	}
	r.snap.close()
	r.snap = nil
	return nil
}

func (r *run) startStream() {
	sctx, cancel := context.WithCancel(r.gctx)
	r.streamCancel = cancel
	r.streaming = true
	from, schemas := r.position, slices.Clone(r.schemas)
	if r.joiner != nil {
		var progress []snapshot.TableProgress
		if r.snap != nil {
			progress = r.snap.state().Tables
		}
		r.joiner.Snapshotting(progress)
	}
	r.e.log.Info("streaming changes", "from", from)
	r.goSafe(func() error {
		err := r.e.source.Stream(sctx, from, schemas, r.emitStream)
		if errors.Is(err, context.Canceled) && sctx.Err() != nil {
			err = nil
		}
		select {
		case r.in <- msg{kind: msgStreamEnd, err: err}:
		case <-r.gctx.Done():
		}
		return nil
	})
}

// emitStream is the emit function handed to Source.Stream.
func (r *run) emitStream(ctx context.Context, b event.Batch) error {
	n, err := r.sem.Acquire(ctx, int64(b.Size()))
	if err != nil {
		return err
	}
	select {
	case r.in <- msg{kind: msgStream, batch: b, bytes: n}:
		return nil
	case <-ctx.Done():
		r.sem.Release(n)
		return ctx.Err()
	}
}

// applySchemaChange applies a schema change as a barrier across writers, per
// schema.change.behavior.
//
// A checkpoint is taken first, where everything before the change is applied, for two
// reasons. A sink commits its open transactions before it runs DDL (they hold locks the
// DDL waits for): during a snapshot it would otherwise commit snapshot rows ahead of a
// checkpoint, which a crash could leave behind (connector.Batch.Settled). And a replay
// after a crash then starts at the change, never before it: the rows of the old shape are
// not written again into a table that has lost a column they name.
func (r *run) applySchemaChange(c *event.SchemaChange, end event.Position) error {
	_, applies := r.e.sink.(connector.SchemaApplier)
	applies = applies && r.cfg.SchemaChangeBehavior != "ignore" && r.cfg.SchemaChangeBehavior != "exception"
	if applies && r.canCheckpoint() {
		if err := r.checkpoint(); err != nil {
			return err
		}
	}
	if r.snap != nil { // rows read under the old schema go first
		if err := r.snap.releaseAll(r); err != nil {
			return err
		}
	}
	if err := r.drain(); err != nil {
		return err
	}
	switch {
	case c.Kind == event.DropTable:
		r.dropSchema(c.Table)
	case c.Kind == event.RenameTable && c.After != nil:
		r.dropSchema(c.Table)
		r.setSchema(c.After)
	case c.After != nil:
		r.setSchema(c.After)
	}
	r.indexChange(c)
	changes := []*event.SchemaChange{c}
	if r.e.tf != nil {
		var err error
		if changes, err = r.e.tf.SchemaChange(c); err != nil {
			return fmt.Errorf("schema change %q at %s: %w", c.String(), c.Pos, err)
		}
	}
	for _, c := range changes {
		if err := r.applyToSink(c); err != nil {
			return err
		}
	}
	if end != "" {
		r.position, r.atBoundary = end, true
	}
	return nil
}

// pushFilter hands the source the part of table s's filter that it can evaluate in its
// snapshot queries (connector.SnapshotFilter), before any chunk of s is read.
func (r *run) pushFilter(s *event.Schema) error {
	sf, ok := r.e.source.(connector.SnapshotFilter)
	if !ok || r.e.tf == nil {
		return nil
	}
	pushed, kept, err := r.e.tf.Pushdown(s, sf.SQLDialect())
	if err != nil {
		return fmt.Errorf("push the filter of %s down to the source: %w", s.ID, err)
	}
	if pushed == "" {
		return nil
	}
	sf.FilterSnapshot(s.ID, pushed)
	r.e.log.Info("filter pushed down into the snapshot queries", "table", s.ID, "condition", pushed, "evaluated_by_weir_only", kept)
	return nil
}

// applyToSink applies schema change c of a sink table, per schema.change.behavior, once
// the writers have applied everything before it.
func (r *run) applyToSink(c *event.SchemaChange) error {
	if err := r.drain(); err != nil {
		return err
	}
	switch r.cfg.SchemaChangeBehavior {
	case "ignore":
		r.e.log.Info("schema change ignored (schema.change.behavior: ignore)", "change", c.String())
		return nil
	case "exception":
		return fmt.Errorf("pipeline %q: schema change %q at position %s and schema.change.behavior is exception; "+
			"apply it to the sink by hand and restart, or set schema.change.behavior: lenient",
			r.cfg.Pipeline, c.String(), c.Pos)
	}
	if !r.cfg.takes(c.Kind) {
		r.e.log.Info("schema change left out (sink.include/exclude.schema.changes)", "change", c.String())
		return nil
	}
	applier, ok := r.e.sink.(connector.SchemaApplier)
	if !ok {
		r.e.log.Warn("the sink cannot apply schema changes; skipped", "change", c.String())
		return nil
	}
	if err := applier.ApplySchema(r.gctx, c); err != nil {
		return fmt.Errorf("apply schema change %q to the sink: %w", c.String(), err)
	}
	r.e.note("schema_change", c.Table.String(), c.String())
	return nil
}

func (r *run) setSchema(s *event.Schema) {
	for i, old := range r.schemas {
		if old.ID == s.ID {
			r.schemas[i] = s
			return
		}
	}
	r.schemas = append(r.schemas, s)
}

// addNewTables handles tables the source now selects that the checkpoint does not know
// (the selection was widened while the pipeline was stopped): with a joiner they are
// snapshotted beside the stream; without one they cannot be, and a warning says so.
func (r *run) addNewTables(ctx context.Context, cp *checkpoint.Checkpoint) error {
	now, err := r.e.source.Tables(ctx)
	if err != nil {
		return nil // the stream will report what is wrong
	}
	known := map[event.TableID]bool{}
	for _, s := range r.schemas {
		known[s.ID] = true
	}
	if cp.Snapshot != nil {
		for _, t := range cp.Snapshot.Tables {
			known[t.Table] = true
		}
	}
	var added []*event.Schema
	var names []string
	for _, s := range now {
		if !known[s.ID] {
			added = append(added, s)
			names = append(names, s.ID.String())
		}
	}
	switch {
	case len(added) == 0:
	case r.joiner == nil:
		r.e.log.Warn("tables match the selection but are not in the pipeline's checkpoint, and this source cannot "+
			"snapshot them beside its stream, so they are not captured; run them in a new pipeline", "tables", names)
	case !r.joiner.AddsNewTables():
		r.e.log.Warn("tables match the selection but are not in the pipeline's checkpoint; they are not captured "+
			"(scan.newly-added-table.enabled is false)", "tables", names)
	default:
		r.e.log.Info("tables newly match the selection: snapshotting them beside the stream", "tables", names)
		if r.snap == nil {
			chunker := r.e.source.(connector.ChunkReader)
			r.snap = newSnapRun(&checkpoint.SnapshotState{}, added, chunker, r.joiner)
			return nil
		}
		for _, s := range added {
			r.snap.addTable(&tableRun{schema: s, prog: snapshot.TableProgress{Table: s.ID}})
		}
	}
	return nil
}

// backfill snapshots a table that joined the selection while the stream runs.
func (r *run) backfill(s *event.Schema) {
	if r.joiner == nil { // only a joiner can snapshot beside its stream exactly
		r.e.log.Warn("a table joined the selection with rows in it; this run cannot snapshot it beside the stream", "table", s.ID)
		return
	}
	if err := r.pushFilter(s); err != nil { // the filter is evaluated in weir all the same
		r.e.log.Warn("the table's filter is not pushed down", "table", s.ID, "err", err)
	}
	if r.snap == nil {
		r.snap = newSnapRun(&checkpoint.SnapshotState{}, []*event.Schema{s}, r.e.source.(connector.ChunkReader), r.joiner)
		r.snap.start(r)
		return
	}
	r.snap.add(r, s)
}

// noteSchema records the schema of a joined chunk's rows: a table that joins the stream
// with its first chunk is known from then on.
func (r *run) noteSchema(s *event.Schema) {
	for _, old := range r.schemas {
		if old == s {
			return
		}
	}
	r.setSchema(s)
}

func (r *run) dropSchema(id event.TableID) {
	r.schemas = slices.DeleteFunc(r.schemas, func(s *event.Schema) bool { return s.ID == id })
	r.forgetIndexed(id)
}

// enter moves the run into phase p: its Stats (health) and its metric.
func (r *run) enter(p Phase) {
	r.e.stats.setPhase(p)
	if r.e.onPhase != nil {
		r.e.onPhase(p)
	}
	if p != PhaseResolve {
		r.e.stats.restart.Store(nil) // connected and moving: no longer restarting
	}
	if r.e.m == nil {
		return
	}
	for _, q := range []Phase{PhaseResolve, PhaseSnapshot, PhaseStream, PhaseFinished} {
		v := 0.0
		if q == p {
			v = 1
		}
		r.e.m.Phase.WithLabelValues(r.cfg.Pipeline, q.String()).Set(v)
	}
}
