package sqlsink

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// fakeTable is a target table: column → its kind and NOT NULL.
type fakeTable struct {
	order   []string
	kind    map[string]types.Kind
	notNull map[string]bool
}

func (f fakeTable) Columns() []string            { return f.order }
func (f fakeTable) Has(c string) bool            { _, ok := f.kind[c]; return ok }
func (f fakeTable) NotNull(c string) bool        { return f.notNull[c] }
func (f fakeTable) HasDefault(string) bool       { return false }
func (f fakeTable) TypeName(c string) string     { return f.kind[c].String() }
func (f fakeTable) HasUnique(cols []string) bool { return slices.Equal(cols, []string{"id"}) }
func (f fakeTable) Holds(c string, t types.Type) bool {
	return f.kind[c] == t.Kind || (f.kind[c] == types.Int64 && t.Kind == types.Int32)
}

// words writes each statement as a few words.
type words struct{}

func (words) Quote(s string) string                   { return s }
func (words) AddPrimaryKey(cols []string) string      { return "key " + strings.Join(cols, ",") }
func (words) DropTable() string                       { return "drop table" }
func (words) Truncate() string                        { return "truncate" }
func (words) RenameTable(to event.TableID) []string   { return []string{"rename table " + to.String()} }
func (words) RenameColumn(from, to string) string     { return "rename " + from + " " + to }
func (words) AddColumn(c event.Column, _ bool) string { return "add " + c.Name }
func (words) AlterType(n string, c event.Column, _, notNull bool) string {
	return fmt.Sprintf("type %s %s notnull=%v", n, c.Type, notNull)
}
func (words) DropNotNull(c string) string { return "null " + c }
func (words) DropColumn(c string) string  { return "drop " + c }

func col(name string, k types.Kind, nullable bool) event.Column {
	return event.Column{Name: name, Type: types.Type{Kind: k}, Nullable: nullable}
}

func TestEvolution(t *testing.T) {
	id := event.TableID{Schema: "s", Table: "t"}
	table := fakeTable{order: []string{"id", "a", "b", "mine"},
		kind:    map[string]types.Kind{"id": types.Int64, "a": types.Int32, "b": types.String, "mine": types.String},
		notNull: map[string]bool{"id": true, "a": true, "b": true, "mine": true}}
	before := &event.Schema{ID: id, Key: []int{0}, Columns: []event.Column{col("id", types.Int64, false), col("a", types.Int32, false), col("b", types.String, false)}}
	after := func(cols ...event.Column) *event.Schema {
		return &event.Schema{ID: id, Key: []int{0}, Columns: append([]event.Column{col("id", types.Int64, false)}, cols...)}
	}
	for _, c := range []struct {
		name, behavior string
		change         event.SchemaChange
		want           []string
		why, note      string
	}{
		{name: "add, widen, null", behavior: "lenient",
			change: event.SchemaChange{Kind: event.AlterTable, Before: before, After: after(col("a", types.Decimal, false), col("b", types.String, true), col("c", types.Int32, true))},
			want:   []string{"type a decimal notnull=true", "null b", "add c"}},
		{name: "dropped column, lenient", behavior: "lenient",
			change: event.SchemaChange{Kind: event.AlterTable, Before: before, After: after(col("a", types.Int32, false))},
			want:   []string{"null b"}},
		{name: "dropped column, evolve", behavior: "evolve",
			change: event.SchemaChange{Kind: event.AlterTable, Before: before, After: after(col("a", types.Int32, false))},
			want:   []string{"drop b"}},
		{name: "renamed column", behavior: "lenient",
			change: event.SchemaChange{Kind: event.RenameColumn, Column: "b", NewName: "bb", Before: before, After: after(col("a", types.Int32, false), col("bb", types.String, false))},
			want:   []string{"rename b bb"}},
		{name: "renamed again (a replay)", behavior: "lenient",
			change: event.SchemaChange{Kind: event.RenameColumn, Column: "x", NewName: "a", Before: before, After: after(col("a", types.Int32, false), col("b", types.String, false))}},
		{name: "new key", behavior: "evolve",
			change: event.SchemaChange{Kind: event.AlterTable, Before: before, After: &event.Schema{ID: id, Key: []int{0, 1}, Columns: before.Columns}},
			why:    "the primary key changed from (id) to (id, a)"},
		{name: "drop table, lenient", behavior: "lenient", change: event.SchemaChange{Kind: event.DropTable},
			note: "the source dropped a table; its rows stay in the sink (schema.change.behavior: lenient)"},
		{name: "drop table, evolve", behavior: "evolve", change: event.SchemaChange{Kind: event.DropTable}, want: []string{"drop table"}},
		{name: "rename table", behavior: "lenient", change: event.SchemaChange{Kind: event.RenameTable, Table: id, After: &event.Schema{ID: event.TableID{Schema: "s2", Table: "t"}}},
			want: []string{"rename table s2.t"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.change.Table == (event.TableID{}) {
				c.change.Table = id
			}
			got, why, note := Evolution(words{}, table, &c.change, c.behavior, false)
			if !slices.Equal(got, c.want) || why != c.why || note != c.note {
				t.Fatalf("got %q, why %q, note %q\nwant %q, why %q, note %q", strings.Join(got, "; "), why, note, strings.Join(c.want, "; "), c.why, c.note)
			}
		})
	}
}

// TestFit: what keeps an existing table from taking a source's rows is, under exception,
// reported column by column with each fix; under lenient the column fixes are made and
// only what streaming would not fix (a missing key) is left.
func TestFit(t *testing.T) {
	problems := func(d Dialect, table Target, s *event.Schema, changelog bool) []string {
		_, p := Fit(d, table, s, changelog, "exception")
		return p
	}
	id := event.TableID{Schema: "s", Table: "t"}
	table := fakeTable{order: []string{"id", "a", "extra"},
		kind:    map[string]types.Kind{"id": types.Int64, "a": types.String, "extra": types.String},
		notNull: map[string]bool{"id": true, "a": true, "extra": true}}
	s := &event.Schema{ID: id, Key: []int{0}, Columns: []event.Column{col("id", types.Int64, false), col("a", types.String, true), col("b", types.Int32, true)}}
	got := problems(words{}, table, s, false)
	want := []string{
		"column a is NOT NULL but the source's may be NULL: null a",
		"column b (int32 in the source) is missing: add b",
		"column extra is NOT NULL without a default and the source has no such column: null extra",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	s.Key = []int{1}
	if got := problems(words{}, table, s, true); len(got) != 3 || !strings.Contains(got[2], "it is not a changelog table") {
		t.Fatalf("a changelog into a plain table: %q", got)
	}
	if got := problems(words{}, table, s, false); !strings.Contains(got[len(got)-1], "no primary key or unique index on (a), which upserts need: key a") {
		t.Fatalf("a key without an index: %q", got)
	}
}
