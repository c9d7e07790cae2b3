package event

import "time"

// appendDateTime appends micros since the epoch as "2006-01-02T15:04:05.999999" (the
// fraction without trailing zeros), as time.Format does but several times faster: the
// envelope writes one per timestamp value. Years outside 0…9999 go through time.Format.
func appendDateTime(b []byte, micros int64) []byte {
	days := floorDiv(micros, 86_400_000_000)
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return time.UnixMicro(micros).UTC().AppendFormat(b, "2006-01-02T15:04:05.999999")
	}
	b = appendDate(b, y, m, d)
	b = append(b, 'T')
	return appendClock(b, micros-days*86_400_000_000)
}

// appendDay appends days since the epoch as "2006-01-02".
func appendDay(b []byte, days int64) []byte {
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return time.Unix(days*86400, 0).UTC().AppendFormat(b, time.DateOnly)
	}
	return appendDate(b, y, m, d)
}

func appendDate(b []byte, y, m, d int64) []byte {
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// appendClock appends micros within a day as "15:04:05.999999".
func appendClock(b []byte, us int64) []byte {
	h, mi, s, f := us/3_600_000_000, us/60_000_000%60, us/1_000_000%60, us%1_000_000
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
	if f == 0 {
		return b
	}
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + f%10)
		f /= 10
	}
	n := 6
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian year, month and day
// (Howard Hinnant's days_from_civil inverse).
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
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// AppendDay appends days since the epoch as "2006-01-02" (for sinks writing SQL text).
func AppendDay(b []byte, days int64) []byte { return appendDay(b, days) }

// AppendDateTime appends micros since the epoch as "2006-01-02T15:04:05.999999".
func AppendDateTime(b []byte, micros int64) []byte { return appendDateTime(b, micros) }

// AppendTime appends micros since midnight as "15:04:05.999999" (hours may pass 24, and
// the value may be negative: MySQL TIME).
func AppendTime(b []byte, micros int64) []byte { return appendTime(b, micros) }
