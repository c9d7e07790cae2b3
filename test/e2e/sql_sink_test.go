package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	mysqlsink "github.com/weir-data/weir/internal/sink/mysql"
	"github.com/weir-data/weir/internal/sink/postgres"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/source/mysql"
	"github.com/weir-data/weir/internal/testenv"
)

const toSQLPipeline = `
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: %s
  heartbeat.interval: 300ms
sink:
  type: %s
  url: %s
pipeline:
  name: tosql
  parallelism: 2
  checkpoint.interval: 300ms
  schema.change.behavior: %s
`

// mariaTo is a private MariaDB source and a private target server (PostgreSQL, or a
// second MariaDB) with a pipeline file between them.
type mariaTo struct {
	kind string // the sink type: postgres or mariadb
	db   *testenv.MariaDB
	pg   *testenv.Postgres
	dst  *testenv.MariaDB
	dir  string
}

// sinkKinds are the SQL sinks the tests below run against.
var sinkKinds = []string{"postgres", "mariadb"}

func startMariaTo(t *testing.T, kind, setup, tables, behavior string) *mariaTo {
	t.Helper()
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Stop() })
	e := &mariaTo{kind: kind, db: db, dir: t.TempDir()}
	var url string
	switch kind {
	case "postgres":
		if e.pg, err = testenv.StartPostgres(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.pg.Stop() })
		if err := e.pg.Exec(context.Background(), "postgres", "CREATE DATABASE dw"); err != nil {
			t.Fatal(err)
		}
		url = e.pg.URL("dw")
	default:
		if e.dst, err = testenv.StartMariaDB(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.dst.Stop() })
		url = fmt.Sprintf("mysql://root@127.0.0.1:%d/weir", e.dst.Port)
	}
	if err := db.Exec("", setup); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.dir, "p.yaml"), fmt.Sprintf(toSQLPipeline, db.Port, tables, kind, url, behavior))
	return e
}

// sourceTables reads the selected tables of the MariaDB whole: their schemas now and
// their rows.
func (e *mariaTo) sourceTables(t *testing.T, tables string) ([]*event.Schema, map[event.TableID][]event.Row) {
	t.Helper()
	src, err := mysql.New(context.Background(), mysql.Options{Host: "127.0.0.1", Port: e.db.Port, User: "root", Tables: tables}, connector.Env{Pipeline: "check"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	schemas, err := src.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows := map[event.TableID][]event.Row{}
	for _, s := range schemas {
		if err := src.ReadChunk(context.Background(), s, snapshot.Chunk{Table: s.ID}, func(rs []event.Row) error {
			rows[s.ID] = append(rows[s.ID], rs...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return schemas, rows
}

// targetRows reads table s from the target in s's shape; none when it is not there.
func (e *mariaTo) targetRows(t *testing.T, s *event.Schema) []event.Row {
	t.Helper()
	if e.kind != "postgres" {
		c := connectMariaDB(t, e.dst)
		defer c.Close()
		rows, _, err := mysqlsink.ReadRows(c, s, nil, "")
		if err != nil {
			if strings.Contains(err.Error(), "doesn't exist") {
				return nil
			}
			t.Fatal(err)
		}
		return rows
	}
	conn, err := pgx.Connect(context.Background(), e.pg.URL("dw"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _, err := postgres.ReadRows(context.Background(), conn, s, nil, "")
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatal(err)
	}
	return rows
}

func connectMariaDB(t *testing.T, db *testenv.MariaDB) *client.Conn {
	t.Helper()
	c, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", db.Port), "root", "", "", func(c *client.Conn) error { return c.SetCollation("utf8mb4_general_ci") })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// targetQuery runs a query in the target and returns its rows as text, tab-separated.
func (e *mariaTo) targetQuery(t *testing.T, q string) []string {
	t.Helper()
	var out []string
	if e.kind != "postgres" {
		res, err := e.dst.Query("", q)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(res), "\n")
	}
	conn, err := pgx.Connect(context.Background(), e.pg.URL("dw"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for _, v := range vals {
			cols = append(cols, fmt.Sprint(v))
		}
		out = append(out, strings.Join(cols, "\t"))
	}
	return out
}

// waitEqual waits until each table of the selection reads the same in the target as in
// MariaDB (as unified values, through the source's schema) and fails with the difference
// after a minute.
func (e *mariaTo) waitEqual(t *testing.T, p *proc, tables string) {
	t.Helper()
	var diff string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if p.exited() {
			t.Fatalf("weir exited:\n%s", p.stderr)
		}
		schemas, rows := e.sourceTables(t, tables)
		diff = ""
		for _, s := range schemas {
			want, err := conformance.TableImage(s, rows[s.ID])
			if err != nil {
				t.Fatal(err)
			}
			got, err := conformance.TableImage(s, e.targetRows(t, s))
			if err != nil {
				t.Fatal(err)
			}
			if d := conformance.DiffImages(want, got, 5); d != "" {
				diff += s.ID.String() + ": " + d + "\n"
			}
		}
		if diff == "" {
			return
		}
	}
	t.Fatalf("the target does not equal the source:\n%s\nweir's log:\n%s", diff, p.stderr)
}

// pgTypeTable has a column of each MariaDB type the source maps (as in the source's own
// type test), with TIME inside the range a PostgreSQL time holds.
const pgTypeTable = `CREATE DATABASE types; USE types; SET SESSION sql_mode = '';
CREATE TABLE types.t (
	id INT PRIMARY KEY,
	ti TINYINT, tiu TINYINT UNSIGNED, b1 TINYINT(1), si SMALLINT, siu SMALLINT UNSIGNED,
	mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	d DECIMAL(65,30), d2 DECIMAL(10,2), f FLOAT, db DOUBLE, bt BIT(12), bt1 BIT(1),
	c CHAR(5), vc VARCHAR(50), tx TEXT, lat VARCHAR(20) CHARACTER SET latin1, gb VARCHAR(20) CHARACTER SET gbk,
	bin BINARY(4), vb VARBINARY(20), bl BLOB,
	dt DATE, tm TIME(6), tm0 TIME, dtt DATETIME(6), dtt0 DATETIME, ts TIMESTAMP(3) NULL, yr YEAR,
	js JSON, en ENUM('small','medium','large'), st SET('a','b','c'), geo POINT
);
INSERT INTO types.t VALUES %s;`

func pgTypeRows(base int) string {
	rows := []string{
		`(%d, -128, 255, 1, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
		  12345678901234567890123456789012345.123456789012345678901234567890, -99999999.99, 3.14159274, 2.718281828459045, b'101010101010', b'1',
		  'abc', 'emoji 😀 ok', 'long\ttext\nwith \\ escapes', 'café', '中文',
		  X'00010203', X'DEADBEEF', X'FF00',
		  '2024-02-29', '23:59:59.999999', '12:34:56', '9999-12-31 23:59:59.999999', '1000-01-01 00:00:00', '2038-01-19 03:14:07.123', 2024,
		  '{"b": 1, "a": [true, null]}', 'medium', 'a,c', ST_GeomFromText('POINT(1 2)'))`,
		`(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`(%d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'0', b'0', '', '', '', '', '', X'00000000', X'', X'',
		  '0000-00-00', '00:00:00', '00:00:00.5', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '1970-01-01 00:00:01', 0000,
		  '[]', 'small', '', NULL)`,
	}
	for i := range rows {
		rows[i] = fmt.Sprintf(rows[i], base+i)
	}
	return strings.Join(rows, ", ")
}

// TestTypesIntoSQL: every MariaDB type the source maps reaches PostgreSQL and MariaDB
// with its value, by the snapshot (COPY, multi-row inserts) and by the stream (upserts),
// and reads back equal.
func TestTypesIntoSQL(t *testing.T) {
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) { typesInto(t, kind) })
	}
}

func typesInto(t *testing.T, kind string) {
	e := startMariaTo(t, kind, fmt.Sprintf(pgTypeTable, pgTypeRows(1)), "types.t", "lenient")
	// weir validate warns of the values the target cannot hold: into PostgreSQL, MySQL
	// TIMEs beyond a day and NUL characters in text; into MariaDB, nothing.
	code, out := runWeir(t, e.dir, "validate", "p.yaml")
	var warnings []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "warning:") {
			warnings = append(warnings, line)
		}
	}
	want := map[string][]string{"postgres": {
		"warning: sink postgres: types.t (tm, tm0): PostgreSQL's time holds 00:00:00 to 24:00:00",
		"warning: sink postgres: types.t (c, vc, tx, lat, gb, js, en, st): PostgreSQL text cannot hold a NUL character",
	}}[kind]
	if code != 0 || len(warnings) != len(want) {
		t.Fatalf("validate: exit %d, warnings %q, want %d\n%s", code, warnings, len(want), out)
	}
	for i := range want {
		if !strings.HasPrefix(warnings[i], want[i]) {
			t.Errorf("validate warning %d:\n%s\nwant it to begin\n%s", i, warnings[i], want[i])
		}
	}
	p := start(t, e.dir, "run", "p.yaml")
	defer p.signal(syscall.SIGKILL)
	e.waitEqual(t, p, "types.t")
	if err := e.db.Exec("types", "SET SESSION sql_mode = ''; INSERT INTO types.t VALUES "+pgTypeRows(11)+
		"; UPDATE types.t SET vc = 'updated', d2 = 1.5 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	e.waitEqual(t, p, "types.t")
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	if kind == "postgres" {
		// MariaDB's JSON (LONGTEXT with a json_valid check) is JSON: jsonb.
		conn, err := pgx.Connect(context.Background(), e.pg.URL("dw"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var ty string
		if err := conn.QueryRow(context.Background(), `SELECT data_type FROM information_schema.columns
			WHERE table_schema = 'types' AND table_name = 't' AND column_name = 'js'`).Scan(&ty); err != nil || ty != "jsonb" {
			t.Errorf("column js is %q in the sink (%v), want jsonb", ty, err)
		}
		return
	}
	// Same engine, same types: MariaDB's own ENUM, SET, BIT, YEAR, POINT and JSON stay as
	// they are (JSON is LONGTEXT with a json_valid check in MariaDB).
	if out, err := e.dst.Query("", "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = 'types' AND TABLE_NAME = 't'"); err != nil ||
		!strings.Contains(out, "json_valid(`js`)") {
		t.Errorf("column js is not JSON in the sink (its checks: %q, %v)", out, err)
	}
	out, err := e.dst.Query("", "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'types' AND TABLE_NAME = 't'")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if n, ty, ok := strings.Cut(line, "\t"); ok {
			got[n] = ty
		}
	}
	for col, want := range map[string]string{"en": "enum('small','medium','large')", "st": "set('a','b','c')", "bt": "bit(12)",
		"bt1": "bit(1)", "yr": "year(4)", "geo": "point"} {
		if got[col] != want {
			t.Errorf("column %s is %s in the sink, want %s", col, got[col], want)
		}
	}
}

// TestSchemaEvolutionIntoSQL: while rows keep flowing into two tables, one gets a column
// added (with a default the existing rows take), a column widened and a VARCHAR
// lengthened, which the target takes; the other gets a new primary key, which an
// upserting sink cannot follow: that table pauses with a message, the first goes on.
func TestSchemaEvolutionIntoSQL(t *testing.T) {
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) { schemaEvolutionInto(t, kind) })
	}
}

func schemaEvolutionInto(t *testing.T, kind string) {
	e := startMariaTo(t, kind, `CREATE DATABASE shop; USE shop;
		CREATE TABLE a (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(10));
		CREATE TABLE b (id INT PRIMARY KEY, v INT NOT NULL);
		INSERT INTO a SELECT seq, seq, 'n' FROM seq_1_to_2000; INSERT INTO b SELECT seq, seq FROM seq_1_to_2000`,
		"shop.a,shop.b", "lenient")
	p := start(t, e.dir, "run", "p.yaml")
	defer p.signal(syscall.SIGKILL)
	e.waitEqual(t, p, "shop.a,shop.b")

	// Rows keep flowing into both tables throughout.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 3000; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := e.db.Exec("shop", fmt.Sprintf("INSERT INTO a (id, v) VALUES (%d, %d); INSERT INTO b VALUES (%d, %d); UPDATE a SET v = v + 1 WHERE id = %d",
				n, n, n, n, n%2000+1)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := e.db.Exec("shop", `ALTER TABLE a ADD COLUMN c2 INT NOT NULL DEFAULT 7;
		ALTER TABLE a MODIFY v BIGINT NOT NULL;
		ALTER TABLE a MODIFY note VARCHAR(50);
		INSERT INTO a VALUES (100000, 9000000000, 'a note longer than ten', 8);
		ALTER TABLE b DROP PRIMARY KEY, ADD PRIMARY KEY (id, v)`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	e.waitEqual(t, p, "shop.a")

	types := map[string]string{}
	q, want, paused := `SELECT column_name, data_type || coalesce('(' || character_maximum_length || ')', '')
		FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 'a'`,
		map[string]string{"v": "bigint", "note": "character varying(50)", "c2": "integer"}, `table \"shop\".\"b\" is paused`
	if kind != "postgres" {
		q, want, paused = `SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'a'`,
			map[string]string{"v": "bigint(20)", "note": "varchar(50)", "c2": "int(11)"}, "table `shop`.`b` is paused"
	}
	for _, line := range e.targetQuery(t, q) {
		c, ty, _ := strings.Cut(line, "\t")
		types[c] = ty
	}
	for c, ty := range want {
		if types[c] != ty {
			t.Fatalf("evolved columns of shop.a: %v, want %v", types, want)
		}
	}
	if !strings.Contains(p.stderr.String(), paused) || !strings.Contains(p.stderr.String(), "primary key changed") {
		t.Fatalf("no pause message for shop.b:\n%s", p.stderr)
	}
	var inTarget int
	fmt.Sscan(e.targetQuery(t, "SELECT count(*) FROM shop.b")[0], &inTarget)
	_, src := e.sourceTables(t, "shop.b")
	inSource := len(src[event.TableID{Schema: "shop", Table: "b"}])
	if inTarget >= inSource {
		t.Fatalf("shop.b has %d rows in the target and %d in the source: it should have paused", inTarget, inSource)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
}

// TestMariaDBToMariaDBSIGKILL is TestMariaDBSIGKILL with the MySQL/MariaDB sink into a
// second MariaDB server: in upsert mode the table equals the source's, in changelog mode
// the changelog table holds every change exactly once.
func TestMariaDBToMariaDBSIGKILL(t *testing.T) {
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) {
			dst, err := testenv.StartMariaDB()
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Stop()
			sigkillConverges(t, 100000, "id BIGINT PRIMARY KEY", "seq",
				func(n int) string { return fmt.Sprint(n) }, func(n int) string { return fmt.Sprint(n) }, true, mariadbTarget(dst, mode))
		})
	}
}

func mariadbTarget(dst *testenv.MariaDB, mode string) target {
	read := func(t *testing.T, s *event.Schema, extra []string, order string) ([]event.Row, [][]string) {
		c := connectMariaDB(t, dst)
		defer c.Close()
		rows, ex, err := mysqlsink.ReadRows(c, s, extra, order)
		if err != nil {
			t.Fatal(err)
		}
		return rows, ex
	}
	tg := target{yaml: fmt.Sprintf("  type: mariadb\n  url: mysql://root@127.0.0.1:%d/weir\n  sink.mode: %s", dst.Port, mode)}
	tg.diagnose = func(t *testing.T) string {
		var out strings.Builder
		for _, q := range []string{
			"SELECT ID, COMMAND, TIME, STATE, LEFT(INFO, 120) FROM information_schema.PROCESSLIST",
			"XA RECOVER",
			"SELECT trx_id, trx_state, trx_mysql_thread_id, trx_isolation_level, trx_rows_locked, trx_lock_structs FROM information_schema.INNODB_TRX",
			"SELECT * FROM information_schema.INNODB_LOCKS",
			"SELECT * FROM information_schema.INNODB_LOCK_WAITS",
		} {
			res, err := dst.Query("", q)
			if err != nil {
				res = err.Error()
			}
			fmt.Fprintf(&out, "> %s\n%s\n", q, res)
		}
		return out.String()
	}
	return tg.withReader(read, mode)
}

// TestSourceIndexes: into PostgreSQL and into MariaDB, the source table's secondary indexes
// — plain, unique, composite with a descending column, on a prefix, FULLTEXT — are made in
// the table weir creates once its snapshot is in, a unique one as a plain index; a restart
// does not look at them again (the checkpoint holds them as built); a table that was in the target before weir is left as it is, and the
// run says which of the source's indexes it lacks. Then, under evolve, index DDL at the
// source (ALTER TABLE … ADD/DROP INDEX, CREATE INDEX, DROP INDEX) is followed.
func TestSourceIndexes(t *testing.T) {
	for _, kind := range []string{"postgres", "mariadb"} {
		t.Run(kind, func(t *testing.T) {
			e := startMariaTo(t, kind, `CREATE DATABASE shop; USE shop;
				CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), n INT, note TEXT, code VARCHAR(20), title VARCHAR(700),
					KEY k_n (n), UNIQUE KEY u_code (code), KEY k_name_n (name, n DESC), KEY k_note (note(10)), FULLTEXT KEY f_name (name), KEY k_title (title));
				INSERT INTO items SELECT seq, CONCAT('item ', seq), seq % 10, REPEAT('x', seq % 50), CONCAT('C', seq), REPEAT('é', 690 + seq % 10) FROM seq_1_to_3000;
				CREATE TABLE mine (id INT PRIMARY KEY, v INT, KEY k_v (v)); INSERT INTO mine VALUES (1, 1)`, "shop.items, shop.mine", "evolve")
			// shop.mine is the user's own table in the target, made before weir.
			var err error
			if kind == "postgres" {
				err = e.pg.Exec(context.Background(), "dw", "CREATE SCHEMA shop; CREATE TABLE shop.mine (id int PRIMARY KEY, v int)")
			} else {
				err = e.dst.Exec("", "CREATE DATABASE shop; CREATE TABLE shop.mine (id INT PRIMARY KEY, v INT)")
			}
			if err != nil {
				t.Fatal(err)
			}
			p := start(t, e.dir, "run", "p.yaml")
			e.waitEqual(t, p, "shop.items, shop.mine")
			waitFor(t, "the indexes built", time.Minute, func() bool { return strings.Count(p.stderr.String(), "built an index of the source table") == 6 })
			waitFor(t, "shop.items ready", time.Minute, func() bool {
				return strings.Contains(p.stderr.String(), `msg="a table is ready" pipeline=tosql table=shop.items why="its snapshot is in and its indexes are built"`)
			})
			indexes := func() map[string]string { // index → what it is, as the target says
				got := map[string]string{}
				if kind == "postgres" {
					c, err := pgx.Connect(context.Background(), e.pg.URL("dw"))
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close(context.Background())
					rows, _ := c.Query(context.Background(), `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'shop' AND tablename = 'items'`)
					for rows.Next() {
						var name, def string
						rows.Scan(&name, &def)
						got[name] = def[strings.Index(def, " USING "):]
					}
					return got
				}
				c, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", e.dst.Port), "root", "", "")
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				res, err := c.Execute(`SELECT INDEX_NAME, CONCAT(NON_UNIQUE, ' ', INDEX_TYPE, ' ', GROUP_CONCAT(CONCAT(COLUMN_NAME, IFNULL(CONCAT('(', SUB_PART, ')'), ''), IF(COLLATION = 'D', ' DESC', '')) ORDER BY SEQ_IN_INDEX))
					FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items' GROUP BY INDEX_NAME, NON_UNIQUE, INDEX_TYPE`)
				if err != nil {
					t.Fatal(err)
				}
				for i := range res.RowNumber() {
					name, _ := res.GetString(i, 0)
					def, _ := res.GetString(i, 1)
					got[name] = def
				}
				return got
			}
			got := indexes()
			if kind == "postgres" {
				for name, want := range map[string]string{"items_k_n": "USING btree (n)", "items_u_code": "USING btree (code)",
					"items_k_name_n": "USING btree (name, n DESC)", "items_k_note": "USING btree (\"left\"(note, 10))",
					"items_f_name":  "USING gin (to_tsvector('simple'::regconfig, COALESCE((name)::text, ''::text)))",
					"items_k_title": "USING hash (title)"} { // up to 2,800 bytes: more than a B-tree entry holds
					if got[name] != " "+want {
						t.Errorf("index %s: %q, want %q (all: %v)", name, got[name], want, got)
					}
				}
			} else {
				for name, want := range map[string]string{"k_n": "1 BTREE n", "u_code": "1 BTREE code", "k_name_n": "1 BTREE name,n DESC",
					"k_note": "1 BTREE note(10)", "f_name": "1 FULLTEXT name", "k_title": "1 BTREE title"} {
					if got[name] != want {
						t.Errorf("index %s: %q, want %q (all: %v)", name, got[name], want, got)
					}
				}
			}
			if !strings.Contains(p.stderr.String(), "lacks indexes the source table has") || !strings.Contains(p.stderr.String(), "k_v (v)") {
				t.Errorf("the run does not say what the user's table lacks:\n%s", p.stderr)
			}
			p.signal(syscall.SIGTERM)
			if code := p.wait(t, time.Minute); code != 0 {
				t.Fatalf("exit %d\n%s", code, p.stderr)
			}
			q := start(t, e.dir, "run", "p.yaml") // indexes there are found there
			waitFor(t, "the second run streaming", time.Minute, func() bool { return strings.Contains(q.stderr.String(), "streaming changes") })
			if err := e.db.Exec("shop", "INSERT INTO items VALUES (5000, 'new', 1, 'n', 'C5000', 't')"); err != nil {
				t.Fatal(err)
			}
			e.waitEqual(t, q, "shop.items, shop.mine")
			if strings.Contains(q.stderr.String(), "built an index") || strings.Contains(q.stderr.String(), "lacks indexes") {
				t.Errorf("the second run looked at the indexes again (the checkpoint holds them as built):\n%s", q.stderr)
			}
			// Index DDL at the source, followed under evolve.
			if err := e.db.Exec("shop", `ALTER TABLE items ADD INDEX k_code_n (code, n), DROP INDEX k_n; CREATE INDEX k_name5 ON items (name(5));
				DROP INDEX f_name ON items; INSERT INTO items VALUES (5001, 'newer', 2, 'n', 'C5001', 't')`); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the index DDL followed", time.Minute, func() bool {
				return strings.Count(q.stderr.String(), "built an index of the source table") == 2 && strings.Count(q.stderr.String(), "dropped an index the source dropped") == 2
			})
			e.waitEqual(t, q, "shop.items, shop.mine")
			got = indexes()
			want := map[string]string{"postgres": "items_k_code_n items_k_name5 items_k_name_n items_k_note items_k_title items_pkey items_u_code", "mariadb": "PRIMARY k_code_n k_name5 k_name_n k_note k_title u_code"}[kind]
			if names := strings.Join(slices.Sorted(maps.Keys(got)), " "); names != want {
				t.Errorf("after the index DDL the target has %s, want %s (%v)", names, want, got)
			}
			q.signal(syscall.SIGTERM)
			if code := q.wait(t, time.Minute); code != 0 {
				t.Fatalf("exit %d\n%s", code, q.stderr)
			}
		})
	}
}
