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
	"sync"

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
	// SchemaChangeBehavior is the pipeline's schema.change.behavior, for sinks that apply
	// schema changes (lenient keeps what a change would destroy; evolve applies it whole).
	SchemaChangeBehavior string
	// Verifying says the connector is opened by verify: where it can, it reads by a path
	// that shares nothing with the one the pipeline copies by (the MySQL source reads text
	// as the server converts it, not through weir's charset decoders), so that a fault of
	// the copier's path shows as a difference instead of being repeated on both sides.
	Verifying bool
	// Notices, when set, lets a connector say a thing once per process, though it is opened
	// again at every restart (a setting of the server's that weighs on a guarantee).
	Notices *Notices
	// Notify, when set, takes what a control plane shows among a pipeline's events (a
	// sink pausing a table it cannot follow): kind, the table, what happened.
	Notify func(kind, table, detail string)
	// Role is "" when the connector is opened for the pipeline itself, else the command
	// that reads beside it ("preview", "verify"): such a reader takes its own binlog
	// server-id, so that it never throws the pipeline off the log.
	Role string
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

// Identified is implemented by connectors that can name the server (and, where tables are
// per database, the database) they read or write, so that a pipeline whose sink is its own
// source is refused before it writes into what it reads. Two connectors of one server
// return the same string; it holds no secret.
type Identified interface {
	Identity(ctx context.Context) (string, error)
}

// TableChecker is implemented by sinks that can tell, before a run writes anything, that
// they could not make a table for one of its schemas (SinkDef.CheckTables is the same
// check for `weir validate`). The error is fatal and names the table and the fix.
type TableChecker interface {
	CheckTables(schemas []*event.Schema) error
}

// Truncater is a sink that can empty one of its tables on request (`weir resnapshot`, whose
// new copy of a table must not find the old rows there), whatever
// schema.change.behavior says; a table the sink had paused is taken out of pause.
type Truncater interface {
	TruncateTable(ctx context.Context, id event.TableID) error
}

// IndexBuilder is a sink that makes a source table's secondary indexes (Schema.Indexes)
// in the target table. The engine calls it once the table's snapshot rows are durable —
// building as rows load would slow the load — and at each start for the tables whose
// snapshot is done, beside the stream, which goes on writing through the primary key:
// so it makes what is missing, leaves what is there, and a build cut short by a crash is
// made again. A table the sink did not create is left as it is; the sink says which of
// the source's indexes it lacks. s is the sink table's schema; indexes are the source's
// indexes on columns s has; gone are indexes the source dropped (or redefined), which
// the sink drops first where it made them (index DDL at the source, under evolve).
type IndexBuilder interface {
	// BuildIndexes returns ErrNoTableYet where the sink table is not made yet (no row has
	// come): the engine asks again at its next start.
	BuildIndexes(ctx context.Context, s *event.Schema, indexes, gone []event.Index) error
}

// ErrNoTableYet says that a sink table is not made yet.
var ErrNoTableYet = errors.New("the sink table is not made yet")

// ChunkReader is implemented by sources that can snapshot. SplitChunks and ReadChunk may
// run concurrently with each other and with Stream; ReadChunk is called concurrently for
// different chunks, up to the pipeline's parallelism. A source that is not a
// SnapshotJoiner is snapshotted first and streamed after, from the position taken before
// the snapshot: changes inside the snapshot's window then arrive at least once.
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

// SnapshotJoiner is a snapshotting source that streams while it snapshots (DESIGN §3.2,
// snapshot ∥ stream). The engine starts Stream first, from the position taken before the
// snapshot, and has chunks read through JoinChunk while it runs. The source hands each
// chunk's rows to the engine inside its stream, at the exact log position the chunk was
// read at, and leaves out of the stream the changes of keys whose chunk is still to come:
// every change reaches the sink once, in a chunk or from the log, and in log order.
type SnapshotJoiner interface {
	// JoinsSnapshots reports whether this source can join chunks into its stream (a
	// MariaDB server can: it tells the binlog position of a consistent snapshot).
	JoinsSnapshots() bool
	// AddsNewTables reports whether tables that join the selection later — while the
	// stream runs, or between runs — are to be snapshotted beside the stream
	// (scan.newly-added-table.enabled).
	AddsNewTables() bool
	// Snapshotting tells the source, before Stream, which tables are being snapshotted and
	// how far each has got (from the checkpoint; empty progress for a fresh table). A table
	// in progress but not in Stream's schemas joins the stream with its first chunk.
	Snapshotting(progress []snapshot.TableProgress)
	// JoinChunk reads chunk c of table t and, while the stream holds at the position the
	// chunk was read at, hands its rows to deliver (with the schema they have there, which
	// DDL may have made different from t) and returns. A chunk of a table that no longer
	// exists at its position delivers nothing. JoinChunk runs concurrently for different
	// chunks, and only while Stream runs.
	JoinChunk(ctx context.Context, t *event.Schema, c snapshot.Chunk, deliver func(*event.Schema, []event.Row) error) error
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
	// Settled says that no snapshot chunk is pending, now or in the last durable
	// checkpoint. A transactional sink may then make the batch visible before the next
	// checkpoint (DESIGN §3.3): a replay from the checkpoint re-applies streamed changes,
	// which converges. Before that it must not: a chunk read again after a crash cannot
	// remove a row committed ahead of its checkpoint that the source has deleted since
	// (the stream leaves out changes of pending chunks).
	Settled bool
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

// TableReader reads back the tables a sink writes, for `weir verify`. It takes no part in a
// pipeline (it claims nothing, fences no one) and may run beside one. Rows and keys come
// in the unified form of the source schema s whose table the sink writes; a key is the
// values of s's key columns, in key order.
type TableReader interface {
	// ReadKeys returns the rows of s's table whose keys are among keys, in any order.
	ReadKeys(ctx context.Context, s *event.Schema, keys []event.Row) ([]event.Row, error)
	// ScanKeys returns up to limit keys of s's table that come after after (nil: from
	// the start) in the sink's own key order, in that order.
	ScanKeys(ctx context.Context, s *event.Schema, after event.Row, limit int) ([]event.Row, error)
	// Count returns the number of rows of s's table; exists is false when there is no
	// such table.
	Count(ctx context.Context, s *event.Schema) (n int64, exists bool, err error)
	// LoadCheckpoint returns the pipeline's checkpoint as the sink holds it, or nil.
	LoadCheckpoint(ctx context.Context, pipeline string) (*checkpoint.Checkpoint, error)
	Close() error
}

// KeyReader is a source that can read rows by key, for `weir verify` (keys as in
// TableReader).
type KeyReader interface {
	ReadKeys(ctx context.Context, t *event.Schema, keys []event.Row) ([]event.Row, error)
}

// PositionComparer is a source that can order its positions: Includes reports whether
// everything up to target is also up to durable (`weir verify --settle` waits for the
// sink's checkpoint to include the position at which a difference was seen).
type PositionComparer interface {
	Includes(durable, target event.Position) (bool, error)
	// LogEnd returns the current end of the source's log, changing nothing (Position may
	// create what a pipeline needs, such as a PostgreSQL slot, and start from there).
	LogEnd(ctx context.Context) (event.Position, error)
}

// Dropper is a connector that keeps something of the pipeline's outside the checkpoint
// store: a source's replication slot that holds WAL and its publication, a sink's
// checkpoint row or manifest. Traces names each such thing (for `weir reset` to show
// before it asks); Drop removes them all. Drop is called when the pipeline is reset or
// deleted, never when it merely stops; it is idempotent.
type Dropper interface {
	Traces(ctx context.Context) ([]string, error)
	Drop(ctx context.Context) error
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

// SnapshotMarker is a sink whose records tell a snapshot read's place in the snapshot
// (Debezium's source.snapshot: first, last, of each table): when MarksSnapshot is true,
// the engine marks the reads (event.Change.Mark), holding back each table's last routed
// row until it knows whether it is the last.
type SnapshotMarker interface {
	MarksSnapshot() bool
}

// SnapshotFilter is a snapshotting source that can leave out of its snapshot the rows a
// condition rejects (a transform's filter, pushed down). FilterSnapshot is called before
// any chunk of the table is read, with a condition in the source's SQL (SQLDialect:
// "mysql" or "postgres"), identifiers quoted and literals escaped; the source ANDs it into
// the table's chunk queries. The condition may select more rows than the filter keeps
// (the engine filters every row again), never fewer.
type SnapshotFilter interface {
	SQLDialect() string
	FilterSnapshot(table event.TableID, condition string)
}

// RangeHasher is a source, or a sink's TableReader, that digests the rows of a key range
// on its server, so that `weir verify` compares digests before rows. Lo and Hi bound the
// range as a snapshot.Chunk does (nil: unbounded). Two digests are comparable only when
// both sides computed them the same way, which HashDialect names; verify compares rows
// whenever the digests differ, so a digest that differs for equal rows (a column typed
// otherwise in the sink) costs time, never a missed difference.
type RangeHasher interface {
	HashDialect() string
	HashRange(ctx context.Context, s *event.Schema, lo, hi event.Row) (rows int64, digest string, err error)
}

// Notices remembers what has been said. The zero value is ready; a nil *Notices says
// everything every time.
type Notices struct {
	mu   sync.Mutex
	said map[string]bool
}

// First reports whether key has not been said before, and marks it said.
func (n *Notices) First(key string) bool {
	if n == nil {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.said[key] {
		return false
	}
	if n.said == nil {
		n.said = map[string]bool{}
	}
	n.said[key] = true
	return true
}
