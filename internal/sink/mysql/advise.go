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
func Advise(schemas []*event.Schema, _ *connector.Config, env connector.Env) []string {
	x := types.SourceExtremes(env.SourceType)
	var out []string
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
	out = append(out, sqlsink.Advice(schemas, longKey,
		"a key column is at most varchar(768) or varbinary(3072) (InnoDB's index limit); a longer value is refused and stops the pipeline")...)
	return out
}

// wideDecimal matches a decimal column wider than decimal(65,30): unbounded, or declared
// with more digits.
func wideDecimal(s *event.Schema, i int) bool {
	t := s.Columns[i].Type
	return t.Kind == types.Decimal && (t.Precision == 0 || t.Precision > 65 || t.Scale > 30)
}

// longKey matches a key column of text or bytes that may be longer than InnoDB indexes.
func longKey(s *event.Schema, i int) bool {
	if !slices.Contains(s.Key, i) {
		return false
	}
	t := s.Columns[i].Type
	switch t.Kind {
	case types.String, types.Set:
		return t.Length <= 0 || t.Length > maxKeyChars
	case types.Bytes:
		return t.Length <= 0 || t.Length > 4*maxKeyChars
	}
	return false
}
