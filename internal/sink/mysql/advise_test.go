package mysql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func TestAdvise(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "public", Table: "t"}, Key: []int{0, 1}, Columns: []event.Column{
		{Name: "code", Type: types.Type{Kind: types.String}},               // unbounded text key
		{Name: "short", Type: types.Type{Kind: types.String, Length: 768}}, // fits
		{Name: "f", Type: types.Type{Kind: types.Float64}},                 //
		{Name: "n", Type: types.Type{Kind: types.Decimal}},                 // numeric: unbounded
		{Name: "n2", Type: types.Type{Kind: types.Decimal, Precision: 12}}, // fits
		{Name: "ts", Type: types.Type{Kind: types.TimestampLTZ}},           //
		{Name: "tm", Type: types.Type{Kind: types.Time}},                   // any engine's time fits
		{Name: "fs", Type: types.Type{Kind: types.Array, Elem: &types.Type{Kind: types.Float32}}},
	}}
	got := Advise([]*event.Schema{s}, nil, connector.Env{SourceType: "postgres"})
	want := []string{
		"public.t (f, fs): MySQL has no NaN",
		"public.t (ts): MySQL dates run from year 1 to 9999",
		"public.t (n): decimal(65,30) is MySQL's widest decimal",
		"public.t (code, short): InnoDB indexes at most 3,072 bytes of a key, shared among its columns",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d warnings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\n%s\nwant it to begin\n%s", i, got[i], want[i])
		}
	}
	// From MariaDB, floats and dates always fit; the decimal and the key still do not.
	if got := Advise([]*event.Schema{s}, nil, connector.Env{SourceType: "mariadb"}); len(got) != 2 {
		t.Errorf("from mariadb: %q, want the decimal and key warnings only", got)
	}
}

// TestKeyBudget: keys of text with other columns, which MariaDB refused ("Specified key
// was too long") when each text column took the whole index, are shared out so that the
// table is made (on the server); a key that cannot be indexed at all is refused before
// anything is written, with the fix, by CheckTables and the writer alike.
func TestKeyBudget(t *testing.T) {
	col := func(name string, k types.Kind, n int) event.Column {
		return event.Column{Name: name, Type: types.Type{Kind: k, Length: n}}
	}
	w := &Writer{o: Options{}, collation: "utf8mb4_nopad_bin"}
	for i, s := range []*event.Schema{
		{Key: []int{0, 1}, Columns: []event.Column{col("tenant", types.Int64, 0), col("code", types.String, 0), col("v", types.String, 0)}},
		{Key: []int{0, 1, 2}, Columns: []event.Column{col("a", types.String, 10), col("b", types.String, 0), col("c", types.Bytes, 0)}},
		{Key: []int{0, 1}, Columns: []event.Column{col("u", types.UUID, 0), col("s", types.Set, 0)}},
	} {
		s.ID = event.TableID{Schema: "budget", Table: fmt.Sprintf("t%d", i)}
		create, err := w.createSQL(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("", "CREATE DATABASE IF NOT EXISTS budget; "+create); err != nil {
			t.Fatalf("%s:\n%v", create, err)
		}
	}
	enums := &event.Schema{ID: event.TableID{Schema: "budget", Table: "enums"}, Key: []int{0, 1, 2, 3, 4}}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		enums.Columns = append(enums.Columns, col(n, types.Enum, 0))
	}
	enums.Columns = append(enums.Columns, col("name", types.String, 0))
	enums.Key = append(enums.Key, 5)
	errs := CheckTables([]*event.Schema{enums}, &connector.Config{Spec: specOf("mariadb"), Values: map[string]*connector.Value{"sink.mode": {Str: "upsert"}}}, connector.Env{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "budget.enums: its key (a, b, c, d, e, name) cannot be indexed") ||
		!strings.Contains(errs[0].Error(), "CAST(") {
		t.Fatalf("an unindexable key: %v", errs)
	}
	if err := w.CheckTables([]*event.Schema{enums}); err == nil {
		t.Fatal("the writer would make a table it cannot index")
	}
}

func specOf(typ string) *connector.Spec { s := Spec(typ); return &s }

// TestIndexAdvice: validate says which of the source's indexes MySQL cannot make (a GIN
// index, one on a JSON column) and which unique one it makes plain; an ordinary one is
// not mentioned.
func TestIndexAdvice(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "public", Table: "t"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}}, {Name: "doc", Type: types.Type{Kind: types.JSON}}, {Name: "v", Type: types.Type{Kind: types.Int32}}},
		Indexes: []event.Index{{Name: "t_doc", Kind: "gin", Columns: []event.IndexColumn{{Name: "doc"}}}, {Name: "t_doc2", Columns: []event.IndexColumn{{Name: "doc"}}},
			{Name: "t_v", Unique: true, Columns: []event.IndexColumn{{Name: "v"}}}, {Name: "t_v2", Columns: []event.IndexColumn{{Name: "v"}, {Name: "id"}}}}}
	got := Advise([]*event.Schema{s}, nil, connector.Env{SourceType: "mariadb"})
	want := []string{"table public.t: its index t_doc (doc) is not made in the target: MySQL has no gin index",
		"table public.t: its index t_doc2 (doc) is not made in the target: MySQL cannot index a JSON column",
		"table public.t: its unique index t_v (v) is made as a plain index"}
	if len(got) != len(want) {
		t.Fatalf("got %d warnings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\n%s\nwant it to begin\n%s", i, got[i], want[i])
		}
	}
}
