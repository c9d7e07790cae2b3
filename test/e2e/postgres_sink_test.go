package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/postgres"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/source/mysql"
	"github.com/weir-data/weir/internal/testenv"
)

const toPostgresPipeline = `
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: %s
  heartbeat.interval: 300ms
sink:
  type: postgres
  url: %s
pipeline:
  name: topg
  parallelism: 2
  checkpoint.interval: 300ms
  schema.change.behavior: %s
`

// mariaToPG is a private MariaDB and PostgreSQL with a pipeline file between them.
type mariaToPG struct {
	db  *testenv.MariaDB
	pg  *testenv.Postgres
	dir string
}

func startMariaToPG(t *testing.T, setup, tables, behavior string) *mariaToPG {
	t.Helper()
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Stop() })
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	if err := pg.Exec(context.Background(), "postgres", "CREATE DATABASE dw"); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("", setup); err != nil {
		t.Fatal(err)
	}
	e := &mariaToPG{db: db, pg: pg, dir: t.TempDir()}
	writeFile(t, filepath.Join(e.dir, "p.yaml"), fmt.Sprintf(toPostgresPipeline, db.Port, tables, pg.URL("dw"), behavior))
	return e
}

// sourceTables reads the selected tables of the MariaDB whole: their schemas now and
// their rows.
func (e *mariaToPG) sourceTables(t *testing.T, tables string) ([]*event.Schema, map[event.TableID][]event.Row) {
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

// targetRows reads table s from PostgreSQL in s's shape.
func (e *mariaToPG) targetRows(t *testing.T, s *event.Schema) []event.Row {
	t.Helper()
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

// waitEqual waits until each table of the selection reads the same in PostgreSQL as in
// MariaDB (as unified values, through the source's schema) and fails with the difference
// after a minute.
func (e *mariaToPG) waitEqual(t *testing.T, p *proc, tables string) {
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

// TestTypesIntoPostgres: every MariaDB type the source maps reaches PostgreSQL with its
// value, by the snapshot (COPY) and by the stream (upserts), and reads back equal.
func TestTypesIntoPostgres(t *testing.T) {
	e := startMariaToPG(t, fmt.Sprintf(pgTypeTable, pgTypeRows(1)), "types.t", "lenient")
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
}

// TestSchemaEvolutionIntoPostgres: while rows keep flowing into two tables, one gets a
// column added (with a default the existing rows take), a column widened and a VARCHAR
// lengthened, which PostgreSQL takes; the other gets a new primary key, which an
// upserting sink cannot follow: that table pauses with a message, the first goes on.
func TestSchemaEvolutionIntoPostgres(t *testing.T) {
	e := startMariaToPG(t, `CREATE DATABASE shop; USE shop;
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

	conn, err := pgx.Connect(context.Background(), e.pg.URL("dw"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	types := map[string]string{}
	rows, err := conn.Query(context.Background(), `SELECT column_name, data_type || coalesce('(' || character_maximum_length || ')', '')
		FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 'a'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c, ty string
		rows.Scan(&c, &ty)
		types[c] = ty
	}
	if types["v"] != "bigint" || types["note"] != "character varying(50)" || types["c2"] != "integer" {
		t.Fatalf("evolved columns of shop.a: %v", types)
	}
	if !strings.Contains(p.stderr.String(), `table \"shop\".\"b\" is paused`) || !strings.Contains(p.stderr.String(), "primary key changed") {
		t.Fatalf("no pause message for shop.b:\n%s", p.stderr)
	}
	var inTarget, inSource int
	conn.QueryRow(context.Background(), `SELECT count(*) FROM shop.b`).Scan(&inTarget)
	_, src := e.sourceTables(t, "shop.b")
	inSource = len(src[event.TableID{Schema: "shop", Table: "b"}])
	if inTarget >= inSource {
		t.Fatalf("shop.b has %d rows in the target and %d in the source: it should have paused", inTarget, inSource)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
}
