package event

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/types"
)

// ParseText reads a value of type t from the text the JSON formats write for it (the
// inverse of AppendJSONValue for a string, and of canal-json's text): numbers in decimal,
// dates 2006-01-02, times 15:04:05.999999 (negative or past 24 h for MySQL's TIME),
// timestamps with a T or a space (an instant may end in Z or an offset), booleans as
// true/false or 1/0, bytes as base64 (latin1: bytes as ISO-8859-1 characters, as Canal
// writes them), ±infinity for PostgreSQL's dates and timestamps.
func ParseText(t types.Type, s string, latin1 bool) (Value, error) {
	switch t.Kind {
	case types.Boolean:
		switch strings.ToLower(s) {
		case "1", "true", "t":
			return Bool(true), nil
		case "0", "false", "f":
			return Bool(false), nil
		}
		return Value{}, fmt.Errorf("%q is not a boolean", s)
	case types.Int8, types.Int16, types.Int32, types.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		return Int(n), err
	case types.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		return Uint(n), err
	case types.Float32, types.Float64:
		x, err := strconv.ParseFloat(s, 64)
		return Float(x), err
	case types.Decimal:
		if _, ok := new(big.Rat).SetString(s); !ok || strings.ContainsAny(s, "/eE") {
			return Value{}, fmt.Errorf("%q is not a decimal number", s)
		}
		return Decimal(s), nil
	case types.Bytes:
		if latin1 {
			b := make([]byte, 0, len(s))
			for _, r := range s {
				if r > 0xff {
					return Value{}, fmt.Errorf("%q holds a character past ISO-8859-1", s)
				}
				b = append(b, byte(r))
			}
			return Bytes(b), nil
		}
		b, err := base64.StdEncoding.DecodeString(s)
		return Bytes(b), err
	case types.Date:
		if d, ok := infinity(s); ok {
			return Date(d), nil
		}
		d, err := time.Parse(time.DateOnly, s)
		return Date(floorDiv(d.Unix(), 86400)), err
	case types.Time:
		us, err := parseClock(s)
		return Time(us), err
	case types.Timestamp, types.TimestampLTZ:
		if d, ok := infinity(s); ok {
			return Timestamp(d), nil
		}
		s = strings.Replace(s, " ", "T", 1)
		var err error
		for _, layout := range timestampLayouts {
			var ts time.Time
			if ts, err = time.Parse(layout, s); err == nil {
				return TimestampOf(ts), nil
			}
		}
		return Value{}, fmt.Errorf("%q is not a timestamp (2006-01-02 15:04:05.999999, with a zone for an instant): %w", s, err)
	case types.JSON, types.Array:
		return JSON(s), nil
	}
	return String(s), nil
}

// timestampLayouts are the forms ParseText reads a timestamp in, the space made a T.
var timestampLayouts = []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z07", "2006-01-02T15:04:05.999999999Z0700"}

// parseClock reads [-]H+:MM:SS[.ffffff] as microseconds.
func parseClock(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not a time of day (15:04:05.999999)", s)
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	sec, frac, _ := strings.Cut(parts[2], ".")
	sc, err3 := strconv.ParseInt(sec, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || m > 59 || sc > 59 || len(frac) > 9 {
		return 0, fmt.Errorf("%q is not a time of day (15:04:05.999999)", s)
	}
	us := ((h*60+m)*60 + sc) * 1_000_000
	if frac != "" {
		f, err := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time of day (15:04:05.999999)", s)
		}
		us += f
	}
	if neg {
		us = -us
	}
	return us, nil
}

func infinity(s string) (int64, bool) {
	switch s {
	case "infinity", "+infinity":
		return PosInfinity, true
	case "-infinity":
		return NegInfinity, true
	}
	return 0, false
}
