package sqlsink

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Target is what planning a schema change needs to know of a table in the sink.
type Target interface {
	Columns() []string // in table order
	Has(col string) bool
	Holds(col string, t types.Type) bool // the column can hold every value of t
	NotNull(col string) bool
	HasDefault(col string) bool
	TypeName(col string) string   // as the engine prints it, for messages
	HasUnique(cols []string) bool // a primary key or unique index on exactly cols, in any order
}

// Dialect writes one engine's DDL for one table of the sink.
type Dialect interface {
	Quote(ident string) string
	AddPrimaryKey(cols []string) string
	DropTable() string
	Truncate() string
	RenameTable(to event.TableID) []string
	RenameColumn(from, to string) string
	// AddColumn adds c with the source's default (c.Default) for the rows already there.
	AddColumn(c event.Column, inKey bool) string
	// AlterType gives column c (called name in the target) c's type; notNull keeps it NOT NULL.
	AlterType(name string, c event.Column, inKey, notNull bool) string
	DropNotNull(col string) string
	DropColumn(col string) string
}

// Evolution plans the statements that carry schema change c into table t, per
// schema.change.behavior (behavior) and whether the sink keeps a changelog. why is set
// when the table cannot follow (the sink pauses it); note is for the log when the change
// is deliberately not carried over. Statements are planned against the table as it is,
// so a change replayed after a crash plans nothing twice.
func Evolution(d Dialect, t Target, c *event.SchemaChange, behavior string, changelog bool) (stmts []string, why, note string) {
	evolve := behavior == "evolve" || behavior == "try_evolve"
	switch c.Kind {
	case event.CreateTable:
		return nil, "", ""
	case event.DropTable:
		if evolve {
			return []string{d.DropTable()}, "", ""
		}
		return nil, "", "the source dropped a table; its rows stay in the sink (schema.change.behavior: lenient)"
	case event.TruncateTable:
		if evolve {
			return []string{d.Truncate()}, "", ""
		}
		return nil, "", "the source truncated a table; its rows stay in the sink (schema.change.behavior: lenient)"
	case event.RenameTable:
		if c.After == nil || c.After.ID == c.Table {
			return nil, "", ""
		}
		return d.RenameTable(c.After.ID), "", ""
	}
	if c.After == nil {
		return nil, "", ""
	}
	if !changelog && c.Before != nil && !slices.Equal(c.Before.KeyNames(), c.After.KeyNames()) {
		return nil, fmt.Sprintf("the primary key changed from (%s) to (%s)",
			strings.Join(c.Before.KeyNames(), ", "), strings.Join(c.After.KeyNames(), ", ")), ""
	}
	var out []string
	// target names a source column in the table: itself, or the column it was renamed from.
	renamedFrom := ""
	if c.Kind == event.RenameColumn && c.Column != "" && c.NewName != "" && t.Has(c.Column) && !t.Has(c.NewName) {
		out = append(out, d.RenameColumn(c.Column, c.NewName))
		renamedFrom = c.Column
	}
	target := func(name string) string {
		if renamedFrom != "" && name == c.NewName {
			return renamedFrom
		}
		return name
	}
	for i, col := range c.After.Columns {
		name := target(col.Name)
		inKey := !changelog && slices.Contains(c.After.Key, i)
		switch {
		case !t.Has(name):
			out = append(out, d.AddColumn(col, inKey))
		case !t.Holds(name, col.Type):
			out = append(out, d.AlterType(col.Name, col, inKey, t.NotNull(name) && (!col.Nullable || inKey) && !changelog))
		case t.NotNull(name) && col.Nullable && !changelog:
			out = append(out, d.DropNotNull(col.Name))
		}
	}
	for _, name := range t.Columns() {
		if name == renamedFrom || strings.HasPrefix(name, "_weir_") || c.After.ColumnIndex(name) >= 0 {
			continue
		}
		if c.Before != nil && c.Before.ColumnIndex(name) < 0 {
			continue // not the source's column: the user's own, left alone
		}
		switch {
		case evolve:
			out = append(out, d.DropColumn(name))
		case t.NotNull(name):
			out = append(out, d.DropNotNull(name))
		}
	}
	return out, "", ""
}

// PauseMessage says that table (as the sink names it) is paused because it cannot take
// schema change c, and what the user does about it.
func PauseMessage(table string, c *event.SchemaChange, why string) string {
	return fmt.Sprintf("table %s is paused: the sink cannot take %q (%s) at position %s; its changes are not written from here. "+
		"Either change the target table by hand to fit the source and restart the pipeline, or copy the table again: "+
		"`weir resnapshot PIPELINE.yaml --table SOURCE_TABLE` with the pipeline stopped (it empties the target table, "+
		"takes it out of pause and copies it beside the stream)", table, c.DDL, why, c.Pos)
}

// pausedTable is one paused table as kept in the checkpoint row.
type pausedTable struct {
	Table   event.TableID `json:"table"`
	Message string        `json:"message"`
}

// EncodePaused is the paused tables and their messages as the checkpoint row keeps them
// (a JSON list in table order), so that a pause outlives the process: "" for none.
func EncodePaused(paused map[event.TableID]string) string {
	if len(paused) == 0 {
		return ""
	}
	list := make([]pausedTable, 0, len(paused))
	for id, msg := range paused {
		list = append(list, pausedTable{id, msg})
	}
	slices.SortFunc(list, func(a, b pausedTable) int { return strings.Compare(a.Table.String(), b.Table.String()) })
	b, _ := json.Marshal(list)
	return string(b)
}

// DecodePaused reads what EncodePaused wrote into paused.
func DecodePaused(s string, paused map[event.TableID]string) error {
	if s == "" {
		return nil
	}
	var list []pausedTable
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return fmt.Errorf("the paused tables %q are not readable: %w", s, err)
	}
	for _, p := range list {
		paused[p.Table] = p.Message
	}
	return nil
}
