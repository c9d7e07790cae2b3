// Package connector holds the contracts between the engine and the connectors: the Source
// and Sink interfaces, their small optional capabilities, the config declarations every
// connector makes once, and the registry that maps a type name to a connector.
package connector

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/snapshot"
)

// Env is what a connector is given besides its config.
type Env struct {
	Pipeline    string
	SourceType  string // the pipeline's source connector type, for the envelope's source.connector
	Logger      *slog.Logger
	StateDir    string
	Parallelism int
	Metrics     *metrics.Set // nil: no metrics
}

// Source reads one system. The engine owns the phases and the goroutines; a Source's
// methods are called from one goroutine at a time except where said.
type Source interface {
	// Tables resolves the configured selection to concrete tables with their schemas.
	Tables(ctx context.Context) ([]*event.Schema, error)
	// Position returns the current end of the source's change log: where a stream starts
	// when the pipeline starts fresh.
	Position(ctx context.Context) (event.Position, error)
	// Stream emits every change strictly after from, in log order, until ctx ends or the
	// source has nothing more to give (a bounded source returns nil). emit blocks while
	// downstream is full: that is the backpressure. emit takes ownership of the batch.
	// schemas are the table schemas as of from, as the engine knows them: from the
	// checkpoint, or from Tables on a fresh start.
	Stream(ctx context.Context, from event.Position, schemas []*event.Schema, emit func(context.Context, event.Batch) error) error
	Close() error
}

// ChunkReader is implemented by sources that can snapshot. SplitChunks and ReadChunk may
// run concurrently with each other and with Stream; ReadChunk is called concurrently for
// different chunks, up to the pipeline's parallelism.
type ChunkReader interface {
	// SplitChunks yields t's chunks in key order, starting after hint.After.
	SplitChunks(ctx context.Context, t *event.Schema, hint snapshot.SplitHint) iter.Seq2[snapshot.Chunk, error]
	// ReadChunk emits the rows of c, in batches of its choosing; emit takes ownership.
	ReadChunk(ctx context.Context, t *event.Schema, c snapshot.Chunk, emit func([]event.Row) error) error
}

// RowEstimator is a snapshotting source that can estimate a table's rows cheaply (for
// snapshot progress and ETA; never for correctness).
type RowEstimator interface {
	EstimateRows(ctx context.Context, t *event.Schema) (int64, error)
}

// PositionedChunkReader is a ChunkReader that can read a chunk as of an exact position of
// its change log (MariaDB: a consistent-snapshot transaction and its binlog position).
// ReadChunkAt returns that position, or "" when it could not tell.
type PositionedChunkReader interface {
	ReadChunkAt(ctx context.Context, t *event.Schema, c snapshot.Chunk, emit func([]event.Row) error) (event.Position, error)
}

// CoveredFilter is a source that, told which chunks were read as of which position, leaves
// out of its stream the changes those chunks already hold: the snapshot and the stream
// then join exactly (each change once). The engine calls it before Stream.
type CoveredFilter interface {
	SkipCovered(tables map[event.TableID][]snapshot.Covered)
}

// Acker lets a source release what is durable downstream (PostgreSQL confirmed_flush_lsn,
// Kafka commits). Ack is called after the checkpoint store holds durable; it may run
// concurrently with Stream.
type Acker interface {
	Ack(ctx context.Context, durable event.Position) error
}

// Sink writes into one system.
//
// Apply is called concurrently from the engine's writers, each with its own partition
// (Batch.Partition in [0, parallelism)); the changes of one key always arrive in one
// partition, in log order. Commit is called when no Apply is running: it makes everything
// applied so far durable — together with cp where the sink can (same transaction, same
// rename) — and returns once it is. Whatever was applied but not committed when the
// process dies must not appear in the sink's committed output, or must be harmless to
// apply again (idempotence): Apply after a restart replays from the last checkpoint.
type Sink interface {
	// Apply must not keep b or b.Changes after it returns (the rows inside it may).
	Apply(ctx context.Context, b *Batch) error
	Commit(ctx context.Context, cp *checkpoint.Checkpoint) error
	Close() error
}

// Batch is a sink writer's share of the stream: changes of one partition in log order.
type Batch struct {
	Partition int
	Changes   []event.Change
}

// SchemaApplier is a sink that can take schema changes. ApplySchema is called when no
// Apply is running, with every change before it applied.
type SchemaApplier interface {
	ApplySchema(ctx context.Context, c *event.SchemaChange) error
}

// CheckpointKeeper is a sink that stores the checkpoint together with its data. The engine
// resumes from the newest of this and the checkpoint store's.
type CheckpointKeeper interface {
	LoadCheckpoint(ctx context.Context, pipeline string) (*checkpoint.Checkpoint, error)
}

// Unsupported returns an error wrapping errors.ErrUnsupported that names the connector
// and the capability a pipeline needs.
func Unsupported(connectorType, feature string) error {
	return fmt.Errorf("connector %q does not support %s: %w", connectorType, feature, errors.ErrUnsupported)
}

// StartupModer is a source with a scan.startup.mode. "initial": snapshot, then stream from
// the position taken before the snapshot; "snapshot": snapshot, then the pipeline
// finishes; any other mode: stream only, from Position (the source interprets its own
// modes, e.g. timestamp or specific-offset, in Position). A source without it snapshots
// when it is a ChunkReader and streams only otherwise.
type StartupModer interface {
	StartupMode() string
}

// Destination is a sink that can say where its output goes, in words for a person
// ("files in /data/out", "standard output").
type Destination interface {
	Destination() string
}
