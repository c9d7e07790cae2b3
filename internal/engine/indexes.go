package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// The source's secondary indexes in the target (connector.IndexBuilder). A table's are
// built once its snapshot rows are durable — loading into an indexed table is slower
// than indexing it after — by one goroutine beside the run, a table at a time, while the
// stream goes on writing through the primary key. (Not more: a build can wait for the
// writers' open transactions — PostgreSQL's CREATE INDEX CONCURRENTLY does — and the
// sink's connections are the writers' and two more, so builders holding them all would
// leave a writer waiting for one: a thousand tables stopped so.) The indexer is given:
//   - when the run starts, every table whose snapshot is done (or that has none) and that
//     the checkpoint does not hold as built (Checkpoint.Indexed): a build a crash cut
//     short is made again;
//   - after each checkpoint, the tables whose snapshot that checkpoint made durable;
//   - under evolve, a table whose indexes changed at the source (index DDL), with those
//     it dropped.
// A build that fails is said and left for the next start; it does not stop the pipeline.
// When the run ends the builds are cut short, unless the pipeline finished (a snapshot
// only): then they are waited for, as nothing would build them later.

type indexer struct {
	b      connector.IndexBuilder
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	built  []event.TableID // tables built, each checkpoint's Indexed (under mu)
	todo   []indexWork
	wake   chan struct{}
	closed bool
	done   chan struct{}
}

// startIndexer starts the indexer if the sink builds indexes.
func (r *run) startIndexer(parent context.Context) {
	b, ok := r.e.sink.(connector.IndexBuilder)
	if !ok {
		for _, s := range r.schemas {
			if r.snapshotDone(r.last, s.ID) && r.last != nil {
				r.e.stats.ready.Store(s.ID.String(), struct{}{})
			}
		}
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	ix := &indexer{b: b, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if r.last != nil {
		ix.built = slices.Clone(r.last.Indexed)
	}
	r.idx = ix
	go func() {
		defer close(ix.done)
		for {
			ix.mu.Lock()
			if len(ix.todo) == 0 {
				closed := ix.closed
				ix.mu.Unlock()
				if closed {
					return
				}
				select {
				case <-ix.wake:
				case <-ctx.Done():
					return
				}
				continue
			}
			wk := ix.todo[0]
			ix.todo = ix.todo[1:]
			ix.mu.Unlock()
			r.buildIndexes(ctx, wk)
		}
	}()
	built := make(map[event.TableID]bool, len(ix.built))
	for _, id := range ix.built {
		built[id] = true
	}
	var ready []event.TableID // the tables whose snapshot is done as the run starts, not built yet
	for _, s := range r.schemas {
		if r.snapshotDone(r.last, s.ID) && !built[s.ID] {
			ready = append(ready, s.ID)
		} else if r.snapshotDone(r.last, s.ID) && r.last != nil {
			r.e.stats.ready.Store(s.ID.String(), struct{}{}) // ready before this run: said then
		}
	}
	r.queueIndexes(ready)
}

// tableReady says that a table is ready — its snapshot is in the sink, and so are its
// indexes — in the log, in Stats (a control plane shows it per table) and as a
// "table_ready" notice.
func (r *run) tableReady(id event.TableID, why string) {
	if _, was := r.e.stats.ready.LoadOrStore(id.String(), struct{}{}); was {
		return
	}
	r.e.log.Info("a table is ready", "table", id, "why", why)
	r.e.note("table_ready", id.String(), why)
}

// snapshotDone reports whether cp holds table id's snapshot as done (or it has none).
func (r *run) snapshotDone(cp *checkpoint.Checkpoint, id event.TableID) bool {
	if cp == nil {
		return r.snap == nil // a run that starts streaming snapshots nothing
	}
	if cp.Snapshot == nil {
		return true
	}
	return finishedIn(cp.Snapshot, id)
}

// finishedIn reports whether st holds table id's snapshot as done (or not at all).
func finishedIn(st *checkpoint.SnapshotState, id event.TableID) bool {
	i := slices.IndexFunc(st.Tables, func(t snapshot.TableProgress) bool { return t.Table == id })
	return i < 0 || st.Tables[i].Finished()
}

// indexesAfter queues the tables whose snapshot checkpoint cp made durable (prev: the
// checkpoint before it).
func (r *run) indexesAfter(prev, cp *checkpoint.Checkpoint) {
	if cp.Snapshot == nil {
		return
	}
	var before map[event.TableID]bool // finished in prev: each checkpoint looks once at every table
	if prev != nil && prev.Snapshot != nil {
		before = make(map[event.TableID]bool, len(prev.Snapshot.Tables))
		for _, t := range prev.Snapshot.Tables {
			before[t.Table] = t.Finished()
		}
	}
	var ready []event.TableID
	for _, t := range cp.Snapshot.Tables {
		if done, known := before[t.Table]; t.Finished() && (before == nil || (known && !done)) {
			ready = append(ready, t.Table)
		}
	}
	if r.idx == nil { // the sink makes no indexes: its rows are all there is
		for _, id := range ready {
			r.tableReady(id, "its snapshot is in")
		}
		return
	}
	r.queueIndexes(ready)
}

func (r *run) queueIndexes(ids []event.TableID) {
	if r.idx == nil || len(ids) == 0 {
		return
	}
	want := make(map[event.TableID]bool, len(ids))
	for _, id := range ids {
		want[id] = !r.paused[id]
	}
	r.idx.mu.Lock()
	built := make(map[event.TableID]bool, len(r.idx.built))
	for _, id := range r.idx.built {
		built[id] = true
	}
	r.idx.mu.Unlock()
	var work []indexWork
	for _, s := range r.schemas {
		switch {
		case !want[s.ID] || built[s.ID]: // a table copied again keeps its indexes
		case len(s.Indexes) == 0:
			r.tableReady(s.ID, "its snapshot is in; the source table has no other index")
		default:
			if wk, ok := r.indexWork(s, nil); ok {
				work = append(work, wk)
			}
		}
	}
	r.idx.mu.Lock()
	r.idx.todo = append(r.idx.todo, work...)
	r.idx.mu.Unlock()
	r.idx.poke()
}

// indexWork is a table whose indexes to build: s, the source table's schema; outs, the
// sink tables it goes to; gone, the indexes the source dropped or redefined.
type indexWork struct {
	s    *event.Schema
	outs []*event.Schema
	gone []event.Index
}

// indexWork makes the work of table s, its sink tables found here, in the router's
// goroutine, as the transform stage is not to be used from another.
func (r *run) indexWork(s *event.Schema, gone []event.Index) (indexWork, bool) {
	outs, err := sinkSchemas([]*event.Schema{s}, r.e.tf)
	if err != nil {
		r.e.log.Warn("the indexes of a table are not built: its sink tables are not known", "table", s.ID, "err", err)
		return indexWork{}, false
	}
	return indexWork{s: s, outs: outs, gone: gone}, true
}

func (ix *indexer) poke() {
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// indexChange queues the indexes of a table whose indexes changed at the source (schema
// change c), under evolve: the sink drops those the source dropped and makes the new
// ones. A table whose snapshot is not done gets them after it, as any other.
func (r *run) indexChange(c *event.SchemaChange) {
	if r.idx == nil || c.Before == nil || c.After == nil || c.Table != c.After.ID ||
		(r.cfg.SchemaChangeBehavior != "evolve" && r.cfg.SchemaChangeBehavior != "try_evolve") || !r.snapshotDone(r.last, c.Table) || r.paused[c.Table] {
		return
	}
	var gone []event.Index
	for _, old := range c.Before.Indexes {
		if !slices.ContainsFunc(c.After.Indexes, func(ix event.Index) bool { return sameIndex(ix, old) }) {
			gone = append(gone, old)
		}
	}
	added := slices.ContainsFunc(c.After.Indexes, func(ix event.Index) bool {
		return !slices.ContainsFunc(c.Before.Indexes, func(old event.Index) bool { return sameIndex(ix, old) })
	})
	if len(gone) == 0 && !added {
		return
	}
	wk, ok := r.indexWork(c.After, gone)
	if !ok {
		return
	}
	r.idx.mu.Lock()
	r.idx.todo = append(r.idx.todo, wk)
	r.idx.mu.Unlock()
	r.idx.poke()
}

func sameIndex(a, b event.Index) bool {
	return a.Name == b.Name && a.Unique == b.Unique && a.Kind == b.Kind && slices.Equal(a.Columns, b.Columns)
}

// buildIndexes has the sink build source table s's indexes in each sink table it goes to
// (those whose columns the sink table has).
func (r *run) buildIndexes(ctx context.Context, wk indexWork) {
	s := wk.s
	ok := true
	defer func() {
		if ok {
			r.idx.mu.Lock()
			if !slices.Contains(r.idx.built, s.ID) {
				r.idx.built = append(r.idx.built, s.ID)
			}
			r.idx.mu.Unlock()
			r.tableReady(s.ID, "its snapshot is in and its indexes are built")
		}
	}()
	for _, o := range wk.outs {
		var indexes []event.Index
		for _, ix := range s.Indexes {
			if !slices.ContainsFunc(ix.Columns, func(c event.IndexColumn) bool { return o.ColumnIndex(c.Name) < 0 }) {
				indexes = append(indexes, ix)
			}
		}
		if len(indexes) == 0 && len(wk.gone) == 0 {
			continue
		}
		start := time.Now()
		if err := r.idx.b.BuildIndexes(ctx, o, indexes, wk.gone); err != nil {
			ok = false
			if ctx.Err() == nil && !errors.Is(err, connector.ErrNoTableYet) {
				r.e.log.Warn("the indexes of a table were not all built; the next start tries again", "table", s.ID, "sink_table", o.ID, "err", err)
			}
			continue
		}
		if d := time.Since(start); d > time.Second {
			r.e.note("indexes_built", o.ID.String(), "its indexes were built in "+d.Round(time.Millisecond).String())
		}
	}
}

// indexed are the tables built so far, for a checkpoint (checkpoint.Checkpoint.Indexed).
func (r *run) indexed() []event.TableID {
	if r.idx == nil {
		if r.last != nil {
			return r.last.Indexed
		}
		return nil
	}
	r.idx.mu.Lock()
	defer r.idx.mu.Unlock()
	return slices.Clone(r.idx.built)
}

// forgetIndexed drops a table from those built (it was dropped at the source).
func (r *run) forgetIndexed(id event.TableID) {
	if r.idx == nil {
		return
	}
	r.idx.mu.Lock()
	r.idx.built = slices.DeleteFunc(r.idx.built, func(b event.TableID) bool { return b == id })
	r.idx.mu.Unlock()
}

// stopIndexer ends the indexer: at once, or, when the pipeline finished, once it has
// built what it was given.
func (r *run) stopIndexer(finished bool) {
	if r.idx == nil {
		return
	}
	r.idx.mu.Lock()
	r.idx.closed = true
	r.idx.mu.Unlock()
	r.idx.poke()
	if !finished {
		r.idx.cancel()
	}
	<-r.idx.done
	r.idx.cancel()
}
