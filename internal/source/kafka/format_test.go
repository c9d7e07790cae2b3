package kafka

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// TestCanalJSONDocumented reads the UPDATE record of Flink's canal-json documentation: the
// table from database and table, columns in mysqlType's order with its types, the key
// from pkNames, and the before image from data overlaid with old.
func TestCanalJSONDocumented(t *testing.T) {
	rec := `{"data":[{"id":"111","name":"scooter","description":"Big 2-wheel scooter","weight":"5.18"}],
	"database":"inventory","es":1589373560000,"id":9,"isDdl":false,
	"mysqlType":{"id":"INTEGER","name":"VARCHAR(255)","description":"VARCHAR(512)","weight":"FLOAT"},
	"old":[{"weight":"5.15"}],"pkNames":["id"],"sql":"","sqlType":{"id":4,"name":12,"description":12,"weight":7},
	"table":"products","ts":1589373560798,"type":"UPDATE"}`
	known := map[event.TableID]*table{}
	cs, announce, err := canalJSON{}.decode(&kgo.Record{Topic: "x", Value: []byte(rec)}, known)
	if err != nil {
		t.Fatal(err)
	}
	if announce == nil || announce.Kind != event.CreateTable || announce.Table != (event.TableID{Schema: "inventory", Table: "products"}) {
		t.Fatalf("announce %+v: want the table inventory.products created", announce)
	}
	s := announce.After
	var names []string
	for _, c := range s.Columns {
		names = append(names, c.Name+" "+c.Type.String())
	}
	if got := strings.Join(names, ", "); got != "id int32, name string(255), description string(512), weight float32" || len(s.Key) != 1 || s.Key[0] != 0 {
		t.Fatalf("columns %s, key %v", got, s.Key)
	}
	if len(cs) != 1 || cs[0].Op != event.OpUpdate {
		t.Fatalf("changes %+v", cs)
	}
	c := cs[0]
	if c.After[0].Int() != 111 || c.After[3].Float() != float64(float32(5.18)) && c.After[3].Float() != 5.18 || c.Before[3].Float() != 5.15 || c.Before[1].Str() != "scooter" {
		t.Fatalf("after %v, before %v", c.After, c.Before)
	}
	if c.CommitMicros != 1589373560000*1000 {
		t.Fatalf("commit time %d", c.CommitMicros)
	}
	// The same shape again is not announced; a DDL record is passed over.
	if _, announce, err := (canalJSON{}).decode(&kgo.Record{Value: []byte(rec)}, known); err != nil || announce != nil {
		t.Fatalf("the same shape again: %v, %v", announce, err)
	}
	if cs, _, err := (canalJSON{}).decode(&kgo.Record{Value: []byte(`{"isDdl":true,"sql":"ALTER TABLE products ADD c INT","type":"ALTER"}`)}, known); err != nil || len(cs) != 0 {
		t.Fatalf("a DDL record: %v, %v", cs, err)
	}
	if _, _, err := (canalJSON{}).decode(&kgo.Record{Value: []byte(strings.Replace(rec, `"111"`, `"one"`, 1))}, known); err == nil || !strings.Contains(err.Error(), "column id") {
		t.Fatalf("a value its type cannot hold: %v", err)
	}
}

// TestJSONDeclared: rows of declared columns, deletes by the op field, and a value the
// declared type cannot hold refused with its column.
func TestJSONDeclared(t *testing.T) {
	d, err := newJSONRows("shop.orders", "id int64, name string(64), amount decimal(12,2), at timestamp(6), tags json", "id", "op")
	if err != nil {
		t.Fatal(err)
	}
	known := map[event.TableID]*table{}
	cs, announce, err := d.decode(&kgo.Record{Topic: "t", Value: []byte(`{"id":1,"name":"a","amount":"1.50","at":"2024-01-02 03:04:05.5","tags":["x"]}`)}, known)
	if err != nil {
		t.Fatal(err)
	}
	if announce == nil || announce.After.ID != (event.TableID{Schema: "shop", Table: "orders"}) || announce.After.Columns[2].Type.String() != "decimal(12,2)" {
		t.Fatalf("announce %+v", announce)
	}
	r := cs[0].After
	if cs[0].Op != event.OpInsert || r[0].Int() != 1 || r[2].Str() != "1.50" || r[3].Micros() != 1704164645500000 || r[4].Str() != `["x"]` {
		t.Fatalf("row %v", r)
	}
	cs, _, err = d.decode(&kgo.Record{Value: []byte(`{"id":1,"op":"d"}`)}, known)
	if err != nil || cs[0].Op != event.OpDelete || cs[0].Before[0].Int() != 1 {
		t.Fatalf("a delete: %+v, %v", cs, err)
	}
	if _, _, err := d.decode(&kgo.Record{Value: []byte(`{"id":"x"}`)}, known); err == nil || !strings.Contains(err.Error(), "column id") {
		t.Fatalf("a value its type cannot hold: %v", err)
	}
	if _, err := newJSONRows("", "id int64, name", "", ""); err == nil || !strings.Contains(err.Error(), "json.columns") {
		t.Fatalf("a column without a type: %v", err)
	}
	if _, err := newJSONRows("", "id int64", "key", ""); err == nil || !strings.Contains(err.Error(), "json.key") {
		t.Fatalf("a key not declared: %v", err)
	}
}

// TestJSONInferred: columns inferred from the first record, widened (announced altered)
// when a later record brings a new field or a fraction for an integral column (decimal).
func TestJSONInferred(t *testing.T) {
	d, _ := newJSONRows("", "", "", "")
	known := map[event.TableID]*table{}
	_, announce, err := d.decode(&kgo.Record{Topic: "shop.orders", Key: []byte(`{"id":1}`), Value: []byte(`{"id":1,"n":2,"s":"x","ok":true}`)}, known)
	if err != nil || announce == nil || announce.Kind != event.CreateTable {
		t.Fatalf("first record: %+v, %v", announce, err)
	}
	if s := announce.After; len(s.Key) != 1 || s.Columns[1].Type.Kind != types.Int64 || s.Columns[3].Type.Kind != types.Boolean {
		t.Fatalf("inferred %+v", s)
	}
	if _, announce, _ := d.decode(&kgo.Record{Topic: "shop.orders", Value: []byte(`{"id":2,"n":3}`)}, known); announce != nil {
		t.Fatalf("a record that fits was announced: %+v", announce)
	}
	cs, announce, err := d.decode(&kgo.Record{Topic: "shop.orders", Value: []byte(`{"id":3,"n":2.5,"extra":"e"}`)}, known)
	if err != nil || announce == nil || announce.Kind != event.AlterTable {
		t.Fatalf("a wider record: %+v, %v", announce, err)
	}
	if s := announce.After; s.Columns[1].Type.Kind != types.Decimal || s.ColumnIndex("extra") != 4 || cs[0].After[1].Str() != "2.5" {
		t.Fatalf("widened %+v, row %v", s, cs[0].After)
	}
}

// TestMembers: the record scanner finds each member's value whole, strings with escaped
// quotes and backslashes, brackets inside strings and nested values included, and refuses
// what is not an object.
func TestMembers(t *testing.T) {
	var got []string
	err := members([]byte(` {"a" : "x\"y\\", "b":[1,{"c":"]}"}], "d":null,"e":-1.5e3 }`), func(name, v []byte) error {
		got = append(got, string(name)+"="+string(v))
		return nil
	})
	want := `a="x\"y\\"|b=[1,{"c":"]}"}]|d=null|e=-1.5e3`
	if err != nil || strings.Join(got, "|") != want {
		t.Fatalf("members: %q, %v; want %q", strings.Join(got, "|"), err, want)
	}
	for _, bad := range []string{`[1]`, `{"a":1`, `{"a" 1}`, `{"a":"x}`} {
		if err := members([]byte(bad), func(_, _ []byte) error { return nil }); err == nil {
			t.Errorf("members(%s): no error", bad)
		}
	}
	if s, err := jsonString([]byte(`"a\u00e9\n"`)); err != nil || s != "aé\n" {
		t.Errorf("jsonString with escapes: %q, %v", s, err)
	}
}

// TestDebeziumWithoutSchema: debezium-json written without its schema (the payload alone)
// and no columns declared: the table's columns inferred from the image, its key from the
// record key; a delete read from its before image.
func TestDebeziumWithoutSchema(t *testing.T) {
	d := newDebeziumJSON()
	known := map[event.TableID]*table{}
	cs, announce, err := d.decode(&kgo.Record{Key: []byte(`{"id":1}`),
		Value: []byte(`{"before":null,"after":{"id":1,"name":"x","ok":true},"source":{"db":"demo","table":"t","ts_ms":7},"op":"c","ts_ms":9}`)}, known)
	if err != nil || announce == nil {
		t.Fatalf("%v, %v", announce, err)
	}
	s := announce.After
	if s.ID != (event.TableID{Schema: "demo", Table: "t"}) || len(s.Key) != 1 || s.Columns[0].Name != "id" || s.Columns[2].Type.Kind != types.Boolean {
		t.Fatalf("inferred %+v", s)
	}
	if c := cs[0]; c.Op != event.OpInsert || c.After[1].Str() != "x" || c.CommitMicros != 7000 {
		t.Fatalf("change %+v", c)
	}
	cs, announce, err = d.decode(&kgo.Record{Key: []byte(`{"id":1}`),
		Value: []byte(`{"schema":null,"payload":{"before":{"id":1,"name":"x","ok":true},"after":null,"source":{"db":"demo","table":"t"},"op":"d"}}`)}, known)
	if err != nil || announce != nil || cs[0].Op != event.OpDelete || cs[0].Before[0].Int() != 1 {
		t.Fatalf("a delete: %+v, %v, %v", cs, announce, err)
	}
}
