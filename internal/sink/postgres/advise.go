package postgres

import (
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/sqlsink"
	"github.com/weir-data/weir/internal/types"
)

// Advise names the columns whose values PostgreSQL may not hold whole, given what the
// source can send (connector.SinkDef.Advise) — such a row is never written altered: the
// pipeline stops at it with the column and key — and the source's indexes it would not
// make as they are.
func Advise(schemas []*event.Schema, cfg *connector.Config, env connector.Env) []string {
	x := types.SourceExtremes(env.SourceType)
	var out []string
	if cfg == nil || cfg.Bool("sink.create-indexes") {
		out = append(out, sqlsink.IndexAdvice(schemas, func(s *event.Schema, ix event.Index) string {
			_, skip := indexMaker{s: s, fromPG: env.SourceType == "postgres"}.CreateIndex(ix.Name, ix)
			return skip
		})...)
	}
	if x.TimeBeyondDay {
		out = append(out, sqlsink.Advice(schemas, sqlsink.KindIn(types.Time),
			"PostgreSQL's time holds 00:00:00 to 24:00:00; a row with a time outside it stops the pipeline with a message that names the column and key")...)
	}
	if x.NULInText {
		out = append(out, sqlsink.Advice(schemas, sqlsink.KindIn(types.String, types.JSON, types.Enum, types.Set),
			"PostgreSQL text cannot hold a NUL character (U+0000); a row with one stops the pipeline with a message that names the column and key")...)
	}
	return out
}
