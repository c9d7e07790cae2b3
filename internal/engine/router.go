package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// partition is the batch being built for one sink writer.
type partition struct {
	changes []event.Change
	bytes   int64
}

var hashSeed = maphash.MakeSeed()

// route hands changes to the writers' partitions, in order; bytes is what they hold
// together (their Size, summed as the queue counted it), shared out evenly rather than
// measured again per change. A change's partition is the hash of its table and key, so
// the changes of one key stay in one writer, in log order.
//
// With a transform stage, the changes become what the stage makes of them (none, one, or
// one per sink table each is routed to), and the schema changes the stage asks for (a
// merged table widened by a table it had not seen) are applied before any of them.
func (r *run) route(changes []event.Change, bytes int64) error {
	if len(r.cfg.SkipOps) > 0 {
		changes = slices.DeleteFunc(changes, func(c event.Change) bool { return slices.Contains(r.cfg.SkipOps, c.Op) })
	}
	if len(changes) == 0 {
		return nil
	}
	each := bytes / int64(len(changes))
	for i := range changes {
		c := &changes[i]
		st := r.tstats.get(r, c.Schema)
		if st.rows == 0 {
			r.tstats.counted = append(r.tstats.counted, st)
		}
		st.rows++
		st.bytes += each
		if c.Op != event.OpRead { // number the table's changes in their transaction
			if c.Pos.Log != st.txn {
				st.txn, st.seq = c.Pos.Log, 0
			}
			st.seq++
			c.TableSeq = st.seq
		}
	}
	if len(r.paused) > 0 { // read and counted, not written
		changes = slices.DeleteFunc(changes, func(c event.Change) bool { return r.paused[c.Schema.ID] })
		if len(changes) == 0 {
			return nil
		}
	}
	if r.e.tf == nil {
		for i := range changes {
			if err := r.send(&changes[i], each); err != nil {
				return err
			}
		}
	} else {
		out, ddl, err := r.e.tf.Apply(r.tfOut[:0], changes)
		if err != nil {
			return fmt.Errorf("transform %d changes from %s (at %s): %w", len(changes), changes[0].Schema.ID, changes[0].Pos, err)
		}
		r.tfOut = out
		for _, d := range ddl {
			if err := r.applyToSink(d); err != nil {
				return err
			}
		}
		for j := range out { // sized as the changes they come from, for batching
			if err := r.send(&out[j], each); err != nil {
				return err
			}
		}
		clear(out)
	}
	r.routed += int64(len(changes))
	r.tstats.flush(r)
	return nil
}

// send adds one change of the sink's to its partition. An update that changes the key
// becomes a delete of the old key and an insert of the new one (as Debezium does), each
// in its own key's partition.
func (r *run) send(c *event.Change, size int64) error {
	if c.Op == event.OpUpdate && c.Before != nil && r.keyChanged(c) {
		del := c.With(event.OpDelete, c.Before, nil)
		ins := c.With(event.OpInsert, nil, c.After)
		if err := r.add(&del, size/2); err != nil {
			return err
		}
		return r.add(&ins, size/2)
	}
	return r.add(c, size)
}

func (r *run) keyChanged(c *event.Change) bool {
	if len(c.Schema.Key) == 0 { // a table without a key: its rows have no identity to move
		return false
	}
	r.keybuf = event.AppendRowKey(r.keybuf[:0], c.Schema, c.Before)
	n := len(r.keybuf)
	r.keybuf = event.AppendRowKey(r.keybuf, c.Schema, c.After)
	return !bytes.Equal(r.keybuf[:n], r.keybuf[n:])
}

// keyRunBits: 1<<keyRunBits consecutive values of a one-integer key go to one writer.
const keyRunBits = 10

// appendPartitionKey appends what c's partition is the hash of: its key, or for a table
// whose key is one integer column, the run of 1<<keyRunBits (1,024) consecutive keys it falls in. A
// snapshot chunk (rows in key order) then goes to the writers in long runs, whose COPYs
// fill index pages of their own rather than every writer inserting into the same pages;
// and the rows of a small table go to one writer, in one COPY, not one per writer. The
// changes of one key still meet in one writer, in order.
func appendPartitionKey(b []byte, c *event.Change) []byte {
	if len(c.Schema.Key) == 1 {
		switch v := c.Row()[c.Schema.Key[0]]; v.Rep() {
		case event.RepInt:
			return binary.LittleEndian.AppendUint64(append(b, 'i'), uint64(v.Int()>>keyRunBits))
		case event.RepUint:
			return binary.LittleEndian.AppendUint64(append(b, 'u'), v.Uint()>>keyRunBits)
		}
	}
	return c.AppendKey(b)
}

func (r *run) add(c *event.Change, size int64) error {
	p := 0
	if len(r.parts) > 1 {
		if c.Schema != r.hashSchema { // changes come in runs of one table
			r.hashSchema, r.tableHash = c.Schema, maphash.String(hashSeed, c.Schema.ID.Table)
		}
		if len(c.Schema.Key) == 0 { // a table without a key: all its changes on one writer, in order
			p = int(r.tableHash % uint64(len(r.parts)))
		} else {
			r.keybuf = appendPartitionKey(r.keybuf[:0], c)
			p = int((maphash.Bytes(hashSeed, r.keybuf) ^ r.tableHash) % uint64(len(r.parts)))
		}
	}
	pt := &r.parts[p]
	if pt.changes == nil {
		pt.changes = r.newBuffer()
	}
	pt.changes = append(pt.changes, *c)
	pt.bytes += size
	if len(pt.changes) >= r.cfg.BatchMaxRows || pt.bytes >= r.cfg.BatchMaxBytes {
		return r.flush(p)
	}
	return nil
}

func (r *run) newBuffer() []event.Change {
	select {
	case b := <-r.free:
		return b[:0]
	default:
		return make([]event.Change, 0, r.cfg.BatchMaxRows)
	}
}

// flush sends partition p's batch to its writer.
func (r *run) flush(p int) error {
	pt := &r.parts[p]
	if len(pt.changes) == 0 {
		return nil
	}
	select {
	case r.writers[p] <- writeItem{changes: pt.changes, bytes: pt.bytes, settled: r.settled()}:
	case <-r.gctx.Done():
		return r.groupErr()
	}
	pt.changes, pt.bytes = nil, 0
	return nil
}

func (r *run) flushAll() error {
	for p := range r.parts {
		if err := r.flush(p); err != nil {
			return err
		}
	}
	return nil
}

// drain flushes every partition and waits until every writer has applied all it was given.
func (r *run) drain() error {
	if err := r.flushAll(); err != nil {
		return err
	}
	done := make(chan struct{}, len(r.writers))
	for _, w := range r.writers {
		select {
		case w <- writeItem{barrier: done}:
		case <-r.gctx.Done():
			return r.groupErr()
		}
	}
	for range r.writers {
		select {
		case <-done:
		case <-r.gctx.Done():
			return r.groupErr()
		}
	}
	return nil
}

// startWriters starts one sink writer goroutine per partition.
func (r *run) startWriters() {
	n := r.cfg.Parallelism
	r.parts = make([]partition, n)
	r.writers = make([]chan writeItem, n)
	r.free = make(chan []event.Change, 2*n+2)
	var apply prometheus.Observer
	if r.e.m != nil {
		apply = r.e.m.ApplySeconds.WithLabelValues(r.cfg.Pipeline)
	}
	for i := range n {
		ch := make(chan writeItem, 2)
		r.writers[i] = ch
		r.goSafe(func() error {
			oc := outCounters{}
			for it := range ch {
				if it.barrier != nil {
					it.barrier <- struct{}{}
					continue
				}
				start := time.Now()
				if err := r.e.sink.Apply(r.gctx, &connector.Batch{Partition: i, Changes: it.changes, Settled: it.settled}); err != nil {
					return fmt.Errorf("apply %d changes to the sink (writer %d): %w", len(it.changes), i, err)
				}
				if apply != nil {
					apply.Observe(time.Since(start).Seconds())
					r.countOut(oc, it.changes, it.bytes)
				}
				r.e.stats.RowsOut.Add(int64(len(it.changes)))
				clear(it.changes) // drop row references before reuse
				select {
				case r.free <- it.changes[:0]:
				default:
				}
			}
			return nil
		})
	}
}

// settled reports that no snapshot chunk is pending, now or in the last durable
// checkpoint (connector.Batch.Settled).
func (r *run) settled() bool {
	return r.snap == nil && (r.last == nil || r.last.Snapshot == nil || r.last.Snapshot.Finished())
}

// checkpoint takes a checkpoint at the current consistent cut (DESIGN §3.3): drain the
// writers, commit the sink with the checkpoint, save it in the store, ack the source.
func (r *run) checkpoint() error {
	start := time.Now()
	r.cpDue = false
	if r.snap != nil {
		r.snap.paused = false
		if err := r.snap.releaseAll(r); err != nil {
			return err
		}
	}
	if err := r.drain(); err != nil {
		return err
	}
	cp := &checkpoint.Checkpoint{
		Pipeline:   r.cfg.Pipeline,
		Generation: r.gen,
		Seq:        r.seq + 1,
		Position:   r.position,
		Schemas:    r.schemas,
		Changes:    r.durable + r.routed,
		Time:       time.Now().UTC(),
		Paused:     r.pausedIDs,
		Indexed:    r.indexed(),
	}
	switch {
	case r.snap != nil:
		cp.Snapshot = r.snap.state()
	case r.snapDone != nil:
		cp.Snapshot = r.snapDone
	case r.last != nil:
		cp.Snapshot = r.last.Snapshot
	}
	fail := func(err error) error {
		if r.e.m != nil {
			r.e.m.CheckpointFailures.WithLabelValues(r.cfg.Pipeline).Inc()
		}
		return err
	}
	if v, ok := r.e.store.(checkpoint.Verifier); ok {
		if err := v.Verify(r.gctx, r.cfg.Pipeline, r.gen); err != nil {
			return fail(err)
		}
	}
	commitStart := time.Now()
	if err := r.e.sink.Commit(r.gctx, cp); err != nil {
		return fail(fmt.Errorf("commit the sink at checkpoint %d (position %s): %w", cp.Seq, cp.Position, err))
	}
	commitDur := time.Since(commitStart)
	if err := r.e.store.Save(r.gctx, cp); err != nil {
		return fail(fmt.Errorf("save checkpoint %d (position %s): %w", cp.Seq, cp.Position, err))
	}
	if acker, ok := r.e.source.(connector.Acker); ok {
		if err := acker.Ack(r.gctx, cp.Position); err != nil {
			r.e.log.Warn("the source did not take the acknowledgement; the next checkpoint repeats it",
				"position", cp.Position, "err", err)
		}
	}
	prev := r.last
	r.seq, r.durable, r.routed, r.last = cp.Seq, cp.Changes, 0, cp
	r.indexesAfter(prev, cp)
	r.noteSlow(time.Since(start))
	r.e.stats.Durable.Store(cp.Changes)
	r.e.stats.Checkpoints.Add(1)
	r.e.stats.lastCheckpoint.Store(cp.Time.UnixNano())
	if r.e.m != nil {
		r.e.m.CommitSeconds.WithLabelValues(r.cfg.Pipeline).Observe(commitDur.Seconds())
		r.e.m.CheckpointSeconds.WithLabelValues(r.cfg.Pipeline).Observe(time.Since(start).Seconds())
		r.e.m.CheckpointTimestamp.WithLabelValues(r.cfg.Pipeline).Set(float64(cp.Time.UnixNano()) / 1e9)
		r.e.m.QueueBytes.WithLabelValues(r.cfg.Pipeline).Set(float64(r.sem.Held()))
	}
	r.e.log.Debug("checkpoint", "seq", cp.Seq, "position", cp.Position, "changes", cp.Changes,
		"took", time.Since(start))
	return nil
}

// tableStatsCache counts rows and bytes per table for metrics without a map lookup per
// change: changes come in runs of one table, so the last table's counters are cached.
type tableStatsCache struct {
	last    *event.Schema
	lastSt  *tableStats
	byID    map[event.TableID]*tableStats
	counted []*tableStats // those with rows to flush: not every table of a thousand, each message
}

type tableStats struct {
	rows, bytes int64
	txn         string // the Pos.Log of the table's last change, and
	seq         uint32 // its place among the table's changes of that transaction
	rowsIn      prometheus.Counter
	bytesIn     prometheus.Counter
}

func (c *tableStatsCache) get(r *run, s *event.Schema) *tableStats {
	if s == c.last {
		return c.lastSt
	}
	if c.byID == nil {
		c.byID = map[event.TableID]*tableStats{}
	}
	st := c.byID[s.ID]
	if st == nil {
		st = &tableStats{}
		if r.e.m != nil {
			st.rowsIn = r.e.m.RowsIn.WithLabelValues(r.cfg.Pipeline, s.ID.String())
			st.bytesIn = r.e.m.BytesIn.WithLabelValues(r.cfg.Pipeline, s.ID.String())
		}
		c.byID[s.ID] = st
	}
	c.last, c.lastSt = s, st
	return st
}

// flush moves the counts into the Prometheus counters (once per routed message).
func (c *tableStatsCache) flush(_ *run) {
	for _, st := range c.counted {
		if st.rowsIn != nil {
			st.rowsIn.Add(float64(st.rows))
			st.bytesIn.Add(float64(st.bytes))
		}
		st.rows, st.bytes = 0, 0
	}
	clear(c.counted)
	c.counted = c.counted[:0]
}

// outCounters are one writer's per-table output counters, found once per table rather
// than by their labels once per run of changes (a batch over many tables has many).
type outCounters map[event.TableID][2]prometheus.Counter // rows, bytes

func (oc outCounters) get(r *run, id event.TableID) [2]prometheus.Counter {
	c, ok := oc[id]
	if !ok {
		table := id.String()
		c = [2]prometheus.Counter{r.e.m.RowsOut.WithLabelValues(r.cfg.Pipeline, table), r.e.m.BytesOut.WithLabelValues(r.cfg.Pipeline, table)}
		oc[id] = c
	}
	return c
}

// countOut adds a writer's applied batch (of bytes in all) to the per-table output
// counters, once per run of changes of one table.
func (r *run) countOut(oc outCounters, changes []event.Change, bytes int64) {
	if s := changes[0].Schema; s == changes[len(changes)-1].Schema && !slices.ContainsFunc(changes, func(c event.Change) bool { return c.Schema != s }) {
		c := oc.get(r, s.ID)
		c[0].Add(float64(len(changes)))
		c[1].Add(float64(bytes))
		return
	}
	for i := 0; i < len(changes); {
		s := changes[i].Schema
		rows, size := 0, 0
		for ; i < len(changes) && changes[i].Schema == s; i++ {
			rows++
			size += changes[i].Size()
		}
		c := oc.get(r, s.ID)
		c[0].Add(float64(rows))
		c[1].Add(float64(size))
	}
}

// noteSlow tells of a checkpoint that took over 3 times the usual (an average of the
// last ones) and over a second.
func (r *run) noteSlow(took time.Duration) {
	if r.cpAvg > 0 && took > 3*r.cpAvg && took > time.Second {
		r.e.note("checkpoint_slow", "", fmt.Sprintf("checkpoint %d took %s, usually %s", r.seq, took.Round(time.Millisecond), r.cpAvg.Round(time.Millisecond)))
	}
	if r.cpAvg == 0 {
		r.cpAvg = took
	} else {
		r.cpAvg = (7*r.cpAvg + took) / 8
	}
}
