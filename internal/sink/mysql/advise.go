package mysql

import (
	"slices"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/sqlsink"
	"github.com/weir-data/weir/internal/types"
)

// Advise names the columns whose values MySQL/MariaDB may not hold whole, given what the
// source can send and the limits of the mapping in types.go (connector.SinkDef.Advise).
func Advise(schemas []*event.Schema, cfg *connector.Config, env connector.Env) []string {
	x := types.SourceExtremes(env.SourceType)
	var out []string
	if cfg == nil || cfg.Bool("sink.create-indexes") {
		out = append(out, sqlsink.IndexAdvice(schemas, indexSkip)...)
	}
	if x.NaN {
		out = append(out, sqlsink.Advice(schemas, sqlsink.KindIn(types.Float32, types.Float64),
			"MySQL has no NaN or ±Infinity; a row with one is refused and stops the pipeline with a message that names the column and key")...)
	}
	if x.TimeBeyondYear {
		out = append(out, sqlsink.Advice(schemas, sqlsink.KindIn(types.Date, types.Timestamp, types.TimestampLTZ),
			"MySQL dates run from year 1 to 9999; ±infinity or a year outside them is refused and stops the pipeline")...)
	}
	out = append(out, sqlsink.Advice(schemas, wideDecimal,
		"decimal(65,30) is MySQL's widest decimal: a number with more than 35 digits before the point is refused, "+
			"and MySQL rounds away the digits after the 30th decimal; keep such columns in a string with a transform if every digit matters")...)
	for _, s := range schemas {
		budget, err := keyBudget(s)
		if err != nil {
			continue // CheckTables reports it
		}
		out = append(out, sqlsink.Advice([]*event.Schema{s}, func(s *event.Schema, i int) bool { return longKey(s, i, budget) },
			"InnoDB indexes at most 3,072 bytes of a key, shared among its columns: such a key column is declared shorter than the source's (varchar(n) or varbinary(n) to fit), and a longer value is refused and stops the pipeline")...)
	}
	return out
}

// CheckTables reports the tables whose key MySQL/MariaDB cannot index at all
// (connector.SinkDef.CheckTables).
func CheckTables(schemas []*event.Schema, cfg *connector.Config, _ connector.Env) []error {
	if cfg.String("sink.mode") == "changelog" {
		return nil // no key is indexed
	}
	var out []error
	for _, s := range schemas {
		if err := sqlsink.NeedsKey(s, cfg.String("sink.mode")); err != nil {
			out = append(out, err)
		} else if _, err := keyBudget(s); err != nil {
			out = append(out, err)
		}
	}
	return out
}

// wideDecimal matches a decimal column wider than decimal(65,30): unbounded, or declared
// with more digits.
func wideDecimal(s *event.Schema, i int) bool {
	t := s.Columns[i].Type
	return t.Kind == types.Decimal && (t.Precision == 0 || t.Precision > 65 || t.Scale > 30)
}

// longKey matches a key column of text or bytes that may be longer than its share of
// InnoDB's index (budget, from keyBudget).
func longKey(s *event.Schema, i int, budget map[int]int) bool {
	if !slices.Contains(s.Key, i) {
		return false
	}
	t := s.Columns[i].Type
	switch t.Kind {
	case types.String, types.Set:
		return t.Length <= 0 || t.Length*4 > budget[i]
	case types.Bytes:
		return t.Length <= 0 || t.Length > budget[i]
	}
	return false
}
