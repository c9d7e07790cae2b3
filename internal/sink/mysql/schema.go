package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/sqlsink"
	"github.com/weir-data/weir/internal/types"
)

// ApplySchema carries a source schema change into the target table, per
// schema.change.behavior:
//
//	lenient     add columns, widen types, rename columns and tables; a dropped column
//	            stays and becomes nullable; DROP TABLE and TRUNCATE keep the target's rows
//	try_evolve  as evolve, but a statement the target refuses is logged and skipped
//	evolve      everything, dropped columns and tables included
//
// A change the target cannot take (a type it cannot convert its rows to, a new key)
// pauses that table: its changes are no longer written, the log says what to do, and the
// other tables go on. Statements are planned against the table as it is (columns
// compared first), so a change replayed after a crash does nothing twice.
func (w *Writer) ApplySchema(ctx context.Context, c *event.SchemaChange) error {
	// DDL commits implicitly and waits for the open transactions' locks: commit them
	// first. Their changes are then committed ahead of the checkpoint, which replay
	// tolerates.
	if err := w.commitParts(ctx, true); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	id := c.Table
	if _, paused := w.paused[id]; paused {
		return nil
	}
	defer w.forget(id)
	t, err := w.describe(ctx, id)
	if err != nil {
		return err
	}
	if t == nil {
		return nil // nothing there yet: the table is created from its new schema at its first row
	}
	stmts, why := w.evolution(t, c)
	if why != "" {
		w.pause(id, c, why)
		return nil
	}
	for _, st := range stmts {
		if _, err := run(ctx, w.ctl, st); err != nil {
			if mysqlCode(err) == 0 {
				return fmt.Errorf("mysql sink: %s: %w", st, err) // the connection, not the statement
			}
			if w.o.Behavior == "try_evolve" {
				w.log.Warn("the sink refused a schema change; skipped (schema.change.behavior: try_evolve)",
					"table", t.name, "statement", st, "err", err)
				continue
			}
			w.pause(id, c, fmt.Sprintf("%s failed: %v", st, err))
			return nil
		}
		w.log.Info("schema change applied", "table", t.name, "statement", st)
	}
	if c.Kind == event.RenameTable && c.After != nil {
		w.forget(c.After.ID)
	}
	return nil
}

func (w *Writer) pause(id event.TableID, c *event.SchemaChange, why string) {
	msg := sqlsink.PauseMessage(w.quoteID(id), c, why)
	w.paused[id] = msg
	w.log.Error(msg, "table", id.String())
	if w.o.Notify != nil {
		w.o.Notify("table_paused", id.String(), msg)
	}
}

// evolution returns the statements that carry c into target t, or why it cannot be.
func (w *Writer) evolution(t *target, c *event.SchemaChange) ([]string, string) {
	d := &dialect{w: w, t: t}
	for _, col := range t.cols {
		if n := col.capacity(); n > 0 && n < 1<<16 {
			d.rowBytes += int(n) * 4
		}
	}
	stmts, why, note := sqlsink.Evolution(d, t, c, w.o.Behavior, w.o.Mode == "changelog")
	if note != "" {
		w.log.Info(note, "table", t.name)
	}
	return stmts, why
}

// Columns, Has, Holds and NotNull make a target a sqlsink.Target.
func (t *target) Columns() []string   { return t.order }
func (t *target) Has(col string) bool { _, ok := t.cols[col]; return ok }
func (t *target) Holds(col string, ty types.Type) bool {
	if n := t.native[col]; n != "" {
		return sameNative(t.cols[col].typ, n)
	}
	return holds(t.cols[col], ty)
}
func (t *target) NotNull(col string) bool      { return t.cols[col].notNull }
func (t *target) HasDefault(col string) bool   { return t.cols[col].hasDef }
func (t *target) TypeName(col string) string   { return t.cols[col].typ }
func (t *target) HasUnique(cols []string) bool { return t.keyIndex(cols) != "" }

// dialect writes MySQL's DDL for table t (sqlsink.Dialect).
type dialect struct {
	w        *Writer
	t        *target
	rowBytes int // of the row as it stands, for myType's choice of varchar or text
}

func (d *dialect) Quote(ident string) string { return quote(ident) }

func (d *dialect) AddPrimaryKey(cols []string) string {
	for i := range cols {
		cols[i] = quote(cols[i])
	}
	return fmt.Sprintf("ALTER TABLE %s ADD PRIMARY KEY (%s)", d.t.name, strings.Join(cols, ", "))
}

func (d *dialect) DropTable() string { return "DROP TABLE IF EXISTS " + d.t.name }
func (d *dialect) Truncate() string  { return "TRUNCATE TABLE " + d.t.name }

func (d *dialect) RenameTable(to event.TableID) []string {
	db, _ := d.w.targetName(to)
	return []string{"CREATE DATABASE IF NOT EXISTS " + quote(db), fmt.Sprintf("RENAME TABLE %s TO %s", d.t.name, d.w.quoteID(to))}
}

// RenameColumn also renames the column in t, so that the statements after it (MODIFY
// needs the column's full type) find it under its new name.
func (d *dialect) RenameColumn(from, to string) string {
	d.t.cols[to] = d.t.cols[from]
	return fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", d.t.name, quote(from), quote(to))
}

// AddColumn gives the rows already there the source's default (its binlog has no row
// events for that).
func (d *dialect) AddColumn(col event.Column, inKey bool) string {
	def := ""
	if col.Default != nil {
		def = " DEFAULT " + stringLiteral(*col.Default)
		if !col.Nullable && d.w.o.Mode != "changelog" {
			def = " NOT NULL" + def
		}
	}
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s%s", d.t.name, quote(col.Name), d.w.colType(col, keyBytes(inKey), &d.rowBytes), def)
}

func (d *dialect) AlterType(name string, col event.Column, inKey, notNull bool) string {
	null := " NULL"
	if notNull {
		null = " NOT NULL"
	}
	return fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s%s", d.t.name, quote(name), d.w.colType(col, keyBytes(inKey), &d.rowBytes), null)
}

// keyBytes is the index bytes a key column changed on its own may take: all of them.
func keyBytes(inKey bool) int {
	if inKey {
		return maxKeyBytes
	}
	return 0
}

func (d *dialect) DropNotNull(col string) string {
	return fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s NULL", d.t.name, quote(col), d.t.cols[col].typ)
}

func (d *dialect) DropColumn(col string) string {
	return fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", d.t.name, quote(col))
}

var _ connector.Truncater = (*Writer)(nil)

// TruncateTable empties table id for a new copy of it (connector.Truncater), and takes it
// out of pause.
func (w *Writer) TruncateTable(ctx context.Context, id event.TableID) error {
	if err := w.commitParts(ctx, true); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.paused, id)
	defer w.forget(id)
	t, err := w.describe(ctx, id)
	if err != nil || t == nil {
		return err
	}
	if _, err := run(ctx, w.ctl, "TRUNCATE TABLE "+t.name); err != nil {
		return fmt.Errorf("mysql sink: truncate %s: %w", t.name, err)
	}
	return nil
}
