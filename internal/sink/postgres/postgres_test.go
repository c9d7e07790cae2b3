package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	if pg, err = testenv.StartPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

var (
	dbsMu sync.Mutex
	dbs   = map[*testing.T]string{}
)

// database returns the URL of a database of its own for test t (each run of it, so that
// -count works), created at first use.
func database(t *testing.T) string {
	dbsMu.Lock()
	defer dbsMu.Unlock()
	name, ok := dbs[t]
	if !ok {
		h := fnv.New32a()
		h.Write([]byte(t.Name()))
		name = fmt.Sprintf("t%08x_%d", h.Sum32(), len(dbs))
		if err := pg.Exec(context.Background(), "postgres", "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		dbs[t] = name
	}
	return pg.URL(name)
}

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func open(t *testing.T, o Options) *Writer {
	t.Helper()
	o.URL = database(t)
	if o.Pipeline == "" {
		o.Pipeline = "conformance"
	}
	o.Parallelism = 4
	w, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var suiteSchemas = datagen.NewModel(1, 1, []event.TableID{{Schema: "conf", Table: "a"}, {Schema: "conf", Table: "b"}}).Schemas()

func TestConformanceUpsert(t *testing.T) {
	conformance.RunSinkSuite(t, conformance.SinkHarness{
		Open:  func(t *testing.T) connector.Sink { return open(t, Options{}) },
		Image: func(t *testing.T) map[string]map[string]any { return image(t, connect(t), suiteSchemas) },
	})
}

func TestConformanceChangelog(t *testing.T) {
	conformance.RunSinkSuite(t, conformance.SinkHarness{
		Open:        func(t *testing.T) connector.Sink { return open(t, Options{Mode: "changelog"}) },
		Read:        func(t *testing.T) []conformance.Record { return readChangelog(t, connect(t), suiteSchemas) },
		ExactlyOnce: true,
	})
}

// image reads upsert tables of schemas back as table images.
func image(t *testing.T, conn *pgx.Conn, schemas []*event.Schema) map[string]map[string]any {
	t.Helper()
	img := map[string]map[string]any{}
	for _, s := range schemas {
		rows, _, err := ReadRows(context.Background(), conn, s, nil, "")
		if err != nil {
			if pgErrCode(err) == "42P01" {
				continue // no row of the table yet
			}
			t.Fatal(err)
		}
		part, err := conformance.TableImage(s, rows)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range part {
			img[k] = v
		}
	}
	return img
}

// readChangelog reads changelog tables back as change records, each table in arrival
// order.
func readChangelog(t *testing.T, conn *pgx.Conn, schemas []*event.Schema) []conformance.Record {
	t.Helper()
	var out []conformance.Record
	for _, s := range schemas {
		rows, extra, err := ReadRows(context.Background(), conn, s, []string{colOp, colPos, colBefore}, colSeq)
		if err != nil {
			if pgErrCode(err) == "42P01" {
				continue // no change of the table yet
			}
			t.Fatal(err)
		}
		for i, row := range rows {
			rec, err := conformance.ChangelogRecord(s, row, extra[i][0], extra[i][1], extra[i][2], "datagen")
			if err != nil {
				t.Fatal(err)
			}
			rec.File, rec.Line = s.ID.String(), i+1
			out = append(out, rec)
		}
	}
	return out
}

// TestTableSinkSuite: replay after the commit protocol's window, fencing, settled batches.
func TestTableSinkSuite(t *testing.T) {
	conformance.RunTableSinkSuite(t, conformance.TableSinkHarness{
		Open: func(t *testing.T, mode string) connector.Sink { return open(t, Options{Mode: mode}) },
		CommitData: func(t *testing.T, s connector.Sink) {
			if err := s.(*Writer).commitParts(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
		Rows: func(t *testing.T, id event.TableID) int {
			var n int
			err := connect(t).QueryRow(context.Background(), `SELECT count(*) FROM `+quoteID(id)).Scan(&n)
			if pgErrCode(err) == "42P01" {
				return 0
			}
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
		Image: func(t *testing.T, schemas []*event.Schema) map[string]map[string]any {
			return image(t, connect(t), schemas)
		},
		Changelog: func(t *testing.T, schemas []*event.Schema) []conformance.Record {
			return readChangelog(t, connect(t), schemas)
		},
		Prepare: func(t *testing.T, s connector.Sink, seq int64) {
			w := s.(*Writer)
			if !w.twoPC {
				t.Fatal("the test server allows prepared transactions; the sink does not use them")
			}
			if _, err := w.prepareParts(context.Background(), seq); err != nil {
				t.Fatal(err)
			}
		},
		Record: func(t *testing.T, s connector.Sink, cp *checkpoint.Checkpoint) {
			if err := s.(*Writer).record(context.Background(), cp); err != nil {
				t.Fatal(err)
			}
		},
		Prepared: func(t *testing.T) int {
			var n int
			if err := connect(t).QueryRow(context.Background(), `SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'weir/%'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}

// TestCheck: `weir validate` passes a reachable database whose user may create tables,
// and names the field and the fix otherwise.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	if problems := check(ctx, database(t), "line 3", "weir_checkpoints"); len(problems) != 0 {
		t.Fatalf("a good database: %v", problems)
	}
	if err := pg.Exec(ctx, "postgres", "DROP ROLE IF EXISTS reader; CREATE ROLE reader LOGIN"); err != nil {
		t.Fatal(err)
	}
	u := strings.Replace(database(t), "postgres@", "reader@", 1)
	problems := check(ctx, u, "line 3", "weir_checkpoints")
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "GRANT CREATE ON DATABASE") {
		t.Fatalf("a user without CREATE: %v", problems)
	}
	problems = check(ctx, "postgres://postgres@127.0.0.1:1/x", "line 3", "weir_checkpoints")
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "url (line 3): cannot connect") {
		t.Fatalf("an unreachable server: %v", problems)
	}
	if problems = check(ctx, database(t), "line 3", "a.b.c"); len(problems) != 1 || !strings.Contains(problems[0].Error(), "checkpoint.table") {
		t.Fatalf("a bad checkpoint table: %v", problems)
	}
}

// TestIncompatibleTableIsReported (schema.change.behavior: exception): an existing table that cannot take the source's rows
// is reported column by column, each with its fix, and nothing is written to it.
func TestIncompatibleTableIsReported(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA conf; CREATE TABLE conf.a (id integer PRIMARY KEY, name varchar(10),
		amount numeric(12,2), status text, updated_at timestamp(6), note text, extra int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	w := open(t, Options{Behavior: "exception"})
	defer w.Close()
	m := datagen.NewModel(2, 10, []event.TableID{{Schema: "conf", Table: "a"}})
	err := w.Apply(ctx, &connector.Batch{Changes: m.Changes(0, 10, 1, 0).Changes})
	if err == nil {
		t.Fatal("rows were written into an incompatible table")
	}
	for _, want := range []string{
		`column "id" is integer, which cannot hold every int64`, `ALTER COLUMN "id" TYPE bigint`,
		`column "name" is character varying(10)`, `column "qty" (int32 in the source) is missing: ALTER TABLE "conf"."a" ADD COLUMN IF NOT EXISTS "qty" integer`,
		`column "extra" is NOT NULL without a default`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the report lacks %q:\n%v", want, err)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM conf.a`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows written (%v)", n, err)
	}

	// Under lenient (the default), a snapshot into the table widens it, as streaming the
	// same schema change would, and its rows go in.
	w2 := open(t, Options{})
	defer w2.Close()
	if err := w2.Apply(ctx, &connector.Batch{Changes: m.Changes(0, 10, 1, 0).Changes}); err != nil {
		t.Fatal(err)
	}
	if err := w2.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "conformance", Generation: w2.gen, Seq: 1, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var idType, extraNull string
	if err := conn.QueryRow(ctx, `SELECT (SELECT data_type FROM information_schema.columns WHERE table_schema = 'conf' AND table_name = 'a' AND column_name = 'id'),
		(SELECT is_nullable FROM information_schema.columns WHERE table_schema = 'conf' AND table_name = 'a' AND column_name = 'extra')`).Scan(&idType, &extraNull); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM conf.a`).Scan(&n); err != nil || n == 0 || idType != "bigint" || extraNull != "YES" {
		t.Fatalf("after a lenient snapshot: %d rows (%v), id %s, extra nullable %s", n, err, idType, extraNull)
	}
}

// TestTypeMatrix: every row of the type mapping (types.go) holds its widest, narrowest
// and ordinary values, through the COPY path and the upsert path.
func TestTypeMatrix(t *testing.T) {
	conformance.RunTypeMatrix(t, event.TableID{Schema: "conf", Table: "types"},
		conformance.TypeLimits{MinTime: 0, MaxTime: 24 * 3600e6, NoNUL: true},
		func(t *testing.T) connector.Sink { return open(t, Options{}) },
		func(t *testing.T, s *event.Schema) []event.Row {
			rows, _, err := ReadRows(context.Background(), connect(t), s, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			return rows
		})
}
