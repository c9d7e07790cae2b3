package postgres

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/pgtext"
	"github.com/weir-data/weir/internal/types"
)

// The PostgreSQL → unified type mapping (docs/types-postgres.md has it as a table). Every
// value arrives as the type's text output — COPY in the snapshot, pgoutput in the stream,
// both in sessions with the same DateStyle, IntervalStyle, TimeZone and float digits — and
// one decoder per column turns that text into the event.Value, so a row reads the same
// whichever way it arrives.
//
//	smallint, integer, bigint    int16, int32, int64;  oid: int64
//	numeric(p,s) / numeric       decimal(p,s) / decimal: exact text, any number of digits; NaN, ±Infinity kept as text
//	real, double precision       float32, float64: NaN and ±Infinity kept
//	money                        decimal(19,2): the amount without currency symbol or separators (lc_monetary C or en_US style)
//	text, varchar(n), char(n)    string, string(n), string(n) fixed
//	bytea                        bytes
//	boolean                      boolean
//	date                         date; ±infinity as event.PosInfinity / event.NegInfinity
//	time(p)                      time(p), 00:00 … 24:00
//	timetz(p)                    string: the ISO text with its offset (no unified zoned time of day)
//	timestamp(p)                 timestamp(p); ±infinity as for date
//	timestamptz(p)               timestamp_ltz(p): the instant in UTC; ±infinity as for date
//	interval                     string: ISO 8601 (P1Y2M3DT4H5M6.5S)
//	uuid                         uuid
//	json, jsonb                  json
//	inet, cidr, macaddr(8)       string
//	enum types                   enum with the members in their declared order
//	domains                      the mapping of the base type (a PostgreSQL sink makes the domain)
//	arrays (any dimensions)      array<elem>: JSON of nested arrays of the element values
//	hstore                       json: an object of string (or null) values
//	PostGIS geometry/geography   bytes: the EWKB
//	anything else                string: the type's text output
//
// Stored generated columns are not captured: PostgreSQL before 18 leaves them out of the
// logical replication stream, so a snapshot could hold them and the stream never.

// column decodes one column's text values.
type column struct {
	name string
	typ  types.Type
	dec  func(b []byte) (event.Value, error)
}

// pgType is what discovery and relation messages know of a column's type.
type pgType struct {
	// Name is format_type(oid, typmod): "integer", "character varying(10)", "numeric(10,2)",
	// "timestamp(3) with time zone", "integer[]", or a user type's (qualified) name.
	Name string
	// Base is the name of the type itself (a domain's base type, an array's element
	// type), without modifiers: "int4", "varchar", "numeric", "hstore".
	Base string
	// Kind: 'b' base, 'e' enum, 'a' array (Base is the element's), 'd' domain resolved.
	Array   bool
	Enum    []string // the members of an enum (of the element, for an array)
	Mod     int      // the type modifier (atttypmod), -1 for none
	Generic bool     // a type weir maps to string whatever it is
	// Def is how to make the column's domain or composite type (typeDef), "" if none.
	Def string
}

// mapType returns the unified type and decoder of a column of type t.
func mapType(t pgType) (types.Type, func([]byte) (event.Value, error)) {
	if t.Array {
		elem := t
		elem.Array = false
		et, edec := mapType(elem)
		return types.Type{Kind: types.Array, Elem: &et}, arrayDecoder(et, edec)
	}
	switch t.Base {
	case "bool":
		return types.Type{Kind: types.Boolean}, decodeBool
	case "int2":
		return types.Type{Kind: types.Int16}, decodeInt
	case "int4":
		return types.Type{Kind: types.Int32}, decodeInt
	case "int8", "oid":
		return types.Type{Kind: types.Int64}, decodeInt
	case "numeric":
		p, s := 0, 0
		if t.Mod >= 4 {
			p, s = ((t.Mod-4)>>16)&0xffff, (t.Mod-4)&0xffff
		}
		return types.Type{Kind: types.Decimal, Precision: p, Scale: s}, decodeDecimal
	case "money":
		return types.Type{Kind: types.Decimal, Precision: 19, Scale: 2}, decodeMoney
	case "float4":
		return types.Type{Kind: types.Float32}, decodeFloat(32)
	case "float8":
		return types.Type{Kind: types.Float64}, decodeFloat(64)
	case "varchar":
		n := 0
		if t.Mod >= 4 {
			n = t.Mod - 4
		}
		return types.Type{Kind: types.String, Length: n}, decodeString
	case "bpchar":
		n := 1
		if t.Mod >= 4 {
			n = t.Mod - 4
		}
		return types.Type{Kind: types.String, Length: n, Fixed: true}, decodeString
	case "text", "name", "citext":
		return types.Type{Kind: types.String}, decodeString
	case "bytea":
		return types.Type{Kind: types.Bytes}, decodeBytea
	case "geometry", "geography":
		return types.Type{Kind: types.Bytes}, decodeHexBytes
	case "date":
		return types.Type{Kind: types.Date}, decodeDate
	case "time":
		return types.Type{Kind: types.Time, Precision: timePrecision(t.Mod)}, decodeTime
	case "timestamp":
		return types.Type{Kind: types.Timestamp, Precision: timePrecision(t.Mod)}, decodeTimestamp(false)
	case "timestamptz":
		return types.Type{Kind: types.TimestampLTZ, Precision: timePrecision(t.Mod)}, decodeTimestamp(true)
	case "uuid":
		return types.Type{Kind: types.UUID}, decodeString
	case "json", "jsonb":
		return types.Type{Kind: types.JSON}, decodeJSON
	case "hstore":
		return types.Type{Kind: types.JSON}, decodeHstore
	}
	if t.Enum != nil {
		return types.Type{Kind: types.Enum, Values: t.Enum}, decodeString
	}
	return types.Type{Kind: types.String}, decodeString
}

// timePrecision is the fractional digits of a time type's modifier (6 when unset).
func timePrecision(mod int) int {
	if mod < 0 || mod > 6 {
		return 6
	}
	return mod
}

func decodeBool(b []byte) (event.Value, error) {
	switch string(b) {
	case "t":
		return event.Bool(true), nil
	case "f":
		return event.Bool(false), nil
	}
	return event.Value{}, fmt.Errorf("boolean %q", b)
}

func decodeInt(b []byte) (event.Value, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return event.Value{}, err
	}
	return event.Int(n), nil
}

func decodeDecimal(b []byte) (event.Value, error) { return event.Decimal(string(b)), nil }

// decodeMoney keeps the amount of money's locale-formatted output: "$1,234.56",
// "-$0.50", "($0.50)".
func decodeMoney(b []byte) (event.Value, error) {
	neg := false
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9', c == '.':
			out = append(out, c)
		case c == '-', c == '(':
			neg = true
		}
	}
	if len(out) == 0 {
		return event.Value{}, fmt.Errorf("money %q", b)
	}
	if neg {
		out = append([]byte{'-'}, out...)
	}
	return event.Decimal(string(out)), nil
}

func decodeFloat(bits int) func([]byte) (event.Value, error) {
	return func(b []byte) (event.Value, error) {
		f, err := strconv.ParseFloat(string(b), bits)
		if err != nil {
			return event.Value{}, err
		}
		return event.Float(f), nil
	}
}

func decodeString(b []byte) (event.Value, error) { return event.String(string(b)), nil }

func decodeBytea(b []byte) (event.Value, error) {
	if len(b) < 2 || b[0] != '\\' || b[1] != 'x' {
		return event.Value{}, fmt.Errorf("bytea %.20q: want hex output (bytea_output = hex)", b)
	}
	return decodeHexBytes(b[2:])
}

func decodeHexBytes(b []byte) (event.Value, error) {
	out := make([]byte, hex.DecodedLen(len(b)))
	if _, err := hex.Decode(out, b); err != nil {
		return event.Value{}, err
	}
	return event.Bytes(out), nil
}

func decodeJSON(b []byte) (event.Value, error) { return event.JSON(string(b)), nil }

// decodeDate parses ISO date output: 2024-01-31, 0044-03-15 BC, infinity.
func decodeDate(b []byte) (event.Value, error) {
	d, err := pgtext.ParseDate(string(b))
	return event.Date(d), err
}

// decodeTime parses HH:MM:SS[.ffffff] (24:00:00 included).
func decodeTime(b []byte) (event.Value, error) {
	us, err := pgtext.ParseTime(string(b))
	return event.Time(us), err
}

// decodeTimestamp parses ISO timestamp output, with an offset when zoned (the session's
// TimeZone is UTC, so it is +00; others are honoured).
func decodeTimestamp(zoned bool) func([]byte) (event.Value, error) {
	return func(b []byte) (event.Value, error) {
		us, err := pgtext.ParseTimestamp(string(b), zoned)
		return event.Timestamp(us), err
	}
}

// decodeHstore turns hstore output ("a"=>"1", "b"=>NULL) into a JSON object.
func decodeHstore(b []byte) (event.Value, error) {
	s := string(b)
	out := []byte{'{'}
	first := true
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			break
		}
		k, rest, err := quoted(s)
		if err != nil {
			return event.Value{}, fmt.Errorf("hstore %.40q: %w", b, err)
		}
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, "=>") {
			return event.Value{}, fmt.Errorf("hstore %.40q: want =>", b)
		}
		rest = strings.TrimLeft(rest[2:], " ")
		var v *string
		if strings.HasPrefix(rest, "NULL") {
			rest = rest[4:]
		} else {
			val, r, err := quoted(rest)
			if err != nil {
				return event.Value{}, fmt.Errorf("hstore %.40q: %w", b, err)
			}
			v, rest = &val, r
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = event.AppendJSONString(out, k)
		out = append(out, ':')
		if v == nil {
			out = append(out, "null"...)
		} else {
			out = event.AppendJSONString(out, *v)
		}
		s = rest
	}
	return event.JSON(string(append(out, '}'))), nil
}

// quoted reads one double-quoted string of hstore or array output, undoing its
// backslash escapes, and returns it and what follows.
func quoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", errors.New("want a quoted string")
	}
	var sb strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			if i < len(s) {
				sb.WriteByte(s[i])
			}
		case '"':
			return sb.String(), s[i+1:], nil
		default:
			sb.WriteByte(s[i])
		}
	}
	return "", "", errors.New("unterminated string")
}

// arrayDecoder decodes array output ({1,2,NULL}, {{"a","b"},{"c",NULL}}, [0:1]={1,2})
// into JSON of nested arrays whose leaves are the element values as JSON.
func arrayDecoder(elem types.Type, dec func([]byte) (event.Value, error)) func([]byte) (event.Value, error) {
	return func(b []byte) (event.Value, error) {
		s := string(b)
		if strings.HasPrefix(s, "[") { // explicit bounds: the elements follow '='
			_, s, _ = strings.Cut(s, "=")
		}
		out, rest, err := appendArray(nil, s, elem, dec)
		if err != nil {
			return event.Value{}, fmt.Errorf("array %.40q: %w", b, err)
		}
		if rest != "" {
			return event.Value{}, fmt.Errorf("array %.40q: text after the array", b)
		}
		return event.JSON(string(out)), nil
	}
}

func appendArray(out []byte, s string, elem types.Type, dec func([]byte) (event.Value, error)) ([]byte, string, error) {
	if !strings.HasPrefix(s, "{") {
		return nil, "", errors.New("want {")
	}
	s = s[1:]
	out = append(out, '[')
	if strings.HasPrefix(s, "}") {
		return append(out, ']'), s[1:], nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			out = append(out, ',')
		}
		var err error
		switch {
		case strings.HasPrefix(s, "{"):
			out, s, err = appendArray(out, s, elem, dec)
		case strings.HasPrefix(s, `"`):
			var text string
			text, s, err = quoted(s)
			if err == nil {
				out, err = appendElem(out, []byte(text), elem, dec)
			}
		default:
			end := strings.IndexAny(s, ",}")
			if end < 0 {
				return nil, "", errors.New("unterminated array")
			}
			text := s[:end]
			s = s[end:]
			if text == "NULL" {
				out = append(out, "null"...)
			} else {
				out, err = appendElem(out, []byte(text), elem, dec)
			}
		}
		if err != nil {
			return nil, "", err
		}
		switch {
		case strings.HasPrefix(s, ","):
			s = s[1:]
		case strings.HasPrefix(s, "}"):
			return append(out, ']'), s[1:], nil
		default:
			return nil, "", errors.New("want , or }")
		}
	}
}

// appendElem appends one element as JSON: numbers and booleans as JSON numbers and
// booleans, JSON as itself, anything else as the string event.AppendJSONValue gives.
func appendElem(out []byte, text []byte, elem types.Type, dec func([]byte) (event.Value, error)) ([]byte, error) {
	v, err := dec(text)
	if err != nil {
		return nil, err
	}
	if elem.Kind == types.JSON {
		if !json.Valid([]byte(v.Str())) {
			return nil, fmt.Errorf("element %.20q is not JSON", v.Str())
		}
		return append(out, v.Str()...), nil
	}
	return event.AppendJSONValue(out, v, elem.Kind), nil
}
