// Package mysql is the MySQL / MariaDB sink: it creates the tables a pipeline needs,
// loads snapshots and applies the change stream as multi-row INSERT … ON DUPLICATE KEY
// UPDATE and set-based deletes, and keeps the pipeline's checkpoint in the target,
// exactly once.
//
// # Transactions and the commit protocol (DESIGN §3.3)
//
// Each engine writer (partition) has its own connection and one open transaction (READ
// COMMITTED), begun at its first Apply after a commit. Every Apply runs inside a
// savepoint, so a lock wait timeout retries that batch alone; a deadlock rolls back the
// whole transaction (InnoDB's rule), and the error is retryable: the pipeline resumes
// from its checkpoint. Commit then:
//
//  1. commits each partition's transaction, each after reading the pipeline's row of the
//     checkpoint table LOCK IN SHARE MODE and finding this writer's generation there
//     (fencing: a newer process has raised it, and its claim waits for these locks);
//  2. writes the checkpoint into that row, where the generation still matches.
//
// The checkpoint row is written last, so it never names data that is not committed. A
// crash between 1 and 2 leaves data committed past the stored checkpoint; the engine
// replays from the checkpoint and the replay is harmless: upserts and deletes of full row
// images converge to the same rows, and a changelog table drops a change it already holds
// by its change id (a hash of table, log position and images, unique in the table).
//
// Snapshot rows are different: a chunk read again after such a crash cannot remove a row
// the source deleted in between (the stream leaves out changes of pending chunks). So a
// transaction begun for a batch that is not settled (a snapshot runs) is an XA
// transaction, and Commit is atomic for them, in two phases: XA PREPARE in every
// partition; the checkpoint row written, naming the generation that recorded it and the
// prepared ids; XA COMMIT. A crash leaves prepared transactions behind; the next process
// resolves them after it claims the pipeline (recover): those its checkpoint row names
// are committed, the others rolled back. A stale writer is fenced when it records and
// rolls its own back.
//
// Once the engine marks batches settled (no snapshot chunk pending, connector.Batch), a
// partition whose open transaction holds no snapshot rows commits it, fenced the same
// way, at the end of each Apply: streamed changes are visible a batch after their source
// commit instead of at the next checkpoint, and a replay of them converges as above.
//
// DDL commits implicitly in MySQL: the writer commits the partitions before it creates
// or alters a table on its own connection.
//
// # Modes
//
// sink.mode upsert (default) keeps one row per key; changelog appends one row per change
// with _weir_op, _weir_pos, _weir_commit_ts and _weir_seq (the order of arrival).
// sink.delete-mode soft turns deletes into an upsert of the deleted row with
// _weir_deleted = 1.
package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/mysqlconn"
	"github.com/weir-data/weir/internal/sink/sqlsink"
)

// Options configure a Writer.
type Options struct {
	URL             string
	Pipeline        string
	Mode            string // "upsert" or "changelog"
	DeleteMode      string // "hard" or "soft"
	NoIndexes       bool   // sink.create-indexes: false
	CheckpointTable string // [database.]name of the checkpoint table
	Behavior        string // schema.change.behavior
	Parallelism     int
	ConnectTimeout  time.Duration
	Log             *slog.Logger
	Notify          func(kind, table, detail string) // connector.Env.Notify
	// SourceType is the pipeline's source connector: from "mysql" or "mariadb" a column
	// keeps its own type where it can (native.go).
	SourceType string
}

// Writer is the MySQL / MariaDB sink.
type Writer struct {
	o         Options
	addr      address
	cpTable   string // quoted
	gen       int64
	log       *slog.Logger
	mariadb   bool
	collation string // of the tables weir creates: binary and NO PAD where the server has one
	identity  string // the server's (connector.Identified)
	maxStmt   int    // bytes per statement, under max_allowed_packet

	mu      sync.Mutex   // guards what follows; partitions hold it only to look up or build
	ctl     *client.Conn // DDL, checkpoint row; under mu
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
	_ connector.Identified       = (*Writer)(nil)
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
		ConnectTimeout:  cfg.Duration("connect.timeout"),
		Log:             env.Logger,
		SourceType:      env.SourceType,
		Notify:          env.Notify,
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
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	a, err := parseURL(o.URL)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("mysql sink: url: %w", err))
	}
	w := &Writer{o: o, addr: a, log: o.Log.With("sink", "mysql"),
		targets: map[event.TableID]*target{}, plans: map[*event.Schema]*plan{}, paused: map[event.TableID]string{}}
	cpDB, cpName, err := splitQualified(o.CheckpointTable, a.db)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("mysql sink: checkpoint.table: %w", err))
	}
	w.cpTable = quote(cpDB) + "." + quote(cpName)
	if w.ctl, err = dial(ctx, a, "", o.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("mysql sink: %w", err)
	}
	if err := w.inspect(ctx, cpDB); err != nil {
		w.ctl.Close()
		return nil, err
	}
	if err := w.claim(ctx); err != nil {
		w.ctl.Close()
		return nil, err
	}
	if err := w.recover(ctx); err != nil {
		w.ctl.Close()
		return nil, err
	}
	return w, nil
}

// dial connects for writing: utf8mb4 (mysqlconn), UTC, strict, READ COMMITTED (no gap
// locks between the partitions' open transactions).
func dial(ctx context.Context, a address, db string, timeout time.Duration) (*client.Conn, error) {
	c, err := mysqlconn.Dial(ctx, mysqlconn.Config{Addr: a.hostPort(), User: a.user, Password: a.password, DB: db,
		Timeout: timeout, MultiStatements: true, Fix: "check the user and password in url",
		Session: "time_zone = '+00:00', SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO,ERROR_FOR_DIVISION_BY_ZERO'"})
	if err != nil {
		return nil, err
	}
	for _, q := range []string{
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
		// A metadata lock is waited for 30 s, not the server's year: a writer stuck behind
		// a DDL that waits for a transaction left prepared by a killed process fails, and
		// its restart resolves that transaction (recover).
		"SET SESSION lock_wait_timeout = 30",
	} {
		if _, err := c.Execute(q); err != nil {
			c.Close()
			return nil, fmt.Errorf("set up the session on %s: %w", a.hostPort(), err)
		}
	}
	return c, nil
}

// dial connects a partition, in the url's database (multi-table DELETE resolves its
// aliases there).
func (w *Writer) dial(ctx context.Context) (*client.Conn, error) {
	c, err := dial(ctx, w.addr, w.addr.db, w.o.ConnectTimeout)
	if err != nil {
		return nil, fmt.Errorf("mysql sink: %w", err)
	}
	return c, nil
}

// inspect reads the server's flavour and limits, and makes the checkpoint database.
func (w *Writer) inspect(ctx context.Context, cpDB string) error {
	res, err := run(ctx, w.ctl, "SELECT VERSION(), @@max_allowed_packet")
	if err != nil {
		return fmt.Errorf("mysql sink: read the server version: %w", err)
	}
	version := str(res, 0, 0)
	packet, _ := res.GetInt(0, 1)
	res.Close()
	w.mariadb = strings.Contains(strings.ToLower(version), "mariadb")
	if w.identity, err = mysqlconn.Identity(w.ctl); err != nil {
		return fmt.Errorf("mysql sink: %w", err)
	}
	w.maxStmt = int(min(max(packet/2, 64<<10), 8<<20))
	switch {
	case w.mariadb:
		w.collation = "utf8mb4_nopad_bin"
	case strings.HasPrefix(version, "5."):
		w.collation = "utf8mb4_bin" // PAD SPACE: 'a' and 'a ' are one key there
	default:
		w.collation = "utf8mb4_0900_bin"
	}
	for _, db := range []string{cpDB, w.addr.db} {
		if _, err := run(ctx, w.ctl, "CREATE DATABASE IF NOT EXISTS "+quote(db)); err != nil {
			return fmt.Errorf("mysql sink: create database %s: %w", quote(db), err)
		}
	}
	return nil
}

// Destination says where the sink writes.
func (w *Writer) Destination() string {
	flavour := "MySQL"
	if w.mariadb {
		flavour = "MariaDB"
	}
	return fmt.Sprintf("%s server on %s", flavour, w.addr.hostPort())
}

// claim creates the checkpoint table and raises the pipeline's generation.
func (w *Writer) claim(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := run(ctx, w.ctl, `CREATE TABLE IF NOT EXISTS `+w.cpTable+` (
		pipeline   VARCHAR(191) NOT NULL PRIMARY KEY,
		generation BIGINT NOT NULL,
		seq        BIGINT NOT NULL DEFAULT 0,
		checkpoint LONGTEXT,
		recorded_generation BIGINT NOT NULL DEFAULT 0,
		prepared   TEXT,
		paused     LONGTEXT,
		updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`); err != nil {
		return fmt.Errorf("mysql sink: create the checkpoint table %s: %w", w.cpTable, err)
	}
	err := w.ctlTx(ctx, func() error {
		if _, err := run(ctx, w.ctl, fmt.Sprintf("INSERT INTO %s (pipeline, generation) VALUES (%s, 1) ON DUPLICATE KEY UPDATE generation = generation + 1",
			w.cpTable, stringLiteral(w.o.Pipeline))); err != nil {
			return err
		}
		gen, err := w.generation(ctx, w.ctl, "")
		w.gen = gen
		return err
	})
	if err == nil {
		err = w.restorePaused(ctx)
	}
	if err != nil {
		return fmt.Errorf("mysql sink: claim pipeline %q in %s: %w", w.o.Pipeline, w.cpTable, err)
	}
	return nil
}

// restorePaused takes back the tables paused by an earlier process (from the checkpoint
// row) and says again why each is paused. Callers hold w.mu.
func (w *Writer) restorePaused(ctx context.Context) error {
	res, err := run(ctx, w.ctl, fmt.Sprintf("SELECT COALESCE(paused, '') FROM %s WHERE pipeline = %s", w.cpTable, stringLiteral(w.o.Pipeline)))
	if err != nil {
		return err
	}
	defer res.Close()
	if res.RowNumber() == 0 {
		return nil
	}
	if err := sqlsink.DecodePaused(str(res, 0, 0), w.paused); err != nil {
		return fault.AsFatal(err)
	}
	for id, msg := range w.paused {
		w.log.Error(msg, "table", id.String())
	}
	return nil
}

// ctlTx runs f in a transaction on the control connection.
func (w *Writer) ctlTx(ctx context.Context, f func() error) error {
	if _, err := run(ctx, w.ctl, "BEGIN"); err != nil {
		return err
	}
	if err := f(); err != nil {
		run(context.Background(), w.ctl, "ROLLBACK")
		return err
	}
	_, err := run(ctx, w.ctl, "COMMIT")
	return err
}

// generation reads the pipeline's generation on c (lock "" or " LOCK IN SHARE MODE");
// 0 when the pipeline has no row.
func (w *Writer) generation(ctx context.Context, c *client.Conn, lock string) (int64, error) {
	res, err := run(ctx, c, fmt.Sprintf("SELECT generation FROM %s WHERE pipeline = %s%s", w.cpTable, stringLiteral(w.o.Pipeline), lock))
	if err != nil {
		return 0, err
	}
	defer res.Close()
	if res.RowNumber() == 0 {
		return 0, nil
	}
	return res.GetInt(0, 0)
}

// LoadCheckpoint returns the checkpoint committed with the data, or nil.
func (w *Writer) LoadCheckpoint(ctx context.Context, pipeline string) (*checkpoint.Checkpoint, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res, err := run(ctx, w.ctl, fmt.Sprintf("SELECT checkpoint FROM %s WHERE pipeline = %s", w.cpTable, stringLiteral(pipeline)))
	if err != nil {
		return nil, fmt.Errorf("mysql sink: read the checkpoint of %q: %w", pipeline, err)
	}
	defer res.Close()
	if res.RowNumber() == 0 {
		return nil, nil
	}
	if null, _ := res.IsNull(0, 0); null {
		return nil, nil
	}
	raw := str(res, 0, 0)
	var cp checkpoint.Checkpoint
	if err := json.Unmarshal([]byte(raw), &cp); err != nil {
		return nil, fault.AsFatal(fmt.Errorf("mysql sink: the checkpoint of %q in %s is not readable: %w", pipeline, w.cpTable, err))
	}
	return &cp, nil
}

// Commit commits every partition's transaction, then records cp (see the package doc):
// the XA transactions, begun while a snapshot runs, in two phases.
func (w *Writer) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	if err := w.commitParts(ctx, false); err != nil { // the plain ones
		return err
	}
	xids, err := w.prepareParts(ctx)
	if err != nil {
		return err
	}
	if err := w.record(ctx, cp, xids); err != nil {
		if errors.Is(err, checkpoint.ErrFenced) {
			w.finishPrepared(context.Background(), false)
		}
		return err // else unknown whether it was recorded: the next process resolves them
	}
	return w.finishPrepared(ctx, true)
}

// record writes cp into the pipeline's checkpoint row, where the generation is still
// this writer's, with the XA transactions it covers.
func (w *Writer) record(ctx context.Context, cp *checkpoint.Checkpoint, xids []string) error {
	raw, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	paused := "NULL"
	if p := sqlsink.EncodePaused(w.paused); p != "" {
		paused = stringLiteral(p)
	}
	res, err := run(ctx, w.ctl, fmt.Sprintf("UPDATE %s SET seq = %d, checkpoint = %s, recorded_generation = %d, prepared = %s, paused = %s, updated_at = NOW(6) WHERE pipeline = %s AND generation = %d",
		w.cpTable, cp.Seq, stringLiteral(string(raw)), w.gen, stringLiteral(strings.Join(xids, ",")), paused, stringLiteral(w.o.Pipeline), w.gen))
	if err != nil {
		return fmt.Errorf("mysql sink: record checkpoint %d: %w", cp.Seq, err)
	}
	if res.AffectedRows == 0 { // no row of this generation, or the same values again
		gen, err := w.generation(ctx, w.ctl, "")
		if err != nil {
			return fmt.Errorf("mysql sink: record checkpoint %d: %w", cp.Seq, err)
		}
		if gen != w.gen {
			return w.fenced()
		}
	}
	return nil
}

// xid names partition i's n-th XA transaction: weir/<generation>/<partition>/<n>/<hash of
// the pipeline> (an XA id has at most 64 bytes).
func (w *Writer) xid(i, n int) string {
	h := fnv.New32a()
	h.Write([]byte(w.o.Pipeline))
	return fmt.Sprintf("weir/%d/%d/%d/%08x", w.gen, i, n, h.Sum32())
}

// prepareParts ends and prepares every open XA transaction and returns their ids; on
// failure it rolls back those it prepared.
func (w *Writer) prepareParts(ctx context.Context) ([]string, error) {
	w.mu.Lock()
	parts := w.parts
	w.mu.Unlock()
	var xids []string
	for _, p := range parts {
		if p == nil || !p.inTx || p.xid == "" {
			continue
		}
		if err := runMulti(ctx, p.conn, "XA END "+stringLiteral(p.xid)+";XA PREPARE "+stringLiteral(p.xid)); err != nil {
			p.broken() // prepared or not, the next process resolves it
			w.finishPrepared(context.Background(), false)
			return nil, fmt.Errorf("mysql sink: prepare writer %d's transaction: %w", p.index, err)
		}
		p.reads = false
		xids = append(xids, p.xid)
	}
	return xids, nil
}

// finishPrepared commits or rolls back the partitions' prepared XA transactions, each on
// its own connection.
func (w *Writer) finishPrepared(ctx context.Context, commit bool) error {
	w.mu.Lock()
	parts := w.parts
	w.mu.Unlock()
	verb := "XA ROLLBACK "
	if commit {
		verb = "XA COMMIT "
	}
	for _, p := range parts {
		if p == nil || !p.inTx || p.xid == "" {
			continue
		}
		if _, err := run(ctx, p.conn, verb+stringLiteral(p.xid)); err != nil {
			p.broken()
			return fmt.Errorf("mysql sink: %s%s: %w", verb, p.xid, err)
		}
		p.inTx, p.xid = false, ""
	}
	return nil
}

// recover resolves the XA transactions that processes of the pipeline left prepared
// (generations below this writer's): committed when the checkpoint row, recorded by
// their generation, names them; rolled back otherwise. One whose process still holds it
// is left to that process.
func (w *Writer) recover(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	res, err := run(ctx, w.ctl, fmt.Sprintf("SELECT recorded_generation, COALESCE(prepared, '') FROM %s WHERE pipeline = %s", w.cpTable, stringLiteral(w.o.Pipeline)))
	if err != nil {
		return fmt.Errorf("mysql sink: read the checkpoint row: %w", err)
	}
	recordedGen, _ := res.GetInt(0, 0)
	recorded := strings.Split(str(res, 0, 1), ",")
	res.Close()
	if err := w.awaitPrepares(ctx); err != nil {
		return err
	}
	if res, err = run(ctx, w.ctl, "XA RECOVER"); err != nil {
		return fmt.Errorf("mysql sink: list prepared XA transactions (the user needs XA_RECOVER_ADMIN on MySQL 8): %w", err)
	}
	var xids []string
	for i := range res.Values {
		xids = append(xids, str(res, i, 3))
	}
	res.Close()
	mine := w.xid(0, 0)
	suffix := mine[strings.LastIndexByte(mine, '/'):]
	for _, x := range xids {
		parts := strings.Split(x, "/")
		if len(parts) != 5 || parts[0] != "weir" || !strings.HasSuffix(x, suffix) {
			continue
		}
		if gen, _ := strconv.ParseInt(parts[1], 10, 64); gen >= w.gen {
			continue
		} else if gen == recordedGen && slices.Contains(recorded, x) {
			err = w.resolve(ctx, "XA COMMIT ", x)
		} else {
			err = w.resolve(ctx, "XA ROLLBACK ", x)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// awaitPrepares waits while another connection of the pipeline is still running an XA
// statement (an earlier process's XA PREPARE above all): a killed client's statement runs
// on in the server, and an XA it prepares after XA RECOVER was read would stay prepared,
// holding its row locks, with no one to resolve it. Callers hold w.mu.
func (w *Writer) awaitPrepares(ctx context.Context) error {
	mine := w.xid(0, 0)
	pattern := "%XA %'weir/%" + mine[strings.LastIndexByte(mine, '/'):] + "'%" // XA END …; XA PREPARE …, XA COMMIT …
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := run(ctx, w.ctl, fmt.Sprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE %s",
			stringLiteral(pattern)))
		if err != nil {
			return fmt.Errorf("mysql sink: look for XA statements still running: %w", err)
		}
		n, _ := res.GetInt(0, 0)
		res.Close()
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fault.AsRetryable(fmt.Errorf("mysql sink: %d XA statement(s) of another run of pipeline %q still running after 30 s", n, w.o.Pipeline))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (w *Writer) resolve(ctx context.Context, verb, xid string) error {
	if _, err := run(ctx, w.ctl, verb+stringLiteral(xid)); err != nil {
		if mysqlCode(err) == 0 {
			return fmt.Errorf("mysql sink: %s%s: %w", verb, xid, err)
		}
		w.log.Warn("a prepared XA transaction left by an earlier process could not be resolved; it may still be held by it", "xid", xid, "err", err)
		return nil
	}
	w.log.Info("resolved an XA transaction left by an earlier process", "xid", xid, "statement", strings.TrimSpace(verb))
	return nil
}

func (w *Writer) fenced() error {
	return fmt.Errorf("mysql sink: pipeline %q was claimed by another process (generation above %d in %s): %w",
		w.o.Pipeline, w.gen, w.cpTable, checkpoint.ErrFenced)
}

// commitParts commits every open plain partition transaction, fenced; and the XA ones
// too, in one phase, when xa is set (before DDL, which waits for their locks).
func (w *Writer) commitParts(ctx context.Context, xa bool) error {
	w.mu.Lock()
	parts := w.parts
	w.mu.Unlock()
	for _, p := range parts {
		if p == nil || !p.inTx || (p.xid != "" && !xa) {
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
	gen, err := w.generation(ctx, p.conn, " LOCK IN SHARE MODE")
	if err != nil {
		p.rollback()
		return fmt.Errorf("mysql sink: check the fence before commit (writer %d): %w", p.index, err)
	}
	if gen != w.gen {
		p.rollback()
		return w.fenced()
	}
	commit := "COMMIT"
	if p.xid != "" {
		commit = "XA END " + stringLiteral(p.xid) + ";XA COMMIT " + stringLiteral(p.xid) + " ONE PHASE"
	}
	if err := runMulti(ctx, p.conn, commit); err != nil {
		p.broken()
		return fmt.Errorf("mysql sink: commit writer %d: %w", p.index, err)
	}
	p.inTx, p.reads, p.xid = false, false, ""
	return nil
}

// Close rolls back what is not committed and disconnects.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.parts {
		if p != nil {
			p.rollback()
			p.broken()
		}
	}
	w.parts = nil
	if w.ctl != nil {
		w.ctl.Close()
		w.ctl = nil
	}
	return nil
}

// run executes q on c, giving up when ctx ends; the connection is then unusable.
func run(ctx context.Context, c *client.Conn, q string) (*gomysql.Result, error) {
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	res, err := c.Execute(q)
	if !stop() {
		if err == nil {
			res.Close()
		}
		return nil, errors.Join(ctx.Err(), err)
	}
	if err != nil {
		return nil, classify(err)
	}
	return res, nil
}

// runMulti executes statements q (separated by ';') in one round trip; the first error
// stops them.
func runMulti(ctx context.Context, c *client.Conn, q string) error {
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	var first error
	res, err := c.ExecuteMultiple(q, func(r *gomysql.Result, err error) {
		if err != nil && first == nil {
			first = err
		}
		if r != nil {
			r.Close()
		}
	})
	if err == nil {
		res.Close()
		err = first
	}
	if !stop() {
		return errors.Join(ctx.Err(), err)
	}
	return classify(err)
}

// classify marks the server's errors that pass by waiting.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case 1213, 1205, // deadlock, lock wait timeout
			1040, 1053, 1927, 1290: // too many connections, shutdown, connection killed, read-only
			return fault.AsRetryable(err)
		}
		return err
	}
	if errors.Is(err, gomysql.ErrBadConn) {
		return fault.AsRetryable(err)
	}
	return err
}

func mysqlCode(err error) uint16 {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		return me.Code
	}
	return 0
}

// Identity names the server (connector.Identified).
func (w *Writer) Identity(context.Context) (string, error) { return w.identity, nil }

var _ connector.Dropper = (*Writer)(nil)

// Traces names the pipeline's row in the checkpoint table (connector.Dropper).
func (w *Writer) Traces(ctx context.Context) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res, err := run(ctx, w.ctl, fmt.Sprintf("SELECT seq, IFNULL(paused, '') FROM %s WHERE pipeline = %s", w.cpTable, stringLiteral(w.o.Pipeline)))
	if err != nil {
		return nil, fmt.Errorf("mysql sink: read the checkpoint of %q: %w", w.o.Pipeline, err)
	}
	defer res.Close()
	if res.RowNumber() == 0 {
		return nil, nil
	}
	seq, _ := res.GetInt(0, 0)
	t := fmt.Sprintf("the pipeline's row in %s (checkpoint #%d", w.cpTable, seq)
	if p := str(res, 0, 1); p != "" && p != "{}" {
		t += ", and the tables it paused"
	}
	return []string{t + ")"}, nil
}

// Drop deletes the pipeline's row from the checkpoint table.
func (w *Writer) Drop(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := run(ctx, w.ctl, fmt.Sprintf("DELETE FROM %s WHERE pipeline = %s", w.cpTable, stringLiteral(w.o.Pipeline))); err != nil {
		return fmt.Errorf("mysql sink: delete the checkpoint of %q: %w", w.o.Pipeline, err)
	}
	clear(w.paused)
	return nil
}

// colType is the type column c takes in the sink: its own where the source is the same
// engine and the type is one native.go keeps, else the unified mapping (myType).
func (w *Writer) colType(c event.Column, keyBytes int, rowBytes *int) string {
	if w.o.SourceType == "mysql" || w.o.SourceType == "mariadb" {
		if n := nativeType(c); n != "" {
			return n
		}
	}
	return myType(c.Type, keyBytes, rowBytes)
}

// nativeTypes are the columns of s that keep their source's own type, by name.
func (w *Writer) nativeTypes(s *event.Schema) map[string]string {
	if w.o.SourceType != "mysql" && w.o.SourceType != "mariadb" {
		return nil
	}
	out := map[string]string{}
	for _, c := range s.Columns {
		if n := nativeType(c); n != "" {
			out[c.Name] = n
		}
	}
	return out
}
