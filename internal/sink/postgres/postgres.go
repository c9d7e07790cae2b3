// Package postgres is the PostgreSQL sink: it creates the tables a pipeline needs, loads
// snapshots with COPY, applies the change stream as set-based upserts and deletes, and
// keeps the pipeline's checkpoint in the target, exactly once.
//
// # Transactions and the commit protocol (DESIGN §3.3)
//
// Each engine writer (partition) has its own connection and one open transaction, begun
// at its first Apply after a commit. Every Apply runs inside a savepoint, so a deadlock or
// serialization failure retries that batch alone. Commit then:
//
//  1. commits each partition's transaction, each after reading the pipeline's row of the
//     checkpoint table FOR SHARE and finding this writer's generation there (fencing: a
//     newer process has raised it, and its claim waits for these locks);
//  2. writes the checkpoint into that row, where the generation still matches.
//
// The checkpoint row is written last, so it never names data that is not committed. A
// crash between 1 and 2 leaves data committed past the stored checkpoint; the engine
// replays from the checkpoint and the replay is harmless: upserts and deletes of full row
// images converge to the same rows, and a changelog table drops a change it already holds
// by its change id (a hash of table, log position and images, unique in the table).
//
// Once the engine marks batches settled (no snapshot chunk pending, connector.Batch), a
// partition whose open transaction holds no snapshot rows commits it, fenced the same
// way, at the end of each Apply: streamed changes are visible a batch after their source
// commit instead of at the next checkpoint, and a replay of them converges as above.
//
// # Modes
//
// sink.mode upsert (default) keeps one row per key; changelog appends one row per change
// with _weir_op, _weir_pos, _weir_commit_ts and _weir_seq (the order of arrival).
// sink.delete-mode soft turns deletes into an upsert of the deleted row with
// _weir_deleted = true.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// Options configure a Writer.
type Options struct {
	URL             string
	Pipeline        string
	Mode            string // "upsert" or "changelog"
	DeleteMode      string // "hard" or "soft"
	CheckpointTable string // [schema.]name of the checkpoint table
	Behavior        string // schema.change.behavior
	Parallelism     int
	Log             *slog.Logger
}

// Writer is the PostgreSQL sink.
type Writer struct {
	o       Options
	pool    *pgxpool.Pool
	cpTable string // quoted
	gen     int64
	log     *slog.Logger

	mu      sync.Mutex // guards what follows; partitions hold it only to look up or build
	targets map[event.TableID]*target
	plans   map[*event.Schema]*plan
	paused  map[event.TableID]string
	parts   []*part
}

var (
	_ connector.Sink             = (*Writer)(nil)
	_ connector.CheckpointKeeper = (*Writer)(nil)
	_ connector.SchemaApplier    = (*Writer)(nil)
	_ connector.Destination      = (*Writer)(nil)
)

// Open opens the sink from its config.
func Open(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.Sink, error) {
	return New(ctx, Options{
		URL:             cfg.String("url"),
		Pipeline:        env.Pipeline,
		Mode:            cfg.String("sink.mode"),
		DeleteMode:      cfg.String("sink.delete-mode"),
		CheckpointTable: cfg.String("checkpoint.table"),
		Behavior:        env.SchemaChangeBehavior,
		Parallelism:     env.Parallelism,
		Log:             env.Logger,
	})
}

// New connects, creates the checkpoint table if it is missing and claims the pipeline in
// it: a writer of the pipeline still running elsewhere can commit nothing from then on.
func New(ctx context.Context, o Options) (*Writer, error) {
	if o.Mode == "" {
		o.Mode = "upsert"
	}
	if o.DeleteMode == "" {
		o.DeleteMode = "hard"
	}
	if o.CheckpointTable == "" {
		o.CheckpointTable = "weir_checkpoints"
	}
	if o.Behavior == "" {
		o.Behavior = "lenient"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("postgres sink: url: %w", err))
	}
	cfg.MaxConns = int32(max(o.Parallelism, 1) + 2)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres sink: connect: %w", err)
	}
	w := &Writer{o: o, pool: pool, log: o.Log.With("sink", "postgres"),
		targets: map[event.TableID]*target{}, plans: map[*event.Schema]*plan{}, paused: map[event.TableID]string{}}
	if w.cpTable, err = quoteQualified(o.CheckpointTable); err != nil {
		pool.Close()
		return nil, fault.AsFatal(fmt.Errorf("postgres sink: checkpoint.table: %w", err))
	}
	if err := w.claim(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return w, nil
}

// Destination says where the sink writes.
func (w *Writer) Destination() string {
	cfg := w.pool.Config().ConnConfig
	return fmt.Sprintf("PostgreSQL database %s on %s:%d", cfg.Database, cfg.Host, cfg.Port)
}

// claim creates the checkpoint table and raises the pipeline's generation.
func (w *Writer) claim(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		// Two processes creating the table at once would collide in the catalog.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "weir checkpoint table "+w.cpTable); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+w.cpTable+` (
			pipeline   text PRIMARY KEY,
			generation bigint NOT NULL,
			seq        bigint NOT NULL DEFAULT 0,
			checkpoint json,
			updated_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO `+w.cpTable+` AS c (pipeline, generation) VALUES ($1, 1)
			ON CONFLICT (pipeline) DO UPDATE SET generation = c.generation + 1 RETURNING generation`,
			w.o.Pipeline).Scan(&w.gen)
	})
	if err != nil {
		return fmt.Errorf("postgres sink: claim pipeline %q in %s: %w", w.o.Pipeline, w.cpTable, err)
	}
	return nil
}

// LoadCheckpoint returns the checkpoint committed with the data, or nil.
func (w *Writer) LoadCheckpoint(ctx context.Context, pipeline string) (*checkpoint.Checkpoint, error) {
	var raw []byte
	err := w.pool.QueryRow(ctx, `SELECT checkpoint FROM `+w.cpTable+` WHERE pipeline = $1`, pipeline).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && raw == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres sink: read the checkpoint of %q: %w", pipeline, err)
	}
	var cp checkpoint.Checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, fault.AsFatal(fmt.Errorf("postgres sink: the checkpoint of %q in %s is not readable: %w", pipeline, w.cpTable, err))
	}
	return &cp, nil
}

// Commit commits every partition's transaction, then records cp (see the package doc).
func (w *Writer) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	if err := w.commitParts(ctx); err != nil {
		return err
	}
	raw, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	tag, err := w.pool.Exec(ctx, `UPDATE `+w.cpTable+` SET seq = $3, checkpoint = $4, updated_at = now()
		WHERE pipeline = $1 AND generation = $2`, w.o.Pipeline, w.gen, cp.Seq, raw)
	if err != nil {
		return fmt.Errorf("postgres sink: record checkpoint %d: %w", cp.Seq, err)
	}
	if tag.RowsAffected() == 0 {
		return w.fenced()
	}
	return nil
}

func (w *Writer) fenced() error {
	return fmt.Errorf("postgres sink: pipeline %q was claimed by another process (generation above %d in %s): %w",
		w.o.Pipeline, w.gen, w.cpTable, checkpoint.ErrFenced)
}

// commitParts commits every open partition transaction, fenced.
func (w *Writer) commitParts(ctx context.Context) error {
	w.mu.Lock()
	parts := w.parts
	w.mu.Unlock()
	for _, p := range parts {
		if p == nil || p.tx == nil {
			continue
		}
		if err := w.commitPart(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// commitPart commits p's open transaction after finding this writer's generation in the
// checkpoint row, under a share lock held to the commit.
func (w *Writer) commitPart(ctx context.Context, p *part) error {
	var one int
	err := p.tx.QueryRow(ctx, `SELECT 1 FROM `+w.cpTable+` WHERE pipeline = $1 AND generation = $2 FOR SHARE`,
		w.o.Pipeline, w.gen).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		p.rollback()
		return w.fenced()
	}
	if err != nil {
		p.rollback()
		return fmt.Errorf("postgres sink: check the fence before commit (writer %d): %w", p.index, err)
	}
	err = p.tx.Commit(ctx)
	p.tx, p.reads = nil, false
	if err != nil {
		return fmt.Errorf("postgres sink: commit writer %d: %w", p.index, err)
	}
	return nil
}

// Close rolls back what is not committed and disconnects.
func (w *Writer) Close() error {
	w.mu.Lock()
	for _, p := range w.parts {
		if p != nil {
			p.rollback()
			if p.conn != nil {
				p.conn.Release()
				p.conn = nil
			}
		}
	}
	w.parts = nil
	w.mu.Unlock()
	w.pool.Close()
	return nil
}
