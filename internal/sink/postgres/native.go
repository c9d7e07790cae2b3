package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Same engine, same types. From a PostgreSQL source, a column keeps its own type in the
// sink where that type is PostgreSQL's own and its values arrive as its text output
// (docs/types-postgres.md): arrays (of any type below or of the unified mapping's),
// enums (made in the sink's schema when missing), inet, cidr, macaddr, macaddr8, money,
// interval, bit and bit varying, tsvector and tsquery, the geometric types, ranges and
// multiranges, xml, time with time zone and character(n). Domains and composite types
// built on PostgreSQL's own types are made in the sink's schema too, from the definition
// the source read (event.Column.TypeDef: a domain with its constraints, a composite with
// its fields); others, and extension types, take the unified mapping (the base type, or
// text).

// nativeBases are the types (format_type's names, without modifiers) that pass through.
var nativeBases = map[string]bool{
	"inet": true, "cidr": true, "macaddr": true, "macaddr8": true, "money": true, "interval": true,
	"bit": true, "bit varying": true, "tsvector": true, "tsquery": true, "xml": true,
	"point": true, "line": true, "lseg": true, "box": true, "path": true, "polygon": true, "circle": true,
	"int4range": true, "int8range": true, "numrange": true, "tsrange": true, "tstzrange": true, "daterange": true,
	"int4multirange": true, "int8multirange": true, "nummultirange": true, "tsmultirange": true, "tstzmultirange": true,
	"datemultirange": true, "time with time zone": true, "character": true,
}

// arrayElems are the further element types an array keeps (the unified mapping's own).
var arrayElems = map[string]bool{
	"smallint": true, "integer": true, "bigint": true, "numeric": true, "real": true, "double precision": true,
	"text": true, "character varying": true, "boolean": true, "date": true, "uuid": true,
	"timestamp without time zone": true, "timestamp with time zone": true,
	"time without time zone": true, "oid": true,
}

// unqualified is a user type's name without its schema and array brackets: it is made
// in the sink table's schema.
func unqualified(st string) string {
	name := strings.TrimSuffix(st, "[]")
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return strings.Trim(name, `"`)
}

// baseName is a format_type name without its modifiers and array brackets:
// "character varying(20)[]" → "character varying", "time(3) with time zone" → "time with time zone".
func baseName(st string) string {
	st = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(st)), "[]")
	if i := strings.IndexByte(st, '('); i >= 0 {
		if j := strings.IndexByte(st[i:], ')'); j >= 0 {
			st = st[:i] + st[i+j+1:]
		}
	}
	return strings.TrimSpace(st)
}

// nativeType is the type column c of a PostgreSQL source keeps in a sink table of schema
// schema, and, for an enum, the statement that makes the enum there; "" where the unified
// mapping applies.
func nativeType(c event.Column, schema string) (typ, makeEnum string) {
	st := strings.TrimSpace(c.SourceType)
	if st == "" {
		return "", ""
	}
	array := strings.HasSuffix(st, "[]")
	if kind, rest, ok := strings.Cut(c.TypeDef, " "); ok && (kind == "DOMAIN" || kind == "TYPE") {
		qualified := quote(schema) + "." + quote(unqualified(st))
		create := fmt.Sprintf("DO $weir$ BEGIN CREATE %s %s %s; EXCEPTION WHEN duplicate_object THEN NULL; END $weir$", kind, qualified, rest)
		if array {
			qualified += "[]"
		}
		return qualified, create
	}
	enum := c.Type
	if enum.Kind == types.Array && enum.Elem != nil {
		enum = *enum.Elem
	}
	if enum.Kind == types.Enum && len(enum.Values) > 0 {
		qualified := quote(schema) + "." + quote(unqualified(st))
		members := make([]string, len(enum.Values))
		for i, m := range enum.Values {
			members[i] = quoteLiteral(m)
		}
		makeEnum = fmt.Sprintf("DO $weir$ BEGIN CREATE TYPE %s AS ENUM (%s); EXCEPTION WHEN duplicate_object THEN NULL; END $weir$",
			qualified, strings.Join(members, ", "))
		if array {
			qualified += "[]"
		}
		return qualified, makeEnum
	}
	base := baseName(st)
	if nativeBases[base] || (array && arrayElems[base]) {
		return st, ""
	}
	return "", ""
}

// sameType reports whether a sink column's format_type name is the native type want.
func sameType(formatted, want string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.ReplaceAll(s, `"`, ""))
		arr := strings.HasSuffix(s, "[]")
		s = strings.TrimSuffix(s, "[]")
		if i := strings.LastIndexByte(s, '.'); i >= 0 && !strings.ContainsAny(s[:i], "( ") {
			s = s[i+1:]
		}
		if arr {
			s += "[]"
		}
		return s
	}
	return norm(formatted) == norm(want)
}

// pgArrayText turns an array value (JSON: nested arrays of the elements' values) into
// PostgreSQL's array input: '[[1,2],[3,null]]' → '{{"1","2"},{"3",NULL}}'.
func pgArrayText(doc string) (string, error) {
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("an array value is not JSON: %w", err)
	}
	var b bytes.Buffer
	if err := appendPGArray(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func appendPGArray(b *bytes.Buffer, v any) error {
	arr, ok := v.([]any)
	if !ok {
		return fmt.Errorf("an array value holds %T where an array belongs", v)
	}
	b.WriteByte('{')
	for i, e := range arr {
		if i > 0 {
			b.WriteByte(',')
		}
		switch x := e.(type) {
		case nil:
			b.WriteString("NULL")
		case []any:
			if err := appendPGArray(b, x); err != nil {
				return err
			}
		case string:
			quoteElem(b, x)
		case json.Number:
			quoteElem(b, x.String())
		case bool:
			if x {
				b.WriteString("t")
			} else {
				b.WriteString("f")
			}
		default: // an object: a json element
			enc, err := json.Marshal(x)
			if err != nil {
				return err
			}
			quoteElem(b, string(enc))
		}
	}
	b.WriteByte('}')
	return nil
}

func quoteElem(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}
