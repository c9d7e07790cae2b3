package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	pg, err = testenv.StartPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// createDB makes a fresh database for one test and runs setup in it.
func createDB(t *testing.T, name, setup string) {
	t.Helper()
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSlots(t, name) })
	if setup != "" {
		exec(t, name, setup)
	}
}

// dropSlots drops the replication slots the test's pipelines left in database db (a slot
// holds WAL, and the server has 20): after the test's own cleanups, so its pipelines have
// stopped; a walsender that has not noticed yet is ended.
func dropSlots(t *testing.T, db string) {
	ctx := context.Background()
	var err error
	for range 50 {
		err = pg.Exec(ctx, "postgres", `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '`+db+`' AND active_pid IS NOT NULL;
			SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '`+db+`' AND NOT active`)
		var left int
		if c, cerr := pgx.Connect(ctx, pg.URL("postgres")); cerr == nil {
			c.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE database = $1", db).Scan(&left)
			c.Close(ctx)
		}
		if err == nil && left == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("drop the replication slots of %s: %v", db, err)
}

func exec(t *testing.T, db, sql string) {
	t.Helper()
	if err := pg.Exec(context.Background(), db, sql); err != nil {
		t.Fatalf("%s: %v", firstLine(sql), err)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}

func connect(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func options(db, tables string) Options {
	return Options{Host: "127.0.0.1", Port: pg.Port, User: "postgres", Database: db, Tables: tables, Heartbeat: 500 * time.Millisecond}
}

func open(t *testing.T, o Options, pipeline string, par int) *Source {
	t.Helper()
	s, err := New(context.Background(), o, connector.Env{Pipeline: pipeline, Parallelism: par})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	createDB(t, "conf", `CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(40), v INT);
		CREATE TABLE pairs (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b));
		INSERT INTO items SELECT g, 'item-' || g, g % 7 FROM generate_series(1, 1000) g;
		INSERT INTO pairs SELECT g / 3, 'k' || (g % 3), g FROM generate_series(1, 500) g`)
	next := 100000
	conformance.RunSourceSuite(t, conformance.SourceHarness{
		Open: func(t *testing.T) connector.Source { return open(t, options("conf", `public.\.*`), "conf", 2) },
		Rows: func(t *testing.T, id event.TableID) int64 {
			var n int64
			if err := connect(t, "conf").QueryRow(context.Background(), "SELECT count(*) FROM "+quoteTable(id)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		MakeChanges: func(t *testing.T, n int) {
			for i := range n {
				exec(t, "conf", fmt.Sprintf("INSERT INTO items VALUES (%d, 'new', 1)", next+i))
			}
			next += n
		},
	})
}

// TestSlotLifecycle: Position creates the publication and the slot; Drop removes both; a
// slot that is gone is a clear error for a resumed stream.
func TestSlotLifecycle(t *testing.T) {
	createDB(t, "life", `CREATE TABLE t (id INT PRIMARY KEY)`)
	s := open(t, options("life", "public.t"), "Life Cycle", 1)
	if s.slot != "weir_life_cycle" || s.pub != "weir_life_cycle" {
		t.Fatalf("derived names %q, %q", s.slot, s.pub)
	}
	ctx := context.Background()
	pos, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var slots, pubs int
	conn := connect(t, "life")
	conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'weir_life_cycle'").Scan(&slots)
	conn.QueryRow(ctx, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'weir_life_cycle' AND tablename = 't'").Scan(&pubs)
	if slots != 1 || pubs != 1 {
		t.Fatalf("%d slots, %d published tables after Position; want 1 and 1", slots, pubs)
	}
	if again, err := s.Position(ctx); err != nil || again != pos {
		t.Fatalf("a second Position gives %s (%v); want the existing slot's %s", again, err, pos)
	}
	if err := s.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'weir_life_cycle'").Scan(&slots)
	conn.QueryRow(ctx, "SELECT count(*) FROM pg_publication WHERE pubname = 'weir_life_cycle'").Scan(&pubs)
	if slots != 0 || pubs != 0 {
		t.Fatalf("%d slots, %d publications after Drop; want none", slots, pubs)
	}
	tables, _ := s.Tables(ctx)
	err = s.Stream(ctx, pos, tables, func(context.Context, event.Batch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("streaming from a dropped slot: %v; want an error saying it does not exist", err)
	}
}

// readAll reads a whole table through the source.
func readAll(t *testing.T, s *Source, sc *event.Schema) []event.Row {
	t.Helper()
	var rows []event.Row
	err := s.ReadChunk(context.Background(), sc, snapshot.Chunk{Table: sc.ID}, func(rs []event.Row) error {
		rows = append(rows, rs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// testLogger logs to stderr when WEIR_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("WEIR_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tablesAndStart resolves s's tables and creates its slot: the schemas and the position a
// stream of the test starts from.
func tablesAndStart(t *testing.T, s *Source) ([]*event.Schema, event.Position) {
	t.Helper()
	ctx := context.Background()
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return tables, pos
}
