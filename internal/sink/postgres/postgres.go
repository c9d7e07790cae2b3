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
// Not so for snapshot rows: a chunk read again after such a crash cannot remove a row the
// source deleted in between (the stream leaves out changes of pending chunks). So while a
// snapshot runs (a batch not settled) and the server allows prepared transactions
// (max_prepared_transactions ≥ parallelism), Commit is atomic, in two phases:
//
//  1. each partition's transaction is prepared (PREPARE TRANSACTION, gid
//     weir/<generation>/<seq>/<partition>/<pipeline>);
//  2. the checkpoint row is written where the generation still matches, naming the
//     generation that recorded it (recorded_generation);
//  3. the prepared transactions are committed.
//
// A crash leaves prepared transactions behind; the next process resolves them after it
// claims the pipeline (recover): those its checkpoint row names (recorded by their
// generation, seq at most the row's) are committed, the others rolled back. A stale
// writer is fenced at step 2 and rolls its own back.
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
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/sink/sqlsink"
)

// Options configure a Writer.
type Options struct {
	URL             string
	Pipeline        string
	Mode            string // "upsert" or "changelog"
	DeleteMode      string // "hard" or "soft"
	CheckpointTable string // [schema.]name of the checkpoint table
	NoIndexes       bool   // sink.create-indexes: false
	Behavior        string // schema.change.behavior
	Parallelism     int
	Log             *slog.Logger
	Notices         *connector.Notices               // the max_prepared_transactions warning is said once
	Notify          func(kind, table, detail string) // connector.Env.Notify
	// SourceType is the pipeline's source connector: from "postgres" a column keeps its
	// own type where it can (native.go).
	SourceType string
}

// Writer is the PostgreSQL sink.
type Writer struct {
	o       Options
	pool    *pgxpool.Pool
	cpTable string // quoted
	gen     int64
	log     *slog.Logger
	twoPC   bool // the server allows prepared transactions for every partition

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
	_ connector.IndexBuilder     = (*Writer)(nil)
)

// Open opens the sink from its config.
func Open(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.Sink, error) {
	return New(ctx, Options{
		URL:             cfg.String("url"),
		Pipeline:        env.Pipeline,
		Mode:            cfg.String("sink.mode"),
		DeleteMode:      cfg.String("sink.delete-mode"),
		CheckpointTable: cfg.String("checkpoint.table"),
		NoIndexes:       !cfg.Bool("sink.create-indexes"),
		Behavior:        env.SchemaChangeBehavior,
		Parallelism:     env.Parallelism,
		Log:             env.Logger,
		Notices:         env.Notices,
		Notify:          env.Notify,
		SourceType:      env.SourceType,
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
	var maxPrepared int
	if err := pool.QueryRow(ctx, `SELECT current_setting('max_prepared_transactions')::int`).Scan(&maxPrepared); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres sink: read max_prepared_transactions: %w", err)
	}
	w.twoPC = maxPrepared >= max(o.Parallelism, 1)
	if !w.twoPC && o.Notices.First("postgres sink: max_prepared_transactions") {
		w.log.Warn("the server's max_prepared_transactions is below pipeline.parallelism: checkpoints taken during a snapshot are not atomic, "+
			"and a crash at the wrong moment can leave a row the source deleted meanwhile; set max_prepared_transactions to at least "+
			"pipeline.parallelism: ALTER SYSTEM SET max_prepared_transactions = "+strconv.Itoa(max(o.Parallelism, 1))+", then restart PostgreSQL", "max_prepared_transactions", maxPrepared)
	}
	if err := w.recover(ctx); err != nil {
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
		if _, err := tx.Exec(ctx, `ALTER TABLE `+w.cpTable+` ADD COLUMN IF NOT EXISTS recorded_generation bigint NOT NULL DEFAULT 0,
			ADD COLUMN IF NOT EXISTS paused text`); err != nil {
			return err
		}
		var paused pgtype.Text
		if err := tx.QueryRow(ctx, `INSERT INTO `+w.cpTable+` AS c (pipeline, generation) VALUES ($1, 1)
			ON CONFLICT (pipeline) DO UPDATE SET generation = c.generation + 1 RETURNING generation, paused`,
			w.o.Pipeline).Scan(&w.gen, &paused); err != nil {
			return err
		}
		return w.restorePaused(paused.String)
	})
	if err != nil {
		return fmt.Errorf("postgres sink: claim pipeline %q in %s: %w", w.o.Pipeline, w.cpTable, err)
	}
	return nil
}

// restorePaused takes back the tables paused by an earlier process (from the checkpoint
// row) and says again why each is paused.
func (w *Writer) restorePaused(encoded string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := sqlsink.DecodePaused(encoded, w.paused); err != nil {
		return fault.AsFatal(err)
	}
	for id, msg := range w.paused {
		w.log.Error(msg, "table", id.String())
	}
	return nil
}

// LoadCheckpoint returns the checkpoint committed with the data, or nil.
func (w *Writer) LoadCheckpoint(ctx context.Context, pipeline string) (*checkpoint.Checkpoint, error) {
	return loadCheckpoint(ctx, w.pool, w.cpTable, pipeline)
}

// Commit commits every partition's transaction, then records cp (see the package doc):
// in two phases while a snapshot runs, when the server allows it.
func (w *Writer) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	if w.twoPC && w.anyReads() {
		return w.commitTwoPhase(ctx, cp)
	}
	if err := w.commitParts(ctx); err != nil {
		return err
	}
	return w.record(ctx, cp)
}

// record writes cp into the pipeline's checkpoint row, where the generation is still
// this writer's.
func (w *Writer) record(ctx context.Context, cp *checkpoint.Checkpoint) error {
	raw, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	w.mu.Lock()
	paused := pgtype.Text{String: sqlsink.EncodePaused(w.paused)}
	w.mu.Unlock()
	paused.Valid = paused.String != ""
	tag, err := w.pool.Exec(ctx, `UPDATE `+w.cpTable+` SET seq = $3, checkpoint = $4, recorded_generation = $2, paused = $5, updated_at = now()
		WHERE pipeline = $1 AND generation = $2`, w.o.Pipeline, w.gen, cp.Seq, raw, paused)
	if err != nil {
		return fmt.Errorf("postgres sink: record checkpoint %d: %w", cp.Seq, err)
	}
	if tag.RowsAffected() == 0 {
		return w.fenced()
	}
	return nil
}

// anyReads reports whether an open partition transaction holds snapshot rows.
func (w *Writer) anyReads() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.parts {
		if p != nil && p.tx != nil && p.reads {
			return true
		}
	}
	return false
}

// commitTwoPhase prepares every open partition transaction, records cp, then commits the
// prepared transactions (see the package doc).
func (w *Writer) commitTwoPhase(ctx context.Context, cp *checkpoint.Checkpoint) error {
	gids, err := w.prepareParts(ctx, cp.Seq)
	if err != nil {
		return err
	}
	if err := w.record(ctx, cp); err != nil {
		if errors.Is(err, checkpoint.ErrFenced) {
			w.finishPrepared(context.Background(), gids, false)
		}
		return err // else unknown whether it was recorded: the next process resolves them
	}
	return w.finishPrepared(ctx, gids, true)
}

// prepareParts prepares every open partition transaction for checkpoint seq and returns
// their gids; on failure it rolls back those it prepared.
func (w *Writer) prepareParts(ctx context.Context, seq int64) ([]string, error) {
	w.mu.Lock()
	parts := w.parts
	w.mu.Unlock()
	var gids []string
	for _, p := range parts {
		if p == nil || p.tx == nil {
			continue
		}
		gid := fmt.Sprintf("weir/%d/%d/%d/%s", w.gen, seq, p.index, w.o.Pipeline)
		_, err := p.tx.Exec(ctx, "PREPARE TRANSACTION "+quoteLiteral(gid))
		p.tx, p.reads = nil, false // the session has no transaction now, prepared or not
		if err != nil {
			w.finishPrepared(context.Background(), gids, false)
			return nil, fmt.Errorf("postgres sink: prepare writer %d's transaction: %w", p.index, err)
		}
		gids = append(gids, gid)
	}
	return gids, nil
}

// finishPrepared commits or rolls back prepared transactions. One that is gone was
// resolved by a newer process's recover, the same way.
func (w *Writer) finishPrepared(ctx context.Context, gids []string, commit bool) error {
	verb := "ROLLBACK PREPARED "
	if commit {
		verb = "COMMIT PREPARED "
	}
	for _, gid := range gids {
		if _, err := w.pool.Exec(ctx, verb+quoteLiteral(gid)); err != nil && pgErrCode(err) != "42704" {
			return fmt.Errorf("postgres sink: %s%s: %w", verb, gid, err)
		}
	}
	return nil
}

// recover resolves the prepared transactions that processes of the pipeline left behind
// (generations below this writer's): committed when the checkpoint row was recorded by
// their generation at their seq or later, rolled back otherwise.
func (w *Writer) recover(ctx context.Context) error {
	var recordedGen, seq int64
	if err := w.pool.QueryRow(ctx, `SELECT recorded_generation, seq FROM `+w.cpTable+` WHERE pipeline = $1`, w.o.Pipeline).
		Scan(&recordedGen, &seq); err != nil {
		return fmt.Errorf("postgres sink: read the checkpoint row: %w", err)
	}
	rows, err := w.pool.Query(ctx, `SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'weir/%'`)
	if err != nil {
		return fmt.Errorf("postgres sink: list prepared transactions: %w", err)
	}
	gids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres sink: list prepared transactions: %w", err)
	}
	for _, gid := range gids {
		parts := strings.SplitN(gid, "/", 5)
		if len(parts) != 5 || parts[4] != w.o.Pipeline {
			continue
		}
		gen, _ := strconv.ParseInt(parts[1], 10, 64)
		n, _ := strconv.ParseInt(parts[2], 10, 64)
		if gen >= w.gen {
			continue
		}
		commit := gen == recordedGen && n <= seq
		if err := w.finishPrepared(ctx, []string{gid}, commit); err != nil {
			return err
		}
		w.log.Info("resolved a prepared transaction left by an earlier process", "gid", gid, "committed", commit)
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

// pgErrCode is err's SQLSTATE, or "".
func pgErrCode(err error) string {
	var pe interface{ SQLState() string }
	if errors.As(err, &pe) {
		return pe.SQLState()
	}
	return ""
}

var _ connector.Dropper = (*Writer)(nil)

// Traces names the pipeline's row in the checkpoint table (connector.Dropper).
func (w *Writer) Traces(ctx context.Context) ([]string, error) {
	var seq int64
	var paused pgtype.Text
	err := w.pool.QueryRow(ctx, `SELECT seq, paused FROM `+w.cpTable+` WHERE pipeline = $1`, w.o.Pipeline).Scan(&seq, &paused)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres sink: read the checkpoint of %q: %w", w.o.Pipeline, err)
	}
	t := fmt.Sprintf("the pipeline's row in %s (checkpoint #%d", w.cpTable, seq)
	if paused.Valid && paused.String != "" && paused.String != "{}" {
		t += ", and the tables it paused"
	}
	return []string{t + ")"}, nil
}

// Drop deletes the pipeline's row from the checkpoint table.
func (w *Writer) Drop(ctx context.Context) error {
	if _, err := w.pool.Exec(ctx, `DELETE FROM `+w.cpTable+` WHERE pipeline = $1`, w.o.Pipeline); err != nil {
		return fmt.Errorf("postgres sink: delete the checkpoint of %q: %w", w.o.Pipeline, err)
	}
	w.mu.Lock()
	clear(w.paused)
	w.mu.Unlock()
	return nil
}

// columnType is the type a column of s takes in the sink table of schema schema, and the
// statement that must run first (an enum, domain or composite type to make), if any.
func (w *Writer) columnType(c event.Column, schema string) (typ, first string) {
	if w.o.SourceType == "postgres" {
		if n, mk := nativeType(c, schema); n != "" {
			return n, mk
		}
	}
	return pgType(c.Type), ""
}
