// Package pgtext reads and writes PostgreSQL's text forms of dates and timestamps
// (DateStyle ISO) as weir's day and microsecond counts, with what the usual parsers miss:
// ±infinity, years before 1 (written "0044-03-15 BC") and after 9999. The PostgreSQL
// source decodes with it and the PostgreSQL sink encodes and reads back with it, so a
// value crosses PostgreSQL → weir → PostgreSQL unchanged.
package pgtext

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
)

const microsPerDay = 86_400_000_000

// AppendDate appends days since 1970-01-01 as PostgreSQL date input.
func AppendDate(b []byte, days int64) []byte {
	switch days {
	case event.PosInfinity:
		return append(b, "infinity"...)
	case event.NegInfinity:
		return append(b, "-infinity"...)
	}
	y, m, d := civil(days)
	return appendYMD(b, y, m, d)
}

// AppendTimestamp appends micros since the epoch as PostgreSQL timestamp input; zoned
// appends the UTC offset (+00) for timestamptz.
func AppendTimestamp(b []byte, micros int64, zoned bool) []byte {
	switch micros {
	case event.PosInfinity:
		return append(b, "infinity"...)
	case event.NegInfinity:
		return append(b, "-infinity"...)
	}
	days := floorDiv(micros, microsPerDay)
	y, m, d := civil(days)
	bc := y <= 0
	if bc {
		y = 1 - y // the " BC" goes after the time
	}
	b = appendYMD(b, y, m, d)
	b = append(b, ' ')
	b = event.AppendTime(b, micros-days*microsPerDay)
	if i := len(b) - 1; micros%1_000_000 != 0 { // 12:00:00.500000 → 12:00:00.5
		for b[i] == '0' {
			i--
		}
		b = b[:i+1]
	}
	if zoned {
		b = append(b, "+00"...)
	}
	if bc {
		b = append(b, " BC"...)
	}
	return b
}

func appendYMD(b []byte, y, m, d int64) []byte {
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	b = fmt.Appendf(b, "%04d-%02d-%02d", y, m, d)
	if bc {
		b = append(b, " BC"...)
	}
	return b
}

// ParseDate parses ISO date output: 2024-01-31, 0044-03-15 BC, infinity.
func ParseDate(s string) (int64, error) {
	switch s {
	case "infinity":
		return event.PosInfinity, nil
	case "-infinity":
		return event.NegInfinity, nil
	}
	s, bc := strings.CutSuffix(s, " BC")
	y, m, d, err := parseYMD(s)
	if err != nil {
		return 0, fmt.Errorf("date %q: %w", s, err)
	}
	if bc {
		y = 1 - y
	}
	return DaysFromCivil(y, m, d), nil
}

// ParseTime parses HH:MM:SS[.ffffff] (24:00:00 included) into microseconds.
func ParseTime(s string) (int64, error) {
	us, rest, err := parseClock(s)
	if err != nil || rest != "" {
		return 0, fmt.Errorf("time %q", s)
	}
	return us, nil
}

// ParseTimestamp parses ISO timestamp output. zoned reads the offset (+00, +05:30) and
// returns the instant; a timestamp without time zone has none.
func ParseTimestamp(s string, zoned bool) (int64, error) {
	switch s {
	case "infinity":
		return event.PosInfinity, nil
	case "-infinity":
		return event.NegInfinity, nil
	}
	in := s
	s, bc := strings.CutSuffix(s, " BC")
	date, clock, ok := strings.Cut(s, " ")
	if !ok {
		return 0, fmt.Errorf("timestamp %q", in)
	}
	y, m, d, err := parseYMD(date)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", in, err)
	}
	if bc {
		y = 1 - y
	}
	us, rest, err := parseClock(clock)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", in, err)
	}
	if zoned {
		off, err := parseOffset(rest)
		if err != nil {
			return 0, fmt.Errorf("timestamp %q: %w", in, err)
		}
		us -= off
	} else if rest != "" {
		return 0, fmt.Errorf("timestamp %q", in)
	}
	days := DaysFromCivil(y, m, d)
	if days > math.MaxInt64/microsPerDay-1 || days < math.MinInt64/microsPerDay+1 {
		return 0, fmt.Errorf("timestamp %q is beyond what microseconds since 1970 hold", in)
	}
	return days*microsPerDay + us, nil
}

// parseYMD parses Y-M-D where the year may have more than four digits.
func parseYMD(s string) (y, m, d int64, err error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return 0, 0, 0, errors.New("want year-month-day")
	}
	if y, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return
	}
	if m, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return
	}
	d, err = strconv.ParseInt(parts[2], 10, 64)
	return
}

// parseClock parses HH:MM:SS[.f…] at the start of s and returns the microseconds and
// what follows (an offset, for zoned types).
func parseClock(s string) (us int64, rest string, err error) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, "", errors.New("want HH:MM:SS")
	}
	h, e1 := strconv.Atoi(s[0:2])
	mi, e2 := strconv.Atoi(s[3:5])
	se, e3 := strconv.Atoi(s[6:8])
	if e1 != nil || e2 != nil || e3 != nil {
		return 0, "", errors.New("want HH:MM:SS")
	}
	us = (int64(h)*3600 + int64(mi)*60 + int64(se)) * 1_000_000
	rest = s[8:]
	if strings.HasPrefix(rest, ".") {
		i, frac, digits := 1, int64(0), 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if digits < 6 {
				frac = frac*10 + int64(rest[i]-'0')
				digits++
			}
			i++
		}
		for ; digits < 6; digits++ {
			frac *= 10
		}
		us += frac
		rest = rest[i:]
	}
	return us, rest, nil
}

// parseOffset parses +HH[:MM[:SS]] into microseconds east of UTC.
func parseOffset(s string) (int64, error) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("offset %q", s)
	}
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	var secs int64
	for i, part := range strings.Split(s[1:], ":") {
		n, err := strconv.ParseInt(part, 10, 64)
		if err != nil || i > 2 {
			return 0, fmt.Errorf("offset %q", s)
		}
		secs += n * []int64{3600, 60, 1}[i]
	}
	return sign * secs * 1_000_000, nil
}

// DaysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date
// (astronomical years: 1 BC is year 0).
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civil is the inverse of DaysFromCivil.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
