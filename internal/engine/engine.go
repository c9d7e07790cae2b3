// Package engine runs one pipeline: it drives the source through its phases, batches and
// partitions changes onto parallel sink writers, takes checkpoints and resumes from them.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/metrics"
)

// Config is what the engine needs to know of a pipeline (from spec.Pipeline).
type Config struct {
	Pipeline             string
	Parallelism          int           // sink writers
	CheckpointInterval   time.Duration // how often a checkpoint is taken
	SchemaChangeBehavior string        // ignore | lenient | try_evolve | evolve | exception
	// IncludeSchemaChanges and ExcludeSchemaChanges name the schema changes the sink takes
	// (event.SchemaChangeTypes): only those included (empty: all), less those excluded.
	IncludeSchemaChanges, ExcludeSchemaChanges []string
	BatchMaxRows                               int           // a writer's batch is applied at this many changes …
	BatchMaxBytes                              int64         // … or this many bytes …
	BatchMaxDelay                              time.Duration // … or after this long, whichever comes first
	QueueMaxBytes                              int64         // bytes in flight between source and router
	ChunkRows                                  int           // snapshot chunk size
	// Batch is execution.runtime-mode BATCH: the snapshot only, then the pipeline finishes,
	// whatever the source's startup mode (initial or snapshot).
	Batch bool
	// SkipOps are the kinds of change left out of the sink (Debezium's skipped.operations:
	// inserts, updates or deletes of the stream; snapshot reads never).
	SkipOps []event.Op
}

func (c *Config) setDefaults() {
	if c.Parallelism <= 0 {
		c.Parallelism = 1
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = 5 * time.Second
	}
	if c.SchemaChangeBehavior == "" {
		c.SchemaChangeBehavior = "lenient"
	}
	if c.BatchMaxRows <= 0 {
		c.BatchMaxRows = 4096
	}
	if c.BatchMaxBytes <= 0 {
		c.BatchMaxBytes = 4 << 20
	}
	if c.BatchMaxDelay <= 0 {
		c.BatchMaxDelay = 100 * time.Millisecond
	}
	if c.QueueMaxBytes <= 0 {
		c.QueueMaxBytes = 64 << 20
	}
	if c.ChunkRows <= 0 {
		c.ChunkRows = 8096
	}
}

// takes reports whether the sink takes schema changes of kind k.
func (c *Config) takes(k event.SchemaChangeKind) bool {
	matches := func(items []string) bool {
		return slices.ContainsFunc(items, k.MatchesSchemaChangeType)
	}
	return (len(c.IncludeSchemaChanges) == 0 || matches(c.IncludeSchemaChanges)) && !matches(c.ExcludeSchemaChanges)
}

// Options are the engine's optional collaborators.
type Options struct {
	Logger  *slog.Logger
	Metrics *metrics.Set // nil: no metrics
	Stats   *Stats       // nil: the engine makes its own
	// Transform, when set, is what each change and schema becomes before it is routed
	// to the sink (the pipeline's transform rules).
	Transform Transformer
	// OnPhase, when set, is called (from the router's goroutine) as the run enters each
	// phase.
	OnPhase func(Phase)
	// Abort, when set and done, ends the run at once: no drain, no final checkpoint (a
	// kill; cancelling Run's context is the graceful stop).
	Abort context.Context
	// Notify, when set, is told (from the router's goroutine) what a control plane shows
	// among a pipeline's events: snapshot_started and snapshot_finished per table,
	// schema_change applied to the sink, checkpoint_slow (over 3 times the usual and 1 s).
	Notify func(kind, table, detail string)
	// HoldsClaim says the caller holds the pipeline's claim in the store across runs
	// (internal/runtime): Run still takes a new fencing generation but leaves the claim
	// held when it returns.
	HoldsClaim bool
}

// Transformer is the pipeline's transform stage (internal/transform): its transform rules
// and routes. Its methods are called from the router's goroutine only.
//
//   - Prepare is called at the start of each run with the source's schemas (merged sink
//     tables are widened to fit all their tables up front).
//   - Apply appends to dst what each change of batch becomes in the sink, in order:
//     nothing (filtered out), one change, or one per sink table its table is routed to.
//     ddl are schema changes the sink must take before them (a table the stage had not
//     seen widened a merged table).
//   - SchemaChange returns what a source schema change is in the sink: none, one, or one
//     per sink table (a merged table only ever widens).
//   - Pushdown returns the part of a table's filter that its source can evaluate in its
//     snapshot queries, in a SQL dialect (connector.SnapshotFilter), and what stays in weir.
type Transformer interface {
	Prepare(schemas []*event.Schema) error
	Pushdown(s *event.Schema, dialect string) (pushed string, kept []string, err error)
	Apply(dst []event.Change, batch []event.Change) (out []event.Change, ddl []*event.SchemaChange, err error)
	SchemaChange(c *event.SchemaChange) ([]*event.SchemaChange, error)
}

// Engine runs one pipeline once (see Run). It is not reusable: make a new one, with newly
// opened connectors, for each run.
type Engine struct {
	cfg    Config
	source connector.Source
	sink   connector.Sink
	store  checkpoint.Store
	log    *slog.Logger
	m      *metrics.Set
	stats  *Stats
	tf     Transformer // nil: none

	onPhase    func(Phase)
	notify     func(kind, table, detail string)
	abort      context.Context
	holdsClaim bool
}

// New returns an engine for one run of a pipeline.
func New(cfg Config, source connector.Source, sink connector.Sink, store checkpoint.Store, opts Options) *Engine {
	cfg.setDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stats == nil {
		opts.Stats = &Stats{}
	}
	return &Engine{cfg: cfg, source: source, sink: sink, store: store, log: opts.Logger, m: opts.Metrics, stats: opts.Stats, tf: opts.Transform,
		onPhase: opts.OnPhase, notify: opts.Notify, abort: opts.Abort, holdsClaim: opts.HoldsClaim}
}

// Stats returns the live counters of the run.
func (e *Engine) Stats() *Stats { return e.stats }

// Result says how a run ended without error.
type Result struct {
	// Finished is true when the pipeline has nothing more to do (a bounded source ended,
	// or a snapshot-only pipeline completed); false when it was stopped on request.
	Finished bool
	// Checkpoint is the last checkpoint taken (nil if none).
	Checkpoint *checkpoint.Checkpoint
}

// Run runs the pipeline until ctx is cancelled (a graceful stop: in-flight work drains, a
// final checkpoint is taken, and Run returns nil), until the pipeline finishes, or until an
// error (returned; classify it with fault.Classify). It claims the pipeline in the store
// first, so two processes never both apply one pipeline.
//
// The phases, run by run.loop in run.go:
//
//	resolve    acquire the fencing generation; load the newest of the store's and the
//	           sink's checkpoint; on a fresh start take the source position S and the
//	           tables; on a restart take both from the checkpoint, and add the tables the
//	           selection now matches that the checkpoint does not know.
//	snapshot   (startup mode initial or snapshot, source is a ChunkReader) split tables into
//	           chunks, read up to parallelism chunks at once, apply their rows as reads;
//	           a restart reads the pending chunks again and splits on. With a
//	           connector.SnapshotJoiner (mode initial) the stream already runs from S and
//	           each chunk arrives inside it; a checkpoint only waits for a chunk being
//	           delivered. Without one, a checkpoint waits until no chunk is in flight.
//	stream     read the change log from S (or the checkpoint's position) in log order;
//	           checkpoints fall at transaction boundaries only. A table that joins the
//	           selection here (Batch.Backfill) is snapshotted beside the stream, as above.
//	finished   a snapshot-only pipeline after its snapshot, or a bounded source at its end:
//	           a final checkpoint, then Run returns Finished.
//
// A checkpoint (DESIGN §3.3): drain every writer, Sink.Commit with the checkpoint,
// Store.Save, then Acker.Ack. A stale generation fails Store.Save with ErrFenced and the
// run stops.
func (e *Engine) Run(ctx context.Context) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return &Result{}, nil
	}
	gen, err := e.store.Acquire(ctx, e.cfg.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("claim pipeline %q: %w", e.cfg.Pipeline, err)
	}
	if !e.holdsClaim {
		defer e.store.Release(context.WithoutCancel(ctx), e.cfg.Pipeline)
	}

	cp, err := e.store.Load(ctx, e.cfg.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint of pipeline %q: %w", e.cfg.Pipeline, err)
	}
	if keeper, ok := e.sink.(connector.CheckpointKeeper); ok {
		sinkCP, err := keeper.LoadCheckpoint(ctx, e.cfg.Pipeline)
		if err != nil {
			return nil, fmt.Errorf("load checkpoint kept by the sink: %w", err)
		}
		if sinkCP != nil && (cp == nil || sinkCP.Seq > cp.Seq) {
			e.log.Info("resuming from the checkpoint kept by the sink", "seq", sinkCP.Seq, "position", sinkCP.Position)
		}
		cp = checkpoint.Newest(cp, sinkCP)
	}
	if cp, err = e.takeRequests(ctx, gen, cp); err != nil {
		return nil, err
	}
	r, err := newRun(ctx, e, gen, cp)
	if err != nil {
		return nil, err
	}
	return r.execute(ctx)
}

// errStop ends a run's goroutines when the run is over.
var errStop = errors.New("run over")

// note tells Options.Notify of kind, if set.
func (e *Engine) note(kind, table, detail string) {
	if e.notify != nil {
		e.notify(kind, table, detail)
	}
}
