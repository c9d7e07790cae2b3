package sqlsink

import (
	"fmt"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// UniqueChangeIDs is a Dialect whose changelog inserts drop a replayed change by a unique
// index on ChangeIDColumn (PostgreSQL's ON CONFLICT DO NOTHING), which a changelog table
// must then have.
type UniqueChangeIDs interface{ UniqueChangeIDs() bool }

// ChangeIDColumn is the column by which a changelog table recognises a change it holds.
const ChangeIDColumn = "_weir_change_id"

// A Fix is a statement that makes an existing table take a source's rows, and why.
type Fix struct{ Why, Stmt string }

// Fit splits what keeps the existing table t from taking the rows of s into the fixes
// that streaming would make of the same difference under behavior (a column added, a
// type widened, a NOT NULL dropped: lenient, try_evolve and evolve do), which a fresh
// snapshot into the table then makes too, and the problems left, each with its fix.
func Fit(d Dialect, t Target, s *event.Schema, changelog bool, behavior string) (fixes []Fix, problems []string) {
	auto := behavior == "lenient" || behavior == "try_evolve" || behavior == "evolve"
	add := func(why, stmt string) {
		if auto {
			fixes = append(fixes, Fix{why, stmt})
			return
		}
		problems = append(problems, why+": "+stmt)
	}
	for _, c := range s.Columns {
		switch {
		case !t.Has(c.Name):
			add(fmt.Sprintf("column %s (%s in the source) is missing", d.Quote(c.Name), c.Type), d.AddColumn(c, false))
		case !t.Holds(c.Name, c.Type):
			add(fmt.Sprintf("column %s is %s, which cannot hold every %s of the source (%s)",
				d.Quote(c.Name), t.TypeName(c.Name), c.Type, c.SourceType), d.AlterType(c.Name, c, false, false))
		case t.NotNull(c.Name) && c.Nullable && !changelog:
			add(fmt.Sprintf("column %s is NOT NULL but the source's may be NULL", d.Quote(c.Name)), d.DropNotNull(c.Name))
		}
	}
	for _, name := range t.Columns() {
		if s.ColumnIndex(name) >= 0 || strings.HasPrefix(name, "_weir_") {
			continue
		}
		if t.NotNull(name) && !t.HasDefault(name) {
			add(fmt.Sprintf("column %s is NOT NULL without a default and the source has no such column", d.Quote(name)), d.DropNotNull(name))
		}
	}
	switch {
	case changelog:
		if !t.Has(ChangeIDColumn) {
			problems = append(problems, fmt.Sprintf("it is not a changelog table (no %s): drop it or choose another table", ChangeIDColumn))
		} else if u, ok := d.(UniqueChangeIDs); ok && u.UniqueChangeIDs() && !t.HasUnique([]string{ChangeIDColumn}) {
			problems = append(problems, fmt.Sprintf("it is not a changelog table (no unique %s): drop it or choose another table", ChangeIDColumn))
		}
	case !t.HasUnique(s.KeyNames()):
		keys := s.KeyNames()
		for i := range keys {
			keys[i] = d.Quote(keys[i])
		}
		problems = append(problems, fmt.Sprintf("it has no primary key or unique index on (%s), which upserts need: %s",
			strings.Join(keys, ", "), d.AddPrimaryKey(s.KeyNames())))
	}
	return fixes, problems
}

// NeedsKey refuses a table without a key where the sink upserts (mode "upsert"): rows
// are found by their key. A sink that appends (changelog) takes it. The error is fatal and
// says what to do.
func NeedsKey(s *event.Schema, mode string) error {
	if mode == "changelog" || len(s.Key) > 0 {
		return nil
	}
	return fault.AsFatal(fmt.Errorf("table %s has no primary key, and sink.mode upsert needs one to find rows: "+
		"give the source table a key (or set scan.incremental.snapshot.chunk.key-column), or use sink.mode: changelog, "+
		"or a sink that appends (file, console)", s.ID))
}
