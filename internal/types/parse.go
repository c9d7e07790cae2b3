package types

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads a type as Type.String writes it (decimal(12,2), string(64) fixed,
// timestamp(6), enum(a,b), array<int32>), else as a MySQL or PostgreSQL column type names
// it (see ParseSQL). Pipelines declare columns this way (a Kafka source's json.columns).
func Parse(s string) (Type, error) { return parse(s, false) }

// ParseSQL reads a type as a MySQL or PostgreSQL column type names it (bigint unsigned,
// varchar(255), numeric(12,2), timestamp with time zone, tinyint(1) — a boolean, as Flink
// CDC reads it; MySQL's timestamp is an instant), else as Type.String writes it. Records
// that carry SQL type names (canal-json's mysqlType) are read with it.
func ParseSQL(s string) (Type, error) { return parse(s, true) }

func parse(s string, sqlFirst bool) (Type, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(in, "array<") && strings.HasSuffix(in, ">") {
		elem, err := parse(in[len("array<"):len(in)-1], sqlFirst)
		if err != nil {
			return Type{}, err
		}
		return Type{Kind: Array, Elem: &elem}, nil
	}
	if strings.HasSuffix(in, "[]") { // PostgreSQL's arrays
		elem, err := parse(strings.TrimSuffix(in, "[]"), sqlFirst)
		if err != nil {
			return Type{}, err
		}
		return Type{Kind: Array, Elem: &elem}, nil
	}
	base, args, rest := in, "", ""
	if i := strings.IndexByte(in, '('); i >= 0 {
		j := strings.LastIndexByte(in, ')')
		if j < i {
			return Type{}, fmt.Errorf("type %q: unbalanced parentheses", s)
		}
		base, args, rest = strings.TrimSpace(in[:i]), in[i+1:j], strings.TrimSpace(in[j+1:])
	} else if f := strings.Fields(in); len(f) > 1 && (f[len(f)-1] == "unsigned" || f[len(f)-1] == "zerofill" || f[len(f)-1] == "fixed") {
		base, rest = strings.Join(f[:len(f)-1], " "), f[len(f)-1]
	}
	unsigned := strings.Contains(rest, "unsigned")
	nums := func() []int {
		var out []int
		for _, a := range strings.Split(args, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(a)); err == nil {
				out = append(out, n)
			}
		}
		return out
	}
	arg := func(i, def int) int {
		if n := nums(); i < len(n) {
			return n[i]
		}
		return def
	}
	members := func() []string {
		var out []string
		for _, m := range strings.Split(args, ",") {
			out = append(out, strings.Trim(strings.TrimSpace(m), "'"))
		}
		return out
	}
	if t, ok := sqlType(base, args, unsigned, arg, members); ok && sqlFirst {
		return t, nil
	}
	if k, ok := ParseKind(base); ok {
		t := Type{Kind: k}
		switch k {
		case Decimal:
			t.Precision, t.Scale = arg(0, 0), arg(1, 0)
		case String, Bytes:
			t.Length, t.Fixed = arg(0, 0), rest == "fixed"
		case Time, Timestamp, TimestampLTZ:
			t.Precision = arg(0, 6)
		case Enum, Set:
			t.Values = members()
		}
		return t, nil
	}
	if t, ok := sqlType(base, args, unsigned, arg, members); ok {
		return t, nil
	}
	return Type{}, fmt.Errorf("type %q is not one weir knows (write it as `weir docs types` lists, e.g. int64, string(64), decimal(12,2), timestamp(6))", s)
}

// sqlType maps a MySQL or PostgreSQL type name (base, with its parenthesized args).
func sqlType(base, args string, unsigned bool, arg func(i, def int) int, members func() []string) (Type, bool) {
	switch base {
	case "bool", "boolean":
		return Type{Kind: Boolean}, true
	case "bit":
		if arg(0, 1) == 1 {
			return Type{Kind: Boolean}, true
		}
		return Type{Kind: Bytes, Length: (arg(0, 1) + 7) / 8}, true
	case "tinyint":
		switch {
		case args == "1" && !unsigned:
			return Type{Kind: Boolean}, true
		case unsigned:
			return Type{Kind: Int16}, true
		}
		return Type{Kind: Int8}, true
	case "smallint", "int2", "smallserial":
		if unsigned {
			return Type{Kind: Int32}, true
		}
		return Type{Kind: Int16}, true
	case "mediumint", "year":
		return Type{Kind: Int32}, true
	case "int", "integer", "int4", "serial":
		if unsigned {
			return Type{Kind: Int64}, true
		}
		return Type{Kind: Int32}, true
	case "bigint", "int8", "bigserial":
		if unsigned {
			return Type{Kind: Uint64}, true
		}
		return Type{Kind: Int64}, true
	case "float", "real", "float4":
		return Type{Kind: Float32}, true
	case "double", "double precision", "float8":
		return Type{Kind: Float64}, true
	case "decimal", "numeric", "dec":
		return Type{Kind: Decimal, Precision: arg(0, 0), Scale: arg(1, 0)}, true
	case "char", "character", "nchar", "bpchar":
		return Type{Kind: String, Length: arg(0, 1), Fixed: true}, true
	case "varchar", "character varying", "nvarchar", "varchar2":
		return Type{Kind: String, Length: arg(0, 0)}, true
	case "text", "tinytext", "mediumtext", "longtext", "citext", "name":
		return Type{Kind: String}, true
	case "binary":
		return Type{Kind: Bytes, Length: arg(0, 1), Fixed: true}, true
	case "varbinary":
		return Type{Kind: Bytes, Length: arg(0, 0)}, true
	case "blob", "tinyblob", "mediumblob", "longblob", "bytea":
		return Type{Kind: Bytes}, true
	case "date":
		return Type{Kind: Date}, true
	case "time", "time without time zone":
		return Type{Kind: Time, Precision: arg(0, 0)}, true
	case "datetime", "timestamp without time zone":
		return Type{Kind: Timestamp, Precision: arg(0, 0)}, true
	case "timestamp", "timestamptz", "timestamp with time zone": // MySQL's TIMESTAMP is an instant
		return Type{Kind: TimestampLTZ, Precision: arg(0, 0)}, true
	case "json", "jsonb":
		return Type{Kind: JSON}, true
	case "uuid":
		return Type{Kind: UUID}, true
	case "enum":
		return Type{Kind: Enum, Values: members()}, true
	case "set":
		return Type{Kind: Set, Values: members()}, true
	}
	return Type{}, false
}
