package transform

import (
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

var orders = &event.Schema{ID: event.TableID{Schema: "shop", Table: "orders"}, Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: types.Type{Kind: types.Int64}},
	{Name: "Amount", Type: types.Type{Kind: types.Decimal, Precision: 10, Scale: 2}},
	{Name: "region", Type: types.Type{Kind: types.String}},
	{Name: "day", Type: types.Type{Kind: types.Date}},
	{Name: "at", Type: types.Type{Kind: types.TimestampLTZ, Precision: 6}},
	{Name: "ratio", Type: types.Type{Kind: types.Float32}},
	{Name: "vip", Type: types.Type{Kind: types.Boolean}},
	{Name: "we`ird\"", Type: types.Type{Kind: types.Int32}},
}}

// TestPushdown: which terms of a filter go to the source, in each dialect's SQL, and which
// stay in weir — text only where a collation can only widen the answer, never what the
// databases would evaluate otherwise than weir.
func TestPushdown(t *testing.T) {
	for _, c := range []struct {
		filter, mysql, postgres, kept string
	}{
		{"id > 5 AND amount <= 10.5", "(`id` > 5) AND (`Amount` <= 10.5)", `("id" > 5) AND ("Amount" <= 10.5)`, ""},
		{"id BETWEEN -3 AND 7 OR id IN (10, 20)", "((`id` BETWEEN -3 AND 7) OR (`id` IN (10, 20)))", `(("id" BETWEEN -3 AND 7) OR ("id" IN (10, 20)))`, ""},
		{"region = 'cn' AND region LIKE 'c%'", "(`region` = _utf8mb4 X'636e') AND (`region` LIKE _utf8mb4 X'6325')", `("region" = 'cn') AND ("region" LIKE 'c%')`, ""},
		{"region = 'it''s'", "(`region` = _utf8mb4 X'69742773')", `("region" = 'it''s')`, ""},
		{"region IN ('a', 'b') AND NOT (id = 3)", "(`region` IN (_utf8mb4 X'61', _utf8mb4 X'62')) AND (NOT (`id` = 3))", `("region" IN ('a', 'b')) AND (NOT ("id" = 3))`, ""},
		{"day >= '2024-01-01' AND region IS NOT NULL", "(`day` >= CAST(X'323032342d30312d30312030303a30303a3030' AS DATETIME(6))) AND (`region` IS NOT NULL)",
			`("day" >= '2024-01-01 00:00:00'::timestamp) AND ("region" IS NOT NULL)`, ""},
		{"`we``ird\"` = 1", "(`we``ird\"` = 1)", `("we` + "`" + `ird""" = 1)`, ""},
		// Stay in weir: text other than =/IN/LIKE, negated text, functions, metadata,
		// instants, floats, booleans, backslashes in patterns, column against column.
		{"region <> 'cn' AND id > 1", "(`id` > 1)", `("id" > 1)`, "`region`!=_UTF8MB4'cn'"},
		{"region < 'm'", "", "", "`region`<_UTF8MB4'm'"},
		{"NOT region = 'cn'", "", "", "NOT `region`=_UTF8MB4'cn'"},
		{"region NOT IN ('a')", "", "", "`region` NOT IN (_UTF8MB4'a')"},
		{"UPPER(region) = 'CN'", "", "", "UPPER(`region`)=_UTF8MB4'CN'"},
		{"__table_name__ = 'orders'", "", "", "`__table_name__`=_UTF8MB4'orders'"},
		{"at > '2024-01-01'", "", "", "`at`>_UTF8MB4'2024-01-01'"},
		{"ratio > 0.5 OR id = 1", "", "", "`ratio`>0.5 OR `id`=1"},
		{"vip = TRUE", "", "", "`vip`=TRUE"},
		{`region LIKE 'a\\_%'`, "", "", "`region` LIKE _UTF8MB4'a\\_%'"},
		{"id = amount", "", "", "`id`=`amount`"},
		{"day > 'not a date'", "", "", "`day`>_UTF8MB4'not a date'"},
		{"id + 1 > 5", "", "", "`id`+1>5"},
	} {
		ps, _ := connector.ParseTables("shop.orders")
		tr := New([]Rule{{Tables: ps, Filter: c.filter}}, nil, Options{})
		for _, d := range []struct{ dialect, want string }{{DialectMySQL, c.mysql}, {DialectPostgres, c.postgres}} {
			pushed, kept, err := tr.Pushdown(orders, d.dialect)
			if err != nil {
				t.Fatalf("%s: %v", c.filter, err)
			}
			if pushed != d.want || strings.Join(kept, " AND ") != c.kept {
				t.Errorf("%s in %s:\n pushed %s\n  want  %s\n kept %q, want %q", c.filter, d.dialect, pushed, d.want, strings.Join(kept, " AND "), c.kept)
			}
		}
	}
	ps, _ := connector.ParseTables("shop.orders")
	off := New([]Rule{{Tables: ps, Filter: "id > 5"}}, nil, Options{NoPushdown: true})
	if pushed, kept, _ := off.Pushdown(orders, DialectMySQL); pushed != "" || len(kept) != 1 {
		t.Errorf("with pushdown off: %q %q", pushed, kept)
	}
}
