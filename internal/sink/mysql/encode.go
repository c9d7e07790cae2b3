package mysql

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// appendLiteral appends v as a SQL literal for a column of kind k. The session's
// sql_mode is set by weir (no NO_BACKSLASH_ESCAPES, no ANSI_QUOTES), its character set is
// utf8mb4 and its time zone UTC.
func appendLiteral(b []byte, v event.Value, k types.Kind) ([]byte, error) {
	switch v.Rep() {
	case event.RepNull:
		return append(b, "NULL"...), nil
	case event.RepBool:
		if v.Bool() {
			return append(b, '1'), nil
		}
		return append(b, '0'), nil
	case event.RepInt:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case event.RepUint:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case event.RepFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, fmt.Errorf("%v cannot be held by a MySQL float or double", f)
		}
		// Exponent form, a DOUBLE literal (not a DECIMAL), with every digit of the value as
		// a double: a float32 printed short ("3.4028235e+38") reads back as a double
		// beyond FLT_MAX, which MySQL refuses for FLOAT.
		return strconv.AppendFloat(b, f, 'e', -1, 64), nil
	case event.RepDecimal:
		s := v.Str()
		if s == "" || strings.Trim(s, "0123456789.-+eE") != "" {
			return b, fmt.Errorf("decimal %q cannot be held by a MySQL decimal", s)
		}
		return append(b, s...), nil
	case event.RepBytes:
		b = append(b, "X'"...)
		b = hex.AppendEncode(b, []byte(v.Str()))
		return append(b, '\''), nil
	case event.RepDate:
		b = append(b, '\'')
		b = event.AppendDay(b, v.Days())
		return append(b, '\''), nil
	case event.RepTime:
		b = append(b, '\'')
		b = event.AppendTime(b, v.Micros())
		return append(b, '\''), nil
	case event.RepTimestamp:
		b = append(b, '\'')
		b = event.AppendDateTime(b, v.Micros())
		return append(b, '\''), nil
	case event.RepString, event.RepJSON:
		return appendQuoted(b, v.Str()), nil
	}
	return b, fmt.Errorf("no SQL literal for value %s", v)
}

// appendQuoted appends s as a quoted string literal, escaped as mysql_real_escape_string
// does.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b = append(b, '\\', '0')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\\':
			b = append(b, '\\', '\\')
		case '\'':
			b = append(b, '\\', '\'')
		case '"':
			b = append(b, '\\', '"')
		case 0x1a:
			b = append(b, '\\', 'Z')
		default:
			b = append(b, c)
		}
	}
	return append(b, '\'')
}

func stringLiteral(s string) string { return string(appendQuoted(nil, s)) }

func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// str is a value of a result as a string of its own (the result's buffers are reused).
func str(res *gomysql.Result, row, col int) string {
	s, _ := res.GetString(row, col)
	return strings.Clone(s)
}
