package console

import (
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/connectors"
	"github.com/weir-data/weir/internal/spec"
)

// TestWizardFile: the file the wizard writes reads back as a valid pipeline that selects
// each ticked table by its name alone — quotes, backticks, semicolons, dots, commas,
// parentheses and Unicode in it — and the pattern as written; the ticked tables' rules
// (the filter and their masks) come before the pattern's, as the first rule that matches
// a table applies.
func TestWizardFile(t *testing.T) {
	ticked := []string{"shop.orders", "shop.we\"ird;ta`ble ü", "shop.a.b,c(d)"}
	a := Answers{Name: "wiz", Source: "shop", Sink: "dw", Tables: ticked, Pattern: `shop.ord\w+`, Filter: "qty > 1",
		Masks: []string{"shop.orders|email"}, Mode: "initial", Behavior: "lenient", RateRows: "5000"}
	file := a.file()
	p := parseWizardFile(t, file)
	if got := p.Source.Config.String("scan.rate-limit.rows-per-second"); got != "5000" {
		t.Errorf("the rate limit: %q\n%s", got, file)
	}
	pats, err := connector.ParseTables(p.Source.Config.String("tables"))
	if err != nil {
		t.Fatal(err)
	}
	matches := func(name string) int {
		db, tbl, _ := strings.Cut(name, ".")
		n := 0
		for _, pt := range pats {
			if pt.Match(db, tbl) {
				n++
			}
		}
		return n
	}
	for _, name := range ticked[1:] {
		if matches(name) != 1 {
			t.Errorf("%q is selected by %d items of %s", name, matches(name), p.Source.Config.String("tables"))
		}
	}
	for _, name := range []string{"shop.aXb,c(d)", "shop.a.b", "shop.we\"ird;ta`ble", "shop.other"} {
		if matches(name) != 0 {
			t.Errorf("%q, not ticked, is selected:\n%s", name, file)
		}
	}
	if matches("shop.orders") != 2 || matches("shop.ordering") != 1 { // ticked, and by the pattern
		t.Errorf("the pattern: %s", p.Source.Config.String("tables"))
	}
	if len(p.Transforms) != 4 || p.Transforms[0].Filter != "qty > 1" || len(p.Transforms[0].Masks) != 1 || p.Transforms[3].SourceTable != `shop.ord\w+` {
		t.Fatalf("the rules:\n%s", file)
	}
}

// TestWizardCasts: a type chosen for a column is written into its table's projection as
// CAST(c AS type) AS c — every column written out where the projection is empty, a bare
// column replaced where one is written, expressions kept — and a type that is not one is
// refused with the column named.
func TestWizardCasts(t *testing.T) {
	cols := []string{"id", "qty", "email", "we ird"}
	casts := map[string]string{"qty": "bigint", "we ird": "varchar(10)"}
	for _, c := range []struct{ projection, want string }{
		{"", "id, CAST(qty AS BIGINT) AS qty, email, CAST(`we ird` AS VARCHAR(10)) AS `we ird`"},
		{"id, `qty`, CONCAT(email, ',', id) AS tag", "id, CAST(qty AS BIGINT) AS qty, CONCAT(email, ',', id) AS tag"},
		{"*, qty * 2 AS twice", "id, CAST(qty AS BIGINT) AS qty, email, CAST(`we ird` AS VARCHAR(10)) AS `we ird`, qty * 2 AS twice"},
	} {
		if got := castProjection(c.projection, cols, casts); got != c.want {
			t.Errorf("projection %q:\n got %s\nwant %s", c.projection, got, c.want)
		}
	}
	a := Answers{Name: "wiz", Source: "shop", Sink: "dw", Tables: []string{"shop.orders", "shop.items"},
		Casts: map[string]map[string]string{"shop.orders": {"qty": "BIGINT"}}, Columns: map[string][]string{"shop.orders": cols}}
	file := a.file()
	p := parseWizardFile(t, file)
	if len(p.Transforms) != 1 || p.Transforms[0].SourceTable != "shop.orders" || !strings.Contains(p.Transforms[0].Projection, "CAST(qty AS BIGINT) AS qty") {
		t.Fatalf("the rules:\n%s", file)
	}
	bad := Answers{Casts: map[string]map[string]string{"shop.orders": {"qty": "INT) AS qty, secret AS x, CAST(1 AS INT"}}}
	if p := bad.problems(); len(p) != 1 || !strings.Contains(p[0], "shop.orders.qty") {
		t.Fatalf("a type that is not one: %v", p)
	}
}

// parseWizardFile reads a file the wizard wrote, with connection shop a MariaDB and every
// other a PostgreSQL.
func parseWizardFile(t *testing.T, file string) *spec.Pipeline {
	t.Helper()
	conns := func(name string) (string, map[string]string, error) {
		if name == "shop" {
			return "mariadb", map[string]string{"hostname": "db", "username": "cdc"}, nil
		}
		return "postgres", map[string]string{"url": "postgres://w@dw:5432/dw"}, nil
	}
	p, err := spec.ParseWithConnections("wizard.yaml", []byte(file), connectors.Registry(), func(string) (string, bool) { return "", false }, conns)
	if err != nil {
		t.Fatalf("%v\n%s", err, file)
	}
	return p
}
