package mysql

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/testenv"
)

// db is the project's tuned server (utf8mb4); stock has MariaDB's built-in defaults
// (latin1), as most users' servers do. Tests of what the server's defaults could change run
// against both.
var db, stock *testenv.MariaDB

func TestMain(m *testing.M) {
	var err error
	if db, err = testenv.StartMariaDB(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if stock, err = testenv.StartStockMariaDB(); err != nil {
		db.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	db.Stop()
	stock.Stop()
	os.Exit(code)
}

// servers runs f against both servers, as subtests named after them.
func servers(t *testing.T, f func(t *testing.T, m *testenv.MariaDB)) {
	for _, m := range []*testenv.MariaDB{db, stock} {
		name := "utf8mb4"
		if m.Stock() {
			name = "stock-latin1"
		}
		t.Run(name, func(t *testing.T) { f(t, m) })
	}
}

func exec(t *testing.T, sql string) { t.Helper(); execOn(t, db, sql) }

func execOn(t *testing.T, m *testenv.MariaDB, sql string) {
	t.Helper()
	if err := m.Exec("", sql); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, tables string) *Source { t.Helper(); return openOn(t, db, tables) }

func openOn(t *testing.T, m *testenv.MariaDB, tables string) *Source {
	t.Helper()
	s, err := New(context.Background(), Options{Host: "127.0.0.1", Port: m.Port, User: "root", Tables: tables,
		Heartbeat: time.Second}, connector.Env{Pipeline: "test", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	exec(t, `CREATE DATABASE conf; USE conf; CREATE TABLE conf.items (id BIGINT PRIMARY KEY, name VARCHAR(40), v INT);
		CREATE TABLE conf.pairs (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b));
		INSERT INTO conf.items SELECT seq, CONCAT('item-', seq), seq % 7 FROM seq_1_to_1000;
		INSERT INTO conf.pairs SELECT seq DIV 3, CONCAT('k', seq % 3), seq FROM seq_1_to_500`)
	next := 100000
	conformance.RunSourceSuite(t, conformance.SourceHarness{
		Open: func(t *testing.T) connector.Source { return open(t, `conf.\.*`) },
		Rows: func(t *testing.T, id event.TableID) int64 {
			out, err := db.Query("", "SELECT COUNT(*) FROM "+id.Schema+"."+id.Table)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			fmt.Sscan(out, &n)
			return n
		},
		MakeChanges: func(t *testing.T, n int) {
			var b strings.Builder
			for i := 0; i < n; i += 5 {
				b.WriteString("BEGIN;")
				for j := 0; j < 5; j++ {
					next++
					fmt.Fprintf(&b, "INSERT INTO conf.items VALUES (%d, 'new', 1); UPDATE conf.items SET v = v + 1 WHERE id = %d;", next, next%1000+1)
				}
				b.WriteString("COMMIT;")
			}
			exec(t, b.String())
		},
	})
}

// TestTableWithoutKey: a table without a primary key is resolved without a key (the
// sinks that append take it; an upserting sink refuses it, sqlsink.NeedsKey), snapshotted
// as one chunk, and its changes stream; a unique NOT NULL key column, where configured,
// becomes its key.
func TestTableWithoutKey(t *testing.T) {
	exec(t, `CREATE DATABASE nopk; CREATE TABLE nopk.t (code VARCHAR(10) NOT NULL, v INT, UNIQUE KEY (code));
		INSERT INTO nopk.t VALUES ('a', 1), ('b', 2), ('c', 3)`)
	s, tables, start := openAt(t, `nopk.t`)
	if len(tables) != 1 || len(tables[0].Key) != 0 {
		t.Fatalf("tables: %v", tables)
	}
	var chunks []snapshot.Chunk
	for c, err := range s.SplitChunks(context.Background(), tables[0], snapshot.SplitHint{Rows: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	n := 0
	if len(chunks) != 1 || s.ReadChunk(context.Background(), tables[0], chunks[0], func(rs []event.Row) error { n += len(rs); return nil }) != nil || n != 3 {
		t.Fatalf("%d chunks, %d rows: want the table whole in one chunk", len(chunks), n)
	}
	exec(t, "UPDATE nopk.t SET v = 20 WHERE code = 'b'; DELETE FROM nopk.t WHERE code = 'c'")
	var ops []string
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			ops = append(ops, c.Op.String())
		}
		return len(ops) == 2
	})
	if strings.Join(ops, ",") != "update,delete" {
		t.Fatalf("changes %v", ops)
	}
	s2, err := New(context.Background(), Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "nopk.t", KeyColumn: "code"}, connector.Env{Pipeline: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	keyed, err := s2.Tables(context.Background())
	if err != nil || len(keyed) != 1 || keyed[0].KeyNames()[0] != "code" {
		t.Fatalf("with a key column: %v, %v", keyed, err)
	}
}

// typeTable has a column of each MySQL type the source maps.
const typeTable = `CREATE TABLE %s (
	id INT PRIMARY KEY,
	ti TINYINT, tiu TINYINT UNSIGNED, b1 TINYINT(1), si SMALLINT, siu SMALLINT UNSIGNED,
	mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	d DECIMAL(65,30), d2 DECIMAL(10,2), f FLOAT, db DOUBLE, bt BIT(12), bt1 BIT(1),
	c CHAR(5), vc VARCHAR(50), tx TEXT, lat VARCHAR(20) CHARACTER SET latin1, gb VARCHAR(20) CHARACTER SET gbk,
	bin BINARY(4), vb VARBINARY(20), bl BLOB,
	dt DATE, tm TIME(6), tm0 TIME, dtt DATETIME(6), dtt0 DATETIME, ts TIMESTAMP(3) NULL, yr YEAR,
	js JSON, en ENUM('small','medium','large'), st SET('a','b','c'), geo POINT
)`

var typeRows = []string{
	`(1, -128, 255, 1, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
	  12345678901234567890123456789012345.123456789012345678901234567890, -99999999.99, 3.14159274, 2.718281828459045, b'101010101010', b'1',
	  'abc', 'emoji 😀 ok', 'long text', 'café', '中文',
	  X'00010203', X'DEADBEEF', X'FF00',
	  '2024-02-29', '-838:59:59.000000', '12:34:56', '9999-12-31 23:59:59.999999', '1000-01-01 00:00:00', '2038-01-19 03:14:07.123', 2024,
	  '{"b": 1, "a": [true, null]}', 'medium', 'a,c', ST_GeomFromText('POINT(1 2)'))`,
	`(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`(3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'0', b'0', '', '', '', '', '', X'00000000', X'', X'',
	  '0000-00-00', '00:00:00', '00:00:00.5', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '1970-01-01 00:00:01', 0000,
	  '[]', 'small', '', NULL)`,
}

// TestTypesSnapshotEqualsStream inserts one row of every type while the binlog is read,
// then reads the same rows in a snapshot: both paths give identical values.
// On the stock server the database is declared utf8mb4, as a user's would be who keeps
// emoji on a latin1-default server.
func TestTypesSnapshotEqualsStream(t *testing.T) { servers(t, testTypesSnapshotEqualsStream) }

func testTypesSnapshotEqualsStream(t *testing.T, m *testenv.MariaDB) {
	execOn(t, m, "CREATE DATABASE types CHARACTER SET utf8mb4; SET SESSION sql_mode = ''; "+fmt.Sprintf(typeTable, "types.t"))
	s, tables, start := openAtOn(t, m, `types.t`)
	ctx := context.Background()
	execOn(t, m, "SET SESSION sql_mode = ''; INSERT INTO types.t VALUES "+strings.Join(typeRows, ", "))

	// Stream.
	streamed := map[int64]event.Row{}
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			streamed[c.After[0].Int()] = c.After
		}
		return len(streamed) == len(typeRows) && b.Boundary
	})
	// Snapshot.
	snap := map[int64]event.Row{}
	for c, err := range s.SplitChunks(ctx, tables[0], snapshot.SplitHint{Rows: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ReadChunk(ctx, tables[0], c, func(rows []event.Row) error {
			for _, r := range rows {
				snap[r[0].Int()] = r
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(snap) != len(typeRows) {
		t.Fatalf("snapshot read %d rows, want %d", len(snap), len(typeRows))
	}
	cols := tables[0].Columns
	for id, sr := range snap {
		st := streamed[id]
		for i := range cols {
			if !sr[i].Equal(st[i]) {
				t.Errorf("row %d column %s (%s): snapshot %v (%v), stream %v (%v)", id, cols[i].Name, cols[i].SourceType, sr[i], sr[i].Rep(), st[i], st[i].Rep())
			}
		}
	}
	// And the values are the right ones.
	want := map[string]string{
		"tiu": "255", "biu": "18446744073709551615", "bi": "-9223372036854775808", "iu": "4294967295", "miu": "16777215",
		"d": "12345678901234567890123456789012345.123456789012345678901234567890",
		"f": "3.1415927410125732", "vc": "emoji 😀 ok", "lat": "café", "gb": "中文",
		"bt": "\x0a\xaa", "dt": "2024-02-29", "tm": "-838:59:59", "dtt": "9999-12-31T23:59:59.999999",
		"ts": "2038-01-19T03:14:07.123", "yr": "2024", "en": "medium", "st": "a,c",
	}
	row := snap[1]
	for name, w := range want {
		i := tables[0].ColumnIndex(name)
		if got := row[i].String(); got != w {
			t.Errorf("column %s: %q, want %q", name, got, w)
		}
	}
	if !snap[3][tables[0].ColumnIndex("dt")].IsNull() || !snap[3][tables[0].ColumnIndex("dtt")].IsNull() {
		t.Errorf("zero dates must read as NULL: %v %v", snap[3][tables[0].ColumnIndex("dt")], snap[3][tables[0].ColumnIndex("dtt")])
	}
}

// openAt opens a source on the selection and returns its tables and the binlog's end now.
func openAt(t *testing.T, tables string) (*Source, []*event.Schema, event.Position) {
	t.Helper()
	return openAtOn(t, db, tables)
}

func openAtOn(t *testing.T, m *testenv.MariaDB, tables string) (*Source, []*event.Schema, event.Position) {
	t.Helper()
	s := openOn(t, m, tables)
	schemas, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start, err := s.Position(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, schemas, start
}

// streamUntil streams from `from` until done says so (at most 30 s) and fails otherwise.
func streamUntil(t *testing.T, s *Source, from event.Position, schemas []*event.Schema, done func(event.Batch) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errDone := errors.New("done")
	err := s.Stream(ctx, from, schemas, func(_ context.Context, b event.Batch) error {
		if done(b) {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("stream from %s ended early: %v", from, err)
	}
}

// TestChunkSplitting: evenly spread integer keys are cut in even steps (no probe per
// chunk), sparse ones by probing, and either way every row is in exactly one chunk.
func TestChunkSplitting(t *testing.T) {
	exec(t, `CREATE DATABASE split; USE split;
		CREATE TABLE dense (id INT PRIMARY KEY); INSERT INTO dense SELECT seq FROM seq_1_to_20000;
		CREATE TABLE sparse (id BIGINT UNSIGNED PRIMARY KEY); INSERT INTO sparse SELECT seq * 100003 FROM seq_1_to_20000;
		ANALYZE TABLE dense, sparse`)
	s := open(t, `split.\.*`)
	tables, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range tables {
		var chunks []snapshot.Chunk
		for c, err := range s.SplitChunks(context.Background(), sc, snapshot.SplitHint{Rows: 1000}) {
			if err != nil {
				t.Fatal(err)
			}
			chunks = append(chunks, c)
		}
		total, sizes := 0, map[int]bool{}
		for _, c := range chunks {
			n := 0
			if err := s.ReadChunk(context.Background(), sc, c, func(rs []event.Row) error { n += len(rs); return nil }); err != nil {
				t.Fatal(err)
			}
			total += n
			if c.Hi != nil {
				sizes[n] = true
			}
		}
		if total != 20000 {
			t.Fatalf("%s: the chunks hold %d rows, want 20000", sc.ID, total)
		}
		switch sc.ID.Table {
		case "dense": // even steps: chunk bounds a constant step apart
			step := chunks[2].Hi[0].Int() - chunks[1].Hi[0].Int()
			for i := 2; i < len(chunks)-1; i++ {
				if d := chunks[i].Hi[0].Int() - chunks[i-1].Hi[0].Int(); d != step {
					t.Fatalf("dense: chunk %d spans %d keys, chunk 1 %d: not even steps", i, d, step)
				}
			}
			if step < 500 || step > 2000 {
				t.Fatalf("dense: step %d for 1000-row chunks", step)
			}
		case "sparse": // probed: every chunk but the last holds exactly 1000 rows
			if len(sizes) != 1 || !sizes[1000] {
				t.Fatalf("sparse: chunk sizes %v, want exactly 1000 (probed)", sizes)
			}
		}
		t.Logf("%s: %d chunks", sc.ID, len(chunks))
	}
}
