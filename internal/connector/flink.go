package connector

import (
	"fmt"
	"strings"

	"github.com/weir-data/weir/internal/event"
)

// FlinkSourceOptions are options of Flink CDC's incremental-snapshot sources (MySQL,
// PostgreSQL) that weir accepts so that Flink's pipeline files run as they are, each with
// why it has no use for it (Field.Ignored); validate notes the ones a file sets.
func FlinkSourceOptions() []Field {
	ignored := func(name string, typ FieldType, why string) Field {
		return Field{Name: name, Type: typ, Ignored: why, Description: "Flink CDC's; weir has no use for it: " + why + "."}
	}
	return []Field{
		{Name: "tables.exclude", Type: TypeTables, Example: `app_db.orders_bak, app_db.tmp_\.*`,
			Description: "Tables left out of those tables selects, in the same syntax (Flink CDC's)."},
		{Name: "connection.pool.size", Type: TypeInt, Min: Int64(1),
			Description: "Flink CDC's name for connect.max-connections, which wins when both are set."},
		{Name: "debezium.skipped.operations", Type: TypeList, Example: "d",
			Description: "Debezium's: kinds of change the stream leaves out of the sink, comma-separated: c (inserts), u (updates), d (deletes), t (truncates, which weir does not copy anyway); none: none. Snapshot rows are always copied."},
		ignored("scan.snapshot.fetch.size", TypeInt,
			"weir streams each chunk's rows as the server sends them; scan.incremental.snapshot.chunk.size bounds a chunk"),
		ignored("connect.max-retries", TypeInt,
			"a lost connection restarts the pipeline from its checkpoint, as pipeline.restart.backoff.* and restart.max-attempts say"),
		ignored("scan.incremental.close-idle-reader.enabled", TypeBool,
			"weir's chunk readers end with the snapshot"),
		ignored("scan.incremental.snapshot.backfill.skip", TypeBool,
			"weir joins every chunk into the change stream exactly, at no extra cost: there is no backfill to skip"),
		ignored("scan.incremental.snapshot.unbounded-chunk-first.enabled", TypeBool,
			"weir splits a table's tail while reading it: no chunk is unbounded"),
		ignored("chunk-key.even-distribution.factor.upper-bound", TypeFloat,
			"weir tells evenly spread keys by the table's own statistics and probes the others"),
		ignored("chunk-key.even-distribution.factor.lower-bound", TypeFloat,
			"weir tells evenly spread keys by the table's own statistics and probes the others"),
		ignored("chunk-meta.group.size", TypeInt,
			"weir keeps snapshot progress as merged key ranges in the checkpoint"),
		ignored("include-comments.enabled", TypeBool,
			"weir's schemas carry no comments, and sinks make tables without them"),
		ignored("jdbc.properties.*", TypeString,
			"weir's connections are not JDBC: they always talk UTF-8 in UTC, and TLS is weir's own setting"),
		ignored("debezium.*", TypeString,
			"weir is not built on Debezium; how records are written (decimals, times, unsigned bigints) is the sink's format's business"),
	}
}

// FlinkPipelineOptions are options of Flink CDC's pipeline block weir accepts and has no
// use for (Field.Ignored).
func FlinkPipelineOptions() []Field {
	why := "Flink's operator plumbing: weir runs a pipeline in one process, with no operators to name or coordinate"
	var out []Field
	for _, name := range []string{"operator.uid.prefix", "schema.operator.uid", "schema-operator.rpc-timeout"} {
		out = append(out, Field{Name: name, Type: TypeString, Ignored: why, Description: "Flink CDC's; weir has no use for it: " + why + "."})
	}
	out = append(out, Field{Name: "execution.checkpointing.*", Type: TypeString,
		Ignored:     "Flink's checkpointing; weir takes a checkpoint every pipeline.checkpoint.interval, and one more when it stops",
		Description: "Flink's checkpointing options; weir takes a checkpoint every pipeline.checkpoint.interval, and one more when it stops."},
		Field{Name: "use.legacy.json.format", Type: TypeBool,
			Ignored:     "a Flink sink's JSON layout; weir's sinks write their own formats",
			Description: "Flink CDC's switch of a sink's JSON layout; weir's sinks write their own formats."})
	return append(out, Field{Name: "sink.partitioning.strategy", Type: TypeString,
		Ignored:     "weir partitions changes over its sink writers by table and key (pipeline.parallelism)",
		Description: "Flink CDC's; weir partitions changes over its sink writers by table and key (pipeline.parallelism)."})
}

// SkippedOps reads debezium.skipped.operations (nil when the source has no such field or
// it is not set).
func SkippedOps(cfg *Config) ([]event.Op, error) {
	if cfg == nil || cfg.Spec.Field("debezium.skipped.operations") == nil || !cfg.IsSet("debezium.skipped.operations") {
		return nil, nil
	}
	var ops []event.Op
	for _, s := range cfg.List("debezium.skipped.operations") {
		switch strings.ToLower(s) {
		case "c":
			ops = append(ops, event.OpInsert)
		case "u":
			ops = append(ops, event.OpUpdate)
		case "d":
			ops = append(ops, event.OpDelete)
		case "t", "none":
		default:
			return nil, fmt.Errorf("%s is not a kind of change: write c, u, d, t or none", s)
		}
	}
	return ops, nil
}

// LintFlink checks the Flink CDC options a source shares (connector.Spec.Lint).
func LintFlink(cfg *Config) []FieldProblem {
	var out []FieldProblem
	if _, err := SkippedOps(cfg); err != nil {
		out = append(out, FieldProblem{Field: "debezium.skipped.operations", Msg: err.Error()})
	}
	const key = "scan.incremental.snapshot.chunk.key-column"
	if cfg.Spec.Field(key) != nil {
		if _, err := ParseKeyColumns(cfg.String(key)); err != nil {
			out = append(out, FieldProblem{Field: key, Msg: err.Error()})
		}
	}
	return out
}

// MaxConnections is connect.max-connections, or Flink's connection.pool.size when only
// that is set (0: the connector's default).
func MaxConnections(cfg *Config) int {
	if !cfg.IsSet("connect.max-connections") && cfg.Spec.Field("connection.pool.size") != nil && cfg.IsSet("connection.pool.size") {
		return int(cfg.Int("connection.pool.size"))
	}
	return int(cfg.Int("connect.max-connections"))
}
