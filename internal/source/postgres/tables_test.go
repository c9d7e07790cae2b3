package postgres

import (
	"context"
	"fmt"
	"testing"
)

// TestThreePartTables: Flink CDC's db.schema.table items name the database, which
// database-name may then leave out; the tables are those of that database.
func TestThreePartTables(t *testing.T) {
	createDB(t, "threepart", `CREATE SCHEMA inv; CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY);
		CREATE TABLE inv.p (id int PRIMARY KEY); CREATE TABLE inv.q (id int PRIMARY KEY)`)
	o := options("", `threepart.public.\.*, threepart.inv.p`)
	s := open(t, o, "threepart", 1)
	tables, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tb := range tables {
		got = append(got, tb.ID.Schema+"."+tb.ID.Table)
	}
	if fmt.Sprint(got) != "[inv.p public.a public.b]" {
		t.Fatalf("tables %v, want inv.p, public.a, public.b", got)
	}
	for _, bad := range []struct{ tables, db string }{
		{"a.public.t, b.public.t", ""}, {"a.public.t", "b"}, {"public.t", ""}, {`a\d.public.t`, ""},
	} {
		if _, _, err := selection(bad.tables, bad.db); err == nil {
			t.Errorf("tables %q with database-name %q: no error", bad.tables, bad.db)
		}
	}
}
