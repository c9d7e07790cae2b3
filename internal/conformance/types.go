package conformance

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// TypeLimits is what a target holds where targets differ.
type TypeLimits struct {
	MinTime, MaxTime int64 // the range of a time of day, in microseconds
	NoNUL            bool  // text cannot hold a NUL character (PostgreSQL)
}

// TypeMatrix is table id with a column of every unified type a sink's mapping table
// lists, and rows of edge values: the widest, the narrowest, NULLs; and, as a fourth and
// fifth row, ordinary values.
func TypeMatrix(id event.TableID, lim TypeLimits) (*event.Schema, []event.Row) {
	col := func(name string, t types.Type) event.Column { return event.Column{Name: name, Type: t, Nullable: true} }
	int32Type := types.Type{Kind: types.Int32}
	s := &event.Schema{ID: id, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}},
		col("bool", types.Type{Kind: types.Boolean}),
		col("i8", types.Type{Kind: types.Int8}),
		col("i16", types.Type{Kind: types.Int16}),
		col("i32", types.Type{Kind: types.Int32}),
		col("i64", types.Type{Kind: types.Int64}),
		col("u64", types.Type{Kind: types.Uint64}),
		col("f32", types.Type{Kind: types.Float32}),
		col("f64", types.Type{Kind: types.Float64}),
		col("dec", types.Type{Kind: types.Decimal, Precision: 12, Scale: 2}),
		col("decw", types.Type{Kind: types.Decimal, Precision: 65, Scale: 30}),
		col("decu", types.Type{Kind: types.Decimal}),
		col("s10", types.Type{Kind: types.String, Length: 10}),
		col("stext", types.Type{Kind: types.String}),
		col("sfixed", types.Type{Kind: types.String, Length: 5, Fixed: true}),
		col("by4", types.Type{Kind: types.Bytes, Length: 4, Fixed: true}),
		col("bytext", types.Type{Kind: types.Bytes}),
		col("date", types.Type{Kind: types.Date}),
		col("time6", types.Type{Kind: types.Time, Precision: 6}),
		col("ts6", types.Type{Kind: types.Timestamp, Precision: 6}),
		col("ts0", types.Type{Kind: types.Timestamp}),
		col("ltz3", types.Type{Kind: types.TimestampLTZ, Precision: 3}),
		col("json", types.Type{Kind: types.JSON}),
		col("uuid", types.Type{Kind: types.UUID}),
		col("enum", types.Type{Kind: types.Enum, Values: []string{"a", "b", "c"}}),
		col("set", types.Type{Kind: types.Set, Values: []string{"a", "b", "c"}}),
		col("arr", types.Type{Kind: types.Array, Elem: &int32Type}),
	}}
	day := func(y int, m time.Month, d int) int64 { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400 }
	ts := func(y int, m time.Month, d, h, mi, sec, us int) event.Value {
		return event.Timestamp(time.Date(y, m, d, h, mi, sec, us*1000, time.UTC).UnixMicro())
	}
	all := make([]byte, 70000)
	for i := range all {
		all[i] = byte(i)
	}
	long := strings.Repeat("quote ' backslash \\ newline \n tab \t ctrl-z \x1a double \" emoji 😀 ", 2000)
	rows := []event.Row{
		{event.Int(1), event.Bool(true), event.Int(127), event.Int(32767), event.Int(math.MaxInt32), event.Int(math.MaxInt64),
			event.Uint(math.MaxUint64), event.Float(float64(float32(math.MaxFloat32))), event.Float(math.MaxFloat64),
			event.Decimal("9999999999.99"), event.Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
			event.Decimal("123456789012345678901234567890.5"), event.String("éééééééééé"), event.String(long), event.String("ab"),
			event.Bytes([]byte{0, 1, 2, 0xff}), event.Bytes(all), event.Date(day(9999, 12, 31)), event.Time(lim.MaxTime),
			ts(9999, 12, 31, 23, 59, 59, 999999), ts(9999, 12, 31, 23, 59, 59, 0), ts(2100, 1, 1, 0, 0, 0, 123000),
			event.JSON(`{"a": [1, 2.5, "x\"y"], "b": null, "c": {"d": "é"}}`), event.String("123e4567-e89b-12d3-a456-426614174000"),
			event.String("c"), event.String("a,c"), event.JSON("[1, 2, 2147483647]")},
		{event.Int(2), event.Bool(false), event.Int(-128), event.Int(-32768), event.Int(math.MinInt32), event.Int(math.MinInt64),
			event.Uint(0), event.Float(float64(-float32(math.MaxFloat32))), event.Float(-math.SmallestNonzeroFloat64 * (1 << 52)),
			event.Decimal("-9999999999.99"), event.Decimal("-0.000000000000000000000000000001"), event.Decimal("-1"),
			event.String(""), event.String("'\\\n\r\t\x1a\"\x00"), event.String("a"), event.Bytes([]byte{0, 0, 0, 0}), event.Bytes(nil),
			event.Date(day(1, 1, 1)), event.Time(lim.MinTime), ts(1, 1, 1, 0, 0, 0, 0), ts(1000, 1, 1, 0, 0, 0, 0),
			ts(1900, 1, 1, 0, 0, 0, 1000), event.JSON("[]"), event.String("00000000-0000-0000-0000-000000000000"),
			event.String("a"), event.String(""), event.JSON("[]")},
		{event.Int(3)},
		{event.Int(4), event.Bool(true), event.Int(1), event.Int(2), event.Int(3), event.Int(4), event.Uint(5), event.Float(1.1),
			event.Float(0.1), event.Decimal("1.50"), event.Decimal("2.000000000000000000000000000000"), event.Decimal("3"),
			event.String("plain"), event.String("text"), event.String("fixed"), event.Bytes([]byte("abcd")), event.Bytes([]byte("bytes")),
			event.Date(day(2024, 2, 29)), event.Time(12*3600e6 + 34*60e6 + 56e6 + 789), ts(2024, 2, 29, 12, 0, 0, 1),
			ts(1970, 1, 1, 0, 0, 0, 0), ts(2038, 1, 19, 3, 14, 8, 0), event.JSON(`{"k": true}`),
			event.String("ffffffff-ffff-ffff-ffff-ffffffffffff"), event.String("b"), event.String("b,c"), event.JSON("[0]")},
	}
	for _, r := range rows {
		for i := range r {
			if lim.NoNUL && r[i].Rep() == event.RepString {
				r[i] = event.String(strings.ReplaceAll(r[i].Str(), "\x00", ""))
			}
		}
		for len(r) < len(s.Columns) {
			r = append(r, event.Null())
		}
		rows[int(r[0].Int())-1] = r
	}
	return s, rows
}

// RunTypeMatrix writes the type matrix into a sink as snapshot reads, then moves every
// row's values to the next row's by updates (the streaming path), committing after each,
// and checks each time that read returns what was written. A sink passes when its
// mapping holds every value of every type exactly.
func RunTypeMatrix(t *testing.T, id event.TableID, lim TypeLimits, open func(t *testing.T) connector.Sink, read func(t *testing.T, s *event.Schema) []event.Row) {
	s, rows := TypeMatrix(id, lim)
	sink := open(t)
	defer sink.Close()
	ctx := context.Background()
	var reads []event.Change
	for _, r := range rows {
		reads = append(reads, event.Change{Op: event.OpRead, Schema: s, After: r})
	}
	commit := func(seq int64, changes []event.Change, want []event.Row, what string) {
		t.Helper()
		if err := sink.Apply(ctx, &connector.Batch{Changes: changes}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := sink.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "conformance", Generation: 1, Seq: seq, Position: event.Position("types")}); err != nil {
			t.Fatalf("%s: commit: %v", what, err)
		}
		wantImg, err := TableImage(s, want)
		if err != nil {
			t.Fatal(err)
		}
		gotImg, err := TableImage(s, read(t, s))
		if err != nil {
			t.Fatal(err)
		}
		var diffs []string
		for k, w := range wantImg {
			g, ok := gotImg[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("row %s: missing", k))
				continue
			}
			for col, wv := range w {
				if ws, gs := fmt.Sprint(wv), fmt.Sprint(g[col]); ws != gs {
					diffs = append(diffs, fmt.Sprintf("row %s, column %s: wrote %s, read %s", k, col, truncate(ws, 80), truncate(gs, 80)))
				}
			}
		}
		if len(gotImg) != len(wantImg) {
			diffs = append(diffs, fmt.Sprintf("%d rows read, %d written", len(gotImg), len(wantImg)))
		}
		if len(diffs) > 0 {
			sort.Strings(diffs)
			t.Fatalf("%s: the values read back differ:\n  %s", what, strings.Join(diffs, "\n  "))
		}
	}
	commit(1, reads, rows, "snapshot rows")
	var updates []event.Change
	moved := make([]event.Row, len(rows))
	for i, r := range rows {
		next := append(event.Row{r[0]}, rows[(i+1)%len(rows)][1:]...)
		updates = append(updates, event.Change{Op: event.OpUpdate, Schema: s, Before: r, After: next, Pos: event.Pos{Log: "u", Off: uint64(i)}})
		moved[i] = next
	}
	commit(2, updates, moved, "updates")
}
