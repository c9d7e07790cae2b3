package transform

import (
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func route(t *testing.T, tables, sink string, opts ...string) Route {
	t.Helper()
	ps, err := connector.ParseTables(tables)
	if err != nil {
		t.Fatal(err)
	}
	r := Route{Tables: ps, SinkTable: sink}
	if len(opts) > 0 {
		r.ReplaceSymbol = opts[0]
	}
	if len(opts) > 1 {
		r.SourceColumn = opts[1]
	}
	return r
}

// shard is a table of db shaped as the shards of the tests: id, a name of the given
// width, an amount of the given integer kind, and extra columns.
func shard(db, table string, width int, amount types.Kind, extra ...event.Column) *event.Schema {
	return &event.Schema{ID: event.TableID{Schema: db, Table: table}, Key: []int{0}, Columns: append([]event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}},
		{Name: "name", Type: types.Type{Kind: types.String, Length: width}},
		{Name: "amount", Type: types.Type{Kind: amount}},
	}, extra...)}
}

func describe(s *event.Schema) string {
	var cols []string
	for i, c := range s.Columns {
		n := c.Name + " " + c.Type.String()
		if c.Nullable {
			n += " null"
		}
		for _, k := range s.Key {
			if k == i {
				n += " key"
			}
		}
		cols = append(cols, n)
	}
	return s.ID.String() + "(" + strings.Join(cols, ", ") + ")"
}

func rowText(r event.Row) string {
	var vals []string
	for _, v := range r {
		if v.IsNull() {
			vals = append(vals, "NULL")
			continue
		}
		vals = append(vals, toText(v))
	}
	return strings.Join(vals, " ")
}

// TestRouteSinkNames: $n are the regexes' groups (database first), the replace symbol is
// the source table's name, a name without a database keeps the source's, and the first
// pattern that matches decides.
func TestRouteSinkNames(t *testing.T) {
	for _, c := range []struct {
		route    Route
		in, want string
	}{
		{route(t, `shop_(\d+).orders_(\d+)`, "dw.orders_$1_$2"), "shop_7.orders_12", "dw.orders_7_12"},
		{route(t, `shop.\.*`, "ods.src_<>", "<>"), "shop.customers", "ods.src_customers"},
		{route(t, `shop.orders`, "orders_all"), "shop.orders", "shop.orders_all"},
		{route(t, `a.x, shop.(o)rders`, "dw.$1"), "shop.orders", "dw.o"},
		{route(t, `shop.orders`, "dw.o"), "shop.orders2", ""},
	} {
		db, table, _ := strings.Cut(c.in, ".")
		id, ok := c.route.sinkID(event.TableID{Schema: db, Table: table})
		got := ""
		if ok {
			got = id.String()
		}
		if got != c.want {
			t.Errorf("%s → %s, want %s", c.in, got, c.want)
		}
	}
}

// TestMergedShards: shards with differing widths, integer sizes and columns merge into
// one sink table whose schema fits them all, up front; every row comes out in that one
// schema, its values converted and the columns its shard lacks NULL; a shard seen later
// widens the table by a schema change before its first row.
func TestMergedShards(t *testing.T) {
	note := event.Column{Name: "note", Type: types.Type{Kind: types.String, Length: 5}, Nullable: true}
	a := shard("shop1", "orders_1", 10, types.Int32)
	b := shard("shop2", "orders_2", 40, types.Int64, note)
	tr := New(nil, []Route{route(t, `shop\d.orders_\d+`, "dw.orders")}, Options{})
	if err := tr.Prepare([]*event.Schema{a, b}); err != nil {
		t.Fatal(err)
	}
	out, ddl, err := tr.Apply(nil, []event.Change{{Op: event.OpInsert, Schema: a, After: event.Row{event.Int(1), event.String("x"), event.Int(5)}}})
	if err != nil || len(ddl) != 0 || len(out) != 1 {
		t.Fatalf("%v %v %v", out, ddl, err)
	}
	if got, want := describe(out[0].Schema), "dw.orders(id int64 key, name string(40), amount int64, note string(5) null)"; got != want {
		t.Fatalf("merged schema %s, want %s", got, want)
	}
	if got := rowText(out[0].After); got != "1 x 5 NULL" {
		t.Errorf("row of the narrow shard: %s", got)
	}
	merged := out[0].Schema
	out, _, _ = tr.Apply(out[:0], []event.Change{{Op: event.OpUpdate, Schema: b,
		Before: event.Row{event.Int(2), event.String("y"), event.Int(6), event.Null()},
		After:  event.Row{event.Int(2), event.String("y"), event.Int(7), event.String("hi")}}})
	if out[0].Schema != merged || rowText(out[0].Before) != "2 y 6 NULL" || rowText(out[0].After) != "2 y 7 hi" {
		t.Errorf("row of the wide shard: %s → %s", rowText(out[0].Before), rowText(out[0].After))
	}

	// A third shard, first seen now, with a decimal amount and a column of its own.
	c := shard("shop3", "orders_3", 20, types.Decimal, event.Column{Name: "region", Type: types.Type{Kind: types.String, Length: 2}})
	c.Columns[2].Type = types.Type{Kind: types.Decimal, Precision: 12, Scale: 2}
	out, ddl, err = tr.Apply(out[:0], []event.Change{{Op: event.OpInsert, Schema: c, After: event.Row{event.Int(3), event.String("z"), event.Decimal("1.50"), event.String("cn")}}})
	if err != nil || len(ddl) != 1 {
		t.Fatalf("%v %v", ddl, err)
	}
	want := "dw.orders(id int64 key, name string(40), amount decimal(21,2), note string(5) null, region string(2) null)"
	if got := describe(ddl[0].After); ddl[0].Kind != event.AlterTable || ddl[0].Table.String() != "dw.orders" || got != want {
		t.Fatalf("widening: %s %s %s", ddl[0].Kind, ddl[0].Table, got)
	}
	if out[0].Schema != ddl[0].After || rowText(out[0].After) != "3 z 1.50 NULL cn" {
		t.Errorf("row of the new shard: %s", rowText(out[0].After))
	}
	// The older shards' rows now take the widened schema, their integers as decimals.
	out, _, _ = tr.Apply(out[:0], []event.Change{{Op: event.OpInsert, Schema: a, After: event.Row{event.Int(4), event.String("w"), event.Int(9)}}})
	if out[0].Schema != ddl[0].After || rowText(out[0].After) != "4 w 9.00 NULL NULL" || out[0].After[2].Rep() != event.RepDecimal {
		t.Errorf("row of the first shard after widening: %s (%v)", rowText(out[0].After), out[0].After[2].Rep())
	}
}

// TestMergedSchemaChanges: in a merged table a column added to one shard is added to the
// sink table; a column dropped from one stays, nullable; a truncate changes nothing there.
// In a table one source table is routed to, the same changes pass, renamed.
func TestMergedSchemaChanges(t *testing.T) {
	a, b := shard("shop1", "orders_1", 10, types.Int32), shard("shop2", "orders_2", 10, types.Int32)
	tr := New(nil, []Route{route(t, `shop\d.orders_\d+`, "dw.orders"), route(t, `shop1.customers`, "dw.customers")}, Options{})
	cust := shard("shop1", "customers", 10, types.Int32)
	if err := tr.Prepare([]*event.Schema{a, b, cust}); err != nil {
		t.Fatal(err)
	}
	added := shard("shop1", "orders_1", 10, types.Int32, event.Column{Name: "tag", Type: types.Type{Kind: types.Int16}, Nullable: true})
	out, err := tr.SchemaChange(&event.SchemaChange{Kind: event.AddColumn, Table: a.ID, Column: "tag", Before: a, After: added})
	if err != nil || len(out) != 1 || out[0].Kind != event.AlterTable || !strings.Contains(describe(out[0].After), "tag int16 null") {
		t.Fatalf("add column: %v %v", out, err)
	}
	dropped := shard("shop2", "orders_2", 10, types.Int32)
	dropped.Columns = dropped.Columns[:2]
	out, err = tr.SchemaChange(&event.SchemaChange{Kind: event.DropColumn, Table: b.ID, Column: "amount", Before: b, After: dropped})
	if err != nil || len(out) != 1 || !strings.Contains(describe(out[0].After), "amount int32 null") {
		t.Errorf("drop column on a merged table: the column stays, nullable: %v %v", out, err)
	}
	if out, err := tr.SchemaChange(&event.SchemaChange{Kind: event.TruncateTable, Table: b.ID, Before: dropped, After: dropped}); err != nil || len(out) != 0 {
		t.Errorf("truncate of a merged table: %v %v", out, err)
	}
	// The shard without amount: its rows have NULL there, and amount is nullable now.
	outs, ddl, err := tr.Apply(nil, []event.Change{{Op: event.OpInsert, Schema: dropped, After: event.Row{event.Int(1), event.String("q")}}})
	if err != nil || len(ddl) != 0 || rowText(outs[0].After) != "1 q NULL NULL" {
		t.Errorf("row of the shard that dropped a column: %v %v %v", outs, ddl, err)
	}

	// One table routed alone: its changes pass under the sink table's name.
	custDropped := shard("shop1", "customers", 10, types.Int32)
	custDropped.Columns = custDropped.Columns[:2]
	out, err = tr.SchemaChange(&event.SchemaChange{Kind: event.DropColumn, Table: cust.ID, Column: "amount", Before: cust, After: custDropped})
	if err != nil || len(out) != 1 || out[0].Kind != event.DropColumn || out[0].Table.String() != "dw.customers" ||
		describe(out[0].After) != "dw.customers(id int64 key, name string(10))" || out[0].Before.ColumnIndex("amount") < 0 {
		t.Fatalf("drop column of a table routed alone: %v %v", out, err)
	}
	if out, _ := tr.SchemaChange(&event.SchemaChange{Kind: event.TruncateTable, Table: cust.ID, Before: custDropped, After: custDropped}); len(out) != 1 || out[0].Table.String() != "dw.customers" {
		t.Errorf("truncate of a table routed alone: %v", out)
	}
	// A table no route matches passes as it is.
	other := shard("shop1", "items", 10, types.Int32)
	if out, _ := tr.SchemaChange(&event.SchemaChange{Kind: event.TruncateTable, Table: other.ID, Before: other, After: other}); len(out) != 1 || out[0].Table != other.ID {
		t.Errorf("truncate of a table not routed: %v", out)
	}
}

// TestRouteFanOutAndSourceColumn: a table two routes match goes to both sink tables; the
// source-table column holds each row's table and joins the key; a shard that lacks the
// merged key is refused by name.
func TestRouteFanOutAndSourceColumn(t *testing.T) {
	a, b := shard("shop1", "orders", 10, types.Int32), shard("shop2", "orders", 10, types.Int32)
	tr := New(nil, []Route{route(t, `shop\d.orders`, "dw.orders", "", "src"), route(t, `shop1.orders`, "archive.orders_1")}, Options{})
	if err := tr.Prepare([]*event.Schema{a, b}); err != nil {
		t.Fatal(err)
	}
	out, _, err := tr.Apply(nil, []event.Change{{Op: event.OpInsert, Schema: a, After: event.Row{event.Int(1), event.String("x"), event.Int(5)}}})
	if err != nil || len(out) != 2 {
		t.Fatalf("%v %v", out, err)
	}
	if got := describe(out[0].Schema) + " " + rowText(out[0].After); got != "dw.orders(id int64 key, name string(10), amount int32, src string key) 1 x 5 shop1.orders" {
		t.Errorf("merged with the source column: %s", got)
	}
	if got := describe(out[1].Schema) + " " + rowText(out[1].After); got != "archive.orders_1(id int64 key, name string(10), amount int32) 1 x 5" {
		t.Errorf("fanned out: %s", got)
	}

	noKey := &event.Schema{ID: event.TableID{Schema: "shop3", Table: "orders"}, Columns: []event.Column{{Name: "code", Type: types.Type{Kind: types.String}}}, Key: []int{0}}
	_, _, err = tr.Apply(nil, []event.Change{{Op: event.OpInsert, Schema: noKey, After: event.Row{event.String("c")}}})
	if err == nil || !strings.Contains(err.Error(), "shop3.orders is routed to dw.orders, whose key (id, src) it does not have all of: it lacks id") {
		t.Errorf("a shard without the key: %v", err)
	}
}

// TestRouteFirstMatch: with route-mode first_match only the first matching route sends a
// table anywhere: shards merge, and a catch-all after them renames the rest.
func TestRouteFirstMatch(t *testing.T) {
	a, other := shard("shop1", "orders", 10, types.Int32), shard("shop1", "users", 10, types.Int32)
	tr := New(nil, []Route{route(t, `shop\d.orders`, "dw.orders"), route(t, `shop1.\.*`, "dw.ods_<>", "<>")}, Options{FirstMatch: true})
	if err := tr.Prepare([]*event.Schema{a, other}); err != nil {
		t.Fatal(err)
	}
	out, _, err := tr.Apply(nil, []event.Change{
		{Op: event.OpInsert, Schema: a, After: event.Row{event.Int(1), event.String("x"), event.Int(5)}},
		{Op: event.OpInsert, Schema: other, After: event.Row{event.Int(2), event.String("y"), event.Int(6)}},
	})
	if err != nil || len(out) != 2 {
		t.Fatalf("%d changes out, want one per table: %v %v", len(out), out, err)
	}
	if out[0].Schema.ID.String() != "dw.orders" || out[1].Schema.ID.String() != "dw.ods_users" {
		t.Fatalf("routed to %s and %s, want dw.orders and dw.ods_users", out[0].Schema.ID, out[1].Schema.ID)
	}
}
