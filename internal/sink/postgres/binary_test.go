package postgres

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// TestBinaryCopy writes, as snapshot rows, the type matrix's columns that have a binary
// COPY form (every edge value of theirs), and a table whose rows need the text format
// (a date before year 1), and reads both back as written; the first went in binary.
func TestBinaryCopy(t *testing.T) {
	full, fullRows := conformance.TypeMatrix(event.TableID{Schema: "conf", Table: "bin"}, conformance.TypeLimits{MinTime: 0, MaxTime: 24 * 3600e6, NoNUL: true})
	noBinary := []string{"time6", "uuid"}
	s := &event.Schema{ID: full.ID, Key: []int{0}}
	var keep []int
	for i, c := range full.Columns {
		if !slices.Contains(noBinary, c.Name) {
			s.Columns, keep = append(s.Columns, c), append(keep, i)
		}
	}
	var rows []event.Row
	for _, r := range fullRows {
		row := make(event.Row, len(keep))
		for j, i := range keep {
			row[j] = r[i]
		}
		rows = append(rows, row)
	}
	day := int64(-719_528 - 400) // 0000-11-27: before year 1, written by the text format
	textOnly := &event.Schema{ID: event.TableID{Schema: "conf", Table: "bc"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}}, {Name: "d", Type: types.Type{Kind: types.Date}, Nullable: true}}}
	textRows := []event.Row{{event.Int(1), event.Date(19_000)}, {event.Int(2), event.Date(day)}}

	w := open(t, Options{})
	defer w.Close()
	ctx := context.Background()
	for seq, tc := range []struct {
		s      *event.Schema
		rows   []event.Row
		binary bool
	}{{s, rows, true}, {textOnly, textRows, false}} {
		var reads []event.Change
		for _, r := range tc.rows {
			reads = append(reads, event.Change{Op: event.OpRead, Schema: tc.s, After: r})
		}
		if err := w.Apply(ctx, &connector.Batch{Changes: reads}); err != nil {
			t.Fatalf("%s: %v", tc.s.ID, err)
		}
		if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "conformance", Generation: 1, Seq: int64(seq + 1), Position: event.Position("bin")}); err != nil {
			t.Fatal(err)
		}
		pl := w.plans[tc.s]
		if sql, err := pl.copyBinary(&part{}, reads); err != nil || (sql != "") != tc.binary {
			t.Errorf("%s: COPY in the binary format %t (%q, %v), want %t", tc.s.ID, sql != "", sql, err, tc.binary)
		}
		got, _, err := ReadRows(ctx, connect(t), tc.s, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		want, err := conformance.TableImage(tc.s, tc.rows)
		if err != nil {
			t.Fatal(err)
		}
		gotImg, err := conformance.TableImage(tc.s, got)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(gotImg) != fmt.Sprint(want) {
			t.Errorf("%s: read back\n%v\nwant\n%v", tc.s.ID, gotImg, want)
		}
	}
}

// TestBinaryFieldFallback: a value the binary format would write differently from text
// input, or that text input refuses, has no binary form (the batch goes in as text).
func TestBinaryFieldFallback(t *testing.T) {
	for _, tc := range []struct {
		v    event.Value
		col  binCol
		kind types.Kind
		want []byte // nil: no binary form
	}{
		{event.Int(math.MaxInt16 + 1), binInt2, types.Int32, nil},
		{event.Int(-7), binInt2, types.Int16, []byte{0, 0, 0, 2, 0xff, 0xf9}},
		{event.Int(math.MinInt32 - 1), binInt4, types.Int64, nil},
		{event.Uint(math.MaxInt64 + 1), binInt8, types.Uint64, nil},
		{event.Uint(5), binInt8, types.Int64, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5}},
		{event.String("5"), binInt4, types.Int32, nil},
		{event.Float(0.1), binFloat4, types.Float64, nil}, // text input rounds 0.1's decimal form
		{event.Float(0.5), binFloat4, types.Float32, []byte{0, 0, 0, 4, 0x3f, 0, 0, 0}},
		{event.Int(1), binFloat8, types.Int32, nil},
		{event.Float(float64(float32(0.1))), binFloat8, types.Float32, nil}, // text input writes 0.1 there
		{event.String("a\x00b"), binText, types.String, nil},
		{event.Int(5), binText, types.String, nil},
		{event.String("é"), binText, types.String, []byte{0, 0, 0, 2, 0xc3, 0xa9}},
		{event.JSON("[]"), binJSONB, types.JSON, []byte{0, 0, 0, 3, 1, '[', ']'}},
		{event.String("ab"), binBytea, types.Bytes, nil},
		{event.Date(lastDay + 1), binDate, types.Date, nil},
		{event.Date(pgEpochDays + 1), binDate, types.Date, []byte{0, 0, 0, 4, 0, 0, 0, 1}},
		{event.Timestamp(0), binTimestampTZ, types.Timestamp, nil}, // text input reads it in the session's zone
		{event.Timestamp(pgEpochMicros), binTimestampTZ, types.TimestampLTZ, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}},
		{event.Timestamp(pgEpochMicros - 1), binTimestamp, types.Timestamp, []byte{0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{event.Null(), binInt4, types.Int32, []byte{0xff, 0xff, 0xff, 0xff}},
		// numeric: length, ndigits, weight, sign, dscale, base-10,000 digits
		{event.Decimal("-12.50"), binNumeric, types.Decimal, []byte{0, 0, 0, 12, 0, 2, 0, 0, 0x40, 0, 0, 2, 0, 12, 0x13, 0x88}},
		{event.Decimal("0.0001"), binNumeric, types.Decimal, []byte{0, 0, 0, 10, 0, 1, 0xff, 0xff, 0, 0, 0, 4, 0, 1}},
		{event.Decimal("-0.00"), binNumeric, types.Decimal, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2}},
		{event.Decimal("10000"), binNumeric, types.Decimal, []byte{0, 0, 0, 10, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1}},
		{event.Uint(123456789), binNumeric, types.Uint64, []byte{0, 0, 0, 14, 0, 3, 0, 2, 0, 0, 0, 0, 0, 1, 0x09, 0x29, 0x1a, 0x85}},
		{event.Decimal("NaN"), binNumeric, types.Decimal, nil},
		{event.Decimal("1e5"), binNumeric, types.Decimal, nil},
		{event.Decimal("."), binNumeric, types.Decimal, nil},
	} {
		got, ok := appendBinaryField(nil, tc.v, tc.col, tc.kind)
		if !ok {
			got = nil
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v as %d (%v): % x, want % x", tc.v, tc.col, tc.kind, got, tc.want)
		}
	}
	for _, f := range []string{"numeric(10,2)[]", "character(5)[]", "timestamp(3) without time zone[]", "text[]", "uuid", "time(6) without time zone", "integer[]", "citext"} {
		if binColOf(f) != binNone {
			t.Errorf("%s has a binary form here; it should not", f)
		}
	}
	for _, f := range []string{"numeric(20,0)", "numeric", "character varying(10)", "character(5)", "timestamp(3) with time zone", "timestamp without time zone", "jsonb"} {
		if binColOf(f) == binNone {
			t.Errorf("%s has no binary form here", f)
		}
	}
}
