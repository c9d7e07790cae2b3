// Package store is the control plane's store (DESIGN §4): the pipelines with their
// versions and desired state, their runs and their events. SQLite (pure Go, embedded) by
// default; the schema is versioned by migrations (migrations.go), applied on open.
//
// The store is the source of truth of what should run: a server that restarts reads the
// desired state of every pipeline from it. Every write is one transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
	_ "modernc.org/sqlite"             // the database/sql driver "sqlite"
)

// Desired is what a pipeline should be doing.
type Desired string

// The desired states.
const (
	Run     Desired = "RUNNING"
	Stop    Desired = "STOPPED"
	Suspend Desired = "SUSPENDED"
)

// Pipeline is a pipeline as the store keeps it.
type Pipeline struct {
	Name      string    `json:"name"`
	Workspace string    `json:"workspace"`
	Version   int       `json:"version"` // the version in force
	Desired   Desired   `json:"desired"`
	Observed  string    `json:"observed"`   // the state last reported
	LastError string    `json:"last_error"` // the last failure ("" none)
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// Version is one version of a pipeline's file.
type Version struct {
	Pipeline string    `json:"pipeline"`
	Version  int       `json:"version"`
	File     string    `json:"file"`
	Created  time.Time `json:"created"`
}

// Event is one event of a pipeline, numbered in the order the store took it.
type Event struct {
	ID       int64     `json:"id"`
	Pipeline string    `json:"pipeline"`
	Time     time.Time `json:"time"`
	State    string    `json:"state"`
	Phase    string    `json:"phase,omitempty"`
	Reason   string    `json:"reason"`
	Error    string    `json:"error,omitempty"`
}

// ErrNotFound: no such pipeline (or version).
var ErrNotFound = errors.New("not found")

// ErrExists: a pipeline of that name exists.
var ErrExists = errors.New("already exists")

// Store is the control plane's store.
type Store struct {
	db *sql.DB
	pg bool // PostgreSQL, else SQLite
}

// OpenSQLite opens (creating) the store in dir/weir.db and migrates it to the current
// schema.
func OpenSQLite(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", dir, err)
	}
	path := filepath.Join(dir, "weir.db")
	// WAL: readers do not wait for the writer; transactions take the write lock as they
	// begin (immediate), so that the busy timeout covers them; synchronous FULL: a committed write survives
	// a crash of the machine, not only of the process.
	dsn := "file:" + path + "?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

// OpenPostgres opens the store in the PostgreSQL database at url, shared by several
// servers, and migrates it to the current schema.
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: open the PostgreSQL store: %w", err)
	}
	s := &Store{db: db, pg: true}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL store: %w", err)
	}
	return s, nil
}

// Shared reports whether several servers may share the store (PostgreSQL).
func (s *Store) Shared() bool { return s.pg }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// tsFormat is fixed-width UTC, so that the text sorts and compares as the time does.
const tsFormat = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(tsFormat) }

func parseTS(v string) time.Time {
	t, _ := time.Parse(tsFormat, v)
	return t
}

func (s *Store) tx(ctx context.Context, f func(*txn) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(&txn{tx, s}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// The queries are written with ? for their parameters; PostgreSQL's are $1, $2, ….
func (s *Store) rebind(q string) string {
	if !s.pg {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.rebind(q), args...)
}

// txn is a transaction of the store, with its dialect.
type txn struct {
	*sql.Tx
	s *Store
}

func (t *txn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.ExecContext(ctx, t.s.rebind(q), args...)
}

func (t *txn) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.QueryRowContext(ctx, t.s.rebind(q), args...)
}

// Create adds pipeline name at version 1 with file, desired desired, to the default
// workspace.
func (s *Store) Create(ctx context.Context, name, file string, desired Desired) (*Pipeline, error) {
	return s.CreateIn(ctx, DefaultWorkspace, name, file, desired)
}

// CreateIn adds pipeline name to workspace at version 1 with file, desired desired.
func (s *Store) CreateIn(ctx context.Context, workspace, name, file string, desired Desired) (*Pipeline, error) {
	t := now()
	err := s.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT count(*) FROM pipelines WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("pipeline %q: %w", name, ErrExists)
		}
		if _, err := tx.exec(ctx, `INSERT INTO pipelines (name, workspace, version, desired, observed, last_error, created_at, updated_at) VALUES (?, ?, 1, ?, 'CREATED', '', ?, ?)`,
			name, workspace, string(desired), ts(t), ts(t)); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO pipeline_versions (pipeline, version, file, created_at) VALUES (?, 1, ?, ?)`, name, file, ts(t))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, name)
}

// AddVersion makes file the pipeline's next version, in force from now; it returns the
// version's number.
func (s *Store) AddVersion(ctx context.Context, name, file string) (int, error) {
	var v int
	err := s.tx(ctx, func(tx *txn) error {
		if err := tx.queryRow(ctx, `SELECT coalesce(max(version), 0) FROM pipeline_versions WHERE pipeline = ?`, name).Scan(&v); err != nil {
			return err
		}
		if v == 0 {
			return fmt.Errorf("pipeline %q: %w", name, ErrNotFound)
		}
		v++
		t := ts(now())
		if _, err := tx.exec(ctx, `INSERT INTO pipeline_versions (pipeline, version, file, created_at) VALUES (?, ?, ?, ?)`, name, v, file, t); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `UPDATE pipelines SET version = ?, updated_at = ? WHERE name = ?`, v, t, name)
		return err
	})
	return v, err
}

// SetVersion puts an existing version of the pipeline in force (a rollback).
func (s *Store) SetVersion(ctx context.Context, name string, version int) error {
	return s.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT count(*) FROM pipeline_versions WHERE pipeline = ? AND version = ?`, name, version).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("pipeline %q version %d: %w", name, version, ErrNotFound)
		}
		_, err := tx.exec(ctx, `UPDATE pipelines SET version = ?, updated_at = ? WHERE name = ?`, version, ts(now()), name)
		return err
	})
}

// SetDesired records what the pipeline should be doing.
func (s *Store) SetDesired(ctx context.Context, name string, d Desired) error {
	return s.update(ctx, name, `UPDATE pipelines SET desired = ?, updated_at = ? WHERE name = ?`, string(d), ts(now()), name)
}

func (s *Store) update(ctx context.Context, name, q string, args ...any) error {
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("pipeline %q: %w", name, ErrNotFound)
	}
	return nil
}

// Delete removes the pipeline, its versions and its events.
func (s *Store) Delete(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *txn) error {
		res, err := tx.exec(ctx, `DELETE FROM pipelines WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("pipeline %q: %w", name, ErrNotFound)
		}
		for _, q := range []string{`DELETE FROM pipeline_versions WHERE pipeline = ?`, `DELETE FROM events WHERE pipeline = ?`, `DELETE FROM runs WHERE pipeline = ?`, `DELETE FROM leases WHERE pipeline = ?`} {
			if _, err := tx.exec(ctx, q, name); err != nil {
				return err
			}
		}
		return nil
	})
}

const pipelineCols = `name, workspace, version, desired, observed, last_error, created_at, updated_at`

func scanPipeline(row interface{ Scan(...any) error }) (*Pipeline, error) {
	var p Pipeline
	var desired, created, updated string
	if err := row.Scan(&p.Name, &p.Workspace, &p.Version, &desired, &p.Observed, &p.LastError, &created, &updated); err != nil {
		return nil, err
	}
	p.Desired, p.Created, p.Updated = Desired(desired), parseTS(created), parseTS(updated)
	return &p, nil
}

// Get returns the pipeline.
func (s *Store) Get(ctx context.Context, name string) (*Pipeline, error) {
	p, err := scanPipeline(s.queryRow(ctx, `SELECT `+pipelineCols+` FROM pipelines WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("pipeline %q: %w", name, ErrNotFound)
	}
	return p, err
}

// List returns every pipeline, by name.
func (s *Store) List(ctx context.Context) ([]*Pipeline, error) {
	rows, err := s.query(ctx, `SELECT `+pipelineCols+` FROM pipelines ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Pipeline
	for rows.Next() {
		p, err := scanPipeline(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Version returns one version of the pipeline's file (0: the one in force).
func (s *Store) Version(ctx context.Context, name string, version int) (*Version, error) {
	q := `SELECT v.pipeline, v.version, v.file, v.created_at FROM pipeline_versions v WHERE v.pipeline = ? AND v.version = ?`
	args := []any{name, version}
	if version == 0 {
		q = `SELECT v.pipeline, v.version, v.file, v.created_at FROM pipeline_versions v JOIN pipelines p ON p.name = v.pipeline AND p.version = v.version WHERE v.pipeline = ?`
		args = args[:1]
	}
	var v Version
	var created string
	err := s.queryRow(ctx, q, args...).Scan(&v.Pipeline, &v.Version, &v.File, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("pipeline %q version %d: %w", name, version, ErrNotFound)
	}
	v.Created = parseTS(created)
	return &v, err
}

// Versions lists the pipeline's versions, oldest first.
func (s *Store) Versions(ctx context.Context, name string) ([]Version, error) {
	rows, err := s.query(ctx, `SELECT pipeline, version, file, created_at FROM pipeline_versions WHERE pipeline = ? ORDER BY version`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		var created string
		if err := rows.Scan(&v.Pipeline, &v.Version, &v.File, &created); err != nil {
			return nil, err
		}
		v.Created = parseTS(created)
		out = append(out, v)
	}
	return out, rows.Err()
}

// AddEvent records an event and the state it reports as the pipeline's observed one.
func (s *Store) AddEvent(ctx context.Context, e Event) error {
	return s.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `INSERT INTO events (pipeline, time, state, phase, reason, error) VALUES (?, ?, ?, ?, ?, ?)`,
			e.Pipeline, ts(e.Time), e.State, e.Phase, e.Reason, e.Error); err != nil {
			return err
		}
		q := `UPDATE pipelines SET observed = ? WHERE name = ?`
		args := []any{e.State, e.Pipeline}
		if e.Error != "" {
			q, args = `UPDATE pipelines SET observed = ?, last_error = ? WHERE name = ?`, []any{e.State, e.Error, e.Pipeline}
		}
		_, err := tx.exec(ctx, q, args...)
		return err
	})
}

// AddNote records an event that is not a change of state (a version submitted or
// refused, a rollback): the pipeline's observed state stays.
func (s *Store) AddNote(ctx context.Context, e Event) error {
	_, err := s.exec(ctx, `INSERT INTO events (pipeline, time, state, phase, reason, error) VALUES (?, ?, ?, ?, ?, ?)`,
		e.Pipeline, ts(e.Time), e.State, e.Phase, e.Reason, e.Error)
	return err
}

// Events returns up to limit of the pipeline's events after the one numbered after,
// oldest first.
func (s *Store) Events(ctx context.Context, name string, after int64, limit int) ([]Event, error) {
	rows, err := s.query(ctx, `SELECT id, pipeline, time, state, phase, reason, error FROM events WHERE pipeline = ? AND id > ? ORDER BY id LIMIT ?`,
		name, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var t string
		if err := rows.Scan(&e.ID, &e.Pipeline, &t, &e.State, &e.Phase, &e.Reason, &e.Error); err != nil {
			return nil, err
		}
		e.Time = parseTS(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// IsNotFound reports whether err says a pipeline or version does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// RunRecord is one start of a pipeline until it ended (Ended zero: it runs, or its server
// ended without ending it).
type RunRecord struct {
	ID       int64     `json:"id"`
	Pipeline string    `json:"pipeline"`
	Version  int       `json:"version"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended,omitzero"`
	State    string    `json:"state,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// StartRun records a start of the pipeline at version and returns the run's id.
func (s *Store) StartRun(ctx context.Context, pipeline string, version int) (int64, error) {
	var id int64
	err := s.queryRow(ctx, `INSERT INTO runs (pipeline, version, started_at) VALUES (?, ?, ?) RETURNING id`, pipeline, version, ts(now())).Scan(&id)
	return id, err
}

// EndRun records how run id ended.
func (s *Store) EndRun(ctx context.Context, id int64, state, errText string) error {
	_, err := s.exec(ctx, `UPDATE runs SET ended_at = ?, state = ?, error = ? WHERE id = ?`, ts(now()), state, errText, id)
	return err
}

// EndLostRuns ends the runs a server left open when it stopped without ending them (it
// was killed), as state with why.
func (s *Store) EndLostRuns(ctx context.Context, state, why string) error {
	_, err := s.exec(ctx, `UPDATE runs SET ended_at = ?, state = ?, error = ? WHERE ended_at = ''`, ts(now()), state, why)
	return err
}

// Runs returns the pipeline's last limit runs, newest first.
func (s *Store) Runs(ctx context.Context, pipeline string, limit int) ([]RunRecord, error) {
	rows, err := s.query(ctx, `SELECT id, pipeline, version, started_at, ended_at, state, error FROM runs WHERE pipeline = ? ORDER BY id DESC LIMIT ?`, pipeline, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []RunRecord{}
	for rows.Next() {
		var r RunRecord
		var started, ended string
		if err := rows.Scan(&r.ID, &r.Pipeline, &r.Version, &started, &ended, &r.State, &r.Error); err != nil {
			return nil, err
		}
		r.Started, r.Ended = parseTS(started), parseTS(ended)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Alert is one firing of an alert rule for a pipeline (Resolved zero: it fires).
type Alert struct {
	ID       int64     `json:"id"`
	Rule     string    `json:"rule"`
	Pipeline string    `json:"pipeline"`
	Severity string    `json:"severity"`
	Summary  string    `json:"summary"`
	Fired    time.Time `json:"fired"`
	Resolved time.Time `json:"resolved,omitzero"`
}

// Fire records a firing and returns its id.
func (s *Store) Fire(ctx context.Context, a Alert) (int64, error) {
	var id int64
	err := s.queryRow(ctx, `INSERT INTO alerts (rule, pipeline, severity, summary, fired_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		a.Rule, a.Pipeline, a.Severity, a.Summary, ts(a.Fired)).Scan(&id)
	return id, err
}

// Resolve records that firing id has resolved.
func (s *Store) Resolve(ctx context.Context, id int64, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE alerts SET resolved_at = ? WHERE id = ?`, ts(at), id)
	return err
}

// Alerts returns the alerts that fire, then up to limit resolved ones, newest first.
func (s *Store) Alerts(ctx context.Context, limit int) ([]Alert, error) {
	rows, err := s.query(ctx, `SELECT id, rule, pipeline, severity, summary, fired_at, resolved_at FROM alerts
		WHERE resolved_at = '' OR id IN (SELECT id FROM alerts WHERE resolved_at != '' ORDER BY id DESC LIMIT ?) ORDER BY resolved_at != '', id DESC`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		var a Alert
		var fired, resolved string
		if err := rows.Scan(&a.ID, &a.Rule, &a.Pipeline, &a.Severity, &a.Summary, &fired, &resolved); err != nil {
			return nil, err
		}
		a.Fired, a.Resolved = parseTS(fired), parseTS(resolved)
		out = append(out, a)
	}
	return out, rows.Err()
}

// CountEvents counts the pipeline's events in state since t.
func (s *Store) CountEvents(ctx context.Context, pipeline, state string, since time.Time) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM events WHERE pipeline = ? AND state = ? AND time >= ?`, pipeline, state, ts(since)).Scan(&n)
	return n, err
}

// Leases say which of the servers that share a store runs a pipeline (DESIGN §4): a row
// per pipeline with its holder, a generation that grows at each change of holder, and an
// expiry the holder pushes back while it lives. A server runs a pipeline only while it
// holds its lease; one that cannot renew stops it. Leases say who should run; the
// checkpoint store's fencing makes sure only one can commit. Expiry is by the servers'
// clocks, which are assumed to agree within the TTL.

// Lease is a pipeline's lease.
type Lease struct {
	Pipeline   string
	Holder     string
	Generation int64
	Expires    time.Time
}

// Claim takes or renews the pipeline's lease for holder until now+ttl: it succeeds when
// the pipeline has no lease, when holder has it, or when the lease has expired (then the
// generation grows). It returns the lease and whether holder has it now.
func (s *Store) Claim(ctx context.Context, pipeline, holder string, ttl time.Duration) (Lease, bool, error) {
	var l Lease
	held := false
	err := s.tx(ctx, func(tx *txn) error {
		lock := ""
		if s.pg {
			lock = " FOR UPDATE"
		}
		var expires string
		err := tx.queryRow(ctx, `SELECT holder, generation, expires_at FROM leases WHERE pipeline = ?`+lock, pipeline).Scan(&l.Holder, &l.Generation, &expires)
		t := now()
		switch {
		case errors.Is(err, sql.ErrNoRows):
			l = Lease{Pipeline: pipeline, Holder: holder, Generation: 1, Expires: t.Add(ttl)}
			held = true
			_, err = tx.exec(ctx, `INSERT INTO leases (pipeline, holder, generation, expires_at) VALUES (?, ?, ?, ?)`, pipeline, holder, l.Generation, ts(l.Expires))
			return err
		case err != nil:
			return err
		}
		l.Pipeline, l.Expires = pipeline, parseTS(expires)
		switch {
		case l.Holder == holder:
		case t.After(l.Expires):
			l.Holder, l.Generation = holder, l.Generation+1
		default:
			return nil // another holds it
		}
		held, l.Expires = true, t.Add(ttl)
		_, err = tx.exec(ctx, `UPDATE leases SET holder = ?, generation = ?, expires_at = ? WHERE pipeline = ?`, l.Holder, l.Generation, ts(l.Expires), pipeline)
		return err
	})
	return l, held, err
}

// Renew pushes the lease of generation gen back to now+ttl if holder still has it.
func (s *Store) Renew(ctx context.Context, pipeline, holder string, gen int64, ttl time.Duration) (bool, error) {
	res, err := s.exec(ctx, `UPDATE leases SET expires_at = ? WHERE pipeline = ? AND holder = ? AND generation = ?`, ts(now().Add(ttl)), pipeline, holder, gen)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Yield gives the lease up at once (a server that stops), if holder has it.
func (s *Store) Yield(ctx context.Context, pipeline, holder string) error {
	_, err := s.exec(ctx, `UPDATE leases SET expires_at = ? WHERE pipeline = ? AND holder = ?`, ts(time.Unix(0, 0)), pipeline, holder)
	return err
}
