package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// maxTxnBatch is how many changes of one transaction are held before they are emitted
// without a boundary (the engine then holds them, or spills a huge transaction).
const maxTxnBatch = 1024

// Stream reads the slot from `from` with pgoutput: protocol 2 with large transactions
// streamed while in progress where the server has it (PostgreSQL 14+, inprogress.go),
// else protocol 1, where the server sends each transaction whole at its commit, spilling
// large ones to its own disk. Either way weir holds at most maxTxnBatch changes of one
// transaction in memory at a time. Rows are decoded with the schemas weir
// knows; a relation message whose columns differ from them is a schema change, emitted
// before the changes that follow it. A batch with Boundary ends at each commit, at the
// commit's end LSN, so checkpoints fall between transactions.
//
// The stream tells the server what is durable every heartbeat.interval (the slot's
// confirmed_flush_lsn then moves on), and, when the server says it has sent everything up
// to a point with nothing for this pipeline, emits an empty boundary there: an idle
// pipeline's checkpoint, and so its slot, follow the server.
func (s *Source) Stream(ctx context.Context, from event.Position, schemas []*event.Schema, emit func(context.Context, event.Batch) error) error {
	// However the stream ends, even before it starts reading, chunks waiting for it must
	// learn that it will not come (Snapshotting announced it).
	defer s.join.stopStream()
	start, err := decodePosition(from)
	if err != nil {
		return err
	}
	tables := map[event.TableID]*table{}
	for _, sc := range schemas {
		t, err := s.table(sc)
		if err != nil {
			return err
		}
		tables[sc.ID] = t
	}
	if !s.o.NoCreatePublication {
		if err := s.ensurePublication(ctx); err != nil {
			return err
		}
	}
	st, err := s.slotState(ctx)
	switch {
	case err != nil:
		return err
	case !st.exists:
		return fault.AsFatal(fmt.Errorf("replication slot %s does not exist (was it dropped?): the changes since the checkpoint at %s are gone with it; "+
			"start the pipeline over (remove its checkpoint)", s.slot, from))
	case st.walStatus == "lost":
		return errSlotLost(s.slot)
	case st.confirmed > start:
		return fault.AsFatal(fmt.Errorf("replication slot %s has confirmed %s, past the checkpoint at %s: the changes between are gone from it "+
			"(another reader used the slot?); start the pipeline over (remove its checkpoint)", s.slot, st.confirmed, from))
	}
	conn, err := s.replConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	args := []string{"proto_version '1'", "publication_names '" + s.pub + "'", "messages 'true'"}
	var spill *streamSpill
	if serverMajor(conn) >= 14 && !s.o.NoStreamInProgress {
		args = []string{"proto_version '2'", "streaming 'on'", "publication_names '" + s.pub + "'", "messages 'true'"}
		spill = newStreamSpill(os.TempDir())
		defer spill.close()
	}
	for waited := time.Duration(0); ; waited += 100 * time.Millisecond {
		err = pglogrepl.StartReplication(ctx, conn, s.slot, start, pglogrepl.StartReplicationOptions{
			Mode: pglogrepl.LogicalReplication, PluginArgs: args})
		// The slot may still be held by this source's previous stream, whose connection
		// is closed on this side while the server's walsender has not yet ended: wait for
		// it, a while, rather than fail.
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "55006" || waited >= 30*time.Second || !s.heldByPrevious(ctx) {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55006" { // object_in_use
			return fault.AsRetryable(fmt.Errorf("start replication from slot %s: %w (another pipeline or a previous run still reads it)", s.slot, err))
		}
		return fmt.Errorf("start replication from slot %s at %s: %w", s.slot, from, err)
	}
	s.mu.Lock()
	if start > s.acked {
		s.acked = start
	}
	s.replPID = conn.PID()
	s.mu.Unlock()

	throttled := func(ctx context.Context, b event.Batch) error {
		if len(b.Changes) > 0 {
			if err := s.throttle.Wait(ctx, len(b.Changes), b.Size()); err != nil {
				return err
			}
		}
		return emit(ctx, b)
	}
	r := &reader{s: s, conn: conn, tables: tables, rels: map[uint32]*table{}, emit: throttled, last: start, spill: spill}
	s.join.startStream(start, tables, func(sc *event.Schema) bool {
		ok, err := s.keyOrdered(ctx, sc)
		return err == nil && ok
	})

	watchCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go s.watchSlot(watchCtx, stop)
	if s.AddsNewTables() && !s.o.NoCreatePublication {
		go s.watchTables(watchCtx)
	}

	var events interface{ Inc() }
	if s.metrics != nil {
		events = s.metrics.SourceEvents.WithLabelValues(s.pipeline)
	}
	r.nextStatus = time.Now()
	for {
		if err := r.statusIfDue(watchCtx); err != nil {
			return r.failed(ctx, watchCtx, err)
		}
		rctx, cancel := context.WithDeadline(watchCtx, r.nextStatus)
		msg, err := conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && watchCtx.Err() == nil {
				continue
			}
			return r.failed(ctx, watchCtx, err)
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if events != nil {
				events.Inc()
			}
			if err := r.copyData(watchCtx, msg.Data); err != nil {
				return r.failed(ctx, watchCtx, err)
			}
		case *pgproto3.ErrorResponse:
			return r.failed(ctx, watchCtx, pgconn.ErrorResponseToPgError(msg))
		}
	}
}

// serverMajor is the server's major version, from the server_version it reports ("15.8
// (Debian 15.8-0+deb12u1)").
func serverMajor(conn *pgconn.PgConn) int {
	v := conn.ParameterStatus("server_version")
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	n, _ := strconv.Atoi(v[:end])
	return n
}

// failed turns the stream's end into its error: nil when ctx ended, the slot watcher's
// cause when it stopped the stream, else err as fault.Classify sees it (a lost connection
// is retried from the checkpoint).
func (r *reader) failed(ctx, watchCtx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	if cause := context.Cause(watchCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return fmt.Errorf("read the replication stream of slot %s after %s: %w", r.s.slot, r.last, err)
}

// watchSlot checks the slot every heartbeat: the WAL it holds (metric, warning), and
// whether the server invalidated it. With heartbeat.emit-message it also writes a logical
// message, so the slot moves on when this database is idle.
func (s *Source) watchSlot(ctx context.Context, stop context.CancelCauseFunc) {
	tick := time.NewTicker(s.o.Heartbeat)
	defer tick.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if s.o.EmitMessage {
			if _, err := s.pool.Exec(ctx, "SELECT pg_logical_emit_message(false, 'weir', 'heartbeat')"); err != nil && ctx.Err() == nil {
				s.log.Warn("could not write the heartbeat message", "err", err)
			}
		}
		var retained *int64
		var status string
		err := s.pool.QueryRow(ctx, `SELECT (pg_current_wal_lsn() - restart_lsn)::int8, COALESCE(wal_status, '')
			FROM pg_replication_slots WHERE slot_name = $1`, s.slot).Scan(&retained, &status)
		if err != nil {
			continue // the stream itself reports a lost server
		}
		if status == "lost" {
			stop(errSlotLost(s.slot))
			return
		}
		if retained == nil {
			continue
		}
		if s.metrics != nil {
			s.metrics.SourceRetained.WithLabelValues(s.pipeline).Set(float64(*retained))
		}
		if over := s.o.WarnRetained > 0 && *retained > s.o.WarnRetained; over && !warned {
			s.log.Warn("the replication slot holds back more WAL than slot.retained-wal.warn: is the sink keeping up?",
				"slot", s.slot, "retained_bytes", *retained, "warn_bytes", s.o.WarnRetained)
			warned = true
		} else if !over {
			warned = false
		}
	}
}

// reader decodes pgoutput messages into batches.
type reader struct {
	s          *Source
	conn       *pgconn.PgConn
	tables     map[event.TableID]*table // the schemas as of the stream's point
	rels       map[uint32]*table        // relation id → table (nil: not selected)
	emit       func(context.Context, event.Batch) error
	spill      *streamSpill  // transactions streamed in progress (protocol 2; nil: protocol 1)
	last       pglogrepl.LSN // the end of the last transaction emitted (or an idle point)
	nextStatus time.Time

	inTxn   bool
	skip    bool // the transaction's origin is filtered out
	txnLog  string
	commit  int64
	offset  uint64
	changes []event.Change
}

// statusIfDue tells the server what is durable, every heartbeat.
func (r *reader) statusIfDue(ctx context.Context) error {
	if time.Now().Before(r.nextStatus) {
		return nil
	}
	d := r.s.durable()
	err := pglogrepl.SendStandbyStatusUpdate(ctx, r.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: d, WALFlushPosition: d, WALApplyPosition: d, ClientTime: time.Now()})
	if err != nil {
		return fmt.Errorf("send the standby status: %w", err)
	}
	r.nextStatus = time.Now().Add(r.s.o.Heartbeat)
	return nil
}

func (r *reader) copyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("parse a keepalive: %w", err)
		}
		if k.ReplyRequested {
			r.nextStatus = time.Time{}
		}
		return r.idle(ctx, k.ServerWALEnd)
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("parse WAL data: %w", err)
		}
		if r.spill != nil && len(x.WALData) > 0 {
			if handled, err := r.streamMessage(ctx, x.WALData); handled || err != nil {
				return err
			}
		}
		m, err := pglogrepl.Parse(x.WALData)
		if err != nil {
			return fmt.Errorf("parse a pgoutput message at %s: %w", x.WALStart, err)
		}
		return r.message(ctx, x.WALStart, m)
	}
	return nil
}

// idle records that the server has sent everything before p and nothing is open: the
// stream's point moves there, and with it the checkpoint of an idle pipeline.
func (r *reader) idle(ctx context.Context, p pglogrepl.LSN) error {
	if r.inTxn || p <= r.last {
		return nil
	}
	r.last = p
	if err := r.emit(ctx, event.Batch{End: encodePosition(p), Boundary: true}); err != nil {
		return err
	}
	r.s.join.reached(p)
	return nil
}

func (r *reader) message(ctx context.Context, at pglogrepl.LSN, m pglogrepl.Message) error {
	switch m := m.(type) {
	case *pglogrepl.BeginMessage:
		// Transactions arrive in commit order: every one that commits before this one has
		// been emitted, which is what a chunk read there waits for.
		r.s.join.reached(m.FinalLSN)
		if err := r.gate(ctx, m.FinalLSN); err != nil {
			return err
		}
		r.inTxn, r.skip, r.offset = true, false, 0
		r.txnLog = m.FinalLSN.String()
		r.commit = m.CommitTime.UnixMicro()
	case *pglogrepl.OriginMessage:
		r.skip = r.s.allOrigins || r.s.skipOrigins[m.Name]
	case *pglogrepl.RelationMessage:
		return r.relation(ctx, m)
	case *pglogrepl.InsertMessage:
		t, err := r.rel(m.RelationID)
		if t == nil || err != nil {
			return err
		}
		after, err := r.row(t, m.Tuple, nil)
		if err != nil {
			return err
		}
		return r.add(ctx, event.Change{Op: event.OpInsert, Schema: t.schema, After: after})
	case *pglogrepl.UpdateMessage:
		t, err := r.rel(m.RelationID)
		if t == nil || err != nil {
			return err
		}
		var before event.Row
		if m.OldTuple != nil {
			if before, err = r.row(t, m.OldTuple, nil); err != nil {
				return err
			}
		}
		after, err := r.row(t, m.NewTuple, before)
		if err != nil {
			return err
		}
		return r.add(ctx, event.Change{Op: event.OpUpdate, Schema: t.schema, Before: before, After: after})
	case *pglogrepl.DeleteMessage:
		t, err := r.rel(m.RelationID)
		if t == nil || err != nil {
			return err
		}
		before, err := r.row(t, m.OldTuple, nil)
		if err != nil {
			return err
		}
		return r.add(ctx, event.Change{Op: event.OpDelete, Schema: t.schema, Before: before})
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			t, err := r.rel(id)
			if err != nil {
				return err
			}
			if t == nil || r.skip {
				continue
			}
			if err := r.flush(ctx); err != nil {
				return err
			}
			c := &event.SchemaChange{Kind: event.TruncateTable, Table: t.schema.ID, Before: t.schema, After: t.schema,
				DDL: "TRUNCATE " + quoteTable(t.schema.ID), Pos: r.pos()}
			if err := r.emit(ctx, event.Batch{Schema: c}); err != nil {
				return err
			}
		}
	case *pglogrepl.CommitMessage:
		return r.commitTxn(ctx, m.TransactionEndLSN)
	case *pglogrepl.LogicalDecodingMessage:
		if m.Transactional {
			return nil
		}
		if m.Prefix == newTablePrefix {
			if err := r.newTable(ctx, m.Content); err != nil {
				return err
			}
		}
		return r.idle(ctx, m.LSN) // weir's messages: everything before them has been sent
	}
	return nil
}

// gate waits, before a transaction that commits at f begins, while a snapshot chunk is
// held at or before f (join.go), telling the server every heartbeat that weir is alive.
func (r *reader) gate(ctx context.Context, f pglogrepl.LSN) error {
	for {
		gctx, cancel := context.WithTimeout(ctx, r.s.o.Heartbeat)
		err := r.s.join.gate(gctx, f)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		r.nextStatus = time.Time{}
		if err := r.statusIfDue(ctx); err != nil {
			return err
		}
	}
}

func (r *reader) pos() event.Pos {
	p := event.Pos{Log: r.txnLog, Off: r.offset}
	r.offset++
	return p
}

// add appends a change of the open transaction; a long transaction goes out in parts.
func (r *reader) add(ctx context.Context, c event.Change) error {
	if r.skip {
		return nil
	}
	c.Pos, c.CommitMicros = r.pos(), r.commit
	r.changes = append(r.changes, c)
	if len(r.changes) >= maxTxnBatch {
		return r.flush(ctx)
	}
	return nil
}

// flush emits the open transaction's changes so far, without a boundary.
func (r *reader) flush(ctx context.Context) error {
	if len(r.changes) == 0 {
		return nil
	}
	b := event.Batch{Changes: r.s.join.unfilled(r.changes), End: encodePosition(r.last)}
	r.changes = nil
	return r.emit(ctx, b)
}

// commitTxn ends the transaction: a batch with a boundary at its end.
func (r *reader) commitTxn(ctx context.Context, end pglogrepl.LSN) error {
	changes := r.s.join.unfilled(r.changes)
	r.changes, r.inTxn = nil, false
	r.last = max(r.last, end)
	if err := r.emit(ctx, event.Batch{Changes: changes, End: encodePosition(r.last), Boundary: true}); err != nil {
		return err
	}
	if m := r.s.metrics; m != nil && len(changes) > 0 {
		m.SourceLag.WithLabelValues(r.s.pipeline).Set(float64(time.Now().UnixMicro()-r.commit) / 1000)
	}
	r.s.join.reached(end)
	return nil
}

// rel returns the table of a relation id (nil: not selected).
func (r *reader) rel(id uint32) (*table, error) {
	t, ok := r.rels[id]
	if !ok {
		return nil, fault.AsFatal(fmt.Errorf("a change of relation %d came before its relation message at %s", id, r.txnLog))
	}
	return t, nil
}

// row decodes a tuple. An unchanged TOASTed value ('u') is taken from old when the table
// has REPLICA IDENTITY FULL (old then holds every column); otherwise it is marked
// unchanged, and sinks keep the value they have.
func (r *reader) row(t *table, tuple *pglogrepl.TupleData, old event.Row) (event.Row, error) {
	if tuple == nil {
		return nil, nil
	}
	if len(tuple.Columns) != len(t.cols) {
		return nil, fault.AsFatal(fmt.Errorf("a row of %s at %s has %d columns where its schema has %d", t.schema.ID, r.txnLog, len(tuple.Columns), len(t.cols)))
	}
	row := make(event.Row, len(t.cols))
	for i, c := range tuple.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
		case pglogrepl.TupleDataTypeToast:
			if old != nil && old[i].Rep() != event.RepUnchanged && t.full {
				row[i] = old[i]
			} else {
				row[i] = event.Unchanged()
			}
		case pglogrepl.TupleDataTypeText:
			v, err := t.cols[i].dec(c.Data)
			if err != nil {
				return nil, fault.AsFatal(fmt.Errorf("decode column %s of %s at %s: %w", t.cols[i].name, t.schema.ID, r.txnLog, err))
			}
			row[i] = v
		default:
			return nil, fault.AsFatal(fmt.Errorf("column %s of %s at %s: unexpected tuple data type %q", t.cols[i].name, t.schema.ID, r.txnLog, c.DataType))
		}
	}
	return row, nil
}

// relation takes in a relation message: the table's columns as of this point. A table
// weir knows with other columns has changed: the changes go out as schema changes.
func (r *reader) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	id := event.TableID{Namespace: r.s.database, Schema: m.Namespace, Table: m.RelationName}
	if !matches(r.s.patterns, id.Schema, id.Table) {
		r.rels[m.RelationID] = nil
		return nil
	}
	old := r.tables[id]
	if old == nil {
		r.s.join.mu.Lock()
		joined := r.s.join.schemas[id] // a table that joined the stream with its first chunk
		r.s.join.mu.Unlock()
		if joined != nil {
			t, err := r.s.table(joined)
			if err != nil {
				return err
			}
			old = t
			r.tables[id] = t
		}
	}
	sc := &event.Schema{ID: id}
	cols := make([]*column, len(m.Columns))
	for i, c := range m.Columns {
		pt, err := r.s.types.resolve(ctx, r.s.pool, c.DataType, c.TypeModifier)
		if err != nil {
			return err
		}
		typ, dec := mapType(pt)
		col := event.Column{Name: c.Name, Type: typ, Nullable: true, SourceType: pt.Name, TypeDef: pt.Def}
		if old != nil {
			if j := old.schema.ColumnIndex(c.Name); j >= 0 && old.schema.Columns[j].SourceType == pt.Name {
				col = old.schema.Columns[j]
			}
		}
		sc.Columns = append(sc.Columns, col)
		cols[i] = &column{name: c.Name, typ: typ, dec: dec}
	}
	full := m.ReplicaIdentity == 'f'
	if old == nil {
		// Not known to the stream: a table the snapshot is still to join, or one new to it.
		t, err := r.s.describe(ctx, r.s.pool, id.Schema, id.Table)
		if err != nil || t == nil {
			return err
		}
		r.s.join.mu.Lock()
		_, filling := r.s.join.fills[id]
		r.s.join.mu.Unlock()
		t.full = full
		r.rels[m.RelationID] = t
		if !filling { // in a publication made by hand: weir cannot snapshot it exactly from here
			r.s.log.Warn("a table came into the publication while the pipeline ran; its changes are left out: restart the pipeline to snapshot it beside the stream",
				"table", id, "at", r.txnLog)
			r.rels[m.RelationID] = nil
		}
		return nil // its changes are left out until its first chunk is delivered
	}
	sc.Key = keyByName(old.schema, sc)
	sc.Indexes = old.schema.Indexes // less the columns gone (a rename comes as a new column)
	for _, c := range old.schema.Columns {
		if sc.ColumnIndex(c.Name) < 0 {
			sc.DropIndexColumn(c.Name)
		}
	}
	if sameColumns(old.schema, sc) {
		old.full = full
		r.rels[m.RelationID] = old
		return nil
	}
	// The relation message has no defaults or NOT NULL: take them from the catalog for
	// the columns that are new or retyped (an added column's default is what the rows
	// the sink already holds must get).
	if now, err := r.s.describe(ctx, r.s.pool, id.Schema, id.Table); err == nil && now != nil {
		for i := range sc.Columns {
			c := &sc.Columns[i]
			j := now.schema.ColumnIndex(c.Name)
			if j < 0 || now.schema.Columns[j].SourceType != c.SourceType {
				continue
			}
			if k := old.schema.ColumnIndex(c.Name); k < 0 || old.schema.Columns[k].SourceType != c.SourceType {
				c.Default, c.Nullable = now.schema.Columns[j].Default, now.schema.Columns[j].Nullable
			}
		}
	}
	if len(sc.Key) != len(old.schema.Key) {
		return fault.AsFatal(fmt.Errorf("key column(s) %v of %s are gone at %s", old.schema.KeyNames(), id, r.txnLog))
	}
	sc.Version = old.schema.Version + 1
	if err := r.flush(ctx); err != nil {
		return err
	}
	for _, c := range schemaChanges(old.schema, sc) {
		c.Pos = r.pos()
		if err := r.emit(ctx, event.Batch{Schema: c}); err != nil {
			return err
		}
	}
	t := &table{schema: sc, cols: cols, oid: old.oid, full: full}
	r.tables[id] = t
	r.rels[m.RelationID] = t
	r.s.mu.Lock()
	r.s.tables[id] = t
	r.s.mu.Unlock()
	r.s.join.mu.Lock()
	r.s.join.publish(r.tables)
	r.s.join.mu.Unlock()
	return nil
}

// newTablePrefix is the prefix of the logical message that announces a table weir added
// to the publication while the stream runs (watchTables); its content is the table.
const newTablePrefix = "weir.table"

// watchTables looks for tables that came to match the selection while the stream runs,
// every discoverEvery. Each is left out of the stream (its changes dropped, as for a
// table whose first chunk is still to come), added to the publication, and announced by
// a logical message written after that: where the stream reads the message it has the
// engine snapshot the table beside it (Batch.Backfill). A table added but not announced
// when the process stops is found again at the next start (the checkpoint lacks it).
func (s *Source) watchTables(ctx context.Context) {
	tick := time.NewTicker(s.discoverEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tables, err := s.discover(ctx, s.pool)
		if err != nil {
			continue
		}
		j := s.join
		for _, t := range tables {
			id := t.schema.ID
			j.mu.Lock()
			_, known := j.schemas[id]
			_, filling := j.fills[id]
			if !known && !filling {
				j.fills[id] = nil
			}
			j.mu.Unlock()
			if known || filling {
				continue
			}
			err := s.exec(ctx, "ALTER PUBLICATION "+pgx.Identifier{s.pub}.Sanitize()+" ADD TABLE "+quoteTable(id))
			if err == nil {
				err = s.exec(ctx, "SELECT pg_logical_emit_message(false, '"+newTablePrefix+"', $1::text)", id.Schema+"."+id.Table)
			}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("could not add a newly matching table to the publication; the next start will", "table", id, "err", err)
			}
		}
	}
}

// newTable has the engine snapshot a table announced by watchTables, from here on.
func (r *reader) newTable(ctx context.Context, content []byte) error {
	schema, table, ok := strings.Cut(string(content), ".")
	if !ok {
		return nil
	}
	id := event.TableID{Namespace: r.s.database, Schema: schema, Table: table}
	if r.tables[id] != nil {
		return nil
	}
	t, err := r.s.describe(ctx, r.s.pool, schema, table)
	if err != nil {
		return fault.AsFatal(fmt.Errorf("table %s joined the selection at %s: %w", id, r.last, err))
	}
	if t == nil {
		return nil // gone again
	}
	r.s.log.Info("a table joined the selection: snapshotting it beside the stream", "table", id, "at", r.last)
	return r.emit(ctx, event.Batch{Backfill: t.schema})
}

// keyByName finds old's key columns in sc by name.
func keyByName(old, sc *event.Schema) []int {
	var key []int
	for _, n := range old.KeyNames() {
		if i := sc.ColumnIndex(n); i >= 0 {
			key = append(key, i)
		}
	}
	return key
}

// sameColumns reports whether two schemas of a table decode rows alike.
func sameColumns(a, b *event.Schema) bool {
	if len(a.Columns) != len(b.Columns) || !slices.Equal(a.Key, b.Key) {
		return false
	}
	for i := range a.Columns {
		if a.Columns[i].Name != b.Columns[i].Name || a.Columns[i].SourceType != b.Columns[i].SourceType {
			return false
		}
	}
	return true
}

// schemaChanges describes the step from old to next as column changes, each with the
// schema before and after it: drops, then type changes, then additions.
func schemaChanges(old, next *event.Schema) []*event.SchemaChange {
	var out []*event.SchemaChange
	cur := old
	step := func(kind event.SchemaChangeKind, col string, after *event.Schema) {
		out = append(out, &event.SchemaChange{Kind: kind, Table: old.ID, Before: cur, After: after, Column: col})
		cur = after
	}
	for _, c := range old.Columns {
		if next.ColumnIndex(c.Name) < 0 {
			s := withoutColumn(cur, c.Name)
			step(event.DropColumn, c.Name, s)
		}
	}
	for _, c := range next.Columns {
		if i := cur.ColumnIndex(c.Name); i >= 0 && cur.Columns[i].SourceType != c.SourceType {
			s := cloneSchema(cur)
			s.Columns[i] = c
			step(event.ModifyColumn, c.Name, s)
		}
	}
	for _, c := range next.Columns {
		if cur.ColumnIndex(c.Name) < 0 {
			s := cloneSchema(cur)
			s.Columns = append(s.Columns, c)
			step(event.AddColumn, c.Name, s)
		}
	}
	if len(out) > 0 {
		out[len(out)-1].After = next // the last step is the new schema itself (same columns, its order)
	}
	return out
}

func cloneSchema(s *event.Schema) *event.Schema {
	c := *s
	c.Columns = slices.Clone(s.Columns)
	c.Key = slices.Clone(s.Key)
	return &c
}

func withoutColumn(s *event.Schema, name string) *event.Schema {
	c := cloneSchema(s)
	i := c.ColumnIndex(name)
	c.Columns = slices.Delete(c.Columns, i, i+1)
	c.Key = keyByName(s, c)
	return c
}

// heldByPrevious reports whether the slot is active for the backend of this source's
// previous stream.
func (s *Source) heldByPrevious(ctx context.Context) bool {
	s.mu.Lock()
	prev := s.replPID
	s.mu.Unlock()
	if prev == 0 {
		return false
	}
	var pid *int32
	if err := s.pool.QueryRow(ctx, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, s.slot).Scan(&pid); err != nil {
		return false
	}
	return pid != nil && uint32(*pid) == prev
}
