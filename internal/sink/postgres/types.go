package postgres

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Mapping from the unified types to PostgreSQL (docs/sink-postgres.md shows it; each row
// has a test: TestTypeMatrix). The rule: the target type holds every value of the source
// type, exactly, where PostgreSQL can hold it at all.
//
//	boolean            boolean
//	int8, int16        smallint          (PostgreSQL has no 1-byte integer)
//	int32              integer
//	int64              bigint
//	uint64             numeric(20,0)     (all 64 bits; bigint would overflow above 2^63-1)
//	float32            real
//	float64            double precision
//	decimal(p,s)       numeric(p,s)      (numeric when p is 0: any digits)
//	string(n)          varchar(n)        (text when n is 0; CHAR(n) too: PostgreSQL's char
//	                                      pads with spaces, which the source value has not)
//	bytes              bytea
//	date               date
//	time(p)            time(p)           (00:00–24:00: a MySQL TIME outside it is refused)
//	timestamp(p)       timestamp(p)      (without time zone: a wall clock, as DATETIME)
//	timestamp_ltz(p)   timestamptz(p)    (an instant, as MySQL TIMESTAMP)
//	json               jsonb
//	uuid               uuid
//	enum, set          text              (the members are in the source schema)
//	array              jsonb             (the elements as JSON)
func pgType(t types.Type) string {
	switch t.Kind {
	case types.Boolean:
		return "boolean"
	case types.Int8, types.Int16:
		return "smallint"
	case types.Int32:
		return "integer"
	case types.Int64:
		return "bigint"
	case types.Uint64:
		return "numeric(20,0)"
	case types.Float32:
		return "real"
	case types.Float64:
		return "double precision"
	case types.Decimal:
		if t.Precision <= 0 {
			return "numeric"
		}
		return fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
	case types.String:
		if t.Length <= 0 || t.Length > 10485760 {
			return "text"
		}
		return fmt.Sprintf("character varying(%d)", t.Length)
	case types.Bytes:
		return "bytea"
	case types.Date:
		return "date"
	case types.Time:
		return fmt.Sprintf("time(%d) without time zone", clampFrac(t.Precision))
	case types.Timestamp:
		return fmt.Sprintf("timestamp(%d) without time zone", clampFrac(t.Precision))
	case types.TimestampLTZ:
		return fmt.Sprintf("timestamp(%d) with time zone", clampFrac(t.Precision))
	case types.JSON, types.Array:
		return "jsonb"
	case types.UUID:
		return "uuid"
	}
	return "text" // enum, set, unknown
}

func clampFrac(p int) int { return min(max(p, 0), 6) }

// pgTypeOf parses what format_type prints into a family and its modifiers.
type pgCol struct {
	family    string // "bigint", "numeric", "character varying", "timestamp without time zone", …
	a, b      int    // modifiers: length, precision/scale or fractional digits; -1 when absent
	notNull   bool
	hasDef    bool
	formatted string
}

func parsePGType(formatted string) pgCol {
	c := pgCol{formatted: formatted, a: -1, b: -1}
	s := formatted
	i := strings.IndexByte(s, '(')
	if i < 0 {
		c.family = s
		return c
	}
	j := strings.IndexByte(s[i:], ')')
	if j < 0 {
		c.family = s
		return c
	}
	mods := strings.Split(s[i+1:i+j], ",")
	c.family = strings.TrimSpace(s[:i] + s[i+j+1:])
	if len(mods) > 0 {
		c.a, _ = strconv.Atoi(strings.TrimSpace(mods[0]))
	}
	if len(mods) > 1 {
		c.b, _ = strconv.Atoi(strings.TrimSpace(mods[1]))
	}
	return c
}

var intRank = map[string]int{"smallint": 2, "integer": 4, "bigint": 8}

// holds reports whether an existing target column of type have can hold every value of
// the unified type want without loss.
func holds(have pgCol, want types.Type) bool {
	need := parsePGType(pgType(want))
	if have.family == need.family {
		switch have.family {
		case "numeric":
			if have.a < 0 {
				return true // unconstrained numeric holds any number
			}
			if need.a < 0 {
				return false
			}
			return have.b >= need.b && have.a-have.b >= need.a-need.b
		case "character varying":
			return have.a < 0 || (need.a >= 0 && have.a >= need.a)
		case "time without time zone", "timestamp without time zone", "timestamp with time zone":
			return have.a < 0 || have.a >= need.a
		}
		return true
	}
	if r, ok := intRank[have.family]; ok {
		if n, ok := intRank[need.family]; ok {
			return r >= n
		}
	}
	switch have.family {
	case "numeric":
		if have.a < 0 {
			_, isInt := intRank[need.family]
			return isInt || need.family == "numeric"
		}
		if n, ok := intRank[need.family]; ok {
			digits := map[int]int{2: 5, 4: 10, 8: 19}[n]
			return have.a-have.b >= digits
		}
	case "double precision":
		return need.family == "real"
	case "text":
		return need.family == "character varying" || need.family == "character" || need.family == "uuid"
	case "json":
		return need.family == "jsonb"
	}
	return false
}

// ColumnTypes is the type each column of s takes in a table the sink makes for it: its
// own where the source is PostgreSQL and native.go keeps the type, else pgType's.
func ColumnTypes(s *event.Schema, sourceType string) []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		if sourceType == "postgres" {
			if n, _ := nativeType(c, s.ID.Schema); n != "" {
				out[i] = n
				continue
			}
		}
		out[i] = pgType(c.Type)
	}
	return out
}
