package postgres

import (
	"context"
	"fmt"
	"slices"
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
// other tables go on. Statements are idempotent (IF [NOT] EXISTS, types compared first),
// so a change replayed after a crash does nothing twice.
func (w *Writer) ApplySchema(ctx context.Context, c *event.SchemaChange) error {
	// Open transactions hold locks that ALTER TABLE waits for: commit them first. Their
	// changes are then committed ahead of the checkpoint, which replay tolerates.
	if err := w.commitParts(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	id := c.Table
	if _, paused := w.paused[id]; paused {
		return nil
	}
	defer w.forget(id)
	t, err := w.describe(ctx, w.pool, id)
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
		if _, err := w.pool.Exec(ctx, st); err != nil {
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
	msg := sqlsink.PauseMessage(quoteID(id), c, why)
	w.paused[id] = msg
	w.log.Error(msg, "table", id.String())
	if w.o.Notify != nil {
		w.o.Notify("table_paused", id.String(), msg)
	}
}

// evolution returns the statements that carry c into target t, or why it cannot be.
func (w *Writer) evolution(t *target, c *event.SchemaChange) ([]string, string) {
	stmts, why, note := sqlsink.Evolution(dialect{w, t}, t, c, w.o.Behavior, w.o.Mode == "changelog")
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
		return sameType(t.cols[col].formatted, n)
	}
	return holds(t.cols[col], ty)
}
func (t *target) NotNull(col string) bool    { return t.cols[col].notNull }
func (t *target) HasDefault(col string) bool { return t.cols[col].hasDef }
func (t *target) TypeName(col string) string { return t.cols[col].formatted }
func (t *target) HasUnique(cols []string) bool {
	want := slices.Sorted(slices.Values(cols))
	return slices.ContainsFunc(t.keys, func(k []string) bool { return slices.Equal(slices.Sorted(slices.Values(k)), want) })
}

// dialect writes PostgreSQL's DDL for table t (sqlsink.Dialect).
type dialect struct {
	w *Writer
	t *target
}

func (d dialect) Quote(ident string) string { return quote(ident) }

// UniqueChangeIDs: a replayed change is dropped by ON CONFLICT on _weir_change_id.
func (d dialect) UniqueChangeIDs() bool { return true }

func (d dialect) AddPrimaryKey(cols []string) string {
	for i := range cols {
		cols[i] = quote(cols[i])
	}
	return fmt.Sprintf("ALTER TABLE %s ADD PRIMARY KEY (%s)", d.t.name, strings.Join(cols, ", "))
}

func (d dialect) DropTable() string { return "DROP TABLE IF EXISTS " + d.t.name }
func (d dialect) Truncate() string  { return "TRUNCATE " + d.t.name }

func (d dialect) RenameTable(to event.TableID) []string { return d.w.renameTable(d.t, to) }

func (d dialect) RenameColumn(from, to string) string {
	return fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", d.t.name, quote(from), quote(to))
}

// AddColumn gives the rows already there the source's default (its binlog has no row
// events for that).
func (d dialect) AddColumn(col event.Column, _ bool) string {
	def := ""
	if col.Default != nil {
		def = " DEFAULT " + quoteLiteral(*col.Default)
		if !col.Nullable && d.w.o.Mode != "changelog" {
			def += " NOT NULL"
		}
	}
	schema, _ := targetName(d.t.id)
	typ, first := d.w.columnType(col, schema)
	if first != "" {
		first += "; "
	}
	return fmt.Sprintf("%sALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s%s", first, d.t.name, quote(col.Name), typ, def)
}

func (d dialect) AlterType(name string, col event.Column, _, _ bool) string {
	schema, _ := targetName(d.t.id)
	typ, first := d.w.columnType(col, schema)
	if first != "" {
		first += "; "
	}
	return fmt.Sprintf("%sALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", first, d.t.name, quote(name), typ, quote(name), typ)
}

func (d dialect) DropNotNull(col string) string {
	return fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", d.t.name, quote(col))
}

func (d dialect) DropColumn(col string) string {
	return fmt.Sprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", d.t.name, quote(col))
}

// quoteLiteral quotes s as a string literal (standard_conforming_strings, the default
// since PostgreSQL 9.1, keeps backslashes as they are); PostgreSQL casts it to the
// column's type.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (w *Writer) renameTable(t *target, to event.TableID) []string {
	fromSchema, fromTable := targetName(t.id)
	toSchema, toTable := targetName(to)
	name := t.name
	var out []string
	if toSchema != fromSchema {
		out = append(out, "CREATE SCHEMA IF NOT EXISTS "+quote(toSchema),
			fmt.Sprintf("ALTER TABLE %s SET SCHEMA %s", name, quote(toSchema)))
		name = quote(toSchema) + "." + quote(fromTable)
	}
	if toTable != fromTable {
		out = append(out, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", name, quote(toTable)))
	}
	return out
}

var _ connector.Truncater = (*Writer)(nil)

// TruncateTable empties table id for a new copy of it (connector.Truncater), and takes it
// out of pause.
func (w *Writer) TruncateTable(ctx context.Context, id event.TableID) error {
	if err := w.commitParts(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.paused, id)
	defer w.forget(id)
	t, err := w.describe(ctx, w.pool, id)
	if err != nil || t == nil {
		return err
	}
	if _, err := w.pool.Exec(ctx, "TRUNCATE TABLE "+t.name); err != nil {
		return fmt.Errorf("postgres sink: truncate %s: %w", t.name, err)
	}
	return nil
}
