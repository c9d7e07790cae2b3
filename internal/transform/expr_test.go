package transform

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

var testSchema = &event.Schema{ID: event.TableID{Schema: "shop", Table: "orders_3"}, Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: types.Type{Kind: types.Int64}},
	{Name: "name", Type: types.Type{Kind: types.String}, Nullable: true},
	{Name: "amount", Type: types.Type{Kind: types.Decimal, Precision: 10, Scale: 2}},
	{Name: "score", Type: types.Type{Kind: types.Float64}},
	{Name: "created", Type: types.Type{Kind: types.Timestamp, Precision: 6}},
	{Name: "vip", Type: types.Type{Kind: types.Boolean}},
	{Name: "n", Type: types.Type{Kind: types.Int32}, Nullable: true},
}}

func testInput() *Input {
	return &Input{Schema: testSchema, Op: event.OpUpdate, CommitMicros: 1_700_000_000_123_000, Pos: event.Pos{Log: "bin.000001", Off: 42},
		Row: event.Row{event.Int(7), event.String("Ada Lovelace"), event.Decimal("1234.50"), event.Float(0.25),
			event.TimestampOf(time.Date(2024, 2, 29, 10, 30, 0, 0, time.UTC)), event.Bool(true), event.Null()}}
}

// TestExpressions evaluates each expression on one row and compares the value's text
// (NULL for NULL): operators, NULL propagation, three-valued logic, numeric widening,
// functions and metadata columns.
func TestExpressions(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"id + 1", "8"},
		{"n IS DISTINCT FROM 1", "true"},
		{"n IS DISTINCT FROM NULL", "false"},
		{"n IS NOT DISTINCT FROM NULL", "true"},
		{"id IS DISTINCT FROM 3 + 4", "false"},
		{"id IS DISTINCT FROM COALESCE(n, 7) AND id > 1", "false"},
		{"NOT id IS DISTINCT FROM 7", "true"},
		{"CASE WHEN n IS DISTINCT FROM 0 THEN 'd' ELSE 's' END", "d"},
		{"CONCAT('is distinct from', 'x')", "is distinct fromx"},
		{"POSITION('Love' IN name)", "5"},
		{"CAST(id AS INT) + 1", "8"},
		{"CAST(amount AS BIGINT)", "1235"},
		{"CAST(id AS VARCHAR(10))", "7"},
		{"CAST(name AS VARCHAR(3))", "Ada"},
		{"CAST(name AS CHAR(5))", "Ada L"},
		{"CAST(name AS STRING)", "Ada Lovelace"},
		{"CAST(id AS BOOLEAN)", "true"},
		{"CAST(n AS BOOLEAN)", "NULL"},
		{"CAST('2024-01-01 10:00:00' AS TIMESTAMP(3))", "2024-01-01 10:00:00"},
		{"TRY_CAST(name AS INT)", "NULL"},
		{"CAST(CAST(id AS CHAR) AS INT)", "7"},
		{"CAST(CAST(id AS INT) AS CHAR)", "7"},
		{"TRY_CAST(TRY_CAST(name AS INT) AS CHAR)", "NULL"},
		{"CONCAT(TRY_CAST('x' AS INT), 'y') IS NULL", "true"},
		{"CONCAT('CAST(x AS INT)', id)", "CAST(x AS INT)7"},
		{"name || '!' || id", "Ada Lovelace!7"},
		{"id * 2 - 3", "11"},
		{"id / 2", "3"}, // INT / INT is an INT (Flink SQL)
		{"-id / 2", "-3"},
		{"amount / 3", "411.5000000000000"}, // DECIMAL(10,2) / INT: DECIMAL(21,13)
		{"amount / 4.0", "308.625000"},      // DECIMAL(10,2) / DECIMAL(2,1): DECIMAL(15,6)
		{"amount - 0.5 * 2", "1233.50"},     // DECIMAL(10,2) - DECIMAL(11,1): DECIMAL(13,2)
		{"0.125 + 0.1", "0.225"},            // DECIMAL(3,3) + DECIMAL(1,1): DECIMAL(5,3)
		{"CAST('2024-01-01 10:00:00.123456' AS TIMESTAMP(3))", "2024-01-01 10:00:00.123"},
		{"TO_DATE(created)", "2024-02-29"},
		{"TO_TIMESTAMP(TO_DATE(created))", "2024-02-29 00:00:00"},
		{"id DIV 2", "3"},
		{"id % 4", "3"},
		{"MOD(id, 4)", "3"},
		{"id / 0", "NULL"},
		{"amount * 2", "2469.00"}, // DECIMAL(10,2) * INT keeps the scale: DECIMAL(20,2)
		{"amount + 0.005", "1234.505"},
		{"score * 4", "1"},
		{"id + score", "7.25"},
		{"-id", "-7"},
		{"n + 1", "NULL"},
		{"9223372036854775807 + 0", "9223372036854775807"},
		{"ABS(-3)", "3"},
		{"ROUND(amount)", "1235"},
		{"ROUND(amount, 1)", "1234.5"},
		{"ROUND(2.5)", "3"},
		{"CEIL(1.2)", "2"},
		{"FLOOR(-1.2)", "-2"},
		{"POWER(2, 10)", "1024"},
		{"id = 7", "true"},
		{"id <> 7", "false"},
		{"n = 1", "NULL"},
		{"n <=> NULL", "true"},
		{"id <=> NULL", "false"},
		{"n IS NULL", "true"},
		{"name IS NOT NULL", "true"},
		{"id BETWEEN 1 AND 10", "true"},
		{"id NOT BETWEEN 1 AND 10", "false"},
		{"id IN (1, 7, 9)", "true"},
		{"id IN (1, NULL)", "NULL"},
		{"id NOT IN (1, 2)", "true"},
		{"name LIKE 'Ada%'", "true"},
		{"name LIKE '_da L%e'", "true"},
		{"name NOT LIKE '%x%'", "true"},
		{"'50%' LIKE '50\\%'", "true"},
		{"name REGEXP '^A.a'", "true"},
		{"n = 1 AND id = 7", "NULL"},
		{"n = 1 AND id = 8", "false"},
		{"n = 1 OR id = 7", "true"},
		{"n = 1 OR id = 8", "NULL"},
		{"NOT (n = 1)", "NULL"},
		{"vip AND id > 5", "true"},
		{"vip IS TRUE", "true"},
		{"n IS NOT TRUE", "true"},
		{"'10' = 10", "true"},
		{"amount > 1000", "true"},
		{"created > '2024-01-01'", "true"},
		{"created < '2024-02-29 10:30:00.000001'", "true"},
		{"CONCAT(name, '-', id)", "Ada Lovelace-7"},
		{"CONCAT(name, n)", "NULL"},
		{"CONCAT_WS(',', name, n, id)", "Ada Lovelace,7"},
		{"UPPER(name)", "ADA LOVELACE"},
		{"LOWER(name)", "ada lovelace"},
		{"TRIM('  x  ')", "x"},
		{"TRIM(BOTH 'x' FROM 'xxaxx')", "a"},
		{"TRIM(LEADING 'x' FROM 'xxaxx')", "axx"},
		{"LTRIM('  x ')", "x "},
		{"SUBSTRING(name, 5)", "Lovelace"},
		{"SUBSTRING(name, 1, 3)", "Ada"},
		{"SUBSTR(name, -4)", "lace"},
		{"LEFT(name, 3)", "Ada"},
		{"RIGHT(name, 4)", "lace"},
		{"REPLACE(name, 'a', 'A')", "AdA LovelAce"},
		{"LENGTH('é')", "2"},
		{"CHAR_LENGTH('é')", "1"},
		{"LPAD('7', 3, '0')", "007"},
		{"RPAD('ab', 5, 'xy')", "abxyx"},
		{"LOCATE('love', LOWER(name))", "5"},
		{"SPLIT_PART('a,b,c', ',', 2)", "b"},
		{"REGEXP_REPLACE(name, '[aeiou]', '*')", "Ad* L*v*l*c*"},
		{"REGEXP_EXTRACT(name, '([A-Z])[a-z]+ ([A-Z])', 2)", "L"},
		{"REGEXP_LIKE(name, 'lace$')", "true"},
		{"MD5('abc')", "900150983cd24fb0d6963f7d28e17f72"},
		{"SHA2('abc', 256)", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"TO_BASE64('hi')", "aGk="},
		{"FROM_BASE64('aGk=')", "hi"},
		{"IF(id > 5, 'big', 'small')", "big"},
		{"IFNULL(n, -1)", "-1"},
		{"COALESCE(n, NULL, id)", "7"},
		{"NULLIF(id, 7)", "NULL"},
		{"NULLIF(id, 8)", "7"},
		{"CASE WHEN id > 10 THEN 'a' WHEN id > 5 THEN 'b' ELSE 'c' END", "b"},
		{"CASE id WHEN 7 THEN 'seven' END", "seven"},
		{"CASE n WHEN 1 THEN 'one' END", "NULL"},
		{"CAST(amount AS SIGNED)", "1235"},
		{"CAST('12.345' AS DECIMAL(5,2))", "12.35"},
		{"CAST(id AS CHAR)", "7"},
		{"CAST('2024-03-01' AS DATE)", "2024-03-01"},
		{"CAST(score AS DECIMAL(4,3))", "0.250"},
		{"__table_name__", "orders_3"},
		{"__database_name__", "shop"},
		{"__data_event_type__", "+U"},
		{"__op_ts__", "1700000000123"},
		{"__position__", "bin.000001:42"},
		{"__namespace_name__", "NULL"}, // a MySQL table's, as Flink's
		{"__schema_name__", "shop"},
		{"op_ts", "1700000000123"}, // metadata.list's, as Flink's: ms
		{"table_name", "orders_3"},
		// Flink CDC's functions MySQL lacks or writes otherwise.
		{"BTRIM('xxhixx', 'x')", "hi"},
		{"BTRIM('  hi ')", "hi"},
		{"LTRIM('xxhix', 'x')", "hix"},
		{"RTRIM('xhixx', 'x')", "xhi"},
		{"REPEAT('ab', 3)", "ababab"},
		{"INSTR(name, 'Love')", "5"},
		{"STARTSWITH(name, 'Ada')", "true"},
		{"ENDSWITH(name, 'Ada')", "false"},
		{"REGEXP_COUNT(name, '[aeiou]')", "5"},
		{"REGEXP_INSTR(name, 'L')", "5"},
		{"REGEXP_INSTR(name, 'z')", "0"},
		{"REGEXP_EXTRACT_ALL(name, '([A-Z])[a-z]')", `["A","L"]`},
		{"CARDINALITY(REGEXP_EXTRACT_ALL(name, '[A-Z]'))", "2"},
		{"ARRAY_CONTAINS(REGEXP_EXTRACT_ALL(name, '[A-Z]'), 'L')", "true"},
		{"ARRAY_POSITION(REGEXP_EXTRACT_ALL(name, '[A-Z]'), 'L')", "2"},
		{"ELEMENT(REGEXP_EXTRACT_ALL(name, 'Ada'))", "Ada"},
		{"PARSE_JSON('{\"a\": [1]}')", `{"a": [1]}`},
		{"TRY_PARSE_JSON('nope')", "NULL"},
		{"LENGTH(FROM_BASE64_BINARY('aGk='))", "2"},
		{"TIMESTAMPADD(DAY, 1, created)", "2024-03-01 10:30:00"},
		{"TIMESTAMPADD('HOUR', 2, created)", "2024-02-29 12:30:00"},
		{"TIMESTAMPDIFF('DAY', created, TIMESTAMPADD(DAY, 3, created))", "3"},
		{"DATE_ADD(created, 1)", "2024-03-01 10:30:00"},
		{"DATE_SUB(created, 29)", "2024-01-31 10:30:00"},
		{"TO_TIMESTAMP_LTZ(1700000000, 0)", "2023-11-14 22:13:20"},
		{"TO_TIMESTAMP_LTZ(1700000000123)", "2023-11-14 22:13:20.123"},
		{"UNIX_TIMESTAMP('2024-01-01 00:00:00', 'yyyy-MM-dd HH:mm:ss')", "1704067200"},
		{"DATE_FORMAT_TZ(TO_TIMESTAMP_LTZ(0), 'yyyy-MM-dd HH:mm', 'Asia/Shanghai')", "1970-01-01 08:00"},
		{"CAST(created AS TIMESTAMP_LTZ(0))", "2024-02-29 10:30:00"},
		{"name SIMILAR TO 'A%'", "true"},
		{"name NOT SIMILAR TO '_da%'", "false"},
		{"CASE id WHEN 1, 7 THEN 'x' ELSE 'y' END", "x"},
		{"CASE id WHEN 1 THEN 'a' WHEN 2, 3 THEN 'b' END", "NULL"},
		{"OVERLAY(name PLACING 'X' FROM 2 FOR 3)", "AXLovelace"},
		{"OVERLAY(name PLACING 'XY' FROM 1)", "XYa Lovelace"},
		{"POSITION('a' IN name FROM 3)", "3"},
		{"ARRAY[1, 2]", "[1,2]"},
		{"MAP['a', 1, 'b', 2]", `{"a":1,"b":2}`},
		{"ARRAY[1, 2][2]", "2"},
		{"MAP['a', 1]['a']", "1"},
		{"REGEXP_EXTRACT_ALL(name, '[A-Z]')[2]", "L"},
		{"'[x]'", "[x]"},
		{"ROW(id, name)", `[7,"Ada Lovelace"]`},
	} {
		cols, err := CompileProjection(c.expr+" AS x", testSchema, nil)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		v, err := cols[0].Expr.Eval(testInput())
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := show(v); got != c.want {
			t.Errorf("%s = %s, want %s", c.expr, got, c.want)
		}
	}
}

// show is a value's text, booleans as true and false.
func show(v event.Value) string {
	if v.Rep() == event.RepBool {
		return v.String()
	}
	return toText(v)
}

// TestFilterKeepsOnlyTrue: a filter keeps a row when its condition is TRUE, never when
// it is FALSE or NULL.
func TestFilterKeepsOnlyTrue(t *testing.T) {
	for expr, want := range map[string]bool{"id > 5": true, "id > 50": false, "n > 5": false, "NOT (n > 5)": false, "n IS NULL AND vip": true} {
		f, err := CompileFilter(expr, testSchema, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Eval(testInput())
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Rep() == event.RepBool && v.Bool(); got != want {
			t.Errorf("filter %s keeps the row: %v, want %v", expr, got, want)
		}
	}
}

// TestProjectionShape: * expands in order, bare columns keep their names, computed
// columns are typed by inference.
func TestProjectionShape(t *testing.T) {
	cols, err := CompileProjection(`\*, UPPER(name) AS up, id * 2 AS twice, amount / 3 AS third, __table_name__, op_ts, '\*' AS star`, testSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cols {
		got = append(got, c.Name+":"+c.Expr.Type.String())
	}
	want := "id:int64 name:string amount:decimal(10,2) score:float64 created:timestamp(6) vip:boolean n:int32 up:string twice:int64 third:decimal(21,13) table_name:string op_ts:int64 star:string"
	if strings.Join(got, " ") != want {
		t.Fatalf("projection\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// TestCompileErrors: what does not compile says what and where.
func TestCompileErrors(t *testing.T) {
	for expr, want := range map[string]string{
		"nope + 1 AS x":        `table shop.orders_3: "nope + 1": no column nope in the table (columns: id, name, amount, score, created, vip, n)`,
		"id + AS x":            `table shop.orders_3: "id + AS x": syntax: unexpected text`,
		"UPPER(name)":          `table shop.orders_3: "UPPER(`,
		"FOO(id) AS x":         `function FOO is not known`,
		"UPPER(name, id) AS x": `UPPER takes 1 arguments, not 2`,
		"id, id":               `column id is projected twice`,
		"(SELECT 1) AS x":      `is not supported in a transform`,
		"created + 1 AS x":     `arithmetic on timestamp(6) is not supported`,
		"DATE_ADD(created, INTERVAL 1 DAY_HOUR) AS x": `DATE_ADD: the unit DAY_HOUR is not supported here; use MICROSECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR`,
		"EXTRACT(DAY_MINUTE FROM created) AS x":       `EXTRACT: EXTRACT of DAY_MINUTE is not supported`,
		"JSON_EXTRACT(name, 'a') AS x":                `JSON path "a": it must start with $`,
		"TIMESTAMPDIFF(MONTH, created) AS x":          `syntax: unexpected text ") AS x"`,
		"DATEDIFF(created) AS x":                      `DATEDIFF: takes 2 arguments, not 1`,
	} {
		_, err := CompileProjection(expr, testSchema, nil)
		var ce *CompileError
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", expr, err, want)
		}
	}
}

// TestEvalErrorsNameTheRow: a run-time error names the expression and the row's key.
func TestEvalErrorsNameTheRow(t *testing.T) {
	cols, err := CompileProjection("id * 9223372036854775807 AS x", testSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cols[0].Expr.Eval(testInput())
	if err == nil || !strings.Contains(err.Error(), `expression "id * 9223372036854775807" on the row with key (id=7): bigint overflow`) {
		t.Fatalf("error %v", err)
	}
}

// BenchmarkProjection is a projection of five computed columns and a filter per row.
func BenchmarkProjection(b *testing.B) {
	cols, err := CompileProjection("id, UPPER(name) AS up, amount * 1.1 AS gross, CONCAT(name, '#', id) AS tag, IF(vip, 'y', 'n') AS v, ROUND(score * 100) AS pct", testSchema, nil)
	if err != nil {
		b.Fatal(err)
	}
	f, err := CompileFilter("id > 5 AND name LIKE 'A%'", testSchema, nil)
	if err != nil {
		b.Fatal(err)
	}
	in := testInput()
	b.ReportAllocs()
	for b.Loop() {
		if v, _ := f.Eval(in); !v.Bool() {
			b.Fatal("filtered out")
		}
		for _, c := range cols {
			if _, err := c.Expr.Eval(in); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestTextArena: values built in the arena stay as they were built while later ones are
// built after them, in the same slab, in a new one, or (larger than what is left, or than
// a slab) in an allocation of their own.
func TestTextArena(t *testing.T) {
	var a textArena
	var got, want []string
	for i, n := range []int{10, 500, 600, 70_000, 3, 40_000, 40_000, 1} {
		s := strings.Repeat(string(rune('a'+i)), n)
		got = append(got, a.build(func(b []byte) []byte { return append(b, s...) }))
		want = append(want, s)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d: %d bytes %.10q…, want %d bytes of %q", i, len(got[i]), got[i], len(want[i]), want[i][:1])
		}
	}
}

// TestDecimalResult: the precision and scale of decimal arithmetic follow Flink SQL's
// rules, 38 digits at most, the scale giving way but keeping 6 where it had them.
func TestDecimalResult(t *testing.T) {
	d := func(p, s int) types.Type { return types.Type{Kind: types.Decimal, Precision: p, Scale: s} }
	for _, c := range []struct {
		op   string
		a, b types.Type
		want string
	}{
		{"+", d(10, 2), d(5, 3), "decimal(12,3)"},
		{"-", d(10, 2), types.Type{Kind: types.Int64}, "decimal(22,2)"},
		{"*", d(10, 2), d(5, 3), "decimal(15,5)"},
		{"/", d(10, 2), d(5, 3), "decimal(19,8)"},
		{"/", d(38, 10), d(10, 2), "decimal(38,8)"},
		{"*", d(30, 20), d(20, 10), "decimal(38,18)"}, {"*", d(38, 30), d(38, 30), "decimal(38,22)"}, {"*", d(38, 2), d(38, 2), "decimal(38,4)"},
		{"%", d(10, 2), d(5, 3), "decimal(5,3)"},
		{"+", d(10, 2), types.Type{Kind: types.Decimal}, "decimal"},
	} {
		ops := map[string]opcode.Op{"+": opcode.Plus, "-": opcode.Minus, "*": opcode.Mul, "/": opcode.Div, "%": opcode.Mod}
		if got := decimalResult(ops[c.op], c.a, c.b).String(); got != c.want {
			t.Errorf("%s %s %s: %s, want %s", c.a, c.op, c.b, got, c.want)
		}
	}
}
