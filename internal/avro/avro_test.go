package avro

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/format"
	"github.com/weir-data/weir/internal/types"
)

// typedTable is a table of the types whose Connect shapes differ most.
func typedTable() (*event.Schema, event.Row) {
	int32T := types.Type{Kind: types.Int32}
	s := &event.Schema{ID: event.TableID{Schema: "db", Table: "t-1"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int8}},
		{Name: "price", Type: types.Type{Kind: types.Decimal, Precision: 10, Scale: 2}, Nullable: true},
		{Name: "neg", Type: types.Type{Kind: types.Decimal, Precision: 10, Scale: 2}, Nullable: true},
		{Name: "d", Type: types.Type{Kind: types.Date}, Nullable: true},
		{Name: "dt6", Type: types.Type{Kind: types.Timestamp, Precision: 6}, Nullable: true},
		{Name: "ts", Type: types.Type{Kind: types.TimestampLTZ}, Nullable: true},
		{Name: "tm", Type: types.Type{Kind: types.Time, Precision: 6}, Nullable: true},
		{Name: "js", Type: types.Type{Kind: types.JSON}, Nullable: true},
		{Name: "e", Type: types.Type{Kind: types.Enum, Values: []string{"a", "b"}}, Nullable: true},
		{Name: "f", Type: types.Type{Kind: types.Float32}, Nullable: true},
		{Name: "nan", Type: types.Type{Kind: types.Float64}, Nullable: true},
		{Name: "ok", Type: types.Type{Kind: types.Boolean}, Nullable: true},
		{Name: "raw", Type: types.Type{Kind: types.Bytes}, Nullable: true},
		{Name: "arr", Type: types.Type{Kind: types.Array, Elem: &int32T}, Nullable: true},
		{Name: "2nd-name", Type: types.Type{Kind: types.String}, Nullable: true},
		{Name: "none", Type: types.Type{Kind: types.String}, Nullable: true},
	}}
	row := event.Row{event.Int(1), event.Decimal("1.23"), event.Decimal("-1.23"), event.Date(17532),
		event.Timestamp(1514764800123456), event.Timestamp(1514764800000000), event.Time(3723000001),
		event.JSON(`{"a":1}`), event.String("b"), event.Float(1.5), event.Float(nanValue()), event.Bool(true),
		event.Bytes([]byte{0, 0xff}), event.JSON(`[1,2]`), event.String("x"), event.Null()}
	return s, row
}

func nanValue() float64 { var z float64; return z / z }

// TestRoundTrip: a change's Connect schema and value, as debezium-json writes them, become
// Avro that hamba's own decoder reads, and come back as the same Connect value and an
// equivalent Connect schema.
func TestRoundTrip(t *testing.T) {
	s, row := typedTable()
	w, err := format.New(format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "srv", NoSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	connect := w.DebeziumSchema(s)
	as, err := FromConnect(connect)
	if err != nil {
		t.Fatal(err)
	}
	payload := w.Append(nil, &event.Change{Op: event.OpUpdate, Schema: s, Before: row, After: row}, 42)
	bin, err := Encode(nil, as, payload)
	if err != nil {
		t.Fatal(err)
	}
	var generic any // an independent reader of the encoding
	if err := avro.Unmarshal(as, bin, &generic); err != nil {
		t.Fatalf("hamba cannot read weir's Avro: %v\nschema %s", err, as)
	}
	back, rest, err := Decode(nil, as, bin)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode: %v (%d bytes left)", err, len(rest))
	}
	var want, got map[string]any
	json.Unmarshal(payload, &want)
	dec := json.NewDecoder(bytes.NewReader(back))
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoded %s: %v", back, err)
	}
	// Field names Avro cannot hold come back clean.
	for _, img := range []string{"before", "after"} {
		m := want[img].(map[string]any)
		m["_nd_name"] = m["2nd-name"]
		delete(m, "2nd-name")
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("the value came back different:\nwant %v\ngot  %v", want, got)
	}
	// The Connect schema read back from the Avro one types each column the same.
	var orig, again connectSchema
	json.Unmarshal(connect, &orig)
	json.Unmarshal(ToConnect(as), &again)
	if len(again.Fields) != len(orig.Fields) {
		t.Fatalf("envelope fields %d, want %d", len(again.Fields), len(orig.Fields))
	}
	oa, aa := orig.Fields[1], again.Fields[1]
	if aa.Field != "after" || !aa.Optional || aa.Name != "srv.db.t_1.Value" && aa.Name != oa.Name {
		t.Fatalf("after: %+v", aa)
	}
	for i, f := range oa.Fields {
		g := aa.Fields[i]
		if g.Type != f.Type || g.Name != f.Name || g.Optional != f.Optional || !reflect.DeepEqual(g.Parameters, f.Parameters) {
			t.Errorf("column %s: Connect %s %s %v optional=%v; back %s %s %v optional=%v", f.Field, f.Type, f.Name, f.Parameters, f.Optional,
				g.Type, g.Name, g.Parameters, g.Optional)
		}
	}
}

// TestSubjects: the three naming strategies of the Confluent serializers.
func TestSubjects(t *testing.T) {
	s := avro.MustParse(`{"type":"record","name":"Envelope","namespace":"srv.db.t","fields":[{"name":"a","type":"int"}]}`)
	for strategy, want := range map[string]string{"topic-name": "topic-value", "record-name": "srv.db.t.Envelope", "topic-record-name": "topic-srv.db.t.Envelope"} {
		if got := Subject(strategy, "topic", s, false); got != want {
			t.Errorf("%s: %s, want %s", strategy, got, want)
		}
	}
	if got := Subject("topic-name", "topic", s, true); got != "topic-key" {
		t.Errorf("key subject %s", got)
	}
	if id, rest, err := SplitHeader(AppendHeader(nil, 258)); err != nil || id != 258 || len(rest) != 0 {
		t.Errorf("header: %d %v", id, err)
	}
	if _, _, err := SplitHeader([]byte(`{"a":1}`)); err == nil {
		t.Error("a JSON value passed for Avro")
	}
}
