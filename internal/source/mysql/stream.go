package mysql

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/mysqlconn"
	"github.com/weir-data/weir/internal/netpace"
)

// maxTxnBatch is how many changes of one transaction are held before they are emitted
// without a boundary (the engine then holds them, or spills a huge transaction).
const maxTxnBatch = 1024

// Stream reads the binlog from `from` with one replication connection for all tables,
// decoding each row event with the schema the engine knows for the table at that
// position (schemas), never the live one. A batch with Boundary ends at each commit
// (XID, or a standalone statement such as DDL), so checkpoints fall between transactions.
//
// DDL moves the known schemas along (ddl.go) and goes out as schema changes, each a
// barrier in the stream.
func (s *Source) Stream(ctx context.Context, from event.Position, schemas []*event.Schema, emit func(context.Context, event.Batch) error) error {
	// However the stream ends, even before it starts reading, chunks waiting for it must
	// learn that it will not come (Snapshotting announced it).
	defer s.join.stopStream()
	pos, err := decodePosition(from)
	if err != nil {
		return err
	}
	tables := map[event.TableID]*table{}
	for _, sc := range schemas {
		t, err := newTable(sc)
		if err != nil {
			return err
		}
		tables[sc.ID] = t
	}
	release, err := s.claimServerID(ctx)
	if err != nil {
		return err
	}
	defer release()
	prepared := map[string][]event.Change{}
	if len(pos.XA) > 0 {
		if prepared, err = s.recoverXA(ctx, pos.XA, tables); err != nil {
			return err
		}
	}
	syncer := replication.NewBinlogSyncer(s.syncerConfig())
	defer syncer.Close()
	var streamer *replication.BinlogStreamer
	var gset gomysql.GTIDSet
	if pos.GTID != "" {
		gset, err = gomysql.ParseGTIDSet(s.flavor, pos.GTID)
		if err != nil {
			return fault.AsFatal(fmt.Errorf("bad GTID set %q in the position: %w", pos.GTID, err))
		}
		streamer, err = syncer.StartSyncGTID(gset.Clone())
	} else {
		streamer, err = syncer.StartSync(gomysql.Position{Name: pos.File, Pos: pos.Pos})
		s.join.mu.Lock()
		filling := len(s.join.fills) > 0
		s.join.mu.Unlock()
		if s.watermarks && s.flavor != "mariadb" && filling {
			s.log.Warn("this MySQL server has no GTIDs (gtid_mode OFF): a snapshot chunk read at the instant a transaction " +
				"is in the binlog but not yet visible misses that transaction's change (watermark.go); set gtid_mode=ON and " +
				"enforce_gtid_consistency=ON on the server to close this gap")
		}
	}
	if err != nil {
		var me *gomysql.MyError
		if errors.As(err, &me) && (me.Code == 1045 || me.Code == 1227) {
			// The user logged in (the queries before this one ran): "Access denied" here is
			// a missing privilege, not a wrong password.
			return fault.AsFatal(fmt.Errorf("start reading the binlog at %s: %w; user %s logged in but may not read the binlog: "+
				"GRANT REPLICATION SLAVE ON *.* TO the user (weir validate lists every missing grant)", from, err, s.user))
		}
		return fmt.Errorf("start reading the binlog at %s: %w", from, err)
	}
	throttled := func(ctx context.Context, b event.Batch) error {
		if len(b.Changes) > 0 {
			if err := s.throttle.Wait(ctx, len(b.Changes), b.Size()); err != nil {
				return err
			}
		}
		return emit(ctx, b)
	}
	r := &reader{s: s, tables: tables, pos: pos, gset: gset, emit: throttled, prepared: prepared, history: newSchemaHistory(s.patterns, s.tinyBool), resynced: map[event.TableID]bool{}, refilled: map[event.TableID]int{}}
	if r.rowEnd, err = s.rowEnds(ctx, nil); err != nil {
		return err
	}
	if s.mode == "specific-offset" && from == s.specific.encode() { // the first stream from it, not a resume
		r.skipEvents, r.skipRows = s.skipEvents, s.skipRows
	}
	r.history.lookup = func(id event.TableID) string { return s.defaultCharset(ctx, id) }
	s.join.startStream(pos, tables)
	var events interface{ Inc() }
	if s.metrics != nil {
		events = s.metrics.SourceEvents.WithLabelValues(s.pipeline)
	}
	silence := 2*s.heartbeat + 10*time.Second
	readCtx, stopReading := context.WithCancelCause(ctx)
	defer stopReading(nil)
	var seen atomic.Int64
	go watchSilence(readCtx, &seen, silence, stopReading)
	for {
		ev, err := streamer.GetEvent(readCtx)
		if err == nil {
			seen.Add(1)
			if events != nil {
				events.Inc()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if cause := context.Cause(readCtx); errors.Is(cause, errSilent) {
				err = cause
			}
			return classifyStreamError(err, pos)
		}
		if err := r.handle(ctx, ev); err != nil {
			return err
		}
	}
}

// syncerConfig is how the binlog is read.
func (s *Source) syncerConfig() replication.BinlogSyncerConfig {
	return replication.BinlogSyncerConfig{
		ServerID:                s.serverID,
		Flavor:                  s.flavor,
		Host:                    s.host,
		Port:                    uint16(s.port),
		User:                    s.user,
		Password:                s.password,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         s.heartbeat,
		MaxReconnectAttempts:    5,
		DiscardGTIDSet:          true, // the reader keeps its own executed set
		Logger:                  mysqlconn.LibraryLogger(s.log.With("component", "binlog")),
		RowsEventDecodeFunc:     s.decodeRows,
		Dialer:                  netpace.Dialer((&net.Dialer{}).DialContext), // small transactions read together (netpace)
	}
}

// reader decodes binlog events into batches.
type reader struct {
	s       *Source
	tables  map[event.TableID]*table
	pos     position        // after the last complete transaction
	gset    gomysql.GTIDSet // executed set after the last complete transaction (nil: file:pos only)
	file    string          // the binlog file being read
	txnGTID string          // GTID of the transaction being read
	txnLog  string          // Pos.Log of its changes
	// txnStart is where the transaction being read begins; txnXA says it is an XA
	// transaction (its changes wait for its commit), txnXID names it (xa.go).
	txnStart place
	txnXA    bool
	txnXID   string
	// prepared holds the changes of prepared XA transactions by xid, until their commit.
	prepared map[string][]event.Change
	changes  []event.Change
	offset   uint64
	emit     func(context.Context, event.Batch) error
	history  *schemaHistory
	// resynced are the tables whose schema was last taken from the server, not from a
	// statement (unparsed); refilled the column count of rows that had a table
	// snapshotted again (mismatch).
	resynced map[event.TableID]bool
	refilled map[event.TableID]int
	// rowEnd names the declared ROW END column of system-versioned tables (rowEnds).
	rowEnd map[event.TableID]string
	// metricFile is the binlog file the position metric names, posGauge its series.
	metricFile string
	posGauge   prometheus.Gauge
	// skipEvents and skipRows are what is still to skip after a specific offset
	// (scan.startup.specific-offset.skip-events / skip-rows).
	skipEvents, skipRows int64
}

func (r *reader) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	if r.skipEvents > 0 {
		switch ev.Event.(type) {
		case *replication.RotateEvent, *replication.FormatDescriptionEvent, *replication.HeartbeatEvent:
		default:
			r.skipEvents--
			return nil
		}
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		r.file = string(e.NextLogName)
		if r.txnGTID == "" && len(r.changes) == 0 {
			r.pos.File, r.pos.Pos = r.file, uint32(e.Position)
			r.reached(place{r.file, uint32(e.Position)})
		}
	case *replication.MariadbGTIDEvent:
		if err := r.begin(ctx, fmt.Sprintf("%d-%d-%d", e.GTID.DomainID, e.GTID.ServerID, e.GTID.SequenceNumber), h); err != nil {
			return err
		}
		r.txnXA = e.Flags&mariaPreparedXA != 0
	case *replication.GTIDEvent:
		next, err := e.GTIDNext()
		if err != nil {
			return fmt.Errorf("decode GTID event: %w", err)
		}
		return r.begin(ctx, next.String(), h)
	case *replication.QueryEvent:
		q := strings.TrimSpace(string(e.Query))
		switch {
		case strings.EqualFold(q, "BEGIN"):
			if r.txnGTID == "" {
				return r.begin(ctx, "", h)
			}
			return nil
		case strings.EqualFold(q, "COMMIT"): // non-transactional tables end this way
			return r.commit(ctx, h)
		case strings.EqualFold(q, "ROLLBACK"):
			r.changes, r.txnGTID = nil, ""
			return nil
		}
		if verb, xid, ok := xaStatement(q); ok {
			return r.xa(ctx, h, verb, xid)
		}
		// Anything else is DDL, a transaction of its own.
		if err := r.ddl(ctx, h, q, string(e.Schema)); err != nil {
			return err
		}
		return r.commit(ctx, h)
	case *replication.RowsEvent:
		return r.rows(ctx, h, e)
	case *replication.XIDEvent:
		return r.commit(ctx, h)
	case *replication.HeartbeatEvent:
		file, pos := strings.TrimRight(e.Filename, "\x00"), uint64(h.LogPos)
		if e.Version == 2 && e.Offset > 0 {
			pos = e.Offset
		}
		if file == "" {
			file = r.file
		}
		return r.heartbeat(ctx, file, uint32(pos))
	default:
		if h.EventType == replication.XA_PREPARE_LOG_EVENT {
			return r.prepare(ctx, h)
		}
		// An event outside any transaction (a new file's GTID list or binlog checkpoint):
		// everything up to it has been read, which is what a chunk read there waits for.
		if r.txnGTID == "" && len(r.changes) == 0 && h.LogPos > 0 && r.file != "" {
			r.reached(place{r.file, h.LogPos})
		}
	}
	return nil
}

// begin starts a transaction, once the chunks read before it have been delivered (join.go).
func (r *reader) begin(ctx context.Context, gtid string, h *replication.EventHeader) error {
	if h.LogPos >= h.EventSize { // every transaction before this one has been emitted
		r.reached(place{r.file, h.LogPos - h.EventSize})
	}
	if err := r.gate(ctx, place{r.file, h.LogPos}, gtid); err != nil {
		return err
	}
	r.txnGTID = gtid
	r.txnLog = gtid
	r.txnStart, r.txnXA, r.txnXID = place{r.file, h.LogPos - min(h.EventSize, h.LogPos)}, false, ""
	if gtid == "" {
		r.txnLog = r.file + "@" + fmt.Sprint(r.pos.Pos)
	}
	r.offset = 0
	return nil
}

func (r *reader) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent) error {
	id := event.TableID{Schema: string(e.Table.Schema), Table: string(e.Table.Table)}
	t := r.tables[id]
	if t == nil {
		return nil // not selected
	}
	if n := int(e.ColumnCount); n != len(t.cols)+t.hidden {
		decode, err := r.mismatch(ctx, id, t, n, e.Table.ColumnType)
		if err != nil || !decode {
			return err
		}
	}
	commit := int64(h.Timestamp) * 1_000_000
	decode := func(raw []any) (event.Row, error) {
		row := make(event.Row, len(t.cols))
		for i, c := range t.cols {
			if i >= len(raw) {
				row[i] = event.Unchanged()
				continue
			}
			v, err := c.fromBinlog(raw[i])
			if err != nil {
				return nil, fmt.Errorf("decode a row of %s at %s: %w", id, r.txnLog, err)
			}
			row[i] = v
		}
		return row, nil
	}
	add := func(op event.Op, before, after []any) error {
		if r.skipRows > 0 {
			r.skipRows--
			return nil
		}
		c := event.Change{Op: op, Schema: t.schema, Pos: event.Pos{Log: r.txnLog, Off: r.offset}, CommitMicros: commit}
		r.offset++
		var err error
		if before != nil {
			if c.Before, err = decode(before); err != nil {
				return err
			}
		}
		if after != nil {
			if c.After, err = decode(after); err != nil {
				return err
			}
		}
		r.changes = append(r.changes, c)
		return nil
	}
	// A system-versioned table's rows carry its row_start and row_end, hidden after its
	// columns or declared among them: a row whose row_end is not the end of time is
	// history, which the table's current rows (what the snapshot reads, and what the sink
	// holds) do not include.
	end := -1 // where row_end is in the rows, if the table is system-versioned
	if t.versioned {
		end = len(t.cols) + t.hidden - 1
	} else if name, ok := r.rowEnd[id]; ok {
		end = t.schema.ColumnIndex(name)
	}
	current := func(raw []any) bool { return end < 0 || currentRow(raw, end) }
	switch h.EventType {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		for _, row := range e.Rows {
			if !current(row) {
				continue // a history row written by an update or a delete
			}
			if err := add(event.OpInsert, nil, row); err != nil {
				return err
			}
		}
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		for _, row := range e.Rows {
			if !current(row) {
				continue // history removed (DELETE HISTORY)
			}
			if err := add(event.OpDelete, row, nil); err != nil {
				return err
			}
		}
	default: // updates: before and after images in pairs
		for i := 0; i+1 < len(e.Rows); i += 2 {
			before, after := e.Rows[i], e.Rows[i+1]
			var err error
			switch {
			case current(before) && current(after):
				err = add(event.OpUpdate, before, after)
			case current(before): // the current row became history: a DELETE of a versioned table
				err = add(event.OpDelete, before, nil)
			case current(after):
				err = add(event.OpInsert, nil, after)
			}
			if err != nil {
				return err
			}
		}
	}
	if len(r.changes) >= maxTxnBatch && !r.txnXA { // an XA transaction's wait for its commit
		b := event.Batch{Changes: r.unfilled(r.changes), End: r.pos.encode()}
		r.changes = nil
		return r.emit(ctx, b)
	}
	return nil
}

// commit ends the current transaction: the position moves past it and a batch with a
// boundary goes out (empty for transactions that touched no selected table, so that the
// checkpoint still advances).
func (r *reader) commit(ctx context.Context, h *replication.EventHeader) error {
	if r.txnGTID != "" {
		if r.gset == nil {
			var err error
			if r.gset, err = gomysql.ParseGTIDSet(r.s.flavor, ""); err != nil {
				return err
			}
		}
		if err := r.gset.Update(r.txnGTID); err != nil {
			return fmt.Errorf("advance the GTID set with %s: %w", r.txnGTID, err)
		}
	}
	if r.gset != nil {
		r.pos.GTID = r.gset.String()
	}
	if r.file != "" {
		r.pos.File = r.file
	}
	r.pos.Pos = h.LogPos
	if m := r.s.metrics; m != nil && r.pos.File != "" {
		if r.pos.File != r.metricFile { // one series per pipeline: the current file only
			m.SourcePosition.DeletePartialMatch(prometheus.Labels{"pipeline": r.s.pipeline})
			r.metricFile = r.pos.File
			r.posGauge = m.SourcePosition.WithLabelValues(r.s.pipeline, r.pos.File)
		}
		r.posGauge.Set(float64(r.pos.Pos))
	}
	changes := r.unfilled(r.changes)
	if r.pos.SinceMillis > 0 && int64(h.Timestamp)*1000 < r.pos.SinceMillis {
		changes = nil // committed before scan.startup.timestamp-millis
	}
	b := event.Batch{Changes: changes, End: r.pos.encode(), Boundary: true}
	r.changes, r.txnGTID = nil, ""
	if err := r.emit(ctx, b); err != nil {
		return err
	}
	r.reached(place{r.pos.File, r.pos.Pos})
	return nil
}

// heartbeat lets an idle pipeline's checkpoint follow the server.
// The server sends one only when it has nothing else to send: the stream has read all
// there is, up to pos of file.
func (r *reader) heartbeat(ctx context.Context, file string, pos uint32) error {
	if r.txnGTID != "" || len(r.changes) > 0 || pos == 0 {
		return nil
	}
	r.reached(place{file, pos})
	return r.emit(ctx, event.Batch{End: r.pos.encode(), Boundary: true})
}

var errSilent = errors.New("no binlog event, not even a heartbeat, came in time: the connection is taken for dead")

// watchSilence stops the read (cause errSilent) when seen has not moved for silence:
// the server sends a heartbeat whenever it has nothing else to send, so silence means a
// connection cut without a reset, which would otherwise hang the read for ever. It takes
// the place of go-mysql's ReadTimeout, whose read deadline on every packet cost a tenth
// of the stream's CPU.
func watchSilence(ctx context.Context, seen *atomic.Int64, silence time.Duration, stop context.CancelCauseFunc) {
	tick := time.NewTicker(silence / 4)
	defer tick.Stop()
	last, since := seen.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if n := seen.Load(); n != last {
				last, since = n, now
			} else if now.Sub(since) >= silence {
				stop(fmt.Errorf("%w (%s)", errSilent, silence))
				return
			}
		}
	}
}

// mismatch handles rows of table t that carry n columns where weir's schema has another
// number. Where the server shows the table as weir holds it and the rows carry more, the
// rest are hidden columns (MariaDB's hashes of long unique keys), left out from then on.
// Else the schema weir holds is not the rows' (a statement it could not follow, its
// schema taken from the server ahead of a later change): the table is snapshotted again
// beside the stream, from here, and these rows are skipped (the new copy holds them); a
// table that disagrees again at once stops the stream with the fix.
func (r *reader) mismatch(ctx context.Context, id event.TableID, t *table, n int, types []byte) (decode bool, err error) {
	if n == len(t.cols) && t.hidden > 0 { // its hidden columns are gone (DROP SYSTEM VERSIONING)
		t.hidden, t.versioned = 0, false
		return true, nil
	}
	if n == len(t.cols)+2 && len(types) == n && types[n-2] == gomysql.MYSQL_TYPE_TIMESTAMP2 && types[n-1] == gomysql.MYSQL_TYPE_TIMESTAMP2 {
		// A system-versioned table: its hidden row_start and row_end follow the columns.
		t.hidden, t.versioned = 2, true
		r.s.log.Info("the binlog's rows of a table carry its hidden system-versioning columns: history rows are left out",
			"table", id)
		return true, nil
	}
	if n > len(t.cols) && len(types) == n {
		hashes := true // a long unique key's hash is a hidden BIGINT after the columns
		for _, tp := range types[len(t.cols):] {
			hashes = hashes && tp == gomysql.MYSQL_TYPE_LONGLONG
		}
		if hashes {
			t.hidden = n - len(t.cols)
			r.s.log.Info("the binlog's rows of a table carry hidden columns (MariaDB's hashes of long unique keys): left out",
				"table", id, "hidden_columns", t.hidden)
			return true, nil
		}
	}
	if n > len(t.cols) {
		conn, err := r.s.pool.get(ctx)
		if err != nil {
			return false, err
		}
		live, err := describe(conn, id.Schema, id.Table, r.s.columnOpts(id.Schema, id.Table))
		r.s.pool.put(conn)
		if err == nil && live != nil && sameColumnNames(live.schema, t.schema) {
			t.hidden = n - len(t.cols)
			r.s.log.Info("the binlog's rows of a table carry columns the server does not show (MariaDB's hashes of long unique keys): left out",
				"table", id, "hidden_columns", t.hidden)
			return true, nil
		}
	}
	if r.refilled[id] == n {
		return false, fault.AsFatal(fmt.Errorf("table %s has %d columns in the binlog at %s but %d in the schema weir knows, again after it was "+
			"snapshotted anew: copy it again with `weir resnapshot PIPELINE.yaml --table %s` (the pipeline stopped), or leave it out of tables",
			id, n, r.txnLog, len(t.cols), id))
	}
	r.refilled[id] = n
	delete(r.resynced, id)
	r.s.log.Warn("rows of a table disagree with the schema weir holds: snapshotting the table beside the stream",
		"table", id, "at", r.txnLog, "binlog_columns", n, "schema_columns", len(t.cols))
	return false, r.backfill(ctx, id)
}

// decodeRows decodes the rows of a row event only where the selection matches its table
// (or a shadow of one): rows of other tables are never read, so a column type the reader
// cannot decode in a table the pipeline does not copy cannot stop it, and the stream does
// less work on a busy server. It runs on the syncer's goroutine: the patterns it reads do
// not change.
func (s *Source) decodeRows(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if e.Table == nil {
		return e.DecodeData(pos, data)
	}
	id := event.TableID{Schema: string(e.Table.Schema), Table: string(e.Table.Table)}
	selected := false
	for _, p := range s.patterns {
		if p.Match(id.Schema, id.Table) {
			selected = true
			break
		}
	}
	if !selected && !shadowName.MatchString(id.Table) {
		return nil
	}
	if err := uncompressTableMap(e.Table); err != nil {
		return err
	}
	if err := e.DecodeData(pos, data); err != nil {
		return fmt.Errorf("decode a row event of table %s: %w", id, err)
	}
	return nil
}

// classifyStreamError says what a binlog error means for the pipeline.
func classifyStreamError(err error, pos position) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case 1236: // ER_MASTER_FATAL_ERROR_READING_BINLOG: purged or missing binlog
			return fault.AsFatal(fmt.Errorf("the server no longer has the binlog at %s (%s): it was purged before weir read it; "+
				"start over with a new snapshot (`weir reset PIPELINE.yaml`, then run it again), "+
				"and keep binlogs longer (binlog_expire_logs_seconds / expire_logs_days)", pos.encode(), me.Message))
		case 1045, 1227, 1044: // access denied, missing privilege
			return fault.AsFatal(fmt.Errorf("read the binlog: %w; grant REPLICATION SLAVE and REPLICATION CLIENT to the user", err))
		}
	}
	if msg := err.Error(); strings.Contains(msg, "unsupport type") {
		// The reader cannot decode a column type of a selected table (MariaDB's compressed
		// columns, binlog types 140 and 141): the same event would fail at every restart.
		return fault.AsFatal(fmt.Errorf("read the binlog after %s: %w; the binlog reader cannot decode a column of this table "+
			"(MariaDB's COMPRESSED columns among them): leave the table out of tables, or make the column uncompressed "+
			"(ALTER TABLE … MODIFY c … without COMPRESSED) and copy the table again with `weir resnapshot`", pos.encode(), err))
	}
	return fault.AsRetryable(fmt.Errorf("read the binlog after %s: %w", pos.encode(), err))
}

// tableDDL matches the statements that can change what a row event of a table holds, and
// those of its indexes; everything else in a query event (procedures, views, triggers,
// users, grants, databases) is skipped unparsed.
var tableDDL = regexp.MustCompile(`(?is)^\s*(?:/\*.*?\*/\s*)*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE|ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE|DROP\s+(?:TEMPORARY\s+)?TABLES?|RENAME\s+TABLES?|TRUNCATE|` +
	`CREATE\s+(?:OR\s+REPLACE\s+)?(?:ONLINE\s+|OFFLINE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX|DROP\s+(?:ONLINE\s+|OFFLINE\s+)?INDEX)\b`)

// unparsed recovers from a table statement the parser cannot read, even normalized, so
// that no statement the server accepted stops the pipeline: a table weir follows that the
// statement names takes its schema from the server at this point (an alter table
// change); a table the statement makes that the selection matches is snapshotted beside
// the stream, as a table renamed into the selection is. Each recovery is logged with the
// statement. Rows that then disagree with the schema taken are handled in rows.
func (r *reader) unparsed(ctx context.Context, pe *parseError, db string, pos event.Pos) error {
	follows, creates := r.history.named(pe.query, db, r.tables)
	if len(follows)+len(creates) == 0 {
		r.s.log.Warn("skipped a table statement weir cannot parse; it names no selected table", "err", pe)
		return nil
	}
	for _, id := range follows {
		conn, err := r.s.pool.get(ctx)
		if err != nil {
			return err
		}
		live, err := describe(conn, id.Schema, id.Table, r.s.columnOpts(id.Schema, id.Table))
		r.s.pool.put(conn)
		if err != nil {
			return fmt.Errorf("%w; weir could not read the schema of %s from the server either: %w", pe, id, err)
		}
		before := r.tables[id].schema
		if live == nil { // dropped (or renamed away) by the statement
			delete(r.tables, id)
			r.s.log.Warn("weir cannot parse a statement of a selected table, and the table is gone: following it as dropped", "table", id, "at", r.txnLog, "err", pe)
			if err := r.emit(ctx, event.Batch{Schema: &event.SchemaChange{Kind: event.DropTable, Table: id, Before: before, DDL: pe.query, Pos: pos}}); err != nil {
				return err
			}
			continue
		}
		r.tables[id] = live
		r.resynced[id] = true
		r.s.log.Warn("weir cannot parse a statement of a selected table: took the table's schema from the server at this point", "table", id, "at", r.txnLog, "err", pe)
		c := &event.SchemaChange{Kind: event.AlterTable, Table: id, Before: before, After: live.schema, DDL: pe.query, Pos: pos}
		j := r.s.join
		j.mu.Lock()
		j.publish(r.tables)
		j.mu.Unlock()
		if err := r.emit(ctx, event.Batch{Schema: c}); err != nil {
			return err
		}
	}
	for _, id := range creates {
		r.s.log.Warn("weir cannot parse a statement that makes a selected table: snapshotting the table beside the stream", "table", id, "at", r.txnLog, "err", pe)
		if err := r.backfill(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// versioningDDL matches statements that may declare, drop or move the ROW END column of
// a system-versioned table, after which reader.rowEnd is read again.
var versioningDDL = regexp.MustCompile(`(?i)\bSYSTEM\s+VERSIONING\b|\bROW\s+END\b|\bRENAME\b|\bDROP\b|\bCHANGE\b`)

// ddl applies a DDL statement to the known schemas and emits the schema changes it made.
func (r *reader) ddl(ctx context.Context, h *replication.EventHeader, query, db string) error {
	if !tableDDL.MatchString(query) {
		return nil
	}
	if r.rowEnd != nil && versioningDDL.MatchString(query) {
		if err := r.readRowEnds(ctx, query, db); err != nil {
			return err
		}
	}
	pos := event.Pos{Log: r.txnLog, Off: r.offset}
	changes, err := r.history.apply(query, db, r.tables, pos)
	if err != nil {
		// Not parsed, or parsed but not applicable to the schemas weir holds: either way
		// the server took it, so it is recovered from, never a stop.
		pe, ok := err.(*parseError)
		if !ok {
			pe = &parseError{query: query, err: err}
		}
		return r.unparsed(ctx, pe, db, pos)
	}
	j := r.s.join
	j.mu.Lock()
	j.publish(r.tables)
	var refill []event.TableID
	for _, c := range changes {
		if c.Kind == event.RenameTable && j.fills[c.Table] != nil && c.After != nil {
			// Renamed while being snapshotted: the rest of its chunks are under the new
			// name, so the new name is snapshotted whole.
			delete(j.fills, c.Table)
			refill = append(refill, c.After.ID)
		}
	}
	j.mu.Unlock()
	for _, c := range changes {
		if err := r.emit(ctx, event.Batch{Schema: c}); err != nil {
			return err
		}
	}
	joined := append(r.history.joined, refill...)
	r.history.joined = nil
	for _, id := range joined {
		if err := r.backfill(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func sameColumnNames(a, b *event.Schema) bool {
	if len(a.Columns) != len(b.Columns) {
		return false
	}
	for i := range a.Columns {
		if !strings.EqualFold(a.Columns[i].Name, b.Columns[i].Name) {
			return false
		}
	}
	return true
}

// currentRow reports whether a system-versioned row is current: its row_end, column
// end, is the end of time, a TIMESTAMP's largest value (2038 before MariaDB 11.5, 2106
// from it). (Tables versioned by transaction id are refused: versioning in schema.go.)
func currentRow(raw []any, end int) bool {
	if end >= len(raw) {
		return true
	}
	v, ok := raw[end].(string)
	return !ok || strings.HasPrefix(v, "2038-01-19 03:14:07") || strings.HasPrefix(v, "2106-02-07 06:28:15")
}

// readRowEnds reads again the ROW END columns (Source.rowEnds) of the tables a statement
// names, selected or made by it.
func (r *reader) readRowEnds(ctx context.Context, query, db string) error {
	follows, creates := r.history.named(query, db, r.tables)
	named := append(follows, creates...)
	if len(named) == 0 {
		return nil
	}
	ends, err := r.s.rowEnds(ctx, named)
	if err != nil {
		return err
	}
	for _, id := range named {
		delete(r.rowEnd, id)
		if col, ok := ends[id]; ok {
			r.rowEnd[id] = col
		}
	}
	return nil
}
