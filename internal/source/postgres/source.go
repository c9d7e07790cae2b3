// Package postgres is the PostgreSQL source: a parallel snapshot whose every chunk is read
// exactly at a point of the write-ahead log (join.go), and every change read through one
// replication slot with the pgoutput plugin (stream.go), decoded with the schemas weir
// knows at each point.
package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/netpace"
	"github.com/weir-data/weir/internal/snapshot"
)

// Source reads one PostgreSQL database.
type Source struct {
	role     string // connector.Env.Role: "discover" lists tables without a key
	o        Options
	database string
	patterns []connector.TablePattern
	// keyColumn stands in for the primary key of tables without one.
	keyColumn   connector.KeyColumns
	slot, pub   string
	log         *slog.Logger
	pipeline    string
	metrics     *metrics.Set
	pool        *pgxpool.Pool
	types       *typeCache
	throttle    *snapshot.Throttle
	replConfig  *pgconn.Config
	skipOrigins map[string]bool
	allOrigins  bool

	// discoverEvery is how often a running stream looks for new matching tables.
	discoverEvery time.Duration

	mu     sync.Mutex
	tables map[event.TableID]*table
	// Filters are the conditions pushed down per table (connector.SnapshotFilter).
	snapshot.Filters
	join    *joiner
	acked   pglogrepl.LSN // the newest position the engine reported durable
	replPID uint32        // the backend of the last stream's replication connection (heldByPrevious)
	// streamed counts the transactions the server streamed while in progress.
	streamed atomic.Int64
}

var (
	_ connector.SnapshotFilter   = (*Source)(nil)
	_ connector.Source           = (*Source)(nil)
	_ connector.ChunkReader      = (*Source)(nil)
	_ connector.StartupModer     = (*Source)(nil)
	_ connector.Acker            = (*Source)(nil)
	_ connector.SnapshotJoiner   = (*Source)(nil)
	_ connector.KeyReader        = (*Source)(nil)
	_ connector.PositionComparer = (*Source)(nil)
)

// Options are the source's settings (the config of Spec, typed).
type Options struct {
	Host, User, Password, Database string
	Port                           int
	Tables                         string
	Exclude                        string // tables.exclude
	Slot, Publication              string
	NoCreatePublication            bool
	Mode                           string
	KeyColumn                      string
	NoNewTables                    bool
	RowsPerSecond, BytesPerSecond  int64
	MaxConnections                 int
	Timeout, Heartbeat             time.Duration
	EmitMessage                    bool
	WarnRetained                   int64
	SkipOrigins                    []string
	DiscoverEvery                  time.Duration // 0: 30s
	NoStreamInProgress             bool          // decoding.stream-in-progress: false
	// WorkMem, when set, is the replication session's logical_decoding_work_mem: past
	// it the server streams a transaction in progress (or spills it). For tests.
	WorkMem string
}

// Open opens the source from its config.
func Open(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.Source, error) {
	return New(ctx, optionsOf(cfg), env)
}

func optionsOf(cfg *connector.Config) Options {
	return Options{
		Host: cfg.String("hostname"), Port: int(cfg.Int("port")), User: cfg.String("username"), Password: cfg.String("password"),
		Database: cfg.String("database-name"), Tables: cfg.String("tables"),
		Slot: cfg.String("slot.name"), Publication: cfg.String("publication.name"), NoCreatePublication: !cfg.Bool("publication.create"),
		Mode: cfg.String("scan.startup.mode"), KeyColumn: cfg.String("scan.incremental.snapshot.chunk.key-column"),
		NoNewTables:   !cfg.Bool("scan.newly-added-table.enabled"),
		RowsPerSecond: cfg.Int("scan.rate-limit.rows-per-second"), BytesPerSecond: cfg.Int("scan.rate-limit.bytes-per-second"),
		MaxConnections: connector.MaxConnections(cfg), Exclude: cfg.String("tables.exclude"), Timeout: cfg.Duration("connect.timeout"),
		Heartbeat: cfg.Duration("heartbeat.interval"), EmitMessage: cfg.Bool("heartbeat.emit-message"),
		WarnRetained: cfg.Int("slot.retained-wal.warn"), SkipOrigins: cfg.List("filter.origins"),
		NoStreamInProgress: !cfg.Bool("decoding.stream-in-progress"),
	}
}

// sessionParams make every session print values alike: the snapshot's COPY and the
// stream's pgoutput then give the same text for the same value (types.go). weir writes
// no data to the source; what it does write (the publication) need not wait for
// synchronous standbys.
var sessionParams = map[string]string{
	"DateStyle": "ISO, YMD", "IntervalStyle": "iso_8601", "TimeZone": "UTC", "extra_float_digits": "3",
	"bytea_output": "hex", "client_encoding": "UTF8", "lc_monetary": "C", "synchronous_commit": "local",
	"standard_conforming_strings": "on", // literals (pushed-down filters, chunk bounds) quote only '

}

// New connects to the database and checks that it can be read.
func New(ctx context.Context, o Options, env connector.Env) (*Source, error) {
	database, patterns, err := selection(o.Tables, o.Database)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("tables: %w", err))
	}
	keys, err := connector.ParseKeyColumns(o.KeyColumn)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("scan.incremental.snapshot.chunk.key-column: %w", err))
	}
	if o.Exclude != "" {
		_, except, err := selection(o.Exclude, database)
		if err != nil {
			return nil, fault.AsFatal(fmt.Errorf("tables.exclude: %w", err))
		}
		for i := range patterns {
			patterns[i].Except = except
		}
	}
	o.Database = database
	if o.Mode == "" {
		o.Mode = "initial"
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.Slot == "" {
		o.Slot = slotName(env.Pipeline)
	}
	if o.DiscoverEvery <= 0 {
		o.DiscoverEvery = 30 * time.Second
	}
	if o.Publication == "" {
		o.Publication = o.Slot
	}
	s := &Source{
		o: o, role: env.Role, database: o.Database, patterns: patterns, keyColumn: keys, slot: o.Slot, pub: o.Publication,
		log: env.Logger, pipeline: env.Pipeline, metrics: env.Metrics, types: newTypeCache(),
		throttle: snapshot.NewThrottle(o.RowsPerSecond, o.BytesPerSecond),
		tables:   map[event.TableID]*table{}, join: newJoiner(), skipOrigins: map[string]bool{}, discoverEvery: o.DiscoverEvery,
	}
	for _, name := range o.SkipOrigins {
		if name == "*" {
			s.allOrigins = true
		}
		s.skipOrigins[name] = true
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	conns := o.MaxConnections
	if conns <= 0 {
		conns = max(env.Parallelism, 1) + 1
	}
	pc, err := pgxpool.ParseConfig(s.connString())
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("connection settings: %w", err))
	}
	pc.MaxConns = int32(conns)
	pc.ConnConfig.ConnectTimeout = o.Timeout
	// Snapshot chunks stream in as many small CopyData messages: read the socket in large
	// pieces (pgproto3 reads 8 KiB at a time).
	pc.ConnConfig.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		return pgproto3.NewFrontend(bufio.NewReaderSize(r, 256<<10), w)
	}
	for k, v := range sessionParams {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("connection settings: %w", err))
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, classifyConnectError(err, s.addr(), o.User)
	}
	s.replConfig, err = pgconn.ParseConfig(s.connString())
	if err != nil {
		s.pool.Close()
		return nil, fault.AsFatal(fmt.Errorf("connection settings: %w", err))
	}
	s.replConfig.ConnectTimeout = o.Timeout
	s.replConfig.DialFunc = netpace.Dialer(s.replConfig.DialFunc) // small transactions read together (netpace)
	s.replConfig.RuntimeParams["replication"] = "database"
	if o.WorkMem != "" {
		s.replConfig.RuntimeParams["logical_decoding_work_mem"] = o.WorkMem
	}
	for k, v := range sessionParams {
		s.replConfig.RuntimeParams[k] = v
	}
	return s, nil
}

func (s *Source) addr() string { return net.JoinHostPort(s.o.Host, strconv.Itoa(s.o.Port)) }

func (s *Source) connString() string {
	kv := func(k, v string) string {
		return k + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	return strings.Join([]string{kv("host", s.o.Host), kv("port", strconv.Itoa(s.o.Port)), kv("user", s.o.User),
		kv("password", s.o.Password), kv("dbname", s.o.Database), kv("sslmode", "prefer"), kv("application_name", "weir")}, " ")
}

var nonSlotChars = regexp.MustCompile(`[^a-z0-9_]+`)

// slotName derives a slot name from the pipeline name: weir_ and the name in lower case,
// other characters as _, at most 63 bytes.
func slotName(pipeline string) string {
	n := "weir_" + nonSlotChars.ReplaceAllString(strings.ToLower(pipeline), "_")
	if len(n) > 63 {
		n = n[:63]
	}
	return n
}

func classifyConnectError(err error, addr, user string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return fault.AsFatal(fmt.Errorf("connect to %s as %s: %w; check username and password (and pg_hba.conf)", addr, user, err))
		case "3D000":
			return fault.AsFatal(fmt.Errorf("connect to %s: %w; check database-name", addr, err))
		}
	}
	return fault.AsRetryable(fault.WithReachHint(fmt.Errorf("connect to %s: %w", addr, err)))
}

// StartupMode is scan.startup.mode.
func (s *Source) StartupMode() string { return s.o.Mode }

// Tables resolves the selection against the database now.
func (s *Source) Tables(ctx context.Context) ([]*event.Schema, error) {
	tables, err := s.discover(ctx, s.pool)
	if err != nil {
		return nil, fault.AsFatal(err)
	}
	if len(tables) == 0 {
		return nil, fault.AsFatal(fmt.Errorf("no table of database %s matches tables: %s; check the schema and table regexes", s.database, patternList(s.patterns)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*event.Schema, len(tables))
	for i, t := range tables {
		s.tables[t.schema.ID] = t
		out[i] = t.schema
	}
	return out, nil
}

func patternList(ps []connector.TablePattern) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}

// table returns the decoders of a schema, building them on first use.
func (s *Source) table(sc *event.Schema) (*table, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tables[sc.ID]; t != nil && t.schema == sc {
		return t, nil
	}
	t, err := newTable(sc, s.types)
	if err != nil {
		return nil, err
	}
	if old := s.tables[sc.ID]; old != nil {
		t.oid, t.full = old.oid, old.full
	}
	s.tables[sc.ID] = t
	return t, nil
}

// Position makes sure the publication and the slot exist and returns where the slot
// starts: on a fresh start, its consistent point, the position the snapshot joins.
func (s *Source) Position(ctx context.Context) (event.Position, error) {
	if err := s.ensurePublication(ctx); err != nil {
		return "", err
	}
	lsn, err := s.ensureSlot(ctx)
	if err != nil {
		return "", err
	}
	return encodePosition(lsn), nil
}

// Close releases the connections; the slot and the publication stay (Drop removes them).
func (s *Source) Close() error {
	s.pool.Close()
	return nil
}

// Ack is told the position durable downstream: the stream reports it to the server as
// flushed, which lets the slot release the WAL before it.
func (s *Source) Ack(ctx context.Context, durable event.Position) error {
	lsn, err := decodePosition(durable)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if lsn > s.acked {
		s.acked = lsn
	}
	s.mu.Unlock()
	return nil
}

// durable is the newest acknowledged position.
func (s *Source) durable() pglogrepl.LSN {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// Includes reports whether durable is at or past target (connector.PositionComparer).
func (s *Source) Includes(durable, target event.Position) (bool, error) {
	d, err := decodePosition(durable)
	if err != nil {
		return false, err
	}
	t, err := decodePosition(target)
	if err != nil {
		return false, err
	}
	return d >= t, nil
}

// LogEnd is the server's WAL write point now (connector.PositionComparer).
func (s *Source) LogEnd(ctx context.Context) (event.Position, error) {
	var l pglogrepl.LSN
	if err := s.pool.QueryRow(ctx, "SELECT pg_current_wal_lsn()").Scan(&l); err != nil {
		return "", fmt.Errorf("read the WAL write point: %w", err)
	}
	return encodePosition(l), nil
}

// encodePosition renders an LSN as a position: "16/B374D848".
func encodePosition(l pglogrepl.LSN) event.Position { return event.Position(l.String()) }

func decodePosition(p event.Position) (pglogrepl.LSN, error) {
	l, err := pglogrepl.ParseLSN(string(p))
	if err != nil {
		return 0, fault.AsFatal(fmt.Errorf("position %q is not a PostgreSQL LSN (was the checkpoint written by another source type?)", p))
	}
	return l, nil
}

// exec runs one statement on the pool.
func (s *Source) exec(ctx context.Context, sql string, args ...any) error {
	_, err := s.pool.Exec(ctx, sql, args...)
	return err
}

// SQLDialect is the SQL of FilterSnapshot's conditions (connector.SnapshotFilter).
func (s *Source) SQLDialect() string { return "postgres" }
