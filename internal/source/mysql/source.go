// Package mysql is the MySQL/MariaDB source: a chunked snapshot read with plain SELECTs
// (no locks, no writes to the source) and the binary log read through one replication
// connection, decoded with the schemas weir knows at each position.
package mysql

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/mysqlconn"
	"github.com/weir-data/weir/internal/snapshot"
)

// Source reads one MySQL or MariaDB server.
type Source struct {
	host, user, password string
	port                 int
	flavor               string // "mysql" or "mariadb", from the server's version
	serverID             uint32
	heartbeat            time.Duration
	timeout              time.Duration
	mode                 string
	specific             position
	skipEvents, skipRows int64 // after the specific offset, on the first stream from it
	tinyBool             bool  // treat-tinyint1-as-boolean.enabled
	startupMillis        int64
	patterns             []connector.TablePattern
	keyColumn            connector.KeyColumns
	noNewTables          bool
	log                  *slog.Logger
	// serverText reads text as the server converts it, not by weir's decoders
	// (connector.Env.Verifying).
	serverText bool
	// watermarks: snapshot chunks join the stream by binlog watermarks (watermark.go),
	// not by MariaDB's consistent snapshot position.
	watermarks bool
	joinMode   string // Options.Join

	pool     *pool
	throttle *snapshot.Throttle
	pipeline string
	metrics  *metrics.Set // nil: none

	mu     sync.Mutex
	tables map[event.TableID]*table
	// Filters are the conditions pushed down per table (connector.SnapshotFilter).
	snapshot.Filters
	join *joiner // where the stream and the snapshot chunks meet (join.go)
	// visibleWaits counts the chunk reads that waited for a transaction in the binlog to
	// become visible (watermark.go).
	visibleWaits atomic.Int64
	estimates    rowEstimates // (snapshot.go)
}

var (
	_ connector.Source         = (*Source)(nil)
	_ connector.ChunkReader    = (*Source)(nil)
	_ connector.StartupModer   = (*Source)(nil)
	_ connector.Acker          = (*Source)(nil)
	_ connector.SnapshotJoiner = (*Source)(nil)
	_ connector.SnapshotFilter = (*Source)(nil)
	_ connector.Identified     = (*Source)(nil)
)

// Options are the source's settings (the config of Spec, typed).
type Options struct {
	Host, User, Password string
	Port                 int
	Tables               string // the `tables` selection
	Exclude              string // tables.exclude
	Mode                 string // scan.startup.mode
	SpecificGTID         string
	SpecificFile         string
	SpecificPos          uint32
	SkipEvents, SkipRows int64 // scan.startup.specific-offset.skip-events / skip-rows
	TinyIntBool          bool  // treat-tinyint1-as-boolean.enabled
	StartupMillis        int64 // scan.startup.mode timestamp
	KeyColumn            string
	NoNewTables          bool   // scan.newly-added-table.enabled: false
	Join                 string // scan.snapshot.join: auto, consistent-snapshot, watermark
	ServerID             string
	Heartbeat, Timeout   time.Duration
	RowsPerSecond        int64 // 0: no limit
	BytesPerSecond       int64 // 0: no limit
	MaxConnections       int   // 0: parallelism + 1
}

// Open opens the source from its config.
func Open(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.Source, error) {
	return New(ctx, Options{
		Host: cfg.String("hostname"), Port: int(cfg.Int("port")),
		User: cfg.String("username"), Password: cfg.String("password"),
		Tables: cfg.String("tables"), Mode: cfg.String("scan.startup.mode"),
		SpecificGTID: cfg.String("scan.startup.specific-offset.gtid-set"),
		SpecificFile: cfg.String("scan.startup.specific-offset.file"),
		SpecificPos:  uint32(cfg.Int("scan.startup.specific-offset.pos")),
		SkipEvents:   cfg.Int("scan.startup.specific-offset.skip-events"), SkipRows: cfg.Int("scan.startup.specific-offset.skip-rows"),
		TinyIntBool:   cfg.Bool("treat-tinyint1-as-boolean.enabled"),
		StartupMillis: cfg.Int("scan.startup.timestamp-millis"),
		KeyColumn:     cfg.String("scan.incremental.snapshot.chunk.key-column"),
		NoNewTables:   !cfg.Bool("scan.newly-added-table.enabled") || cfg.Bool("scan.binlog.newly-added-table.enabled"),
		Join:          cfg.String("scan.snapshot.join"),
		ServerID:      cfg.String("server-id"),
		Heartbeat:     cfg.Duration("heartbeat.interval"), Timeout: cfg.Duration("connect.timeout"),
		RowsPerSecond:  cfg.Int("scan.rate-limit.rows-per-second"),
		BytesPerSecond: cfg.Int("scan.rate-limit.bytes-per-second"),
		MaxConnections: connector.MaxConnections(cfg), Exclude: cfg.String("tables.exclude"),
	}, env)
}

// New connects to the server and checks that it can be read.
func New(ctx context.Context, o Options, env connector.Env) (*Source, error) {
	patterns, err := connector.ParseTables(o.Tables)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("tables: %w", err))
	}
	if patterns, err = connector.Exclude(patterns, o.Exclude); err != nil {
		return nil, fault.AsFatal(err)
	}
	keys, err := connector.ParseKeyColumns(o.KeyColumn)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("scan.incremental.snapshot.chunk.key-column: %w", err))
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Mode == "" {
		o.Mode = "initial"
	}
	s := &Source{
		host: o.Host, port: o.Port, user: o.User, password: o.Password,
		heartbeat: o.Heartbeat, timeout: o.Timeout, mode: o.Mode, patterns: patterns,
		keyColumn: keys, noNewTables: o.NoNewTables, log: env.Logger, tables: map[event.TableID]*table{}, join: newJoiner(),
		specific: position{GTID: o.SpecificGTID, File: o.SpecificFile, Pos: o.SpecificPos}, startupMillis: o.StartupMillis,
		skipEvents: o.SkipEvents, skipRows: o.SkipRows, tinyBool: o.TinyIntBool,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.mode == "timestamp" && s.startupMillis <= 0 {
		return nil, fault.AsFatal(fmt.Errorf("scan.startup.mode is timestamp but scan.startup.timestamp-millis is not set"))
	}
	if s.mode == "specific-offset" && s.specific.GTID == "" && s.specific.File == "" {
		return nil, fault.AsFatal(fmt.Errorf("scan.startup.mode is specific-offset but neither scan.startup.specific-offset.gtid-set nor .file is set"))
	}
	s.serverID, err = serverID(o.ServerID, env.Pipeline, env.Role)
	if err != nil {
		return nil, fault.AsFatal(err)
	}
	conns := o.MaxConnections
	if conns <= 0 {
		conns = max(env.Parallelism, 1) + 1
	}
	s.pool = newPool(conns, s.dial)
	s.throttle = snapshot.NewThrottle(o.RowsPerSecond, o.BytesPerSecond)
	s.pipeline, s.metrics = env.Pipeline, env.Metrics
	s.serverText = env.Verifying
	s.joinMode = o.Join
	conn, err := s.pool.get(ctx)
	if err != nil {
		return nil, err
	}
	defer s.pool.put(conn)
	res, err := conn.Execute("SELECT VERSION()")
	if err != nil {
		return nil, fmt.Errorf("read the server version: %w", err)
	}
	version, _ := res.GetString(0, 0)
	s.flavor = "mysql"
	if strings.Contains(strings.ToLower(version), "mariadb") {
		s.flavor = "mariadb"
	}
	switch s.joinMode {
	case "watermark":
		s.watermarks = true
	case "consistent-snapshot":
		if s.flavor != "mariadb" {
			return nil, fault.AsFatal(fmt.Errorf("scan.snapshot.join: consistent-snapshot needs MariaDB, which reports a consistent snapshot's binlog position; "+
				"this server is %s: use watermark (or auto)", version))
		}
	default:
		s.watermarks = s.flavor != "mariadb"
	}
	return s, nil
}

// dial opens a connection for queries: utf8mb4 (mysqlconn), UTC session time zone
// (TIMESTAMP values read as instants), no SQL mode.
func (s *Source) dial(ctx context.Context) (*client.Conn, error) {
	return mysqlconn.Dial(ctx, mysqlconn.Config{Addr: net.JoinHostPort(s.host, strconv.Itoa(s.port)),
		User: s.user, Password: s.password, Timeout: s.timeout,
		Session: "time_zone = '+00:00', SESSION sql_mode = ''"})
}

// serverID parses server-id ("5400" or "5400-5404": the first is the pipeline's one binlog
// connection) or derives a stable one from the pipeline name. A command reading beside the
// pipeline (role "preview", "verify") takes another: the range's last id when the range
// has more than one (and the pipeline keeps its first), else one derived from the
// pipeline name and the role.
func serverID(s, pipeline, role string) (uint32, error) {
	derive := func(name string) uint32 {
		h := fnv.New32a()
		h.Write([]byte(name))
		return 5_000_000 + h.Sum32()%1_000_000_000
	}
	if s == "" {
		if role != "" {
			return derive(pipeline + "/" + role), nil
		}
		return derive(pipeline), nil
	}
	first, last, isRange := strings.Cut(s, "-")
	n, err := strconv.ParseUint(strings.TrimSpace(first), 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("server-id %q: want a positive number or a range such as 5400-5404", s)
	}
	if role == "" {
		return uint32(n), nil
	}
	if isRange {
		if m, err := strconv.ParseUint(strings.TrimSpace(last), 10, 32); err == nil && m > n {
			return uint32(m), nil
		}
	}
	return derive(pipeline + "/" + role), nil
}

// serverIDLockWait is how long a reader waits for its server-id's lock (claimServerID):
// long enough for the server to notice that a killed process's connection is gone.
const serverIDLockWait = 5

// claimServerID takes the server-wide named lock of the reader's server-id on a connection
// of its own, held while the stream runs (release closes it). The server lets one replica
// connection have a server-id, and throws the older off when a second connects with it
// (ERROR 4052 in MariaDB, 1236 in MySQL): two readers with one id would throw each other
// off for ever. So a second reader is refused, with the connection that holds the id.
func (s *Source) claimServerID(ctx context.Context) (release func(), err error) {
	conn, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("weir.server-id.%d", s.serverID)
	res, err := conn.Execute("SELECT GET_LOCK(?, ?), IS_USED_LOCK(?)", name, serverIDLockWait, name)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("claim binlog server-id %d: %w", s.serverID, err)
	}
	got, _ := res.GetInt(0, 0)
	holder, _ := res.GetInt(0, 1)
	if got == 1 {
		return func() { conn.Close() }, nil
	}
	who := ""
	if r, err := conn.Execute("SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = ?", holder); err == nil && r.RowNumber() > 0 {
		user, _ := r.GetString(0, 0)
		host, _ := r.GetString(0, 1)
		secs, _ := r.GetInt(0, 2)
		who = fmt.Sprintf(" (user %s from %s, connected %s ago)", user, host, time.Duration(secs)*time.Second)
	}
	conn.Close()
	return nil, fault.AsFatal(fmt.Errorf("binlog server-id %d is in use by another reader of this server, connection %d%s: "+
		"another `weir run` of pipeline %q (whatever its --state), or a weir command reading beside it; "+
		"stop that process, or give this pipeline its own server-id; if that process is gone, end its connection with KILL %d",
		s.serverID, holder, who, s.pipeline, holder))
}

// StartupMode is scan.startup.mode.
func (s *Source) StartupMode() string { return s.mode }

// Tables resolves the selection against the server now.
func (s *Source) Tables(ctx context.Context) ([]*event.Schema, error) {
	conn, err := s.pool.get(ctx)
	if err != nil {
		return nil, err
	}
	defer s.pool.put(conn)
	tables, err := discover(conn, s.patterns, s.columnOpts)
	if err != nil {
		return nil, fault.AsFatal(err)
	}
	if len(tables) == 0 {
		return nil, fault.AsFatal(fmt.Errorf("no table matches tables: %s; check the database and table regexes (a user sees only the tables it may read: GRANT SELECT on them to %s)", patternList(s.patterns), s.user))
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
	t, err := newTable(sc)
	if err != nil {
		return nil, err
	}
	s.tables[sc.ID] = t
	return t, nil
}

// Position is the server's end of binlog now, or the configured specific offset.
func (s *Source) Position(ctx context.Context) (event.Position, error) {
	if s.mode == "specific-offset" {
		return s.specific.encode(), nil
	}
	if s.mode == "earliest-offset" {
		p, err := s.earliest(ctx)
		if err != nil {
			return "", err
		}
		return p.encode(), nil
	}
	if s.mode == "timestamp" {
		p, err := s.positionAt(ctx, s.startupMillis)
		if err != nil {
			return "", err
		}
		return p.encode(), nil
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return "", err
	}
	defer s.pool.put(conn)
	p, err := currentPosition(conn, s.flavor)
	if err != nil {
		return "", fault.AsFatal(err)
	}
	return p.encode(), nil
}

func (s *Source) Close() error {
	s.pool.close()
	return nil
}

// Ack is told the position durable downstream. MySQL keeps its binlog by time, not by
// readers, so there is nothing to release; the source reports how many bytes of binlog
// after that position the server still holds for the pipeline (weir_source_retained_bytes).
func (s *Source) Ack(ctx context.Context, durable event.Position) error {
	if s.metrics == nil {
		return nil
	}
	p, err := decodePosition(durable)
	if err != nil || p.File == "" {
		return err
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	defer s.pool.put(conn)
	res, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return fmt.Errorf("read the binlog sizes: %w", err)
	}
	var retained int64
	for i := range res.RowNumber() {
		name, _ := res.GetString(i, 0)
		size, _ := res.GetInt(i, 1)
		switch {
		case name == p.File:
			retained += max(size-int64(p.Pos), 0)
		case name > p.File:
			retained += size
		}
	}
	s.metrics.SourceRetained.WithLabelValues(s.pipeline).Set(float64(retained))
	return nil
}

// SQLDialect is the SQL of FilterSnapshot's conditions (connector.SnapshotFilter).
func (s *Source) SQLDialect() string { return "mysql" }

// Identity names the server (connector.Identified).
func (s *Source) Identity(ctx context.Context) (string, error) {
	conn, err := s.pool.get(ctx)
	if err != nil {
		return "", err
	}
	defer s.pool.put(conn)
	return mysqlconn.Identity(conn)
}
