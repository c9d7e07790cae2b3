package event_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func schema() *event.Schema {
	return &event.Schema{
		ID: event.TableID{Schema: "shop", Table: "orders"},
		Columns: []event.Column{
			{Name: "id", Type: types.Type{Kind: types.Int64}},
			{Name: "big", Type: types.Type{Kind: types.Uint64}},
			{Name: "price", Type: types.Type{Kind: types.Decimal, Precision: 65, Scale: 30}},
			{Name: "name", Type: types.Type{Kind: types.String}},
			{Name: "raw", Type: types.Type{Kind: types.Bytes}},
			{Name: "day", Type: types.Type{Kind: types.Date}},
			{Name: "at", Type: types.Type{Kind: types.Time, Precision: 6}},
			{Name: "ts", Type: types.Type{Kind: types.Timestamp, Precision: 6}},
			{Name: "ltz", Type: types.Type{Kind: types.TimestampLTZ, Precision: 3}},
			{Name: "f", Type: types.Type{Kind: types.Float64}},
			{Name: "ok", Type: types.Type{Kind: types.Boolean}},
			{Name: "doc", Type: types.Type{Kind: types.JSON}},
			{Name: "gone", Type: types.Type{Kind: types.String}, Nullable: true},
			{Name: "toast", Type: types.Type{Kind: types.String}},
		},
		Key: []int{0},
	}
}

func TestEnvelope(t *testing.T) {
	ts := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.UTC)
	c := &event.Change{
		Op:     event.OpUpdate,
		Schema: schema(),
		Before: event.Row{event.Int(7)},
		After: event.Row{
			event.Int(7), event.Uint(math.MaxUint64),
			event.Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
			event.String("a \"quoted\"\n\tline \x01 é \xff"), event.Bytes([]byte{0, 1, 2, 255}),
			event.Date(-1), event.Time(-(838*3600 + 59*60 + 59) * 1_000_000),
			event.TimestampOf(ts), event.TimestampOf(ts), event.Float(math.Inf(-1)), event.Bool(true),
			event.JSON(`{"a":[1,2]}`), event.Null(), event.Unchanged(),
		},
		Pos:          event.Pos{Log: "mysql-bin.000003", Off: 4711},
		CommitMicros: ts.UnixMicro(),
	}
	got := string(event.AppendEnvelope(nil, c, "mysql", 1700000000000))
	want := `{"op":"u","before":{"id":7},"after":{"id":7,"big":18446744073709551615,` +
		`"price":"12345678901234567890123456789012345.123456789012345678901234567890",` +
		`"name":"a \"quoted\"\n\tline \u0001 é \ufffd","raw":"AAEC/w==","day":"1969-12-31",` +
		`"at":"-838:59:59","ts":"2024-02-29T23:59:58.123456","ltz":"2024-02-29T23:59:58.123456Z",` +
		`"f":"-Infinity","ok":true,"doc":"{\"a\":[1,2]}","gone":null},` +
		`"source":{"connector":"mysql","db":"shop","table":"orders","pos":"mysql-bin.000003:4711",` +
		`"ts_ms":1709251198123,"snapshot":false},"ts_ms":1700000000000}`
	if got != want {
		t.Fatalf("envelope:\n got %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Fatal("envelope is not valid JSON")
	}
}

func TestValueJSONRoundTrip(t *testing.T) {
	vals := []event.Value{event.Null(), event.Int(-5), event.Uint(math.MaxUint64), event.Float(1.5),
		event.Decimal("-0.001"), event.String("x"), event.Bytes([]byte{9}), event.Date(19000),
		event.Time(1), event.Timestamp(-1), event.JSON("[]"), event.Bool(true), event.Unchanged(),
		event.Bytes([]byte{0xff, 0x00, 0x80}), event.String("bad \xff utf-8"), event.String("nul \x00 inside")}
	b, err := json.Marshal(event.Row(vals))
	if err != nil {
		t.Fatal(err)
	}
	var back event.Row
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if !vals[i].Equal(back[i]) {
			t.Errorf("value %d: %v became %v", i, vals[i], back[i])
		}
	}
}

func TestKeyEncodingDistinguishes(t *testing.T) {
	s := &event.Schema{Columns: []event.Column{{Name: "a"}, {Name: "b"}}, Key: []int{0, 1}}
	k := func(a, b event.Value) string { return string(event.AppendRowKey(nil, s, event.Row{a, b})) }
	if k(event.String("ab"), event.String("c")) == k(event.String("a"), event.String("bc")) {
		t.Fatal("composite string keys collide")
	}
	if k(event.Int(1), event.Null()) == k(event.Uint(1), event.Null()) {
		t.Fatal("int and uint keys collide")
	}
}

// BenchmarkEnvelope measures encoding one change as JSON (allocations per change: 0).
func BenchmarkEnvelope(b *testing.B) {
	s := schema()
	c := &event.Change{Op: event.OpInsert, Schema: s, After: event.Row{
		event.Int(7), event.Uint(9), event.Decimal("12.50"), event.String("hello world"), event.Bytes([]byte("xyz")),
		event.Date(19000), event.Time(3600_000_000), event.Timestamp(1_700_000_000_000_000), event.Timestamp(1_700_000_000_000_000),
		event.Float(2.5), event.Bool(false), event.JSON(`{}`), event.Null(), event.String("t"),
	}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = event.AppendEnvelope(buf[:0], c, "bench", 0)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkRowBuild measures building a row of small values (allocations per row: 1, the
// row itself; values hold numbers and shared strings without allocating).
func BenchmarkRowBuild(b *testing.B) {
	name := "customer name"
	b.ReportAllocs()
	var sink event.Row
	for i := 0; b.Loop(); i++ {
		r := make(event.Row, 6)
		r[0], r[1], r[2] = event.Int(int64(i)), event.String(name), event.Decimal("10.00")
		r[3], r[4], r[5] = event.Timestamp(int64(i)), event.Bool(i&1 == 0), event.Null()
		sink = r
	}
	_ = sink
}
