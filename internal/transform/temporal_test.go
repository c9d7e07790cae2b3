package transform

import (
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// zoned is a table with a wall-clock timestamp, an instant, a date, JSON and text.
var zoned = &event.Schema{ID: event.TableID{Schema: "shop", Table: "events"}, Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: types.Type{Kind: types.Int64}},
	{Name: "ts", Type: types.Type{Kind: types.Timestamp, Precision: 6}, Nullable: true},
	{Name: "at", Type: types.Type{Kind: types.TimestampLTZ, Precision: 6}, Nullable: true},
	{Name: "d", Type: types.Type{Kind: types.Date}, Nullable: true},
	{Name: "doc", Type: types.Type{Kind: types.JSON}, Nullable: true},
	{Name: "txt", Type: types.Type{Kind: types.String}, Nullable: true},
}}

func zonedRow() event.Row {
	return event.Row{event.Int(1),
		event.TimestampOf(time.Date(2024, 1, 31, 23, 30, 15, 123456000, time.UTC)), // a wall clock
		event.TimestampOf(time.Date(2024, 3, 10, 16, 0, 0, 0, time.UTC)),           // an instant
		event.Date(19782), // 2024-02-29
		event.JSON(`{"a": {"b": [10, 20.50, "x"]}, "name": "Zoë", "n": null, "deep": {"k": true}}`),
		event.String("12abc")}
}

func evalIn(t *testing.T, expr string, loc *time.Location, row event.Row) (string, error) {
	t.Helper()
	cols, err := CompileProjection(expr+" AS x", zoned, loc)
	if err != nil {
		return "", err
	}
	v, err := cols[0].Expr.Eval(&Input{Schema: zoned, Row: row, Op: event.OpInsert})
	if err != nil {
		return "", err
	}
	return show(v), nil
}

// TestTemporalFunctions: each temporal function on a wall clock, an instant and a date,
// in UTC and in Asia/Shanghai (UTC+8) and America/New_York (a DST change on 2024-03-10),
// with NULLs and month ends.
func TestTemporalFunctions(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	ny, _ := time.LoadLocation("America/New_York")
	for _, c := range []struct {
		expr string
		loc  *time.Location
		want string
	}{
		{"DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f')", nil, "2024-01-31 23:30:15.123456"},
		{"DATE_FORMAT(ts, 'yyyy/MM/dd HH:mm:ss.SSS')", nil, "2024/01/31 23:30:15.123"},
		{"DATE_FORMAT(ts, '%W %M %e %y %p %j %%')", nil, "Wednesday January 31 24 PM 031 %"},
		{"DATE_FORMAT(at, '%Y-%m-%d %H:%i')", nil, "2024-03-10 16:00"},
		{"DATE_FORMAT(at, '%Y-%m-%d %H:%i')", sh, "2024-03-11 00:00"}, // an instant shows in the zone
		{"DATE_FORMAT(ts, '%H:%i')", sh, "23:30"},                     // a wall clock does not move
		{"DATE_FORMAT(d, 'yyyy-MM-dd')", nil, "2024-02-29"},
		{"DATE_FORMAT(NULL, '%Y')", nil, "NULL"},
		{"EXTRACT(YEAR FROM ts)", nil, "2024"},
		{"EXTRACT(MONTH FROM d)", nil, "2"},
		{"EXTRACT(MICROSECOND FROM ts)", nil, "123456"},
		{"EXTRACT(HOUR FROM at)", ny, "12"}, // 16:00 UTC is 12:00 EDT, after the change
		{"EXTRACT(QUARTER FROM ts)", nil, "1"},
		{"YEAR(d) * 100 + MONTH(d)", nil, "202402"},
		{"DAYOFWEEK(d)", nil, "5"}, // a Thursday
		{"DAYOFYEAR(ts)", nil, "31"},
		{"DATE_ADD(ts, INTERVAL 1 MONTH)", nil, "2024-02-29 23:30:15.123456"}, // month end clamps
		{"DATE_ADD(d, INTERVAL 1 YEAR)", nil, "2025-02-28"},
		{"DATE_SUB(d, INTERVAL 3 DAY)", nil, "2024-02-26"},
		{"DATE_ADD(d, INTERVAL 90 MINUTE)", nil, "2024-02-29 01:30:00"},
		{"DATE_ADD(ts, INTERVAL -1 QUARTER)", nil, "2023-10-31 23:30:15.123456"},
		{"ADDDATE(d, 1)", nil, "2024-03-01"},
		{"DATE_ADD(NULL, INTERVAL 1 DAY)", nil, "NULL"},
		{"DATEDIFF(d, ts)", nil, "29"},
		{"DATEDIFF('2024-01-01', '2024-01-31 23:59:59')", nil, "-30"},
		{"TIMESTAMPDIFF(MONTH, ts, d)", nil, "0"}, // Jan 31 23:30 → Feb 29 00:00: not yet a month
		{"TIMESTAMPDIFF(MONTH, '2024-01-31', '2024-03-31')", nil, "2"},
		{"TIMESTAMPDIFF(YEAR, '2020-02-29', '2024-02-28')", nil, "3"},
		{"TIMESTAMPDIFF(HOUR, ts, d)", nil, "672"},
		{"TIMESTAMPDIFF(MINUTE, d, ts)", nil, "-40349"},
		{"TO_DATE('2024-05-06')", nil, "2024-05-06"},
		{"TO_DATE('06/05/2024', 'dd/MM/yyyy')", nil, "2024-05-06"},
		{"TO_DATE('not a date')", nil, "NULL"},
		{"TO_TIMESTAMP('2024-05-06 07:08:09')", nil, "2024-05-06 07:08:09"},
		{"TO_TIMESTAMP('2024-05-06 07:08', '%Y-%m-%d %H:%i')", nil, "2024-05-06 07:08:00"},
		{"FROM_UNIXTIME(0)", nil, "1970-01-01 00:00:00"},
		{"FROM_UNIXTIME(0)", sh, "1970-01-01 08:00:00"},
		{"FROM_UNIXTIME(1700000000, '%Y-%m-%d')", nil, "2023-11-14"},
		{"UNIX_TIMESTAMP('1970-01-02 00:00:00')", nil, "86400"},
		{"UNIX_TIMESTAMP('1970-01-02 00:00:00')", sh, "57600"}, // a wall clock read in the zone
		{"UNIX_TIMESTAMP(at)", sh, "1710086400"},               // an instant as it is
		{"UNIX_TIMESTAMP(ts)", ny, "1706761815"},
		{"CONVERT_TZ(ts, '+00:00', '+08:00')", nil, "2024-02-01 07:30:15.123456"},
		{"CONVERT_TZ('2024-03-10 01:30:00', 'America/New_York', 'UTC')", nil, "2024-03-10 06:30:00"},
		{"CONVERT_TZ('2024-03-10 03:30:00', 'America/New_York', 'UTC')", nil, "2024-03-10 07:30:00"}, // after the change
		{"CONVERT_TZ(ts, 'Mars/Olympus', 'UTC')", nil, "NULL"},
		{"DATE_FORMAT(NOW(), '%Y') >= '2024'", nil, "true"},
		{"CURRENT_DATE() >= d", nil, "true"},
	} {
		got, err := evalIn(t, c.expr, c.loc, zonedRow())
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s (in %v) = %s, want %s", c.expr, c.loc, got, c.want)
		}
	}
}

// TestJSONFunctions: paths, -> and ->>, JSON_VALUE, missing paths and NULLs.
func TestJSONFunctions(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"JSON_EXTRACT(doc, '$.a.b[1]')", "20.50"},
		{"doc->'$.a.b[2]'", `"x"`},
		{"doc->>'$.a.b[2]'", "x"},
		{"doc->>'$.name'", "Zoë"},
		{"JSON_UNQUOTE(JSON_EXTRACT(doc, '$.name'))", "Zoë"},
		{"JSON_EXTRACT(doc, '$.a.b[last]')", `"x"`},
		{"JSON_EXTRACT(doc, '$.a.b[*]')", `[10,20.50,"x"]`},
		{"JSON_EXTRACT(doc, '$.name', '$.deep.k')", `["Zoë",true]`},
		{"JSON_EXTRACT(doc, '$.missing')", "NULL"},
		{"JSON_EXTRACT(doc, '$.n')", "null"},
		{"JSON_EXTRACT(doc, '$.deep')", `{"k":true}`},
		{`JSON_EXTRACT('{"a b": 1}', '$."a b"')`, "1"},
		{"JSON_VALUE(doc, '$.a.b[0]')", "10"},
		{"JSON_VALUE(doc, '$.deep')", "NULL"},
		{"JSON_EXTRACT(NULL, '$.a')", "NULL"},
		{"JSON_UNQUOTE('plain')", "plain"},
		{"CAST(doc->>'$.a.b[0]' AS SIGNED) + 1", "11"},
	} {
		got, err := evalIn(t, c.expr, nil, zonedRow())
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %s, want %s", c.expr, got, c.want)
		}
	}
	for _, c := range []struct{ expr, want string }{
		{"JSON_EXTRACT(doc, 'a.b')", `JSON path "a.b": it must start with $ (write e.g. '$.a.b[0]')`},
		{"JSON_EXTRACT(doc, '$.a[x]')", `JSON path "$.a[x]": "x" is not an array index`},
		{"JSON_EXTRACT(doc, txt)", "JSON_EXTRACT: the paths must be literals"},
		{"JSON_EXTRACT(txt, '$.a')", "not a JSON document"},
	} {
		_, err := evalIn(t, c.expr, nil, zonedRow())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %s", c.expr, err, c.want)
		}
	}
}

// TestTryCast: TRY_CAST gives NULL where CAST fails, and the same value where it works;
// TRY_CAST inside quotes is text.
func TestTryCast(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"TRY_CAST(txt AS SIGNED)", "NULL"},
		{"TRY_CAST('42' AS SIGNED) + 1", "43"},
		{"try_cast ( '2024-02-30' AS DATE )", "NULL"},
		{"TRY_CAST(CONCAT('1', '2') AS DECIMAL(5,1))", "12.0"},
		{"COALESCE(TRY_CAST(txt AS SIGNED), -1)", "-1"},
		{"CONCAT('TRY_CAST(', txt, ')')", "TRY_CAST(12abc)"},
	} {
		got, err := evalIn(t, c.expr, nil, zonedRow())
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %s, want %s", c.expr, got, c.want)
		}
	}
	if _, err := evalIn(t, "CAST(txt AS SIGNED)", nil, zonedRow()); err == nil {
		t.Error("CAST of 12abc to SIGNED did not fail")
	}
}

// TestSubstrings: LEFT, RIGHT and SUBSTRING count characters, in ASCII, multibyte and
// mixed text.
func TestSubstrings(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"LEFT('abcdef', 3)", "abc"},
		{"LEFT('ab', 5)", "ab"},
		{"LEFT('ab日本語', 3)", "ab日"},
		{"LEFT('日本語', 2)", "日本"},
		{"RIGHT('ab日本語', 2)", "本語"},
		{"SUBSTRING('ab日本語cd', 3, 3)", "日本語"},
		{"SUBSTRING('ab日本語cd', -2)", "cd"},
		{"LEFT('abc', 0)", ""},
	} {
		got, err := evalIn(t, c.expr, nil, zonedRow())
		if err != nil || got != c.want {
			t.Errorf("%s = %q (%v), want %q", c.expr, got, err, c.want)
		}
	}
}
