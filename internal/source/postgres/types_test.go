package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/pgtext"
	"github.com/weir-data/weir/internal/types"
)

// typeCases are the columns of the type round-trip: a PostgreSQL type, the unified type it
// maps to, and values as SQL literals with the event.Value each must decode to (nil: only
// snapshot and stream must agree on it).
var typeCases = []struct {
	col, sqlType string
	want         types.Type
	values       []string
	decoded      []*event.Value
}{
	{"c_int2", "smallint", types.Type{Kind: types.Int16}, []string{"-32768", "32767", "0"}, vals(event.Int(-32768), event.Int(32767), event.Int(0))},
	{"c_int4", "integer", types.Type{Kind: types.Int32}, []string{"-2147483648", "2147483647", "7"}, vals(event.Int(math.MinInt32), event.Int(math.MaxInt32), event.Int(7))},
	{"c_int8", "bigint", types.Type{Kind: types.Int64}, []string{"-9223372036854775808", "9223372036854775807", "1"}, vals(event.Int(math.MinInt64), event.Int(math.MaxInt64), event.Int(1))},
	{"c_num", "numeric(12,3)", types.Type{Kind: types.Decimal, Precision: 12, Scale: 3}, []string{"-123456789.123", "0.001", "1"},
		vals(event.Decimal("-123456789.123"), event.Decimal("0.001"), event.Decimal("1.000"))},
	{"c_numany", "numeric", types.Type{Kind: types.Decimal}, []string{"123456789012345678901234567890.123456789012345678901234567890", "'NaN'", "-0.5"},
		vals(event.Decimal("123456789012345678901234567890.123456789012345678901234567890"), event.Decimal("NaN"), event.Decimal("-0.5"))},
	{"c_real", "real", types.Type{Kind: types.Float32}, []string{"'NaN'", "'Infinity'", "3.4028235e38"}, vals(event.Float(math.NaN()), event.Float(math.Inf(1)), event.Float(float64(float32(3.4028235e38))))},
	{"c_double", "double precision", types.Type{Kind: types.Float64}, []string{"'-Infinity'", "1.7976931348623157e308", "0.1"}, vals(event.Float(math.Inf(-1)), event.Float(math.MaxFloat64), event.Float(0.1))},
	{"c_money", "money", types.Type{Kind: types.Decimal, Precision: 19, Scale: 2}, []string{"-92233720368547758.08", "1234.5", "0"},
		vals(event.Decimal("-92233720368547758.08"), event.Decimal("1234.50"), event.Decimal("0.00"))},
	{"c_text", "text", types.Type{Kind: types.String}, []string{`E'tab\there\nnew line \\ back''quote'`, "'ünïcödé 😀'", "''"},
		vals(event.String("tab\there\nnew line \\ back'quote"), event.String("ünïcödé 😀"), event.String(""))},
	{"c_varchar", "character varying(10)", types.Type{Kind: types.String, Length: 10}, []string{"'abc'", "'0123456789'", "' '"}, nil},
	{"c_char", "character(4)", types.Type{Kind: types.String, Length: 4, Fixed: true}, []string{"'ab'", "'abcd'", "''"},
		vals(event.String("ab  "), event.String("abcd"), event.String("    "))},
	{"c_bytea", "bytea", types.Type{Kind: types.Bytes}, []string{`'\x00ff10'`, `''`, `'\x5c7400'`},
		vals(event.Bytes([]byte{0, 0xff, 0x10}), event.Bytes(nil), event.Bytes([]byte{'\\', 't', 0}))},
	{"c_bool", "boolean", types.Type{Kind: types.Boolean}, []string{"true", "false", "true"}, vals(event.Bool(true), event.Bool(false), event.Bool(true))},
	{"c_date", "date", types.Type{Kind: types.Date}, []string{"'infinity'", "'-infinity'", "'0044-03-15 BC'"},
		vals(event.Date(event.PosInfinity), event.Date(event.NegInfinity), event.Date(pgtext.DaysFromCivil(-43, 3, 15)))},
	{"c_time", "time(6) without time zone", types.Type{Kind: types.Time, Precision: 6}, []string{"'00:00:00'", "'24:00:00'", "'13:14:15.123456'"},
		vals(event.Time(0), event.Time(86_400_000_000), event.Time(47_655_123_456))},
	{"c_timetz", "time with time zone", types.Type{Kind: types.String}, []string{"'13:14:15.5+05:30'", "'00:00:00+00'", "'23:59:59-08'"},
		vals(event.String("13:14:15.5+05:30"), event.String("00:00:00+00"), event.String("23:59:59-08"))},
	{"c_ts", "timestamp(3) without time zone", types.Type{Kind: types.Timestamp, Precision: 3}, []string{"'2024-02-29 23:59:59.999'", "'infinity'", "'1900-01-01 00:00:00'"},
		vals(event.TimestampOf(time.Date(2024, 2, 29, 23, 59, 59, 999e6, time.UTC)), event.Timestamp(event.PosInfinity), event.TimestampOf(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)))},
	{"c_tstz", "timestamp with time zone", types.Type{Kind: types.TimestampLTZ, Precision: 6}, []string{"'2024-06-01 12:00:00.000001+05:30'", "'-infinity'", "'1970-01-01 00:00:00+00'"},
		vals(event.TimestampOf(time.Date(2024, 6, 1, 6, 30, 0, 1000, time.UTC)), event.Timestamp(event.NegInfinity), event.Timestamp(0))},
	{"c_interval", "interval", types.Type{Kind: types.String}, []string{"'1 year 2 months 3 days 04:05:06.5'", "'-1 day'", "'0'"},
		vals(event.String("P1Y2M3DT4H5M6.5S"), event.String("P-1D"), event.String("PT0S"))},
	{"c_uuid", "uuid", types.Type{Kind: types.UUID}, []string{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'", "gen_random_uuid()"},
		append(vals(event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), event.String("00000000-0000-0000-0000-000000000000")), nil)},
	{"c_json", "json", types.Type{Kind: types.JSON}, []string{`'{"b": 1, "a": [true, null]}'`, `'"s"'`, `'[]'`},
		vals(event.JSON(`{"b": 1, "a": [true, null]}`), event.JSON(`"s"`), event.JSON(`[]`))},
	{"c_jsonb", "jsonb", types.Type{Kind: types.JSON}, []string{`'{"b": 1, "a": [true, null]}'`, `'{"k": "\u00e9"}'`, `'1.50'`},
		vals(event.JSON(`{"a": [true, null], "b": 1}`), event.JSON(`{"k": "é"}`), event.JSON(`1.50`))},
	{"c_inet", "inet", types.Type{Kind: types.String}, []string{"'192.168.1.5/24'", "'::1'", "'10.0.0.1'"}, vals(event.String("192.168.1.5/24"), event.String("::1"), event.String("10.0.0.1"))},
	{"c_cidr", "cidr", types.Type{Kind: types.String}, []string{"'10.1.0.0/16'", "'2001:db8::/32'", "'1.2.3.4/32'"}, nil},
	{"c_mac", "macaddr", types.Type{Kind: types.String}, []string{"'08:00:2b:01:02:03'", "'08-00-2b-01-02-04'", "'0800.2b01.0205'"}, vals(event.String("08:00:2b:01:02:03"), event.String("08:00:2b:01:02:04"), event.String("08:00:2b:01:02:05"))},
	{"c_mood", "mood", types.Type{Kind: types.Enum, Values: []string{"sad", "ok", "happy"}}, []string{"'sad'", "'happy'", "'ok'"}, vals(event.String("sad"), event.String("happy"), event.String("ok"))},
	{"c_posint", "posint", types.Type{Kind: types.Int32}, []string{"1", "2147483647", "42"}, vals(event.Int(1), event.Int(math.MaxInt32), event.Int(42))},
	{"c_intarr", "integer[]", types.Type{Kind: types.Array, Elem: &types.Type{Kind: types.Int32}}, []string{"'{1,2,NULL}'", "'{{1,2},{3,4}}'", "'{}'"},
		vals(event.JSON(`[1,2,null]`), event.JSON(`[[1,2],[3,4]]`), event.JSON(`[]`))},
	{"c_textarr", "text[]", types.Type{Kind: types.Array, Elem: &types.Type{Kind: types.String}}, []string{`ARRAY['a,b', 'quo"te', 'NULL', NULL]`, `'{"{x}"}'`, `ARRAY['back\slash']`},
		vals(event.JSON(`["a,b","quo\"te","NULL",null]`), event.JSON(`["{x}"]`), event.JSON(`["back\\slash"]`))},
	{"c_tsarr", "timestamp without time zone[]", types.Type{Kind: types.Array, Elem: &types.Type{Kind: types.Timestamp, Precision: 6}}, []string{`ARRAY['2024-01-01 10:00:00'::timestamp]`, `'{}'`, `'{infinity}'`},
		vals(event.JSON(`["2024-01-01T10:00:00"]`), event.JSON(`[]`), event.JSON(`["infinity"]`))},
	{"c_hstore", "hstore", types.Type{Kind: types.JSON}, []string{`'a=>1, "b c"=>NULL'`, `''`, `'"q\"uote"=>"x"'`},
		vals(event.JSON(`{"a":"1","b c":null}`), event.JSON(`{}`), event.JSON(`{"q\"uote":"x"}`))},
	{"c_citext", "citext", types.Type{Kind: types.String}, []string{"'MiXeD'", "'a'", "''"}, vals(event.String("MiXeD"), event.String("a"), event.String(""))},
	{"c_bit", "bit varying(8)", types.Type{Kind: types.String}, []string{"B'101'", "B''", "B'11111111'"}, vals(event.String("101"), event.String(""), event.String("11111111"))},
}

func vals(vs ...event.Value) []*event.Value {
	out := make([]*event.Value, len(vs))
	for i := range vs {
		out[i] = &vs[i]
	}
	return out
}

// TestTypesRoundTrip reads every type of the mapping by snapshot and by stream: each
// column maps to its unified type, each value decodes to what it must, and the stream's
// value of every row equals the snapshot's (a row is inserted again, as a copy, after the
// stream's start). A generated column is left out of both.
func TestTypesRoundTrip(t *testing.T) {
	var cols, defs []string
	for _, c := range typeCases {
		cols = append(cols, c.col)
		defs = append(defs, c.col+" "+c.sqlType)
	}
	var inserts []string
	for i := range 3 {
		vs := make([]string, len(typeCases))
		for j, c := range typeCases {
			vs[j] = c.values[i]
		}
		inserts = append(inserts, fmt.Sprintf("INSERT INTO types (id, %s) VALUES (%d, %s);", strings.Join(cols, ", "), i+1, strings.Join(vs, ", ")))
	}
	inserts = append(inserts, "INSERT INTO types (id) VALUES (4);") // all NULL
	createDB(t, "typedb", `CREATE EXTENSION hstore; CREATE EXTENSION citext;
		CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
		CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
		CREATE TABLE types (id INT PRIMARY KEY, `+strings.Join(defs, ", ")+`, gen INT GENERATED ALWAYS AS (id * 2) STORED);
		`+strings.Join(inserts, "\n"))
	s := open(t, options("typedb", "public.types"), "typedb", 1)
	ctx := context.Background()
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc := tables[0]
	if sc.ColumnIndex("gen") >= 0 {
		t.Error("the generated column is in the schema; the stream cannot carry it")
	}
	for _, c := range typeCases {
		i := sc.ColumnIndex(c.col)
		if i < 0 {
			t.Fatalf("no column %s", c.col)
		}
		if got := sc.Columns[i].Type; got.String() != c.want.String() {
			t.Errorf("%s (%s) maps to %s, want %s", c.col, c.sqlType, got, c.want)
		}
	}
	pos, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := map[int64]event.Row{}
	for _, r := range readAll(t, s, sc) {
		snap[r[0].Int()] = r
	}
	exec(t, "typedb", "INSERT INTO types (id, "+strings.Join(cols, ", ")+") SELECT id + 100, "+strings.Join(cols, ", ")+" FROM types")
	streamed := map[int64]event.Row{}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = s.Stream(sctx, pos, tables, func(_ context.Context, b event.Batch) error {
		for _, c := range b.Changes {
			streamed[c.After[0].Int()-100] = c.After
		}
		if len(streamed) == len(snap) {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(streamed) != 4 || len(snap) != 4 {
		t.Fatalf("read %d rows by snapshot and %d by stream, want 4 and 4", len(snap), len(streamed))
	}
	for id := int64(1); id <= 4; id++ {
		for _, c := range typeCases {
			i := sc.ColumnIndex(c.col)
			a, b := snap[id][i], streamed[id][i]
			if !sameValue(a, b) {
				t.Errorf("%s row %d: snapshot %v, stream %v", c.col, id, a, b)
			}
			switch {
			case id == 4:
				if !a.IsNull() {
					t.Errorf("%s row 4: %v, want NULL", c.col, a)
				}
			case c.decoded != nil && c.decoded[id-1] != nil:
				if !sameValue(a, *c.decoded[id-1]) {
					t.Errorf("%s row %d = %s: decoded %v, want %v", c.col, id, c.values[id-1], a, *c.decoded[id-1])
				}
			}
		}
	}
}

// sameValue is Value equality with NaN equal to NaN.
func sameValue(a, b event.Value) bool {
	if a.Rep() == event.RepFloat && b.Rep() == event.RepFloat && math.IsNaN(a.Float()) && math.IsNaN(b.Float()) {
		return true
	}
	return a.Equal(b)
}

// TestGeometryIsEWKB: PostGIS prints geometry as hex EWKB; the value is those bytes.
// (PostGIS is not installed on the test servers: this checks the decoder on its output.)
func TestGeometryIsEWKB(t *testing.T) {
	typ, dec := mapType(pgType{Name: "geometry(Point,4326)", Base: "geometry", Mod: -1})
	if typ.Kind != types.Bytes {
		t.Fatalf("geometry maps to %s, want bytes", typ)
	}
	v, err := dec([]byte("0101000020E6100000000000000000F03F0000000000000040")) // SRID=4326;POINT(1 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x01, // little-endian
		0x01, 0x00, 0x00, 0x20, // point, with an SRID
		0xe6, 0x10, 0x00, 0x00, // 4326
		0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // x = 1
		0, 0, 0, 0, 0, 0, 0, 0x40} // y = 2
	if v.Str() != string(want) {
		t.Fatalf("decoded % x, want % x", v.Str(), want)
	}
}
