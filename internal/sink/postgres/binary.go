package postgres

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Snapshot rows go in by COPY's binary format when every column of the target table has
// a binary form written here: the server then parses no text (a fifth of its COPY work
// on a sysbench table) and weir escapes none. A value without such a form (a type this
// file does not write, a value out of a column's range, text holding NUL) makes the
// batch go in COPY's text format instead, where the server gives the error it always
// gives: the binary format changes the cost, never the outcome.

// binCol is how a target column's values are written in COPY's binary format.
type binCol uint8

const (
	binNone binCol = iota // no binary form here: the table is COPYed as text
	binInt2
	binInt4
	binInt8
	binFloat4
	binFloat8
	binBool
	binText // text, varchar(n), char(n): the server applies the length as for text input
	binBytea
	binDate
	binTimestamp   // timestamp [(p)] without time zone
	binTimestampTZ // timestamp [(p)] with time zone
	binJSON
	binJSONB
	binNumeric // numeric [(p, s)]: the server applies the precision and scale as for text input
)

// binColOf is the binary form of a column of the target type formatted (as format_type
// gives it).
func binColOf(formatted string) binCol {
	if strings.HasSuffix(formatted, "]") { // an array (numeric(10,2)[], character(5)[]): text
		return binNone
	}
	switch formatted {
	case "smallint":
		return binInt2
	case "integer":
		return binInt4
	case "bigint":
		return binInt8
	case "real":
		return binFloat4
	case "double precision":
		return binFloat8
	case "boolean":
		return binBool
	case "text", "character varying", "character", "bpchar":
		return binText
	case "bytea":
		return binBytea
	case "date":
		return binDate
	case "json":
		return binJSON
	case "jsonb":
		return binJSONB
	}
	switch {
	case strings.HasPrefix(formatted, "character varying("), strings.HasPrefix(formatted, "character("):
		return binText
	case formatted == "numeric" || strings.HasPrefix(formatted, "numeric("):
		return binNumeric
	case strings.HasPrefix(formatted, "timestamp") && strings.HasSuffix(formatted, " without time zone"):
		return binTimestamp
	case strings.HasPrefix(formatted, "timestamp") && strings.HasSuffix(formatted, " with time zone"):
		return binTimestampTZ
	}
	return binNone
}

// binCols is the binary form of each column of pl, or nil when one has none.
func binCols(pl *plan) []binCol {
	out := make([]binCol, len(pl.casts))
	for i, f := range pl.casts {
		if out[i] = binColOf(f); out[i] == binNone || pl.pgArray[i] {
			return nil
		}
	}
	return out
}

// copyBinaryHeader starts COPY's binary format: the signature, no flags, no extension.
const copyBinaryHeader = "PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00"

// pgEpochDays and pgEpochMicros are PostgreSQL's epoch, 2000-01-01, from 1970-01-01.
const (
	pgEpochDays   = 10_957
	pgEpochMicros = pgEpochDays * 86_400_000_000
)

// appendBinaryRow appends row as one tuple of COPY's binary format, or reports false
// when a value has no binary form here (b is then to be dropped).
func appendBinaryRow(b []byte, row event.Row, cols []binCol, kinds []types.Kind) ([]byte, bool) {
	b = binary.BigEndian.AppendUint16(b, uint16(len(cols)))
	for i, c := range cols {
		var v event.Value
		if i < len(row) {
			v = row[i]
		}
		var ok bool
		if b, ok = appendBinaryField(b, v, c, kinds[i]); !ok {
			return b, false
		}
	}
	return b, true
}

// appendBinaryField appends v as a field of column form c (its length, then its bytes),
// or reports false when it has no binary form here. k is the column's weir type.
func appendBinaryField(b []byte, v event.Value, c binCol, k types.Kind) ([]byte, bool) {
	if v.IsNull() {
		return binary.BigEndian.AppendUint32(b, math.MaxUint32), true // -1
	}
	n, ok := fieldInt(v)
	switch c {
	case binInt2:
		if ok && n >= math.MinInt16 && n <= math.MaxInt16 {
			return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(b, 2), uint16(n)), true
		}
	case binInt4:
		if ok && n >= math.MinInt32 && n <= math.MaxInt32 {
			return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, 4), uint32(n)), true
		}
	case binInt8:
		if ok {
			return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(n)), true
		}
	case binFloat4:
		// Only a value that is a float32 already: text input would round a float64's
		// decimal form, which float32() need not match.
		if v.Rep() == event.RepFloat && k == types.Float32 {
			return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, 4), math.Float32bits(float32(v.Float()))), true
		}
	case binFloat8:
		// Not a float32's value: text input reads its shortest decimal form (0.1), which
		// is not the float32 widened (0.10000000149011612).
		if v.Rep() == event.RepFloat && k != types.Float32 {
			return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), math.Float64bits(v.Float())), true
		}
	case binBool:
		if v.Rep() == event.RepBool {
			return append(binary.BigEndian.AppendUint32(b, 1), byte(v.Int())), true
		}
	case binText, binJSON:
		if r := v.Rep(); r == event.RepString || r == event.RepJSON || r == event.RepDecimal {
			return appendBinaryText(b, v.Str(), "")
		}
	case binJSONB:
		if r := v.Rep(); r == event.RepString || r == event.RepJSON {
			return appendBinaryText(b, v.Str(), "\x01") // jsonb's version byte
		}
	case binNumeric:
		switch v.Rep() {
		case event.RepDecimal:
			return appendBinaryNumeric(b, v.Str())
		case event.RepInt, event.RepUint:
			var digits [24]byte
			return appendBinaryNumeric(b, string(appendInteger(digits[:0], v)))
		}
	case binBytea:
		if v.Rep() == event.RepBytes {
			return append(binary.BigEndian.AppendUint32(b, uint32(len(v.Str()))), v.Str()...), true
		}
	case binDate:
		if d := v.Days(); v.Rep() == event.RepDate && d >= firstDay && d <= lastDay {
			return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, 4), uint32(int32(d-pgEpochDays))), true
		}
	case binTimestamp, binTimestampTZ:
		// A timestamp without a zone into a timestamptz is read in the session's zone by
		// text input: left to it.
		us := v.Micros()
		if v.Rep() == event.RepTimestamp && (c == binTimestamp || k == types.TimestampLTZ) &&
			us >= firstDay*86_400_000_000 && us < (lastDay+1)*86_400_000_000 {
			return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(us-pgEpochMicros)), true
		}
	}
	return b, false
}

// fieldInt is v as an int64 when it is an integer that fits one.
func fieldInt(v event.Value) (int64, bool) {
	switch v.Rep() {
	case event.RepInt:
		return v.Int(), true
	case event.RepUint:
		return int64(v.Uint()), v.Uint() <= math.MaxInt64
	}
	return 0, false
}

// appendBinaryText appends s, after prefix, as a text field; text holding NUL has no
// form (the text format refuses it with its own error).
func appendBinaryText(b []byte, s, prefix string) ([]byte, bool) {
	if strings.IndexByte(s, 0) >= 0 {
		return b, false
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(prefix)+len(s)))
	return append(append(b, prefix...), s...), true
}

// appendInteger appends an integer value's decimal text.
func appendInteger(b []byte, v event.Value) []byte {
	if v.Rep() == event.RepUint {
		return strconv.AppendUint(b, v.Uint(), 10)
	}
	return strconv.AppendInt(b, v.Int(), 10)
}

// appendBinaryNumeric appends the decimal text s ([-+]digits[.digits]) as a numeric field:
// its base-10,000 digits, the weight of the first, its sign and its scale (the digits
// after the point, as text input keeps them). Other text (NaN, exponents) has no form
// here.
func appendBinaryNumeric(b []byte, s string) ([]byte, bool) {
	sign := uint16(0)
	switch {
	case strings.HasPrefix(s, "-"):
		sign, s = 0x4000, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || !allDigits(whole) || !allDigits(frac) || len(s) > 2000 {
		return b, false
	}
	whole = strings.TrimLeft(whole, "0")
	// Groups of four digits from the point: the whole part's first group is short.
	var groups [512]uint16
	n := 0
	first := len(whole) % 4
	if first == 0 {
		first = 4
	}
	for i := 0; i < len(whole); {
		end := i + first
		if i > 0 {
			end = i + 4
		}
		groups[n], n = digitsValue(whole[i:end]), n+1
		i = end
	}
	weight := n - 1
	for i := 0; i < len(frac); i += 4 {
		g := frac[i:min(i+4, len(frac))]
		v := digitsValue(g)
		for range 4 - len(g) {
			v *= 10
		}
		groups[n], n = v, n+1
	}
	// Leading zero groups (of a value under 1) move the weight; trailing ones go.
	lead := 0
	for lead < n && groups[lead] == 0 {
		lead++
	}
	weight -= lead
	digits := groups[lead:n]
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		weight, sign = 0, 0
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(len(frac)))
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// digitsValue is the value of up to four decimal digits.
func digitsValue(s string) uint16 {
	v := uint16(0)
	for i := 0; i < len(s); i++ {
		v = v*10 + uint16(s[i]-'0')
	}
	return v
}
