package postgres

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/pgtext"
	"github.com/weir-data/weir/internal/types"
)

// appendText appends v in PostgreSQL's text input form for a column of kind k: the form
// both COPY (after escaping) and a text parameter cast to the column's type take.
func appendText(b []byte, v event.Value, k types.Kind) ([]byte, error) {
	switch v.Rep() {
	case event.RepBool:
		if v.Bool() {
			return append(b, 't'), nil
		}
		return append(b, 'f'), nil
	case event.RepInt:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case event.RepUint:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case event.RepFloat:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(b, "NaN"...), nil
		case math.IsInf(f, 1):
			return append(b, "Infinity"...), nil
		case math.IsInf(f, -1):
			return append(b, "-Infinity"...), nil
		}
		bits := 64
		if k == types.Float32 {
			bits = 32
		}
		return strconv.AppendFloat(b, f, 'g', -1, bits), nil
	case event.RepBytes:
		b = append(b, `\x`...)
		return hex.AppendEncode(b, []byte(v.Str())), nil
	case event.RepDate:
		if d := v.Days(); d < firstDay || d > lastDay { // ±infinity, BC, beyond 9999
			return pgtext.AppendDate(b, d), nil
		}
		return event.AppendDay(b, v.Days()), nil
	case event.RepTime:
		if us := v.Micros(); us < 0 || us > 24*3600*1_000_000 {
			return b, fmt.Errorf("time %s is outside 00:00:00–24:00:00, which a PostgreSQL time cannot hold", v)
		}
		return event.AppendTime(b, v.Micros()), nil
	case event.RepTimestamp:
		if us := v.Micros(); us < firstDay*86_400_000_000 || us >= (lastDay+1)*86_400_000_000 {
			return pgtext.AppendTimestamp(b, us, k == types.TimestampLTZ), nil
		}
		b = event.AppendDateTime(b, v.Micros())
		if k == types.TimestampLTZ {
			b = append(b, "+00"...)
		}
		return b, nil
	case event.RepString, event.RepJSON, event.RepDecimal:
		if strings.IndexByte(v.Str(), 0) >= 0 {
			return b, errNUL
		}
		return append(b, v.Str()...), nil
	}
	return b, fmt.Errorf("no text form for value %s", v)
}

// firstDay and lastDay are 0001-01-01 and 9999-12-31: dates the fast path writes.
const firstDay, lastDay = -719162, 2932896

// appendCopyField appends v as one field of COPY's text format: \N for NULL, and the
// text form with backslash, tab, newline and carriage return escaped. It is the snapshot's
// hot path: text without those bytes is appended whole, bytes are hex-encoded in place.
func appendCopyField(b []byte, v event.Value, k types.Kind) ([]byte, error) {
	if v.IsNull() {
		return append(b, `\N`...), nil
	}
	switch v.Rep() {
	case event.RepString, event.RepJSON, event.RepDecimal:
		s := v.Str()
		i := indexCopySpecial(s)
		if i < 0 {
			return append(b, s...), nil
		}
		b = append(b, s[:i]...)
		for ; i < len(s); i++ {
			switch c := s[i]; c {
			case 0:
				return b, errNUL
			case '\\':
				b = append(b, '\\', '\\')
			case '\t':
				b = append(b, '\\', 't')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, c)
			}
		}
		return b, nil
	case event.RepBytes:
		b = append(b, `\\x`...) // \x, its backslash escaped
		return hex.AppendEncode(b, []byte(v.Str())), nil
	}
	return appendText(b, v, k) // numbers, dates, times: nothing to escape
}

var errNUL = errors.New("the value holds a NUL character, which PostgreSQL text cannot hold")

// copySpecial marks the bytes COPY's text format escapes, and NUL, which it refuses.
var copySpecial = [256]bool{0: true, '\\': true, '\t': true, '\n': true, '\r': true}

// indexCopySpecial is the index of the first byte of s that COPY's text format escapes
// or refuses, or -1.
func indexCopySpecial(s string) int {
	for i := 0; i < len(s); i++ {
		if copySpecial[s[i]] {
			return i
		}
	}
	return -1
}
