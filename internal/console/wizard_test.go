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
		Masks: []string{"shop.orders|email"}, Mode: "initial", Behavior: "lenient"}
	file := a.file()
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
