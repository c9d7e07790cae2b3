package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/transform"
)

// EngineConfig is the engine's configuration of pipeline p.
func EngineConfig(p *spec.Pipeline) engine.Config {
	cfg := engine.Config{
		Pipeline:             p.Name,
		Parallelism:          p.Parallelism,
		CheckpointInterval:   p.CheckpointInterval,
		SchemaChangeBehavior: p.SchemaChangeBehavior,
		IncludeSchemaChanges: p.Sink.IncludeSchemaChanges,
		ExcludeSchemaChanges: p.Sink.ExcludeSchemaChanges,
		BatchMaxRows:         p.BatchMaxRows,
		BatchMaxBytes:        p.BatchMaxBytes,
		BatchMaxDelay:        p.BatchMaxDelay,
		QueueMaxBytes:        p.QueueMaxBytes,
		Batch:                p.Batch,
	}
	cfg.SkipOps, _ = connector.SkippedOps(p.Source.Config) // checked by validate
	const chunkKey = "scan.incremental.snapshot.chunk.size"
	if p.Source.Config.Spec.Field(chunkKey) != nil {
		cfg.ChunkRows = int(p.Source.Config.Int(chunkKey))
	}
	return cfg
}

// OpenStore opens the checkpoint store: PostgreSQL at url, else files under dir.
func OpenStore(ctx context.Context, dir, url string) (checkpoint.Store, error) {
	if url != "" {
		s, err := checkpoint.OpenPostgres(ctx, url, "weir_checkpoints")
		if err != nil {
			return nil, fmt.Errorf("open checkpoint store: %w", err)
		}
		return s, nil
	}
	return checkpoint.OpenLocal(dir)
}

// Transformer builds the pipeline's transform rules and routes (nil: none). The
// expressions are compiled per table when its schema is first seen.
func Transformer(p *spec.Pipeline, log *slog.Logger) (*transform.Transformer, error) {
	if len(p.Transforms) == 0 && len(p.Routes) == 0 {
		return nil, nil
	}
	rules := make([]transform.Rule, len(p.Transforms))
	for i, t := range p.Transforms {
		if t.PartitionKeys != "" {
			return nil, fmt.Errorf("transform item %d (line %d) sets partition-keys, which no sink of this version uses (none partitions its output); remove it: %w",
				i+1, t.Line, errors.ErrUnsupported)
		}
		rules[i] = transform.Rule{Tables: t.SourceTables, Projection: t.Projection, Filter: t.Filter, Masks: t.Masks, SoftDelete: t.SoftDelete}
		if t.MaskKey != "" {
			rules[i].MaskKey = &transform.MaskKey{Secret: []byte(t.MaskKey), ID: t.MaskKeyID}
		}
		for _, k := range strings.Split(t.PrimaryKeys, ",") {
			if k = strings.TrimSpace(k); k != "" {
				rules[i].PrimaryKeys = append(rules[i].PrimaryKeys, k)
			}
		}
	}
	routes := make([]transform.Route, len(p.Routes))
	for i, r := range p.Routes {
		routes[i] = transform.Route{Tables: r.SourceTables, SinkTable: r.SinkTable, ReplaceSymbol: r.ReplaceSymbol, SourceColumn: r.SourceTableColumn}
	}
	return transform.New(rules, routes, transform.Options{TimeZone: p.LocalTimeZone, Log: log, NoPushdown: !p.FilterPushdown, FirstMatch: p.RouteFirstMatch, Functions: p.Functions}), nil
}

// OpenConnectors opens the pipeline's source and sink.
func OpenConnectors(ctx context.Context, reg *connector.Registry, p *spec.Pipeline, env connector.Env) (connector.Source, connector.Sink, error) {
	srcDef, sinkDef := reg.Sources[p.Source.Type], reg.Sinks[p.Sink.Type]
	src, err := srcDef.Open(ctx, p.Source.Config, env)
	if err != nil {
		return nil, nil, fmt.Errorf("open source %s: %w", p.Source.Type, err)
	}
	sink, err := sinkDef.Open(ctx, p.Sink.Config, env)
	if err != nil {
		src.Close()
		return nil, nil, fmt.Errorf("open sink %s: %w", p.Sink.Type, err)
	}
	return src, sink, nil
}

// LeftBehind says what a pipeline that failed before its first checkpoint keeps on its
// servers (a replication slot holds WAL until it is dropped), with how to remove it
// (removal: the command, e.g. "`weir reset FILE`"); "" when nothing or when that cannot be
// learned now.
func LeftBehind(reg *connector.Registry, p *spec.Pipeline, env connector.Env, removal string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := reg.Sources[p.Source.Type].Open(ctx, p.Source.Config, env)
	if err != nil {
		return ""
	}
	defer src.Close()
	d, ok := src.(connector.Dropper)
	if !ok {
		return ""
	}
	traces, err := d.Traces(ctx)
	if err != nil || len(traces) == 0 {
		return ""
	}
	return fmt.Sprintf("; it failed before its first checkpoint and left behind %s: run %s to remove them, or fix the cause and run it again",
		strings.Join(traces, " and "), removal)
}

// FirstRunMaxAttempts is how many attempts a pipeline that has never taken a checkpoint
// makes before it fails, when restart.max-attempts is 0.
const FirstRunMaxAttempts = 5
