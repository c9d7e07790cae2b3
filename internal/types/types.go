// Package types is weir's unified type system: every column of every source is described
// by one Type, and every sink maps that Type to its own engine. Mappings per engine live
// beside this file (mysql.go, postgres.go, …) as they are added; each row of a mapping
// table in docs/types.md has a round-trip test.
//
// Lossless is the default: BIGINT UNSIGNED is Uint64 (all 64 bits), DECIMAL keeps every
// digit as text, timestamps keep microseconds.
package types

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the family of a column type.
type Kind uint8

// The unified kinds. The comment says how a value of the kind is held in event.Value.
const (
	Unknown      Kind = iota
	Boolean           // bool
	Int8              // int
	Int16             // int
	Int32             // int
	Int64             // int
	Uint64            // uint: unsigned 64-bit, never wrapped into int64
	Float32           // float
	Float64           // float
	Decimal           // decimal text, exact: Precision and Scale as declared (0,0: unbounded)
	String            // string: Length is the declared maximum in characters (0: unbounded)
	Bytes             // bytes: Length as for String, in bytes
	Date              // date: days since 1970-01-01
	Time              // time: microseconds since midnight (may be negative or ≥ 24h: MySQL TIME)
	Timestamp         // timestamp: microseconds since epoch, wall clock without a zone
	TimestampLTZ      // timestamp: microseconds since epoch, an instant (UTC)
	JSON              // json text
	UUID              // string, canonical 8-4-4-4-12 lower case
	Enum              // string; Values lists the allowed members
	Set               // string, members joined by ','; Values lists the allowed members
	Array             // json text of the elements; Elem is the element type
)

var kindNames = [...]string{
	Unknown: "unknown", Boolean: "boolean", Int8: "int8", Int16: "int16", Int32: "int32",
	Int64: "int64", Uint64: "uint64", Float32: "float32", Float64: "float64",
	Decimal: "decimal", String: "string", Bytes: "bytes", Date: "date", Time: "time",
	Timestamp: "timestamp", TimestampLTZ: "timestamp_ltz", JSON: "json", UUID: "uuid",
	Enum: "enum", Set: "set", Array: "array",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n == s {
			return Kind(k), true
		}
	}
	return Unknown, false
}

// Type is a column's type in the unified system.
type Type struct {
	Kind      Kind     `json:"kind"`
	Precision int      `json:"precision,omitempty"` // Decimal digits; Time/Timestamp fractional digits (0–6)
	Scale     int      `json:"scale,omitempty"`     // Decimal digits after the point
	Length    int      `json:"length,omitempty"`    // String/Bytes maximum length; 0 = unbounded
	Fixed     bool     `json:"fixed,omitempty"`     // String/Bytes of fixed length (CHAR, BINARY)
	Values    []string `json:"values,omitempty"`    // Enum/Set members
	Elem      *Type    `json:"elem,omitempty"`      // Array element type
}

// String renders the type the way the docs and `weir discover` show it: decimal(12,2),
// string(64), timestamp(6), array<int32>.
func (t Type) String() string {
	switch t.Kind {
	case Decimal:
		if t.Precision == 0 {
			return "decimal"
		}
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	case String, Bytes:
		if t.Length == 0 {
			return t.Kind.String()
		}
		if t.Fixed {
			return fmt.Sprintf("%s(%d) fixed", t.Kind, t.Length)
		}
		return fmt.Sprintf("%s(%d)", t.Kind, t.Length)
	case Time, Timestamp, TimestampLTZ:
		return fmt.Sprintf("%s(%d)", t.Kind, t.Precision)
	case Enum, Set:
		return fmt.Sprintf("%s(%s)", t.Kind, strings.Join(t.Values, ","))
	case Array:
		if t.Elem == nil {
			return "array"
		}
		return "array<" + t.Elem.String() + ">"
	}
	return t.Kind.String()
}

// Wider returns a type that holds every value of a and of b, and whether one exists.
// It is used when shards are merged into one table and when a sink widens a column.
func Wider(a, b Type) (Type, bool) {
	if a.Kind == b.Kind {
		w := a
		switch a.Kind {
		case Decimal:
			if a.Precision == 0 || b.Precision == 0 {
				w.Precision, w.Scale = 0, 0
				return w, true
			}
			intDigits := max(a.Precision-a.Scale, b.Precision-b.Scale)
			w.Scale = max(a.Scale, b.Scale)
			w.Precision = intDigits + w.Scale
			return w, true
		case String, Bytes:
			if a.Length == 0 || b.Length == 0 {
				w.Length = 0
			} else {
				w.Length = max(a.Length, b.Length)
			}
			w.Fixed = a.Fixed && b.Fixed && a.Length == b.Length
			return w, true
		case Time, Timestamp, TimestampLTZ:
			w.Precision = max(a.Precision, b.Precision)
			return w, true
		case Enum, Set:
			w.Values = unionValues(a.Values, b.Values)
			return w, true
		case Array:
			if a.Elem == nil || b.Elem == nil {
				return a, a.Elem == b.Elem
			}
			e, ok := Wider(*a.Elem, *b.Elem)
			w.Elem = &e
			return w, ok
		}
		return w, true
	}
	if rank(a.Kind) > 0 && rank(b.Kind) > 0 {
		if rank(a.Kind) >= rank(b.Kind) {
			return a, true
		}
		return b, true
	}
	if a.Kind == Float32 && b.Kind == Float64 || a.Kind == Float64 && b.Kind == Float32 {
		return Type{Kind: Float64}, true
	}
	return Type{}, false
}

// rank orders the signed integer kinds; 0 for every other kind.
func rank(k Kind) int {
	switch k {
	case Int8:
		return 1
	case Int16:
		return 2
	case Int32:
		return 3
	case Int64:
		return 4
	}
	return 0
}

func unionValues(a, b []string) []string {
	out := append([]string(nil), a...)
	seen := make(map[string]bool, len(a))
	for _, v := range a {
		seen[v] = true
	}
	for _, v := range b {
		if !seen[v] {
			out = append(out, v)
		}
	}
	return out
}
