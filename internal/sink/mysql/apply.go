package mysql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/sink/sqlsink"
)

// part is one engine writer's connection and open transaction. Only that writer's
// goroutine uses it between commits.
type part struct {
	index int
	conn  *client.Conn
	inTx  bool
	reads bool   // the open transaction holds snapshot rows: it waits for the checkpoint
	xid   string // the open transaction is this XA transaction (begun while not settled)
	xids  int    // XA transactions begun, for unique ids
	buf   []byte
	co    sqlsink.Coalescer
}

func (p *part) rollback() {
	if p.inTx && p.conn != nil {
		q := "ROLLBACK"
		if p.xid != "" {
			q = "XA END " + stringLiteral(p.xid) + ";XA ROLLBACK " + stringLiteral(p.xid)
		}
		if err := runMulti(context.Background(), p.conn, q); err != nil {
			p.broken()
		}
	}
	p.inTx, p.reads, p.xid = false, false, ""
}

// broken drops the connection: its state is unknown (a cancelled or failed statement).
func (p *part) broken() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	p.inTx, p.reads, p.xid = false, false, ""
}

// part returns partition i with a transaction open: an XA transaction when the batch is
// not settled (a snapshot runs: the checkpoint commits in two phases), else a plain one.
func (w *Writer) part(ctx context.Context, i int, settled bool) (*part, error) {
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
	if p.inTx {
		return p, nil
	}
	var err error
	if p.conn == nil {
		if p.conn, err = w.dial(ctx); err != nil {
			return nil, fmt.Errorf("connect writer %d: %w", i, err)
		}
	}
	begin := "BEGIN"
	if !settled {
		p.xids++
		p.xid = w.xid(i, p.xids)
		begin = "XA START " + stringLiteral(p.xid)
	}
	if _, err = run(ctx, p.conn, begin); err != nil {
		p.broken()
		return nil, fmt.Errorf("mysql sink: begin a transaction (writer %d): %w", i, err)
	}
	p.inTx = true
	return p, nil
}

// Apply writes a partition's batch inside its open transaction, in a savepoint: a lock
// wait timeout rolls back to it and the batch is applied again. Any other failure ends
// the transaction, and the error says whether the pipeline may resume. A settled batch
// is committed at once unless the transaction holds snapshot rows.
func (w *Writer) Apply(ctx context.Context, b *connector.Batch) error {
	groups, err := w.groups(ctx, b.Changes)
	if err != nil {
		return err
	}
	p, err := w.part(ctx, b.Partition, b.Settled)
	if err != nil {
		return err
	}
	p.reads = p.reads || sqlsink.AnyReads(b.Changes)
	for attempt := 1; ; attempt++ {
		if _, err = run(ctx, p.conn, "SAVEPOINT weir_batch"); err == nil {
			err = w.applyGroups(ctx, p, groups)
		}
		if err == nil {
			if b.Settled && !p.reads && p.xid == "" {
				return w.commitPart(ctx, p) // visible now (see the package doc)
			}
			return nil
		}
		if mysqlCode(err) == 1205 && attempt < 5 { // lock wait timeout: the statement alone was rolled back
			if _, rerr := run(ctx, p.conn, "ROLLBACK TO SAVEPOINT weir_batch"); rerr == nil {
				w.log.Debug("batch retried", "writer", p.index, "attempt", attempt, "err", err)
				time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
				continue
			}
		}
		if mysqlCode(err) == 0 {
			p.broken() // not the server's answer: the connection's state is unknown
		} else {
			p.rollback()
		}
		return fmt.Errorf("mysql sink: writer %d: %w", p.index, err)
	}
}

// groups splits changes by schema (sqlsink.GroupBySchema) and makes each schema's table
// ready. Changes of paused tables are left out.
func (w *Writer) groups(ctx context.Context, changes []event.Change) ([]sqlsink.Group[*plan], error) {
	return sqlsink.GroupBySchema(changes, func(s *event.Schema) (*plan, bool, error) { return w.plan(ctx, s) })
}

func (w *Writer) plan(ctx context.Context, s *event.Schema) (*plan, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, paused := w.paused[s.ID]; paused {
		return nil, true, nil
	}
	pl, err := w.ensure(ctx, s)
	return pl, false, err
}

func (w *Writer) applyGroups(ctx context.Context, p *part, groups []sqlsink.Group[*plan]) error {
	for _, g := range groups {
		var err error
		if w.o.Mode == "changelog" {
			err = w.appendChanges(ctx, p, g.Plan, g.Changes)
		} else {
			err = w.upsertChanges(ctx, p, g.Plan, g.Changes)
		}
		if err != nil {
			return fmt.Errorf("write %d changes into %s: %w", len(g.Changes), g.Plan.t.name, err)
		}
	}
	return nil
}

// upsertChanges applies changes of one table in upsert mode: the batch is reduced to the
// last change per key, then applied as one set-based delete and one multi-row upsert per
// shape (the columns the source sent), each split under the statement size limit.
func (w *Writer) upsertChanges(ctx context.Context, p *part, pl *plan, changes []event.Change) error {
	final := changes
	if !sqlsink.AllReads(changes) { // snapshot rows have distinct keys already
		final = p.co.Coalesce(changes)
	}
	var dels []event.Row
	type shaped struct {
		rows    []event.Row
		deleted []bool
	}
	shapes := map[string]*shaped{}
	add := func(mask string, row event.Row, deleted bool) {
		sh := shapes[mask]
		if sh == nil {
			sh = &shaped{}
			shapes[mask] = sh
		}
		sh.rows, sh.deleted = append(sh.rows, row), append(sh.deleted, deleted)
	}
	for i := range final {
		c := &final[i]
		switch {
		case c.Op == event.OpDelete && w.o.DeleteMode == "soft":
			add("", c.Before, true)
		case c.Op == event.OpDelete:
			dels = append(dels, c.Before)
		default:
			add(sqlsink.UnchangedMask(c.After), c.After, false)
		}
	}
	if len(dels) > 0 {
		if err := w.deleteRows(ctx, p, pl, dels); err != nil {
			return err
		}
	}
	for mask, sh := range shapes {
		skip := sqlsink.MaskSkips(mask)
		w.mu.Lock()
		head, tail := w.upsertSQL(pl, mask, skip)
		w.mu.Unlock()
		p.buf = append(p.buf[:0], head...)
		n := 0
		for r, row := range sh.rows {
			if n > 0 {
				p.buf = append(p.buf, ',')
			}
			var err error
			if p.buf, err = w.appendRow(p.buf, pl.s, row, skip); err != nil {
				return err
			}
			if w.o.DeleteMode == "soft" {
				p.buf = p.buf[:len(p.buf)-1]
				if sh.deleted[r] {
					p.buf = append(p.buf, ",1)"...)
				} else {
					p.buf = append(p.buf, ",0)"...)
				}
			}
			n++
			if len(p.buf) >= w.maxStmt || r == len(sh.rows)-1 {
				p.buf = append(p.buf, tail...)
				if _, err := run(ctx, p.conn, string(p.buf)); err != nil {
					return fmt.Errorf("upsert %d rows: %w", n, err)
				}
				p.buf, n = append(p.buf[:0], head...), 0
			}
		}
	}
	return nil
}

// appendRow appends "(v1, v2, …)" for the columns of row not in skip.
func (w *Writer) appendRow(b []byte, s *event.Schema, row event.Row, skip []bool) ([]byte, error) {
	b = append(b, '(')
	first := true
	for ci := range s.Columns {
		if skip != nil && skip[ci] {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		var v event.Value
		if ci < len(row) {
			v = row[ci]
		}
		var err error
		if b, err = appendLiteral(b, v, s.Columns[ci].Type.Kind); err != nil {
			return b, fault.AsFatal(fmt.Errorf("column %s of %s, row key %s: %w", s.Columns[ci].Name, s.ID, sqlsink.KeyText(s, row), err))
		}
	}
	return append(b, ')'), nil
}

// deleteRows deletes rows by key, one DELETE … WHERE key = … per row, many statements
// to a round trip. (A set-based DELETE … IN (…) is planned as a scan on a small table,
// and a scan waits for the rows the other partitions' open transactions hold; a lookup
// of one key by constants never scans.)
func (w *Writer) deleteRows(ctx context.Context, p *part, pl *plan, rows []event.Row) error {
	p.buf = p.buf[:0]
	n := 0
	for r, row := range rows {
		p.buf = append(p.buf, pl.del...)
		for i, k := range pl.s.Key {
			if i > 0 {
				p.buf = append(p.buf, " AND "...)
			}
			p.buf = append(p.buf, quote(pl.s.Columns[k].Name)...)
			p.buf = append(p.buf, " = "...)
			var err error
			if p.buf, err = appendLiteral(p.buf, row[k], pl.s.Columns[k].Type.Kind); err != nil {
				return fault.AsFatal(fmt.Errorf("key column %s of %s: %w", pl.s.Columns[k].Name, pl.s.ID, err))
			}
		}
		n++
		if len(p.buf) >= w.maxStmt || r == len(rows)-1 {
			if err := runMulti(ctx, p.conn, string(p.buf)); err != nil {
				return fmt.Errorf("delete %d rows: %w", n, err)
			}
			p.buf, n = p.buf[:0], 0
		} else {
			p.buf = append(p.buf, ';')
		}
	}
	return nil
}

// appendChanges appends every change as a row of the changelog table, in order.
func (w *Writer) appendChanges(ctx context.Context, p *part, pl *plan, changes []event.Change) error {
	head, seen := pl.insert[""], pl.update[""]
	ids := make([]string, len(changes))
	for i := range changes {
		ids[i] = sqlsink.ChangeID(&changes[i])
	}
	// A change already in the table is a replay after a crash: a plain, non-locking read
	// finds them (every earlier transaction is resolved by then), so the insert needs no
	// unique index and takes no gap lock.
	have := map[string]bool{}
	for lo := 0; lo < len(ids); lo += 1000 {
		q := seen + "'" + strings.Join(ids[lo:min(lo+1000, len(ids))], "','") + "')"
		res, err := run(ctx, p.conn, q)
		if err != nil {
			return fmt.Errorf("look for replayed changes: %w", err)
		}
		for r := range res.Values {
			have[str(res, r, 0)] = true
		}
		res.Close()
	}
	p.buf = append(p.buf[:0], head...)
	n := 0
	for i := range changes {
		c := &changes[i]
		if have[ids[i]] {
			if i == len(changes)-1 && n > 0 {
				if _, err := run(ctx, p.conn, string(p.buf)); err != nil {
					return fmt.Errorf("append %d changes: %w", n, err)
				}
			}
			continue
		}
		if n > 0 {
			p.buf = append(p.buf, ',')
		}
		var err error
		if p.buf, err = w.appendRow(p.buf, pl.s, c.Row(), nil); err != nil {
			return err
		}
		p.buf = p.buf[:len(p.buf)-1]
		p.buf = append(p.buf, ",'"...)
		p.buf = append(p.buf, c.Op.Letter()...)
		p.buf = append(p.buf, "',"...)
		p.buf = appendQuoted(p.buf, c.Pos.String())
		p.buf = append(p.buf, ',')
		if c.CommitMicros != 0 {
			p.buf = append(p.buf, '\'')
			p.buf = event.AppendDateTime(p.buf, c.CommitMicros)
			p.buf = append(p.buf, '\'')
		} else {
			p.buf = append(p.buf, "NULL"...)
		}
		p.buf = append(p.buf, ',')
		if c.Op == event.OpUpdate && c.Before != nil {
			p.buf = appendQuoted(p.buf, string(event.AppendImage(nil, c.Schema, c.Before)))
		} else {
			p.buf = append(p.buf, "NULL"...)
		}
		p.buf = append(p.buf, ",'"...)
		p.buf = append(p.buf, ids[i]...)
		p.buf = append(p.buf, "')"...)
		n++
		if len(p.buf) >= w.maxStmt || i == len(changes)-1 {
			if _, err := run(ctx, p.conn, string(p.buf)); err != nil {
				return fmt.Errorf("append %d changes: %w", n, err)
			}
			p.buf, n = append(p.buf[:0], head...), 0
		}
	}
	return nil
}
