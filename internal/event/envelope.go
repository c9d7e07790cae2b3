package event

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/weir-data/weir/internal/types"
)

// AppendEnvelope appends c as one Debezium-style JSON object (DESIGN §1.3), without a
// trailing newline:
//
//	{"op":"c","before":null,"after":{…},"source":{"connector":…,"db":…,"schema":…,
//	 "table":…,"pos":…,"ts_ms":…,"snapshot":false},"ts_ms":…}
//
// Values are written by their column type: integers as numbers, decimals as strings (every
// digit kept), bytes as base64, dates "2006-01-02", times "15:04:05.999999", timestamps
// "2006-01-02T15:04:05.999999" (with "Z" for timestamp_ltz), json as a string holding the
// JSON text, floats NaN/±Infinity as strings. Unchanged values (unsent TOAST) are left out.
// nowMillis is the envelope's own ts_ms: when weir processed the change.
func AppendEnvelope(b []byte, c *Change, connector string, nowMillis int64) []byte {
	b = append(b, `{"op":"`...)
	b = append(b, c.Op.Letter()...)
	b = append(b, `","before":`...)
	b = appendImage(b, c.Schema, c.Before)
	b = append(b, `,"after":`...)
	b = appendImage(b, c.Schema, c.After)
	b = append(b, `,"source":{"connector":`...)
	b = AppendJSONString(b, connector)
	id := c.Schema.ID
	b = append(b, `,"db":`...)
	if id.Namespace != "" {
		b = AppendJSONString(b, id.Namespace)
	} else {
		b = AppendJSONString(b, id.Schema)
	}
	if id.Namespace != "" {
		b = append(b, `,"schema":`...)
		b = AppendJSONString(b, id.Schema)
	}
	b = append(b, `,"table":`...)
	b = AppendJSONString(b, id.Table)
	b = append(b, `,"pos":"`...)
	b = c.Pos.Append(b) // Log strings are source-made identifiers without quotes
	b = append(b, `","ts_ms":`...)
	b = strconv.AppendInt(b, c.CommitMicros/1000, 10)
	b = append(b, `,"snapshot":`...)
	b = strconv.AppendBool(b, c.Op == OpRead)
	b = append(b, `},"ts_ms":`...)
	b = strconv.AppendInt(b, nowMillis, 10)
	return append(b, '}')
}

// AppendImage appends row r of schema s as the envelope's JSON object (null for nil).
func AppendImage(b []byte, s *Schema, r Row) []byte { return appendImage(b, s, r) }

func appendImage(b []byte, s *Schema, r Row) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	first := true
	for i := range r {
		if r[i].rep == RepUnchanged || i >= len(s.Columns) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = AppendJSONString(b, s.Columns[i].Name)
		b = append(b, ':')
		b = AppendJSONValue(b, r[i], s.Columns[i].Type.Kind)
	}
	return append(b, '}')
}

// AppendJSONValue appends v as JSON under the envelope's rules for a column of kind k.
func AppendJSONValue(b []byte, v Value, k types.Kind) []byte {
	switch v.rep {
	case RepNull, RepUnchanged:
		return append(b, "null"...)
	case RepBool:
		return strconv.AppendBool(b, v.Bool())
	case RepInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case RepUint:
		return strconv.AppendUint(b, v.n, 10)
	case RepFloat:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(b, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(b, `"Infinity"`...)
		case math.IsInf(f, -1):
			return append(b, `"-Infinity"`...)
		}
		bits := 64
		if k == types.Float32 {
			bits = 32
		}
		return strconv.AppendFloat(b, f, 'g', -1, bits)
	case RepBytes:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, []byte(v.s))
		return append(b, '"')
	case RepDate, RepTimestamp:
		switch v.Micros() {
		case PosInfinity:
			return append(b, `"infinity"`...)
		case NegInfinity:
			return append(b, `"-infinity"`...)
		}
	}
	switch v.rep {
	case RepDate:
		b = append(b, '"')
		b = appendDay(b, v.Days())
		return append(b, '"')
	case RepTime:
		b = append(b, '"')
		b = appendTime(b, v.Micros())
		return append(b, '"')
	case RepTimestamp:
		b = append(b, '"')
		b = appendDateTime(b, v.Micros())
		if k == types.TimestampLTZ {
			b = append(b, 'Z')
		}
		return append(b, '"')
	}
	return AppendJSONString(b, v.s)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
