package mysql

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
	msg := fmt.Sprintf("table %s is paused: the sink cannot take %q (%s) at position %s; its changes are not written from here. "+
		"Change the target table by hand to fit the source, then snapshot the table again (drop the target table and restart the "+
		"pipeline with the table in a new pipeline, or resume from a checkpoint before the change)", w.quoteID(id), c.DDL, why, c.Pos)
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
			return []string{"TRUNCATE TABLE " + t.name}, ""
		}
		w.log.Info("the source truncated a table; its rows stay in the sink (schema.change.behavior: lenient)", "table", t.name)
		return nil, ""
	case event.RenameTable:
		if c.After == nil || c.After.ID == t.id {
			return nil, ""
		}
		db, _ := w.targetName(c.After.ID)
		return []string{"CREATE DATABASE IF NOT EXISTS " + quote(db), fmt.Sprintf("RENAME TABLE %s TO %s", t.name, w.quoteID(c.After.ID))}, ""
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
	rowBytes := 0
	for _, col := range t.cols {
		if n := col.capacity(); n > 0 && n < 1<<16 {
			rowBytes += int(n) * 4
		}
	}
	for i, col := range c.After.Columns {
		have, ok := t.cols[col.Name]
		inKey := w.o.Mode != "changelog" && slices.Contains(c.After.Key, i)
		switch {
		case !ok:
			// The source gave its existing rows the column's default (its binlog has no
			// row events for that): the target's rows get it too.
			def := ""
			if col.Default != nil {
				def = " DEFAULT " + stringLiteral(*col.Default)
				if !col.Nullable && w.o.Mode != "changelog" {
					def = " NOT NULL" + def
				}
			}
			out = append(out, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s%s", t.name, quote(col.Name), myType(col.Type, inKey, &rowBytes), def))
		case !holds(have, col.Type):
			null := " NULL"
			if have.notNull && (!col.Nullable || inKey) && w.o.Mode != "changelog" {
				null = " NOT NULL"
			}
			out = append(out, fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s%s", t.name, quote(col.Name), myType(col.Type, inKey, &rowBytes), null))
		case have.notNull && col.Nullable && w.o.Mode != "changelog":
			out = append(out, fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s NULL", t.name, quote(col.Name), have.typ))
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
			out = append(out, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", t.name, quote(name)))
		case t.cols[name].notNull:
			out = append(out, fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s NULL", t.name, quote(name), t.cols[name].typ))
		}
	}
	return out, ""
}
