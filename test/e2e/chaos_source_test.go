package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/source/mysql"
	"github.com/weir-data/weir/internal/source/postgres"
	"github.com/weir-data/weir/internal/testenv"
)

// chaosSource is the source side of a chaos direction: a private server, how to make a
// seed's table, run statements, and the pipeline's source block. Each seed's table is
// SCHEMA.t, where SCHEMA is a MariaDB database or a PostgreSQL schema of database src.
type chaosSource struct {
	kind    string
	port    int
	restart func() error
	stop    func() error
	// exec runs statements on a new connection to the server (in SCHEMA).
	exec func(schema, sql string) error
	// session opens a connection for the workload; exec runs one statement on it.
	session func(schema string) (exec func(string) error, close func(), err error)
	// modifyNote widens note; addColumn adds c1 with a default; moveUpdate is the
	// statement form of a key move without collisions (UPDATE IGNORE or UPDATE).
	modifyNote, addColumn string
	// duplicateColumn says err is the source refusing a column it already has.
	duplicateColumn func(err error) bool
	// block is the pipeline file's source block for SCHEMA, through the proxy at port.
	block func(port int, schema string) string
	// open opens the weir source of SCHEMA.t, to read the source table.
	open func(schema string) (connector.Source, error)
	// cleanup releases what a seed's pipeline left on the server (a replication slot).
	cleanup func(t *testing.T, pipeline string)
	// create makes SCHEMA.t with rows rows.
	create func(schema string, rows int) error
}

func startChaosSource(t *testing.T, kind string) *chaosSource {
	if kind == "postgres" {
		return startPostgresChaosSource(t)
	}
	start := testenv.StartMariaDB
	if kind == "mariadb-stock" { // MariaDB's built-in charset defaults: latin1
		start = testenv.StartStockMariaDB
	}
	join := "" // mariadb-watermark: chunks join the stream by binlog watermarks, as on MySQL
	if kind == "mariadb-watermark" {
		join = "  scan.snapshot.join: watermark\n"
	}
	m, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	addr := fmt.Sprintf("127.0.0.1:%d", m.Port)
	// The workload's connections talk utf8mb4 whatever the server's default, as a
	// well-set application's do.
	utf8mb4 := func(c *client.Conn) error { return c.SetCollation("utf8mb4_general_ci") }
	return &chaosSource{
		kind: "mariadb", port: m.Port, restart: m.Restart, stop: m.Stop,
		exec: func(schema, sql string) error {
			conn, err := client.Connect(addr, "root", "", schema, utf8mb4)
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = conn.Execute(sql)
			return err
		},
		session: func(schema string) (func(string) error, func(), error) {
			conn, err := client.Connect(addr, "root", "", schema, utf8mb4)
			if err != nil {
				return nil, nil, err
			}
			return func(q string) error { _, err := conn.Execute(q); return err }, func() { conn.Close() }, nil
		},
		modifyNote:      "ALTER TABLE t MODIFY note VARCHAR(80)",
		addColumn:       "ALTER TABLE t ADD COLUMN c1 INT NOT NULL DEFAULT 7",
		duplicateColumn: func(err error) bool { return strings.Contains(err.Error(), "Duplicate column") },
		block: func(port int, schema string) string {
			return fmt.Sprintf("  type: mariadb\n  hostname: 127.0.0.1\n  port: %d\n  username: root\n  tables: %s.t\n  heartbeat.interval: 200ms\n%s", port, schema, join)
		},
		open: func(schema string) (connector.Source, error) {
			return mysql.New(context.Background(), mysql.Options{Host: "127.0.0.1", Port: m.Port, User: "root", Tables: schema + ".t"}, connector.Env{Pipeline: "check"})
		},
		cleanup: func(*testing.T, string) {},
		create: func(schema string, rows int) error {
			// note takes the database's charset (latin1 on the stock server), tag is utf8mb4.
			return m.Exec("", fmt.Sprintf(`DROP DATABASE IF EXISTS %[1]s; CREATE DATABASE %[1]s; USE %[1]s;
				CREATE TABLE t (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40), amount DECIMAL(12,2), tag VARCHAR(20) CHARACTER SET utf8mb4);
				INSERT INTO t SELECT seq, seq %% 1000, CONCAT('row ', seq, ' café'), seq / 100, CONCAT('🧩 ', seq) FROM seq_1_to_%[2]d`, schema, rows))
		},
	}
}

func startPostgresChaosSource(t *testing.T) *chaosSource {
	p, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	ctx := context.Background()
	if err := p.Exec(ctx, "postgres", "CREATE DATABASE src"); err != nil {
		t.Fatal(err)
	}
	connect := func(schema string) (*pgx.Conn, error) {
		conn, err := pgx.Connect(ctx, p.URL("src"))
		if err != nil {
			return nil, err
		}
		if schema != "" {
			if _, err := conn.Exec(ctx, "SET search_path = "+schema); err != nil {
				conn.Close(ctx)
				return nil, err
			}
		}
		return conn, nil
	}
	return &chaosSource{
		kind: "postgres", port: p.Port, restart: p.Restart, stop: p.Stop,
		exec: func(schema, sql string) error {
			conn, err := connect(schema)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, sql)
			return err
		},
		session: func(schema string) (func(string) error, func(), error) {
			conn, err := connect(schema)
			if err != nil {
				return nil, nil, err
			}
			return func(q string) error { _, err := conn.Exec(ctx, q); return err }, func() { conn.Close(ctx) }, nil
		},
		modifyNote:      "ALTER TABLE t ALTER COLUMN note TYPE VARCHAR(80)",
		addColumn:       "ALTER TABLE t ADD COLUMN c1 INT NOT NULL DEFAULT 7",
		duplicateColumn: func(err error) bool { return strings.Contains(err.Error(), "already exists") },
		block: func(port int, schema string) string {
			return fmt.Sprintf("  type: postgres\n  hostname: 127.0.0.1\n  port: %d\n  username: postgres\n  database-name: src\n  tables: %s.t\n  heartbeat.interval: 200ms\n", port, schema)
		},
		open: func(schema string) (connector.Source, error) {
			return postgres.New(ctx, postgres.Options{Host: "127.0.0.1", Port: p.Port, User: "postgres", Database: "src", Tables: schema + ".t"}, connector.Env{Pipeline: "check"})
		},
		cleanup: func(t *testing.T, pipeline string) { // each seed's slot would hold WAL for good
			// A killed weir's walsender may hold the slot a moment longer.
			var err error
			for range 50 {
				err = p.Exec(ctx, "src", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'weir_"+pipeline+"'")
				if err == nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Errorf("drop the slot of %s: %v", pipeline, err)
		},
		create: func(schema string, rows int) error {
			return p.Exec(ctx, "src", fmt.Sprintf(`DROP SCHEMA IF EXISTS %[1]s CASCADE; CREATE SCHEMA %[1]s;
				CREATE TABLE %[1]s.t (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40), amount NUMERIC(12,2), tag VARCHAR(20));
				ALTER TABLE %[1]s.t REPLICA IDENTITY FULL;
				INSERT INTO %[1]s.t SELECT g, g %% 1000, 'row ' || g || ' café', g / 100.0, '🧩 ' || g FROM generate_series(1, %[2]d) g`, schema, rows))
		},
	}
}
