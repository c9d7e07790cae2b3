package transform

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zone names resolve on machines without a zoneinfo database

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Temporal functions. Values are held as microseconds since the epoch: a Timestamp is a
// wall clock without a zone (read as if in UTC), a TimestampLTZ an instant, a Date whole
// days. Where a wall clock meets an instant (NOW, FROM_UNIXTIME, UNIX_TIMESTAMP,
// DATE_FORMAT of an instant), the pipeline's local-time-zone decides, as in Flink.

const (
	usPerSecond = 1_000_000
	usPerDay    = 86_400 * usPerSecond
)

var (
	dateType = types.Type{Kind: types.Date}
	tsType   = types.Type{Kind: types.Timestamp, Precision: 6}
	ltzType  = types.Type{Kind: types.TimestampLTZ, Precision: 6}
)

// compilerFunctions are the functions that need the compiler (its time zone); their
// errors are prefixed with their name by compiler.call.
var compilerFunctions = map[string]func(c *compiler, a []node) (node, error){
	"now":               nowFn,
	"current_timestamp": nowFn,
	"localtimestamp": func(c *compiler, a []node) (node, error) {
		return node{typ: tsType, eval: func(*Input) (event.Value, error) {
			return event.Timestamp(wallMicros(time.Now(), c.loc)), nil
		}}, nil
	},
	"current_date": func(c *compiler, a []node) (node, error) {
		return node{typ: dateType, eval: func(*Input) (event.Value, error) {
			return event.Date(floorDiv(wallMicros(time.Now(), c.loc), usPerDay)), nil
		}}, nil
	},
	"date_format":    dateFormat,
	"from_unixtime":  fromUnixtime,
	"unix_timestamp": unixTimestamp,
	"to_date": func(c *compiler, a []node) (node, error) {
		return parseTemporal(c, a, dateType, "yyyy-MM-dd")
	},
	"to_timestamp": func(c *compiler, a []node) (node, error) {
		return parseTemporal(c, a, tsType, "yyyy-MM-dd HH:mm:ss")
	},
	"convert_tz":    convertTZ,
	"datediff":      dateDiff,
	"timestampdiff": timestampDiff,
	"extract": func(c *compiler, a []node) (node, error) {
		if err := argCount(a, 2, 2); err != nil {
			return node{}, err
		}
		return extract(c, a)
	},
}

func init() {
	for name, u := range map[string]ast.TimeUnitType{"year": ast.TimeUnitYear, "quarter": ast.TimeUnitQuarter,
		"month": ast.TimeUnitMonth, "week": ast.TimeUnitWeek, "weekofyear": ast.TimeUnitWeek, "day": ast.TimeUnitDay,
		"dayofmonth": ast.TimeUnitDay, "hour": ast.TimeUnitHour, "minute": ast.TimeUnitMinute,
		"second": ast.TimeUnitSecond, "microsecond": ast.TimeUnitMicrosecond} {
		compilerFunctions[name] = func(c *compiler, a []node) (node, error) {
			if err := argCount(a, 1, 1); err != nil {
				return node{}, err
			}
			return part(c, a[0], u)
		}
	}
	for name, get := range map[string]func(t time.Time) int64{
		"dayofweek": func(t time.Time) int64 { return int64(t.Weekday()) + 1 }, // 1 = Sunday, as in MySQL
		"dayofyear": func(t time.Time) int64 { return int64(t.YearDay()) },
	} {
		compilerFunctions[name] = func(c *compiler, a []node) (node, error) {
			if err := argCount(a, 1, 1); err != nil {
				return node{}, err
			}
			x := a[0]
			return strict(int64Type, a, func(v []event.Value) (event.Value, error) {
				us, err := wall(v[0], x.typ, c.loc)
				if err != nil {
					return v[0], err
				}
				return event.Int(get(time.UnixMicro(us).UTC())), nil
			}), nil
		}
	}
	functions["date_add"], functions["adddate"] = dateAdd(1), dateAdd(1)
	functions["date_sub"], functions["subdate"] = dateAdd(-1), dateAdd(-1)
}

// wallMicros is the wall clock of instant t in loc, as microseconds of a Timestamp.
func wallMicros(t time.Time, loc *time.Location) int64 {
	_, off := t.In(loc).Zone()
	return t.UnixMicro() + int64(off)*usPerSecond
}

// instantMicros is the instant at which the wall clock us (a Timestamp) shows in loc.
func instantMicros(us int64, loc *time.Location) int64 {
	w := time.UnixMicro(us).UTC()
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	return t.UnixMicro()
}

func argCount(a []node, lo, hi int) error {
	if len(a) < lo || len(a) > hi {
		if lo == hi {
			return fmt.Errorf("takes %d arguments, not %d", lo, len(a))
		}
		return fmt.Errorf("takes %d to %d arguments, not %d", lo, hi, len(a))
	}
	return nil
}

// NOW(): the processing time, an instant. (It differs between a change and its replay
// after a crash; __op_ts__, the source's commit time, does not.)
func nowFn(c *compiler, a []node) (node, error) {
	if err := argCount(a, 0, 1); err != nil {
		return node{}, err
	}
	return node{typ: ltzType, eval: func(*Input) (event.Value, error) { return event.Timestamp(time.Now().UnixMicro()), nil }}, nil
}

// wall reads a temporal value as the microseconds of a wall clock in loc: an instant is
// shown in loc, a date is its midnight, text is parsed.
func wall(v event.Value, t types.Type, loc *time.Location) (int64, error) {
	us, err := toMicros(v)
	if err != nil {
		return 0, err
	}
	if t.Kind == types.TimestampLTZ {
		return wallMicros(time.UnixMicro(us), loc), nil
	}
	return us, nil
}

// DATE_FORMAT(x, format): MySQL's %-specifiers, or, in a format without '%', Java's
// pattern letters as Flink takes them (yyyy-MM-dd HH:mm:ss.SSS).
func dateFormat(c *compiler, a []node) (node, error) {
	if err := argCount(a, 2, 2); err != nil {
		return node{}, err
	}
	x := a[0].typ
	return strict(stringType, a, func(v []event.Value) (event.Value, error) {
		us, err := wall(v[0], x, c.loc)
		if err != nil {
			return v[0], err
		}
		return event.String(formatTime(time.UnixMicro(us).UTC(), toText(v[1]))), nil
	}), nil
}

func formatTime(t time.Time, f string) string {
	if !strings.Contains(f, "%") {
		return t.Format(javaLayout(f))
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'c':
			b.WriteString(strconv.Itoa(int(t.Month())))
		case 'M':
			b.WriteString(t.Month().String())
		case 'b':
			b.WriteString(t.Month().String()[:3])
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			b.WriteString(strconv.Itoa(t.Day()))
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'k':
			b.WriteString(strconv.Itoa(t.Hour()))
		case 'h', 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'l':
			b.WriteString(strconv.Itoa((t.Hour()+11)%12 + 1))
		case 'i':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 's', 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'p':
			b.WriteString(map[bool]string{true: "PM", false: "AM"}[t.Hour() >= 12])
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'r':
			b.WriteString(t.Format("03:04:05 PM"))
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'W':
			b.WriteString(t.Weekday().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		default: // %% and unknown specifiers: the character itself, as MySQL does
			b.WriteByte(f[i])
		}
	}
	return b.String()
}

// javaLayout turns Java's pattern letters (yyyy MM dd HH mm ss SSS, 'quoted text') into
// Go's layout.
func javaLayout(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); {
		ch := f[i]
		if ch == '\'' {
			j := strings.IndexByte(f[i+1:], '\'')
			if j < 0 {
				b.WriteString(f[i+1:])
				break
			}
			b.WriteString(f[i+1 : i+1+j])
			i += j + 2
			continue
		}
		n := 1
		for i+n < len(f) && f[i+n] == ch {
			n++
		}
		run := f[i : i+n]
		switch {
		case ch == 'y' && n == 2:
			b.WriteString("06")
		case ch == 'y':
			b.WriteString("2006")
		case ch == 'M' && n >= 4:
			b.WriteString("January")
		case ch == 'M' && n == 3:
			b.WriteString("Jan")
		case ch == 'M':
			b.WriteString(map[bool]string{true: "01", false: "1"}[n == 2])
		case ch == 'd':
			b.WriteString(map[bool]string{true: "02", false: "2"}[n == 2])
		case ch == 'H':
			b.WriteString("15")
		case ch == 'h':
			b.WriteString("03")
		case ch == 'm':
			b.WriteString("04")
		case ch == 's':
			b.WriteString("05")
		case ch == 'S': // Go writes fractions after their separator: ".000"
			if i == 0 || f[i-1] != '.' {
				b.WriteByte('.')
			}
			b.WriteString(strings.Repeat("0", n))
		case ch == 'a':
			b.WriteString("PM")
		case ch == 'E' && n >= 4:
			b.WriteString("Monday")
		case ch == 'E':
			b.WriteString("Mon")
		default:
			b.WriteString(run)
		}
		i += n
	}
	return b.String()
}

// FROM_UNIXTIME(seconds[, format]): the wall clock in the local time zone at that many
// seconds after the epoch, or its text in format.
func fromUnixtime(c *compiler, a []node) (node, error) {
	if err := argCount(a, 1, 2); err != nil {
		return node{}, err
	}
	typ := tsType
	if len(a) == 2 {
		typ = stringType
	}
	return strict(typ, a, func(v []event.Value) (event.Value, error) {
		d, err := toDecimal(v[0])
		if err != nil {
			return v[0], err
		}
		us := d.Shift(6).Round(0).IntPart()
		w := wallMicros(time.UnixMicro(us), c.loc)
		if len(v) == 2 {
			return event.String(formatTime(time.UnixMicro(w).UTC(), toText(v[1]))), nil
		}
		return event.Timestamp(w), nil
	}), nil
}

// UNIX_TIMESTAMP([x]): seconds since the epoch, now or at x (a wall clock read in the
// local time zone; an instant as it is).
func unixTimestamp(c *compiler, a []node) (node, error) {
	if err := argCount(a, 0, 2); err != nil {
		return node{}, err
	}
	if len(a) == 0 {
		return node{typ: int64Type, eval: func(*Input) (event.Value, error) { return event.Int(time.Now().Unix()), nil }}, nil
	}
	if len(a) == 2 { // UNIX_TIMESTAMP(text, format): Flink's; the text read as TO_TIMESTAMP does
		ts, err := parseTemporal(c, a, tsType, "")
		if err != nil {
			return node{}, err
		}
		a = []node{ts}
	}
	x := a[0].typ
	return strict(int64Type, a, func(v []event.Value) (event.Value, error) {
		us, err := toMicros(v[0])
		if err != nil {
			return v[0], err
		}
		if x.Kind != types.TimestampLTZ {
			us = instantMicros(us, c.loc)
		}
		return event.Int(floorDiv(us, usPerSecond)), nil
	}), nil
}

// TO_DATE / TO_TIMESTAMP(text[, format]): text read by format (Java pattern letters or
// MySQL %-specifiers); NULL when it does not match, as in Flink.
func parseTemporal(c *compiler, a []node, typ types.Type, def string) (node, error) {
	if err := argCount(a, 1, 2); err != nil {
		return node{}, err
	}
	if x := a[0].typ; len(a) == 1 && (x.Kind == types.Date || x.Kind == types.Timestamp || x.Kind == types.TimestampLTZ) {
		// A date or time already: TO_DATE takes its day (an instant's in
		// pipeline.local-time-zone), TO_TIMESTAMP its wall clock.
		return strict(typ, a, func(v []event.Value) (event.Value, error) {
			us, err := wall(v[0], x, c.loc)
			if err != nil {
				return v[0], err
			}
			if typ.Kind == types.Date {
				return event.Date(floorDiv(us, usPerDay)), nil
			}
			return event.Timestamp(us), nil
		}), nil
	}
	return strict(typ, a, func(v []event.Value) (event.Value, error) {
		f := def
		if len(v) == 2 {
			f = toText(v[1])
		}
		layout := javaLayout(f)
		if strings.Contains(f, "%") {
			layout = mysqlLayout(f)
		}
		t, err := time.Parse(layout, strings.TrimSpace(toText(v[0])))
		if err != nil {
			return event.Null(), nil
		}
		if typ.Kind == types.Date {
			return event.Date(floorDiv(t.UnixMicro(), usPerDay)), nil
		}
		return event.Timestamp(t.UnixMicro()), nil
	}), nil
}

// mysqlLayout turns MySQL's %-specifiers into Go's layout (for parsing).
func mysqlLayout(f string) string {
	r := strings.NewReplacer("%Y", "2006", "%y", "06", "%m", "01", "%c", "1", "%d", "02", "%e", "2", "%H", "15",
		"%k", "15", "%h", "03", "%I", "03", "%i", "04", "%s", "05", "%S", "05", "%f", "000000", "%p", "PM",
		"%M", "January", "%b", "Jan", "%T", "15:04:05", "%%", "%")
	return r.Replace(f)
}

// CONVERT_TZ(x, from, to): the wall clock x in zone from, shown in zone to. Zones are
// names (Asia/Shanghai) or offsets (+08:00); an unknown zone gives NULL, as in MySQL.
func convertTZ(c *compiler, a []node) (node, error) {
	if err := argCount(a, 3, 3); err != nil {
		return node{}, err
	}
	return strict(tsType, a, func(v []event.Value) (event.Value, error) {
		us, err := toMicros(v[0])
		if err != nil {
			return v[0], err
		}
		from, err1 := zone(toText(v[1]))
		to, err2 := zone(toText(v[2]))
		if err1 != nil || err2 != nil {
			return event.Null(), nil
		}
		return event.Timestamp(wallMicros(time.UnixMicro(instantMicros(us, from)), to)), nil
	}), nil
}

// zone resolves a zone name or a ±hh:mm offset.
func zone(s string) (*time.Location, error) {
	s = strings.TrimSpace(s)
	if len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':' {
		h, err1 := strconv.Atoi(s[1:3])
		m, err2 := strconv.Atoi(s[4:])
		if err1 != nil || err2 != nil || h > 14 || m > 59 {
			return nil, fmt.Errorf("bad offset %s", s)
		}
		off := h*3600 + m*60
		if s[0] == '-' {
			off = -off
		}
		return time.FixedZone(s, off), nil
	}
	if strings.EqualFold(s, "SYSTEM") {
		return time.Local, nil
	}
	return time.LoadLocation(s)
}

// unitOf is the unit of an INTERVAL or of EXTRACT/TIMESTAMPDIFF, from its argument.
func unitOf(n node, fn string) (ast.TimeUnitType, error) {
	if n.konst == nil || n.konst.Rep() != event.RepInt || n.typ.Kind != types.Int8 {
		return 0, fmt.Errorf("%s needs a unit such as DAY, HOUR or MONTH", fn)
	}
	return ast.TimeUnitType(n.konst.Int()), nil
}

// unitNode is a time unit as an argument (see compiler.call).
func unitNode(u ast.TimeUnitType) node {
	v := event.Int(int64(u))
	return node{typ: types.Type{Kind: types.Int8}, konst: &v, eval: func(*Input) (event.Value, error) { return v, nil }}
}

// fixedUnit is the microseconds of a unit of fixed length; 0 for months and years.
func fixedUnit(u ast.TimeUnitType) int64 {
	switch u {
	case ast.TimeUnitMicrosecond:
		return 1
	case ast.TimeUnitSecond:
		return usPerSecond
	case ast.TimeUnitMinute:
		return 60 * usPerSecond
	case ast.TimeUnitHour:
		return 3600 * usPerSecond
	case ast.TimeUnitDay:
		return usPerDay
	case ast.TimeUnitWeek:
		return 7 * usPerDay
	}
	return 0
}

// months is the months of a calendar unit; 0 for others.
func months(u ast.TimeUnitType) int {
	switch u {
	case ast.TimeUnitMonth:
		return 1
	case ast.TimeUnitQuarter:
		return 3
	case ast.TimeUnitYear:
		return 12
	}
	return 0
}

// dateAdd builds DATE_ADD/ADDDATE (sign 1) and DATE_SUB/SUBDATE (sign -1): x plus n
// units. A month past the end of the shorter month is its last day, as in MySQL. A date
// plus days, weeks, months or years stays a date; anything else is a timestamp (an
// instant stays an instant).
func dateAdd(sign int64) function {
	return function{2, 3, func(a []node) (node, error) {
		if len(a) == 2 { // ADDDATE(x, days)
			a = append(a, unitNode(ast.TimeUnitDay))
		}
		u, err := unitOf(a[2], "DATE_ADD")
		if err != nil {
			return node{}, err
		}
		if fixedUnit(u) == 0 && months(u) == 0 {
			return node{}, fmt.Errorf("the unit %s is not supported here; use MICROSECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR", u)
		}
		typ := tsType
		switch {
		case a[0].typ.Kind == types.TimestampLTZ:
			typ = ltzType
		case a[0].typ.Kind == types.Date && (fixedUnit(u)%usPerDay == 0 || months(u) > 0):
			typ = dateType
		}
		return strict(typ, a[:2], func(v []event.Value) (event.Value, error) {
			us, err := toMicros(v[0])
			if err != nil {
				return v[0], err
			}
			n, err := toInt(v[1])
			if err != nil {
				return v[1], err
			}
			n *= sign
			if step := fixedUnit(u); step > 0 {
				us += n * step
			} else {
				us = addMonths(us, int(n)*months(u))
			}
			if typ.Kind == types.Date {
				return event.Date(floorDiv(us, usPerDay)), nil
			}
			return event.Timestamp(us), nil
		}), nil
	}}
}

func addMonths(us int64, n int) int64 {
	t := time.UnixMicro(us).UTC()
	y, m := t.Year(), int(t.Month())-1+n
	y += floorDivInt(m, 12)
	m = m - floorDivInt(m, 12)*12 + 1
	d := min(t.Day(), daysIn(y, time.Month(m)))
	return time.Date(y, time.Month(m), d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC).UnixMicro()
}

func floorDivInt(a, b int) int { return int(floorDiv(int64(a), int64(b))) }

func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// EXTRACT(unit FROM x) and the one-part functions (YEAR(x), …): a part of x's wall clock.
func extract(c *compiler, a []node) (node, error) {
	u, err := unitOf(a[0], "EXTRACT")
	if err != nil {
		return node{}, err
	}
	return part(c, a[1], u)
}

func part(c *compiler, x node, u ast.TimeUnitType) (node, error) {
	get, ok := map[ast.TimeUnitType]func(t time.Time) int64{
		ast.TimeUnitYear:        func(t time.Time) int64 { return int64(t.Year()) },
		ast.TimeUnitQuarter:     func(t time.Time) int64 { return int64(t.Month()+2) / 3 },
		ast.TimeUnitMonth:       func(t time.Time) int64 { return int64(t.Month()) },
		ast.TimeUnitWeek:        func(t time.Time) int64 { _, w := t.ISOWeek(); return int64(w) },
		ast.TimeUnitDay:         func(t time.Time) int64 { return int64(t.Day()) },
		ast.TimeUnitHour:        func(t time.Time) int64 { return int64(t.Hour()) },
		ast.TimeUnitMinute:      func(t time.Time) int64 { return int64(t.Minute()) },
		ast.TimeUnitSecond:      func(t time.Time) int64 { return int64(t.Second()) },
		ast.TimeUnitMicrosecond: func(t time.Time) int64 { return int64(t.Nanosecond() / 1000) },
	}[u]
	if !ok {
		return node{}, fmt.Errorf("EXTRACT of %s is not supported; use YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND or MICROSECOND", u)
	}
	return strict(int64Type, []node{x}, func(v []event.Value) (event.Value, error) {
		us, err := wall(v[0], x.typ, c.loc)
		if err != nil {
			return v[0], err
		}
		return event.Int(get(time.UnixMicro(us).UTC())), nil
	}), nil
}

// DATEDIFF(a, b): the days from date b to date a (times ignored).
func dateDiff(c *compiler, a []node) (node, error) {
	if err := argCount(a, 2, 2); err != nil {
		return node{}, err
	}
	return strict(int64Type, a, func(v []event.Value) (event.Value, error) {
		x, err := wall(v[0], a[0].typ, c.loc)
		if err != nil {
			return v[0], err
		}
		y, err := wall(v[1], a[1].typ, c.loc)
		if err != nil {
			return v[1], err
		}
		return event.Int(floorDiv(x, usPerDay) - floorDiv(y, usPerDay)), nil
	}), nil
}

// TIMESTAMPDIFF(unit, a, b): whole units from a to b; months, quarters and years by the
// calendar (a month has passed when the day and time of month are reached again).
func timestampDiff(c *compiler, a []node) (node, error) {
	if err := argCount(a, 3, 3); err != nil {
		return node{}, err
	}
	u, err := unitOf(a[0], "TIMESTAMPDIFF")
	if err != nil {
		return node{}, err
	}
	return strict(int64Type, a[1:], func(v []event.Value) (event.Value, error) {
		x, err := wall(v[0], a[1].typ, c.loc)
		if err != nil {
			return v[0], err
		}
		y, err := wall(v[1], a[2].typ, c.loc)
		if err != nil {
			return v[1], err
		}
		if step := fixedUnit(u); step > 0 {
			return event.Int((y - x) / step), nil
		}
		if months(u) == 0 {
			return v[0], fmt.Errorf("TIMESTAMPDIFF by %s is not supported", u)
		}
		return event.Int(int64(monthsBetween(x, y) / months(u))), nil
	}), nil
}

// monthsBetween is the whole months from x to y (truncated toward zero).
func monthsBetween(x, y int64) int {
	if y < x {
		return -monthsBetween(y, x)
	}
	tx, ty := time.UnixMicro(x).UTC(), time.UnixMicro(y).UTC()
	n := (ty.Year()-tx.Year())*12 + int(ty.Month()) - int(tx.Month())
	if n > 0 && addMonths(x, n) > y {
		n--
	}
	return n
}

// TIMESTAMPADD(unit, n, x): DATE_ADD(x, INTERVAL n unit).
func timestampAdd(a []node) (node, error) {
	return dateAdd(1).build([]node{a[2], a[1], a[0]})
}

// TO_TIMESTAMP_LTZ(n[, precision]): the instant n seconds (precision 0) or milliseconds
// (precision 3, the default, as in Flink) after the epoch.
func toTimestampLTZ(a []node) (node, error) {
	p := int64(3)
	if len(a) == 2 {
		k := a[1].konst
		if k == nil || k.IsNull() {
			return node{}, fmt.Errorf("the precision must be a constant, 0 or 3")
		}
		var err error
		if p, err = toInt(*k); err != nil || p != 0 && p != 3 {
			return node{}, fmt.Errorf("the precision must be 0 (seconds) or 3 (milliseconds), not %s", toText(*k))
		}
	}
	shift := int32(3) // milliseconds to microseconds
	if p == 0 {
		shift = 6
	}
	return strict(types.Type{Kind: types.TimestampLTZ, Precision: int(p)}, a[:1], func(v []event.Value) (event.Value, error) {
		d, err := toDecimal(v[0])
		if err != nil {
			return v[0], err
		}
		return event.Timestamp(d.Shift(shift).Round(0).IntPart()), nil
	}), nil
}

// DATE_FORMAT_TZ(x, format, zone): DATE_FORMAT of x's wall clock in zone.
func dateFormatTZ(c *compiler, a []node) (node, error) {
	if err := argCount(a, 3, 3); err != nil {
		return node{}, err
	}
	x := a[0].typ
	return strict(stringType, a, func(v []event.Value) (event.Value, error) {
		loc, err := zone(toText(v[2]))
		if err != nil {
			return event.Null(), nil // an unknown zone, as CONVERT_TZ
		}
		us, err := wall(v[0], x, loc)
		if err != nil {
			return v[0], err
		}
		return event.String(formatTime(time.UnixMicro(us).UTC(), toText(v[1]))), nil
	}), nil
}

func init() {
	functions["timestampadd"] = function{3, 3, timestampAdd}
	functions["to_timestamp_ltz"] = function{1, 2, toTimestampLTZ}
	compilerFunctions["date_format_tz"] = dateFormatTZ
}

// castLTZ is CAST(x AS TIMESTAMP_LTZ[(p)]) (ltzMarker): the instant at which
// pipeline.local-time-zone's wall clock shows x (an instant stays itself), cut to p
// fractional digits (6 by default).
func castLTZ(c *compiler, a []node) (node, error) {
	if err := argCount(a, 1, 2); err != nil {
		return node{}, err
	}
	p := int64(6)
	if len(a) == 2 {
		if a[1].konst == nil {
			return node{}, fmt.Errorf("TIMESTAMP_LTZ(p): p must be a number from 0 to 6")
		}
		var err error
		if p, err = toInt(*a[1].konst); err != nil || p < 0 || p > 6 {
			return node{}, fmt.Errorf("TIMESTAMP_LTZ(p): p must be a number from 0 to 6")
		}
	}
	step := int64(1)
	for range 6 - p {
		step *= 10
	}
	x := a[0].typ
	return strict(types.Type{Kind: types.TimestampLTZ, Precision: int(p)}, a[:1], func(v []event.Value) (event.Value, error) {
		us, err := toMicros(v[0])
		if err != nil {
			return v[0], err
		}
		if x.Kind != types.TimestampLTZ {
			us = instantMicros(us, c.loc)
		}
		return event.Timestamp(floorDiv(us, step) * step), nil
	}), nil
}

func init() { compilerFunctions[ltzMarker] = castLTZ }
