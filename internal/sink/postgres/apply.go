package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/sink/sqlsink"
)

// part is one engine writer's connection and open transaction. Only that writer's
// goroutine uses it between commits.
type part struct {
	index   int
	conn    *pgxpool.Conn
	tx      pgx.Tx
	buf     []byte
	scratch []byte
	co      sqlsink.Coalescer
	reads   bool // the open transaction holds snapshot rows: it waits for the checkpoint
}

func (p *part) rollback() {
	if p.tx != nil {
		p.tx.Rollback(context.Background())
		p.tx = nil
	}
	p.reads = false
}

func (w *Writer) part(ctx context.Context, i int) (*part, error) {
	w.mu.Lock()
	for len(w.parts) <= i {
		w.parts = append(w.parts, nil)
	}
	p := w.parts[i]
	if p == nil {
		p = &part{index: i}
		w.parts[i] = p
	}
	w.mu.Unlock()
	if p.tx != nil {
		return p, nil
	}
	var err error
	if p.conn == nil {
		if p.conn, err = w.pool.Acquire(ctx); err != nil {
			return nil, fmt.Errorf("connect writer %d: %w", i, err)
		}
	}
	if p.tx, err = p.conn.Begin(ctx); err != nil {
		p.conn.Release()
		p.conn = nil
		return nil, fmt.Errorf("begin a transaction (writer %d): %w", i, err)
	}
	return p, nil
}

// Apply writes a partition's batch inside its open transaction, in a savepoint: a
// deadlock or serialization failure rolls back to it and the batch is applied again. A
// settled batch is committed at once unless the transaction holds snapshot rows.
func (w *Writer) Apply(ctx context.Context, b *connector.Batch) error {
	p, err := w.part(ctx, b.Partition)
	if err != nil {
		return err
	}
	groups, err := w.groups(ctx, b.Changes)
	if err != nil {
		p.rollback()
		return err
	}
	p.reads = p.reads || sqlsink.AnyReads(b.Changes)
	for attempt := 1; ; attempt++ {
		if _, err = p.tx.Exec(ctx, "SAVEPOINT weir_batch"); err == nil {
			if err = w.applyGroups(ctx, p, groups); err == nil {
				_, err = p.tx.Exec(ctx, "RELEASE SAVEPOINT weir_batch")
			}
		}
		if err == nil {
			if b.Settled && !p.reads {
				return w.commitPart(ctx, p) // visible now (see the package doc)
			}
			return nil
		}
		if errors.Is(err, errCopyConflict) { // applied again, as upserts: no wait, no attempt spent
			if _, rerr := p.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT weir_batch"); rerr == nil {
				attempt--
				continue
			}
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") && attempt < 8 {
			if _, rerr := p.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT weir_batch"); rerr == nil {
				w.log.Debug("batch retried", "writer", p.index, "attempt", attempt, "err", err)
				time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
				continue
			}
		}
		p.rollback()
		return err
	}
}

// groups splits changes by schema (sqlsink.GroupBySchema) and makes each schema's table
// ready. Changes of paused tables are left out.
func (w *Writer) groups(ctx context.Context, changes []event.Change) ([]sqlsink.Group[*plan], error) {
	return sqlsink.GroupBySchema(changes, func(s *event.Schema) (*plan, bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, paused := w.paused[s.ID]; paused {
			return nil, true, nil
		}
		pl, err := w.ensure(ctx, s)
		return pl, false, err
	})
}

func (w *Writer) applyGroups(ctx context.Context, p *part, groups []sqlsink.Group[*plan]) error {
	for _, g := range groups {
		var err error
		switch {
		case w.o.Mode == "changelog":
			err = w.appendChanges(ctx, p, g.Plan, g.Changes)
		default:
			err = w.upsertChanges(ctx, p, g.Plan, g.Changes)
		}
		if err != nil {
			return fmt.Errorf("write %d changes into %s: %w", len(g.Changes), g.Plan.t.name, err)
		}
	}
	return nil
}

// upsertChanges applies changes of one table in upsert mode: a batch of snapshot rows is
// COPYed straight in when the table has none of them yet; otherwise the batch is reduced
// to the last change per key and applied as one delete and one upsert per shape.
func (w *Writer) upsertChanges(ctx context.Context, p *part, pl *plan, changes []event.Change) error {
	if pl.copyOK.Load() && sqlsink.AllReads(changes) {
		return w.copyReads(ctx, p, pl, changes)
	}
	final := p.co.Coalesce(changes)
	var dels, ups []event.Row
	var deleted []bool
	masks := map[string][]int{}
	for i := range final {
		c := &final[i]
		if c.Op == event.OpDelete {
			if w.o.DeleteMode == "soft" {
				ups, deleted = append(ups, c.Before), append(deleted, true)
				masks[""] = append(masks[""], len(ups)-1)
				continue
			}
			dels = append(dels, c.Before)
			continue
		}
		ups, deleted = append(ups, c.After), append(deleted, false)
		m := sqlsink.UnchangedMask(c.After)
		masks[m] = append(masks[m], len(ups)-1)
	}
	if len(dels) > 0 {
		args, err := w.columnArrays(p, pl, dels, pl.s.Key, nil)
		if err != nil {
			return err
		}
		if _, err := p.tx.Exec(ctx, pl.del, args...); err != nil {
			return fmt.Errorf("delete %d rows: %w", len(dels), err)
		}
	}
	for m, idx := range masks {
		rows := make([]event.Row, len(idx))
		flags := make([]bool, len(idx))
		for i, j := range idx {
			rows[i], flags[i] = ups[j], deleted[j]
		}
		skip := sqlsink.MaskSkips(m)
		sql, ok := pl.upsert[m]
		if !ok {
			sql = w.upsertSQL(pl, skip)
			w.mu.Lock()
			pl.upsert[m] = sql
			w.mu.Unlock()
		}
		cols := make([]int, 0, len(pl.s.Columns))
		for i := range pl.s.Columns {
			if skip == nil || !skip[i] {
				cols = append(cols, i)
			}
		}
		var soft []bool
		if w.o.DeleteMode == "soft" {
			soft = flags
		}
		args, err := w.columnArrays(p, pl, rows, cols, soft)
		if err != nil {
			return err
		}
		if _, err := p.tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("upsert %d rows: %w", len(rows), err)
		}
	}
	return nil
}

// columnArrays builds one text[] argument per column in cols from rows, then the
// soft-delete flags when given.
func (w *Writer) columnArrays(p *part, pl *plan, rows []event.Row, cols []int, soft []bool) ([]any, error) {
	args := make([]any, 0, len(cols)+1)
	for _, ci := range cols {
		kind := pl.s.Columns[ci].Type.Kind
		arr := make([]pgtype.Text, len(rows))
		for r, row := range rows {
			v := row[ci]
			if v.IsNull() {
				continue
			}
			v, err := pl.native(ci, v)
			if err == nil {
				p.scratch, err = appendText(p.scratch[:0], v, kind)
			}
			if err != nil {
				return nil, fault.AsFatal(fmt.Errorf("column %s of %s, row key %s: %w", pl.s.Columns[ci].Name, pl.s.ID, sqlsink.KeyText(pl.s, row), err))
			}
			arr[r] = pgtype.Text{String: string(p.scratch), Valid: true}
		}
		args = append(args, pgtype.FlatArray[pgtype.Text](arr))
	}
	if soft != nil {
		arr := make([]string, len(soft))
		for i, d := range soft {
			arr[i] = "f"
			if d {
				arr[i] = "t"
			}
		}
		args = append(args, arr)
	}
	return args, nil
}

// copyReads COPYs snapshot rows straight into the table, in a savepoint: in the binary
// format when the table and the rows allow (binary.go), else as text. If a row is there
// already (a chunk read again after a crash, a table written before), the COPY is rolled
// back, and the table takes upserts from then on.
func (w *Writer) copyReads(ctx context.Context, p *part, pl *plan, changes []event.Change) error {
	sql, err := pl.copyBinary(p, changes)
	if sql == "" && err == nil {
		sql, err = pl.copyText(p, changes)
	}
	if err != nil {
		return err
	}
	if _, err := p.tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(p.buf), sql); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			pl.copyOK.Store(false)
			w.log.Debug("snapshot rows already in the table: upserting them from now on", "table", pl.t.name)
			return errCopyConflict
		}
		return fmt.Errorf("copy %d snapshot rows: %w", len(changes), err)
	}
	return nil
}

// copyBinary puts changes' rows in p.buf in COPY's binary format and returns the
// statement, or "" when the table or a value has no binary form here.
func (pl *plan) copyBinary(p *part, changes []event.Change) (string, error) {
	if pl.bin == nil {
		return "", nil
	}
	p.buf = append(p.buf[:0], copyBinaryHeader...)
	for i := range changes {
		var ok bool // (a table with array columns has no binary form: nothing is native)
		if p.buf, ok = appendBinaryRow(p.buf, changes[i].After, pl.bin, pl.kinds); !ok {
			return "", nil
		}
	}
	p.buf = append(p.buf, 0xff, 0xff) // the trailer: a tuple of -1 fields
	return pl.copyBin, nil
}

// copyText puts changes' rows in p.buf in COPY's text format and returns the statement.
func (pl *plan) copyText(p *part, changes []event.Change) (string, error) {
	p.buf = p.buf[:0]
	for i := range changes {
		row := changes[i].After
		for ci := range pl.s.Columns {
			if ci > 0 {
				p.buf = append(p.buf, '\t')
			}
			var v event.Value
			if ci < len(row) {
				v = row[ci]
			}
			v, err := pl.native(ci, v)
			if err == nil {
				p.buf, err = appendCopyField(p.buf, v, pl.s.Columns[ci].Type.Kind)
			}
			if err != nil {
				return "", fault.AsFatal(fmt.Errorf("column %s of %s, row key %s: %w", pl.s.Columns[ci].Name, pl.s.ID, sqlsink.KeyText(pl.s, row), err))
			}
		}
		p.buf = append(p.buf, '\n')
	}
	return pl.copy, nil
}

// errCopyConflict: a COPY met a key the table already holds (a chunk read again, a table
// that had rows); the table has switched to upserts and the batch is applied again.
var errCopyConflict = errors.New("snapshot rows already in the table")

// appendChanges appends every change as a row of the changelog table.
func (w *Writer) appendChanges(ctx context.Context, p *part, pl *plan, changes []event.Change) error {
	rows := make([]event.Row, len(changes))
	n := len(pl.s.Columns)
	ops, poss, ids := make([]string, len(changes)), make([]string, len(changes)), make([]string, len(changes))
	tss, befores := make([]pgtype.Text, len(changes)), make([]pgtype.Text, len(changes))
	for i := range changes {
		c := &changes[i]
		rows[i] = c.Row()
		ops[i] = c.Op.Letter()
		poss[i] = c.Pos.String()
		if c.CommitMicros != 0 {
			tss[i] = pgtype.Text{String: string(event.AppendDateTime(nil, c.CommitMicros)) + "+00", Valid: true}
		}
		if c.Op == event.OpUpdate && c.Before != nil {
			befores[i] = pgtype.Text{String: string(event.AppendImage(nil, c.Schema, c.Before)), Valid: true}
		}
		ids[i] = sqlsink.ChangeID(c)
	}
	cols := make([]int, n)
	for i := range cols {
		cols[i] = i
	}
	args, err := w.columnArrays(p, pl, rows, cols, nil)
	if err != nil {
		return err
	}
	args = append(args, ops, poss, pgtype.FlatArray[pgtype.Text](tss), pgtype.FlatArray[pgtype.Text](befores), ids)
	if _, err := p.tx.Exec(ctx, pl.append, args...); err != nil {
		return fmt.Errorf("append %d changes: %w", len(changes), err)
	}
	return nil
}
