package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/event"
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
	msg := fmt.Sprintf("table %s is paused: the sink cannot take %q (%s) at position %s; its changes are not written from here. "+
		"Change the target table by hand to fit the source, then snapshot the table again (drop the target table and restart the "+
		"pipeline with the table in a new pipeline, or resume from a checkpoint before the change)", quoteID(id), c.DDL, why, c.Pos)
	w.paused[id] = msg
	w.log.Error(msg, "table", id.String())
}

// evolution returns the statements that carry c into target t, or why it cannot be.
func (w *Writer) evolution(t *target, c *event.SchemaChange) ([]string, string) {
	evolve := w.o.Behavior == "evolve" || w.o.Behavior == "try_evolve"
	switch c.Kind {
	case event.CreateTable:
		return nil, ""
	case event.DropTable:
		if evolve {
			return []string{"DROP TABLE IF EXISTS " + t.name}, ""
		}
		w.log.Info("the source dropped a table; its rows stay in the sink (schema.change.behavior: lenient)", "table", t.name)
		return nil, ""
	case event.TruncateTable:
		if evolve {
			return []string{"TRUNCATE " + t.name}, ""
		}
		w.log.Info("the source truncated a table; its rows stay in the sink (schema.change.behavior: lenient)", "table", t.name)
		return nil, ""
	case event.RenameTable:
		if c.After == nil {
			return nil, ""
		}
		return w.renameTable(t, c.After.ID), ""
	}
	if c.After == nil {
		return nil, ""
	}
	if w.o.Mode != "changelog" && c.Before != nil && !slices.Equal(c.Before.KeyNames(), c.After.KeyNames()) {
		return nil, fmt.Sprintf("the primary key changed from (%s) to (%s)", strings.Join(c.Before.KeyNames(), ", "), strings.Join(c.After.KeyNames(), ", "))
	}
	var out []string
	renamed := map[string]bool{}
	if c.Kind == event.RenameColumn && c.Column != "" && c.NewName != "" {
		_, hasOld := t.cols[c.Column]
		_, hasNew := t.cols[c.NewName]
		if hasOld && !hasNew {
			out = append(out, fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", t.name, quote(c.Column), quote(c.NewName)))
			renamed[c.Column] = true
			t.cols[c.NewName] = t.cols[c.Column]
		}
	}
	for _, col := range c.After.Columns {
		have, ok := t.cols[col.Name]
		switch {
		case !ok:
			// The source gave its existing rows the column's default (its binlog has no
			// row events for that): the target's rows get it too.
			def := ""
			if col.Default != nil {
				def = " DEFAULT " + quoteLiteral(*col.Default)
				if !col.Nullable && w.o.Mode != "changelog" {
					def += " NOT NULL"
				}
			}
			out = append(out, fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s%s", t.name, quote(col.Name), pgType(col.Type), def))
		case !holds(have, col.Type):
			typ := pgType(col.Type)
			out = append(out, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", t.name, quote(col.Name), typ, quote(col.Name), typ))
		case have.notNull && col.Nullable && w.o.Mode != "changelog":
			out = append(out, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", t.name, quote(col.Name)))
		}
	}
	for _, name := range t.order {
		if renamed[name] || strings.HasPrefix(name, "_weir_") || c.After.ColumnIndex(name) >= 0 {
			continue
		}
		if c.Before != nil && c.Before.ColumnIndex(name) < 0 {
			continue // not the source's column: the user's own, left alone
		}
		switch {
		case evolve:
			out = append(out, fmt.Sprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", t.name, quote(name)))
		case t.cols[name].notNull:
			out = append(out, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", t.name, quote(name)))
		}
	}
	return out, ""
}

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

// quoteLiteral quotes s as a string literal (standard_conforming_strings, the default
// since PostgreSQL 9.1, keeps backslashes as they are); PostgreSQL casts it to the
// column's type.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
