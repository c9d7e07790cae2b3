package sqlsink

import (
	"fmt"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/event"
)

// The source's secondary indexes in the target (connector.IndexBuilder), planned alike
// for both SQL sinks. An index is made:
//   - after the table's snapshot rows are in, beside the stream (the engine calls the
//     build), as pg_dump does: loading into an indexed table is slower than indexing it;
//   - only in a table the sink created (its comment says so): a table that was there is
//     the user's, and the sink says which of the source's indexes it lacks;
//   - not when the primary key covers it (the same columns), nor when an index on the same
//     columns is there already under any name;
//   - as a plain index where the source's is UNIQUE: the sink applies changes through the
//     primary key from parallel writers, each committing on its own, so a unique index on
//     other columns could refuse a state between two writers' commits that the source
//     never had (one row giving a value up, another taking it) and stop the pipeline; the
//     rows are unique anyway, as the source's are;
//   - as the engine can make it: a kind it has no equivalent of is skipped, and said.

// ExistingIndex is an index a target table has.
type ExistingIndex struct {
	Name    string
	Columns []string // "" for an expression
	Valid   bool     // PostgreSQL: an index a CREATE INDEX CONCURRENTLY left unfinished is not
}

// IndexMaker writes one engine's index DDL for one table.
type IndexMaker interface {
	// IndexName is the name the target gives the source's index ix.
	IndexName(ix event.Index) string
	// CreateIndex makes ix as name; skip says why it cannot be made instead.
	CreateIndex(name string, ix event.Index) (stmt, skip string)
	DropIndex(name string) string
}

// IndexStep makes one index: Drop (if set) first, an unfinished one of the same name.
type IndexStep struct {
	Name, Drop, Create string
	Plain              bool // the source's index is unique; this one is not (see above)
}

// PlanIndexes plans the indexes of want that table s (the sink table's schema) lacks,
// given those it has; skipped says, per index, why one is not made.
func PlanIndexes(d IndexMaker, s *event.Schema, want []event.Index, have []ExistingIndex) (steps []IndexStep, skipped []string) {
	key := s.KeyNames()
	for _, ix := range want {
		cols := ix.ColumnNames()
		if slices.EqualFunc(cols, key, strings.EqualFold) && ix.Kind == "" {
			continue // the primary key is this index
		}
		name := d.IndexName(ix)
		drop := ""
		done := false
		for _, h := range have {
			switch {
			case strings.EqualFold(h.Name, name) && !h.Valid:
				drop = d.DropIndex(h.Name)
			case h.Valid && (strings.EqualFold(h.Name, name) || slices.EqualFunc(h.Columns, cols, strings.EqualFold)):
				done = true
			}
		}
		if done {
			continue
		}
		stmt, skip := d.CreateIndex(name, ix)
		if skip != "" {
			skipped = append(skipped, fmt.Sprintf("index %s (%s): %s", ix.Name, strings.Join(cols, ", "), skip))
			continue
		}
		steps = append(steps, IndexStep{Name: name, Drop: drop, Create: stmt, Plain: ix.Unique})
	}
	return steps, skipped
}

// GoneIndexes are the names of the indexes the table has that the sink made for indexes
// the source dropped (or redefined: the new one is made after).
func GoneIndexes(d IndexMaker, gone []event.Index, have []ExistingIndex) []string {
	var out []string
	for _, g := range gone {
		name := d.IndexName(g)
		if slices.ContainsFunc(have, func(h ExistingIndex) bool { return strings.EqualFold(h.Name, name) }) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// LackedIndexes are the indexes of want that a table the sink did not create has no
// index on the same columns for, as "name (columns)".
func LackedIndexes(s *event.Schema, want []event.Index, have []ExistingIndex) []string {
	var out []string
	for _, ix := range want {
		cols := ix.ColumnNames()
		if slices.EqualFunc(cols, s.KeyNames(), strings.EqualFold) {
			continue
		}
		if !slices.ContainsFunc(have, func(h ExistingIndex) bool { return h.Valid && slices.EqualFunc(h.Columns, cols, strings.EqualFold) }) {
			out = append(out, fmt.Sprintf("%s (%s)", ix.Name, strings.Join(cols, ", ")))
		}
	}
	return out
}

// CreatedComment is the comment a SQL sink gives the tables it creates, by which it
// knows them as its own (to build their indexes) after a restart.
func CreatedComment(pipeline string) string {
	return "created by weir (pipeline " + pipeline + ")"
}

// IsCreated reports whether a table's comment says a weir sink created it.
func IsCreated(comment string) bool { return strings.HasPrefix(comment, "created by weir") }

// IndexAdvice is what `weir validate` says of the source's indexes a SQL sink would make
// (connector.SinkDef.Advise): those it cannot (skip says why, "" where it can), and the
// unique ones it makes plain.
func IndexAdvice(schemas []*event.Schema, skip func(s *event.Schema, ix event.Index) string) []string {
	var out []string
	for _, s := range schemas {
		for _, ix := range s.Indexes {
			cols := strings.Join(ix.ColumnNames(), ", ")
			if why := skip(s, ix); why != "" {
				out = append(out, fmt.Sprintf("table %s: its index %s (%s) is not made in the target: %s", s.ID, ix.Name, cols, why))
			} else if ix.Unique {
				out = append(out, fmt.Sprintf("table %s: its unique index %s (%s) is made as a plain index (the writers commit apart; see the sink's docs)", s.ID, ix.Name, cols))
			}
		}
	}
	return out
}
