package format

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return m
}

func golden(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, b)
}

// field is the value at a path of keys and indexes.
func field(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

var customers = &event.Schema{ID: event.TableID{Schema: "inventory", Table: "customers"}, Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: types.Type{Kind: types.Int32}, SourceType: "int(11)"},
	{Name: "first_name", Type: types.Type{Kind: types.String, Length: 255}, SourceType: "varchar(255)"},
	{Name: "last_name", Type: types.Type{Kind: types.String, Length: 255}, SourceType: "varchar(255)"},
	{Name: "email", Type: types.Type{Kind: types.String, Length: 255}, SourceType: "varchar(255)"},
}}

// TestDebeziumMySQLCreate: the create event of Debezium's MySQL connector documentation
// (testdata/debezium-mysql-create.json, its example for inventory.customers): the row's
// schema, the payload and the source block's fields are Debezium's.
func TestDebeziumMySQLCreate(t *testing.T) {
	w, err := New(Options{Format: DebeziumJSON, SourceType: "mysql", Name: "mysql-server-1", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	c := &event.Change{Op: event.OpInsert, Schema: customers, Pos: event.Pos{Log: "mysql-bin.000003@154", Off: 0},
		After: event.Row{event.Int(1004), event.String("Anne"), event.String("Kretchmar"), event.String("annek@noanswer.org")}}
	got, want := decode(t, w.Append(nil, c, 1465491411815)), golden(t, "debezium-mysql-create.json")
	for _, path := range [][]any{
		{"schema", "fields", 0}, {"schema", "fields", 1}, {"schema", "fields", 3}, {"schema", "fields", 4}, {"schema", "name"}, {"schema", "type"},
		{"payload", "op"}, {"payload", "ts_ms"}, {"payload", "before"}, {"payload", "after"},
		{"payload", "source", "connector"}, {"payload", "source", "name"}, {"payload", "source", "db"}, {"payload", "source", "table"},
		{"payload", "source", "file"}, {"payload", "source", "pos"}, {"payload", "source", "row"}, {"payload", "source", "gtid"},
		{"payload", "source", "server_id"},
	} {
		if g, w := field(got, path...), field(want, path...); !reflect.DeepEqual(g, w) {
			t.Errorf("%v: got %v, want %v", path, g, w)
		}
	}
	// Every field of Debezium's source block is there (the snapshot is Debezium 2's
	// string enum, where the documentation's older example has a boolean).
	var keys, wantKeys []string
	for k := range field(got, "payload", "source").(map[string]any) {
		keys = append(keys, k)
	}
	for k := range field(want, "payload", "source").(map[string]any) {
		wantKeys = append(wantKeys, k)
	}
	wantKeys = append(wantKeys, "sequence")
	slices.Sort(keys)
	slices.Sort(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("source fields %v, want %v", keys, wantKeys)
	}
	// Without the schema: the payload alone.
	w2, _ := New(Options{Format: DebeziumJSON, SourceType: "mysql", Name: "mysql-server-1", NoSchema: true})
	if p := decode(t, w2.Append(nil, c, 1465491411815)); !reflect.DeepEqual(p["after"], field(want, "payload", "after")) || p["schema"] != nil {
		t.Errorf("payload alone: %v", p)
	}
}

// TestDebeziumTypes: values as Debezium writes them at its defaults.
func TestDebeziumTypes(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "db", Table: "t"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int8}},
		{Name: "price", Type: types.Type{Kind: types.Decimal, Precision: 10, Scale: 2}, Nullable: true},
		{Name: "neg", Type: types.Type{Kind: types.Decimal, Precision: 10, Scale: 2}, Nullable: true},
		{Name: "d", Type: types.Type{Kind: types.Date}, Nullable: true},
		{Name: "dt3", Type: types.Type{Kind: types.Timestamp, Precision: 3}, Nullable: true},
		{Name: "dt6", Type: types.Type{Kind: types.Timestamp, Precision: 6}, Nullable: true},
		{Name: "ts", Type: types.Type{Kind: types.TimestampLTZ, Precision: 0}, Nullable: true},
		{Name: "tm", Type: types.Type{Kind: types.Time, Precision: 0}, Nullable: true},
		{Name: "js", Type: types.Type{Kind: types.JSON}, Nullable: true},
		{Name: "e", Type: types.Type{Kind: types.Enum, Values: []string{"a", "b"}}, Nullable: true},
		{Name: "y", Type: types.Type{Kind: types.Int16}, SourceType: "year(4)", Nullable: true},
		{Name: "big", Type: types.Type{Kind: types.Uint64}, Nullable: true},
		{Name: "bits", Type: types.Type{Kind: types.Bytes, Length: 2}, SourceType: "bit(12)", Nullable: true},
		{Name: "toast", Type: types.Type{Kind: types.String}, Nullable: true},
	}}
	row := event.Row{event.Int(1), event.Decimal("1.23"), event.Decimal("-1.23"), event.Date(17532),
		event.Timestamp(1514764800123456), event.Timestamp(1514764800123456), event.Timestamp(1514764800000000),
		event.Time(3723000000), event.JSON(`{"a":1}`), event.String("b"), event.Int(2018), event.Uint(1 << 63),
		event.Bytes([]byte{0x0a, 0xaa}), event.Unchanged()}
	w, _ := New(Options{Format: DebeziumJSON, SourceType: "mysql", Name: "srv"})
	got := decode(t, w.Append(nil, &event.Change{Op: event.OpRead, Schema: s, After: row}, 0))
	after := field(got, "payload", "after").(map[string]any)
	for col, want := range map[string]string{
		"id": "1", "price": "ew==", "neg": "hQ==", "d": "17532", "dt3": "1514764800123", "dt6": "1514764800123456",
		"ts": "2018-01-01T00:00:00Z", "tm": "3723000000", "js": `{"a":1}`, "e": "b", "y": "2018",
		"big": "-9223372036854775808", "bits": "Cqo=", "toast": "__debezium_unavailable_value",
	} {
		if g := strings.Trim(string(mustJSON(after[col])), `"`); g != want && g != strings.ReplaceAll(want, `"`, `\"`) {
			t.Errorf("%s: %s, want %s", col, g, want)
		}
	}
	types := map[string]string{}
	for _, f := range field(got, "schema", "fields", 1, "fields").([]any) {
		m := f.(map[string]any)
		types[m["field"].(string)] = m["type"].(string) + " " + str(m["name"])
	}
	for col, want := range map[string]string{
		"id": "int16 ", "price": "bytes org.apache.kafka.connect.data.Decimal", "d": "int32 io.debezium.time.Date",
		"dt3": "int64 io.debezium.time.Timestamp", "dt6": "int64 io.debezium.time.MicroTimestamp",
		"ts": "string io.debezium.time.ZonedTimestamp", "tm": "int64 io.debezium.time.MicroTime",
		"js": "string io.debezium.data.Json", "e": "string io.debezium.data.Enum", "y": "int32 io.debezium.time.Year",
		"big": "int64 ", "bits": "bytes io.debezium.data.Bits",
	} {
		if types[col] != want {
			t.Errorf("schema of %s: %q, want %q", col, types[col], want)
		}
	}
	if s := field(got, "payload", "source", "snapshot"); s != "true" {
		t.Errorf("snapshot %v, want \"true\" for a snapshot row", s)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

var products = &event.Schema{ID: event.TableID{Schema: "inventory", Table: "products"}, Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: types.Type{Kind: types.Int32}, SourceType: "INTEGER"},
	{Name: "name", Type: types.Type{Kind: types.String, Length: 255}, SourceType: "VARCHAR(255)"},
	{Name: "description", Type: types.Type{Kind: types.String, Length: 512}, SourceType: "VARCHAR(512)", Nullable: true},
	{Name: "weight", Type: types.Type{Kind: types.Float32}, SourceType: "FLOAT", Nullable: true},
}}

// TestCanalUpdate: the update of Flink's canal-json documentation
// (testdata/canal-update.json): data, old, pkNames, the types and the kind are Canal's.
func TestCanalUpdate(t *testing.T) {
	w, _ := New(Options{Format: CanalJSON, SourceType: "mysql"})
	c := &event.Change{Op: event.OpUpdate, Schema: products, CommitMicros: 1589373560000000,
		Before: event.Row{event.Int(111), event.String("scooter"), event.String("Big 2-wheel scooter"), event.Float(float64(float32(5.15)))},
		After:  event.Row{event.Int(111), event.String("scooter"), event.String("Big 2-wheel scooter"), event.Float(float64(float32(5.18)))}}
	got, want := decode(t, w.Append(nil, c, 1589373560798)), golden(t, "canal-update.json")
	for _, k := range []string{"data", "database", "es", "isDdl", "mysqlType", "old", "pkNames", "sql", "sqlType", "table", "ts", "type"} {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s: got %v, want %v", k, got[k], want[k])
		}
	}
}

// TestJSONFormat: the row alone, the deleted one for a delete, with the kind where asked.
func TestJSONFormat(t *testing.T) {
	w, _ := New(Options{Format: JSON, OpField: "__op"})
	del := &event.Change{Op: event.OpDelete, Schema: customers, Before: event.Row{event.Int(1), event.String("a"), event.String("b"), event.Null()}}
	if got := string(w.Append(nil, del, 0)); got != `{"id":1,"first_name":"a","last_name":"b","email":null,"__op":"d"}` {
		t.Fatalf("json: %s", got)
	}
	if _, err := New(Options{Format: "avro"}); err == nil || !strings.Contains(err.Error(), "debezium-json") {
		t.Fatalf("an unknown format: %v", err)
	}
}

// BenchmarkFormats: the cost of one record in each format (a row of four columns).
func BenchmarkFormats(b *testing.B) {
	c := &event.Change{Op: event.OpUpdate, Schema: customers, Pos: event.Pos{Log: "0-1-42", Off: 3}, CommitMicros: 1700000000000000,
		Before: event.Row{event.Int(1004), event.String("Anne"), event.String("Kretchmar"), event.String("annek@noanswer.org")},
		After:  event.Row{event.Int(1004), event.String("Anne"), event.String("Kretchmar"), event.String("anne@example.com")}}
	for _, f := range Names {
		b.Run(f, func(b *testing.B) {
			w, _ := New(Options{Format: f, SourceType: "mysql", Name: "srv"})
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf = w.Append(buf[:0], c, 1700000000001)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// TestSchemaChangeRecords: a schema change is a {"ddl"} line in weir-json, Canal's DDL
// record in canal-json, and nothing among the data of debezium-json and json.
func TestSchemaChangeRecords(t *testing.T) {
	c := &event.SchemaChange{Kind: event.AddColumn, Table: event.TableID{Schema: "shop", Table: "orders"}, Column: "note",
		DDL: "ALTER TABLE orders ADD COLUMN note TEXT"}
	for f, want := range map[string]string{
		WeirJSON:     `{"ddl":"add column shop.orders.note"}`,
		CanalJSON:    `{"data":null,"database":"shop","es":7,"id":0,"isDdl":true,"mysqlType":null,"old":null,"pkNames":null,"sql":"ALTER TABLE orders ADD COLUMN note TEXT","sqlType":null,"table":"orders","ts":7,"type":"ALTER"}`,
		DebeziumJSON: "",
		JSON:         "",
	} {
		w, _ := New(Options{Format: f})
		got, ok := w.AppendSchemaChange(nil, c, 7)
		if string(got) != want || ok != (want != "") {
			t.Errorf("%s: %s (%v), want %s", f, got, ok, want)
		}
	}
}

// TestDebeziumPostgresTypes: PostgreSQL's NUMERIC without precision is a
// VariableScaleDecimal and INTERVAL a MicroDuration, as Debezium's PostgreSQL connector
// writes them at its defaults; the source block is PostgreSQL's.
func TestDebeziumPostgresTypes(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Namespace: "shop", Schema: "public", Table: "t"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int32}, SourceType: "integer"},
		{Name: "n", Type: types.Type{Kind: types.Decimal}, SourceType: "numeric", Nullable: true},
		{Name: "iv", Type: types.Type{Kind: types.String}, SourceType: "interval", Nullable: true},
		{Name: "t3", Type: types.Type{Kind: types.Time, Precision: 3}, SourceType: "time(3) without time zone", Nullable: true},
	}}
	w, _ := New(Options{Format: DebeziumJSON, SourceType: "postgres", Name: "pg"})
	got := decode(t, w.Append(nil, &event.Change{Op: event.OpInsert, Schema: s, Pos: event.Pos{Log: "0/16B3748"},
		After: event.Row{event.Int(1), event.Decimal("-1.230"), event.String("P1DT2H"), event.Time(3723500000)}}, 0))
	after := field(got, "payload", "after").(map[string]any)
	if n := after["n"].(map[string]any); n["scale"] != json.Number("3") || n["value"] != "+zI=" {
		t.Errorf("numeric: %v, want scale 3 and the bytes of -1230", n)
	}
	if after["iv"] != json.Number("93600000000") || after["t3"] != json.Number("3723500") {
		t.Errorf("interval %v (want 93600000000), time(3) %v (want 3723500 ms)", after["iv"], after["t3"])
	}
	src := field(got, "payload", "source").(map[string]any)
	if src["connector"] != "postgresql" || src["db"] != "shop" || src["schema"] != "public" || src["lsn"] != json.Number("23803720") {
		t.Errorf("source %v", src)
	}
	if name := field(got, "schema", "name"); name != "pg.shop.public.t.Envelope" {
		t.Errorf("envelope %v", name)
	}
}

// TestDebeziumModes: Debezium's decimal.handling.mode, bigint.unsigned.handling.mode and
// time.precision.mode change what a value is, as in Debezium.
func TestDebeziumModes(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "db", Table: "t"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int32}},
		{Name: "price", Type: types.Type{Kind: types.Decimal, Precision: 10, Scale: 2}, Nullable: true},
		{Name: "big", Type: types.Type{Kind: types.Uint64}, Nullable: true},
		{Name: "dt", Type: types.Type{Kind: types.Timestamp, Precision: 6}, Nullable: true},
		{Name: "tm", Type: types.Type{Kind: types.Time, Precision: 0}, Nullable: true},
	}}
	row := event.Row{event.Int(1), event.Decimal("1.23"), event.Uint(1 << 63), event.Timestamp(1514764800123456), event.Time(3723000000)}
	for _, c := range []struct {
		o    Options
		want string // price big dt tm
	}{
		{Options{}, `"ew==" -9223372036854775808 1514764800123456 3723000000`},
		{Options{DecimalMode: "string", UnsignedMode: "precise"}, `"1.23" "9223372036854775808" 1514764800123456 3723000000`},
		{Options{DecimalMode: "double", UnsignedMode: "precise"}, `1.23 "AIAAAAAAAAAA" 1514764800123456 3723000000`},
		{Options{TimeMode: "connect"}, `"ew==" -9223372036854775808 1514764800123 3723000`},
		{Options{TimeMode: "adaptive"}, `"ew==" -9223372036854775808 1514764800123456 3723000`},
	} {
		c.o.Format, c.o.SourceType, c.o.NoSchema = DebeziumJSON, "mysql", true
		w, _ := New(c.o)
		after := decode(t, w.Append(nil, &event.Change{Op: event.OpInsert, Schema: s, After: row}, 0))["after"].(map[string]any)
		var got []string
		for _, col := range []string{"price", "big", "dt", "tm"} {
			got = append(got, string(mustJSON(after[col])))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%+v: %s, want %s", c.o, strings.Join(got, " "), c.want)
		}
	}
}

// TestDebeziumSnapshotMarks: source.snapshot for the reads of three tables of three rows,
// as Debezium's chunked-snapshot test expects them (first table: first, true,
// last_in_data_collection; the middle one: first_in_data_collection, true,
// last_in_data_collection; the last: first_in_data_collection, true, last), from the marks
// the engine sets; a table's only row is its last; the stream's changes are "false".
func TestDebeziumSnapshotMarks(t *testing.T) {
	w, _ := New(Options{Format: DebeziumJSON, SourceType: "mysql", Name: "srv", NoSchema: true})
	snap := func(op event.Op, m event.SnapshotMark) any {
		c := &event.Change{Op: op, Mark: m, Schema: customers, After: event.Row{event.Int(1), event.Null(), event.Null(), event.Null()}}
		return field(decode(t, w.Append(nil, c, 0)), "source", "snapshot")
	}
	for _, tc := range []struct {
		marks []event.SnapshotMark
		want  []string
	}{
		{[]event.SnapshotMark{event.FirstInTable | event.FirstInSnapshot, 0, event.LastInTable}, []string{"first", "true", "last_in_data_collection"}},
		{[]event.SnapshotMark{event.FirstInTable, 0, event.LastInTable}, []string{"first_in_data_collection", "true", "last_in_data_collection"}},
		{[]event.SnapshotMark{event.FirstInTable, 0, event.LastInTable | event.LastInSnapshot}, []string{"first_in_data_collection", "true", "last"}},
		{[]event.SnapshotMark{event.FirstInTable | event.LastInTable}, []string{"last_in_data_collection"}},
		{[]event.SnapshotMark{event.FirstInTable | event.LastInTable | event.FirstInSnapshot | event.LastInSnapshot}, []string{"last"}},
	} {
		for i, m := range tc.marks {
			if got := snap(event.OpRead, m); got != tc.want[i] {
				t.Errorf("marks %v, row %d: snapshot %v, want %s", tc.marks, i, got, tc.want[i])
			}
		}
	}
	if got := snap(event.OpInsert, event.FirstInTable); got != "false" {
		t.Errorf("an insert: snapshot %v, want false", got)
	}
}

// TestDebeziumTransaction: the transaction block as Debezium's documentation shows it
// with provide.transaction.metadata (id, total_order, data_collection_order, typed by
// the envelope's event.block schema), null without it and for snapshot reads.
func TestDebeziumTransaction(t *testing.T) {
	c := &event.Change{Op: event.OpInsert, Schema: customers, Pos: event.Pos{Log: "0e4d5dcd-a33b-11ea-b2b3-0242ac110002:23", Off: 2}, TableSeq: 1,
		After: event.Row{event.Int(1004), event.String("Anne"), event.String("Kretchmar"), event.String("annek@noanswer.org")}}
	on, _ := New(Options{Format: DebeziumJSON, SourceType: "mysql", Name: "srv", Transactions: true})
	got := decode(t, on.Append(nil, c, 0))
	want := map[string]any{"id": "0e4d5dcd-a33b-11ea-b2b3-0242ac110002:23", "total_order": json.Number("3"), "data_collection_order": json.Number("1")}
	if g := field(got, "payload", "transaction"); !reflect.DeepEqual(g, want) {
		t.Errorf("transaction %v, want %v", g, want)
	}
	var block map[string]any
	for _, f := range field(got, "schema", "fields").([]any) {
		if f.(map[string]any)["field"] == "transaction" {
			block = f.(map[string]any)
		}
	}
	if block == nil || block["name"] != "event.block" || len(block["fields"].([]any)) != 3 {
		t.Errorf("the envelope's transaction field: %v", block)
	}
	off, _ := New(Options{Format: DebeziumJSON, SourceType: "mysql", Name: "srv", NoSchema: true})
	if g := decode(t, off.Append(nil, c, 0)); g["transaction"] != nil {
		t.Errorf("without provide.transaction.metadata: transaction %v, want null", g["transaction"])
	}
	read := *c
	read.Op, read.TableSeq = event.OpRead, 0
	if g := field(decode(t, on.Append(nil, &read, 0)), "payload", "transaction"); g != nil {
		t.Errorf("a snapshot read: transaction %v, want null", g)
	}
}

// TestDebeziumUnavailableValues: an unchanged TOAST value is Debezium's placeholder shaped
// for its column (its PostgreSQL connector's UnchangedToastedPlaceholder): text, base64
// of its bytes, a one-element text array, an integer array of its bytes.
func TestDebeziumUnavailableValues(t *testing.T) {
	intArr, textArr := types.Type{Kind: types.Int32}, types.Type{Kind: types.String}
	s := &event.Schema{ID: event.TableID{Namespace: "db", Schema: "public", Table: "t"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int32}},
		{Name: "txt", Type: types.Type{Kind: types.String}, Nullable: true},
		{Name: "bin", Type: types.Type{Kind: types.Bytes}, Nullable: true},
		{Name: "texts", Type: types.Type{Kind: types.Array, Elem: &textArr}, Nullable: true},
		{Name: "ints", Type: types.Type{Kind: types.Array, Elem: &intArr}, Nullable: true},
	}}
	w, _ := New(Options{Format: DebeziumJSON, SourceType: "postgres", Name: "srv", NoSchema: true})
	c := &event.Change{Op: event.OpUpdate, Schema: s, Pos: event.Pos{Log: "0/16B3748"},
		After: event.Row{event.Int(1), event.Unchanged(), event.Unchanged(), event.Unchanged(), event.Unchanged()}}
	after := field(decode(t, w.Append(nil, c, 0)), "after").(map[string]any)
	ints := []any{}
	for _, ch := range []byte(unavailable) {
		ints = append(ints, json.Number(fmt.Sprint(ch)))
	}
	for col, want := range map[string]any{
		"txt": unavailable, "bin": "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==",
		"texts": []any{unavailable}, "ints": ints,
	} {
		if !reflect.DeepEqual(after[col], want) {
			t.Errorf("%s: %v, want %v", col, after[col], want)
		}
	}
}
