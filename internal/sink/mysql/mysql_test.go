package mysql

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/testenv"
)

var db *testenv.MariaDB

func TestMain(m *testing.M) {
	var err error
	if db, err = testenv.StartMariaDB(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	db.Stop()
	os.Exit(code)
}

var (
	freshMu sync.Mutex
	fresh   = map[*testing.T]bool{}
)

// sinkURL returns the sink URL for test t; the first call of a test empties the databases
// the tests write (tests of this package run one at a time).
func sinkURL(t *testing.T) string {
	t.Helper()
	freshMu.Lock()
	defer freshMu.Unlock()
	if !fresh[t] {
		fresh[t] = true
		if err := db.Exec("", "DROP DATABASE IF EXISTS conf; DROP DATABASE IF EXISTS weir; DROP DATABASE IF EXISTS other"); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("mysql://root@127.0.0.1:%d/weir", db.Port)
}

func connect(t *testing.T) *client.Conn {
	t.Helper()
	c, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", db.Port), "root", "", "", func(c *client.Conn) error { return c.SetCollation("utf8mb4_general_ci") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func open(t *testing.T, o Options) *Writer {
	t.Helper()
	o.URL = sinkURL(t)
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

func image(t *testing.T, c *client.Conn, schemas []*event.Schema) map[string]map[string]any {
	t.Helper()
	img := map[string]map[string]any{}
	for _, s := range schemas {
		rows, _, err := ReadRows(c, s, nil, "")
		if err != nil {
			if mysqlCode(err) == 1146 {
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
func readChangelog(t *testing.T, c *client.Conn, schemas []*event.Schema) []conformance.Record {
	t.Helper()
	var out []conformance.Record
	for _, s := range schemas {
		rows, extra, err := ReadRows(c, s, []string{colOp, colPos, colBefore}, colSeq)
		if err != nil {
			if mysqlCode(err) == 1146 {
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
			if err := s.(*Writer).commitParts(context.Background(), true); err != nil {
				t.Fatal(err)
			}
		},
		Rows: func(t *testing.T, id event.TableID) int { return count(t, id.String()) },
		Image: func(t *testing.T, schemas []*event.Schema) map[string]map[string]any {
			return image(t, connect(t), schemas)
		},
		Changelog: func(t *testing.T, schemas []*event.Schema) []conformance.Record {
			return readChangelog(t, connect(t), schemas)
		},
		Prepare: func(t *testing.T, s connector.Sink, _ int64) {
			xids, err := s.(*Writer).prepareParts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			prepared[s] = xids
		},
		Record: func(t *testing.T, s connector.Sink, cp *checkpoint.Checkpoint) {
			if err := s.(*Writer).record(context.Background(), cp, prepared[s]); err != nil {
				t.Fatal(err)
			}
		},
		Prepared: func(t *testing.T) int {
			out, err := db.Query("", "XA RECOVER")
			if err != nil {
				t.Fatal(err)
			}
			return strings.Count(out, "weir/")
		},
	})
}

// prepared holds the XA ids a test prepared, by sink.
var prepared = map[connector.Sink][]string{}

// count is the number of rows of a table, 0 when it does not exist.
func count(t *testing.T, table string) int {
	t.Helper()
	out, err := db.Query("", "SELECT COUNT(*) FROM "+table)
	if err != nil {
		if strings.Contains(err.Error(), "doesn't exist") {
			return 0
		}
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(out, &n)
	return n
}

// TestCheck: `weir validate` passes a reachable server whose user may create tables, and
// names the field and the fix otherwise.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	u := sinkURL(t)
	if problems := check(ctx, u, "line 3", "weir_checkpoints"); len(problems) != 0 {
		t.Fatalf("a good server: %v", problems)
	}
	if err := db.Exec("", "CREATE USER IF NOT EXISTS reader@'%' IDENTIFIED BY 'r'; GRANT SELECT ON *.* TO reader@'%'"); err != nil {
		t.Fatal(err)
	}
	// A user with just what the sink needs passes (XA RECOVER included: MariaDB lets any
	// user list prepared XA transactions; MySQL 8 wants XA_RECOVER_ADMIN).
	if err := db.Exec("", "CREATE USER IF NOT EXISTS writer@'%' IDENTIFIED BY 'w'; GRANT CREATE, ALTER, INSERT, UPDATE, DELETE, SELECT ON *.* TO writer@'%'"); err != nil {
		t.Fatal(err)
	}
	if problems := check(ctx, strings.Replace(u, "root@", "writer:w@", 1), "line 3", "weir_checkpoints"); len(problems) != 0 {
		t.Fatalf("a user with the privileges the sink needs: %v", problems)
	}
	problems := check(ctx, strings.Replace(u, "root@", "reader:r@", 1), "line 3", "weir_checkpoints")
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "may not create tables; run: GRANT") {
		t.Fatalf("a user without CREATE: %v", problems)
	}
	problems = check(ctx, strings.Replace(u, "root@", "reader:wrong@", 1), "line 3", "weir_checkpoints")
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "check the user and password") {
		t.Fatalf("a wrong password: %v", problems)
	}
	problems = check(ctx, "mysql://root@127.0.0.1:1/x", "line 3", "weir_checkpoints")
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "url (line 3): cannot connect") {
		t.Fatalf("an unreachable server: %v", problems)
	}
	if problems = check(ctx, "postgres://x@y/z", "line 3", "weir_checkpoints"); len(problems) != 1 || !strings.Contains(problems[0].Error(), "want mysql://") {
		t.Fatalf("a URL of another scheme: %v", problems)
	}
	if problems = check(ctx, u, "line 3", "a.b.c"); len(problems) != 1 || !strings.Contains(problems[0].Error(), "checkpoint.table") {
		t.Fatalf("a bad checkpoint table: %v", problems)
	}
}

// TestIncompatibleTableIsReported: an existing table that cannot take the source's rows
// is reported column by column, each with its fix, and nothing is written to it.
func TestIncompatibleTableIsReported(t *testing.T) {
	ctx := context.Background()
	u := sinkURL(t)
	if err := db.Exec("", `CREATE DATABASE conf; CREATE TABLE conf.a (id int PRIMARY KEY, name varchar(10),
		amount decimal(12,2), status text, updated_at datetime(6), note text, extra int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	w, err := New(ctx, Options{URL: u, Pipeline: "conformance", Parallelism: 1, Behavior: "exception"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m := datagen.NewModel(2, 10, []event.TableID{{Schema: "conf", Table: "a"}})
	err = w.Apply(ctx, &connector.Batch{Changes: m.Changes(0, 10, 1, 0).Changes})
	if err == nil {
		t.Fatal("rows were written into an incompatible table")
	}
	for _, want := range []string{
		"column `id` is int(11), which cannot hold every int64", "MODIFY COLUMN `id` bigint",
		"column `name` is varchar(10)", "column `qty` (int32 in the source) is missing: ALTER TABLE `conf`.`a` ADD COLUMN `qty` int",
		"column `extra` is NOT NULL without a default",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the report lacks %q:\n%v", want, err)
		}
	}
	if n := count(t, "conf.a"); n != 0 {
		t.Fatalf("%d rows written", n)
	}

	// Under lenient (the default), a snapshot into the table widens it, as streaming the
	// same schema change would, and its rows go in.
	w.Close()
	w2, err := New(ctx, Options{URL: u, Pipeline: "conformance", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if err := w2.Apply(ctx, &connector.Batch{Changes: m.Changes(0, 10, 1, 0).Changes}); err != nil {
		t.Fatal(err)
	}
	if err := w2.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "conformance", Generation: w2.gen, Seq: 1, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cols, err := db.Query("", "SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE, ' ', IS_NULLABLE) ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'conf' AND TABLE_NAME = 'a'")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, "conf.a"); n == 0 || !strings.Contains(cols, "id bigint") || !strings.Contains(cols, "extra int(11) YES") {
		t.Fatalf("after a lenient snapshot: %d rows, columns %s", n, cols)
	}
}

// TestTypeMatrix: every row of the type mapping (types.go) holds its widest, narrowest
// and ordinary values, through the snapshot path and the upsert path.
func TestTypeMatrix(t *testing.T) {
	conformance.RunTypeMatrix(t, event.TableID{Schema: "conf", Table: "types"},
		conformance.TypeLimits{MinTime: -3020399000000, MaxTime: 3020399000000}, // ±838:59:59
		func(t *testing.T) connector.Sink { return open(t, Options{}) },
		func(t *testing.T, s *event.Schema) []event.Row {
			rows, _, err := ReadRows(connect(t), s, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			return rows
		})
}
