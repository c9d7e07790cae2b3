package mysql

import (
	"context"
	"encoding/hex"
	"fmt"
	"github.com/weir-data/weir/internal/engine"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/testenv"
)

// TestDDLTheParserLacks: statements the server accepts and the TiDB parser does not know
// as written are followed without stopping, on both servers: MariaDB's uca1400 and nopad
// collations (the second is what weir's own MariaDB sink creates its tables with),
// ALTER ONLINE, ALGORITHM=NOCOPY, ignored indexes, invisible columns, CREATE OR REPLACE
// TABLE, charsets the parser lacks; a CREATE TABLE with such a collation of a table the
// selection matches is followed from its first row. A statement the parser cannot read
// even normalized (NOWAIT) that changes a selected table is recovered from by taking the
// table's schema from the server; a statement of an unselected table of the same name in
// another database leaves the selected one alone.
func TestDDLTheParserLacks(t *testing.T) { servers(t, testDDLTheParserLacks) }

func testDDLTheParserLacks(t *testing.T, m *testenv.MariaDB) {
	execOn(t, m, `CREATE DATABASE dn CHARACTER SET utf8mb4; CREATE DATABASE other;
		CREATE TABLE dn.customers (id INT PRIMARY KEY, nickname VARCHAR(20))`)
	s, tables, start := openAtOn(t, m, `dn.\.*`)
	execOn(t, m, `USE dn;
		INSERT INTO customers VALUES (1, 'one');
		ALTER TABLE customers MODIFY nickname VARCHAR(60) COLLATE utf8mb4_uca1400_ai_ci;
		INSERT INTO customers VALUES (2, 'two 🧩');
		CREATE TABLE made (id INT PRIMARY KEY, v VARCHAR(10) COLLATE utf8mb4_nopad_bin, w VARCHAR(5) CHARACTER SET cp1251);
		INSERT INTO made VALUES (1, 'm', 'Жук');
		CREATE TABLE other.customers (id INT PRIMARY KEY, v VARCHAR(10) COLLATE utf8mb4_nopad_bin) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_nopad_bin;
		ALTER TABLE other.customers NOWAIT ADD COLUMN z INT;
		ALTER ONLINE TABLE customers ADD COLUMN c2 INT, ALGORITHM=NOCOPY;
		ALTER TABLE customers ADD INDEX k (c2) IGNORED;
		INSERT INTO customers VALUES (3, 'three', 3);
		ALTER TABLE customers ADD COLUMN x INT INVISIBLE;
		INSERT INTO customers (id, nickname, c2, x) VALUES (4, 'four', 4, 44);
		CREATE OR REPLACE TABLE made (id INT PRIMARY KEY, n INT);
		INSERT INTO made VALUES (1, 9);
		ALTER TABLE customers NOWAIT ADD COLUMN y VARCHAR(5) COLLATE utf8mb4_uca1400_as_cs;
		INSERT INTO customers (id, nickname, c2, x, y) VALUES (5, 'five', 5, 55, 'ok');`)

	var rows []string
	var ddl []string
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		if b.Schema != nil {
			ddl = append(ddl, b.Schema.String())
		}
		if b.Backfill != nil {
			t.Errorf("a table was snapshotted again: %s", b.Backfill.ID)
		}
		for _, c := range b.Changes {
			var vals []string
			for j, col := range c.Schema.Columns {
				vals = append(vals, fmt.Sprintf("%s=%s", col.Name, c.After[j]))
			}
			rows = append(rows, c.Schema.ID.Table+" "+strings.Join(vals, " "))
		}
		return len(rows) == 7
	})
	want := []string{
		"customers id=1 nickname=one",
		"customers id=2 nickname=two 🧩",
		"made id=1 v=m w=Жук",
		"customers id=3 nickname=three c2=3",
		"customers id=4 nickname=four c2=4 x=44",
		"made id=1 n=9",
		"customers id=5 nickname=five c2=5 x=55 y=ok",
	}
	if got := strings.Join(rows, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	wantDDL := "modify column dn.customers.nickname | create table dn.made | add column dn.customers.c2 | alter table dn.customers | add column dn.customers.x | " + // the alter: index k
		"drop table dn.made | create table dn.made | alter table dn.customers"
	if got := strings.Join(ddl, " | "); got != wantDDL {
		t.Errorf("schema changes:\n got %s\nwant %s", got, wantDDL)
	}
}

// TestNormalizeDDL: the rewrites touch SQL, never quoted text or comments.
func TestNormalizeDDL(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"ALTER TABLE t MODIFY c VARCHAR(6) COLLATE utf8mb4_uca1400_ai_ci DEFAULT 'x COLLATE utf8mb4_uca1400_ai_ci'",
			"ALTER TABLE t MODIFY c VARCHAR(6) COLLATE utf8mb4_bin DEFAULT 'x COLLATE utf8mb4_uca1400_ai_ci'"},
		{"CREATE TABLE `COLLATE x` (c TEXT COLLATE=uca1400_ai_ci) /* ALTER ONLINE TABLE */",
			"CREATE TABLE `COLLATE x` (c TEXT ) /* ALTER ONLINE TABLE */"},
		{"/* gh */ CREATE OR REPLACE TABLE t (y YEAR(4), KEY (y) IGNORED, PERIOD FOR p(s, e))",
			"/* gh */ CREATE TABLE t (y YEAR, KEY (y))"},
		{"ALTER TABLE t RENAME INDEX IF EXISTS a TO b, ALGORITHM=NOCOPY, CHARACTER SET DEFAULT",
			"ALTER TABLE t RENAME INDEX a TO b, ALGORITHM = INPLACE, "},
		{"INSERT INTO t VALUES ('it''s COLLATE x', \"YEAR(2)\")", "INSERT INTO t VALUES ('it''s COLLATE x', \"YEAR(2)\")"},
	} {
		if got, _, _ := normalizeDDL(c.in); got != c.out {
			t.Errorf("%s\n got %s\nwant %s", c.in, got, c.out)
		}
	}
}

// TestCompressedColumns: MariaDB's compressed columns (which the binlog reader does not
// know, and whose table maps it misreads) stream as their values, the same as a snapshot
// reads them: long values deflated, short ones stored as they are, empty and NULL, in a
// BLOB, a TEXT of another charset and a VARCHAR, with columns after them; a table
// created with them mid-stream is followed from its DDL.
func TestCompressedColumns(t *testing.T) { servers(t, testCompressedColumns) }

func testCompressedColumns(t *testing.T, m *testenv.MariaDB) {
	execOn(t, m, `CREATE DATABASE cmp; CREATE TABLE cmp.zipped (id INT PRIMARY KEY, b BLOB COMPRESSED, tx TEXT CHARACTER SET latin1 COMPRESSED,
		v VARCHAR(500) CHARACTER SET utf8mb4 COMPRESSED, after_them INT) DEFAULT CHARSET utf8mb4`)
	s, tables, start := openAtOn(t, m, `cmp.\.*`)
	execOn(t, m, `INSERT INTO cmp.zipped VALUES (1, REPEAT('x', 1000), REPEAT('café ', 300), REPEAT('ü', 100), 7),
		(2, 'a', 'é', 'b', 8), (3, '', '', '', 9), (4, NULL, NULL, NULL, 10);
		CREATE TABLE cmp.later (id INT PRIMARY KEY, v TEXT COMPRESSED, n INT); INSERT INTO cmp.later VALUES (1, REPEAT('later ', 200), 5)`)
	got := map[string]event.Row{}
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			got[fmt.Sprintf("%s/%d", c.Schema.ID.Table, c.After[0].Int())] = c.After
		}
		return len(got) == 5
	})
	out, err := m.Query("", "SELECT id, HEX(b), HEX(CONVERT(tx USING utf8mb4)), HEX(CONVERT(v USING utf8mb4)), after_them FROM cmp.zipped ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		r := got["zipped/"+f[0]]
		for i, h := range f[1:4] {
			want, _ := hex.DecodeString(h)
			var have string
			switch {
			case r[i+1].IsNull():
				have = "NULL"
			case i == 0:
				have = r[i+1].Str() // bytes are held as a string
			default:
				have = r[i+1].Str()
			}
			if h == "NULL" {
				want = []byte("NULL")
			}
			if have != string(want) {
				t.Errorf("row %s column %d: binlog %.40q, server %.40q", f[0], i+1, have, want)
			}
		}
		if r[4].String() != f[4] {
			t.Errorf("row %s: the column after the compressed ones is %v, want %s", f[0], r[4], f[4])
		}
	}
	if r := got["later/1"]; r == nil || r[1].Str() != strings.Repeat("later ", 200) || r[2].Int() != 5 {
		t.Errorf("a table created with a compressed column mid-stream: %v", r)
	}
}

// TestSystemVersionedTable: a system-versioned table is selected, its snapshot holds its
// current rows, and its binlog rows (which carry hidden row_start and row_end, and the
// history an update or a delete writes) stream as the changes of its current rows: an
// insert, an update, a delete, nothing of the history.
func TestSystemVersionedTable(t *testing.T) {
	exec(t, `CREATE DATABASE vers; CREATE TABLE vers.t (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING;
		INSERT INTO vers.t VALUES (1, 1), (2, 2); UPDATE vers.t SET x = 10 WHERE id = 1`)
	s, tables, start := openAt(t, `vers.t`)
	if len(tables) != 1 || len(tables[0].Columns) != 2 {
		t.Fatalf("tables: %v", tables)
	}
	n := 0
	if err := s.ReadChunk(context.Background(), tables[0], snapshot.Chunk{Table: tables[0].ID}, func(rs []event.Row) error { n += len(rs); return nil }); err != nil || n != 2 {
		t.Fatalf("the snapshot read %d rows (%v), want the 2 current ones", n, err)
	}
	exec(t, "INSERT INTO vers.t VALUES (3, 3); UPDATE vers.t SET x = 20 WHERE id = 2; DELETE FROM vers.t WHERE id = 1")
	wantChanges(t, s, start, tables, "insert 3 3,update 2 20,delete 1 10")
	// Versioning dropped, then added again, mid-stream: rows stay right either way.
	exec(t, `ALTER TABLE vers.t DROP SYSTEM VERSIONING; UPDATE vers.t SET x = 30 WHERE id = 2;
		ALTER TABLE vers.t ADD SYSTEM VERSIONING; UPDATE vers.t SET x = 40 WHERE id = 2; DELETE FROM vers.t WHERE id = 3`)
	wantChanges(t, s, start, tables, "insert 3 3,update 2 20,delete 1 10,update 2 30,update 2 40,delete 3 3")
}

// TestSystemVersionedDeclaredColumns: a system-versioned table whose ROW START and ROW
// END columns are declared carries its history as rows of its own shape; they are told
// apart by ROW END and left out, whether the table was there at the start or made
// mid-stream.
func TestSystemVersionedDeclaredColumns(t *testing.T) {
	const declared = `(id INT PRIMARY KEY, x INT, s TIMESTAMP(6) GENERATED ALWAYS AS ROW START,
		e TIMESTAMP(6) GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME(s, e)) WITH SYSTEM VERSIONING`
	exec(t, `CREATE DATABASE versd; CREATE TABLE versd.a `+declared+`; INSERT INTO versd.a (id, x) VALUES (1, 1), (2, 2)`)
	s, tables, start := openAt(t, `versd.[ab]`)
	if len(tables) != 1 || len(tables[0].Columns) != 4 || len(tables[0].Key) != 1 {
		t.Fatalf("tables: %v", tables)
	}
	exec(t, `UPDATE versd.a SET x = 10 WHERE id = 1; DELETE FROM versd.a WHERE id = 2`)
	wantChanges(t, s, start, tables, "update 1 10,delete 2 2")
	// A table versioned by transaction id (ROW END a BIGINT UNSIGNED) has its changes
	// written to the binlog as statements, even under binlog_format=ROW: refused, with why.
	exec(t, `CREATE DATABASE versdt; CREATE TABLE versdt.c (id INT PRIMARY KEY, x INT, s BIGINT UNSIGNED GENERATED ALWAYS AS ROW START,
		e BIGINT UNSIGNED GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME(s, e)) ENGINE=InnoDB WITH SYSTEM VERSIONING`)
	if _, err := open(t, "versdt.c").Tables(context.Background()); err == nil || !strings.Contains(err.Error(), "versdt.c") || !strings.Contains(err.Error(), "transaction") {
		t.Fatalf("a table versioned by transaction id: %v, want it refused with why", err)
	}
	// A pipeline whose versioned table b is made mid-stream (so weir learns its ROW END
	// column then): the sink ends with the current rows, no history row over them.
	p := startPipe(t, t.TempDir(), `versd.[ab]`, 0, 500)
	p.waitFor("streaming", func() bool { return p.stats.Phase() == engine.PhaseStream })
	exec(t, `USE versd; CREATE TABLE versd.b `+declared+`; INSERT INTO versd.b (id, x) SELECT seq, seq FROM seq_1_to_50;
		UPDATE versd.b SET x = -x WHERE id <= 20; DELETE FROM versd.b WHERE id > 40; UPDATE versd.a SET x = 11 WHERE id = 1`)
	p.waitFor("b's copy", func() bool {
		for _, r := range p.records() {
			if r.Source.Table == "b" {
				return true
			}
		}
		return false
	})
	exec(t, `UPDATE versd.b SET x = 100 WHERE id = 1; DELETE FROM versd.b WHERE id = 2; INSERT INTO versd.b (id, x) VALUES (99, 99)`)
	p.converged([]string{"versd.a", "versd.b"}, nil)
}

// wantChanges streams from start until it has as many changes as want lists (with a
// transaction's end), and checks them: each as "op first second" of its row.
func wantChanges(t *testing.T, s *Source, start event.Position, tables []*event.Schema, want string) {
	t.Helper()
	var got []string
	defer func() {
		if t.Failed() {
			t.Logf("changes streamed: %q", got)
		}
	}()
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			r := c.Row()
			got = append(got, fmt.Sprintf("%s %v %v", c.Op, r[0], r[1]))
		}
		return len(got) >= strings.Count(want, ",")+1 && b.Boundary
	})
	if strings.Join(got, ",") != want {
		t.Fatalf("changes %q, want %q", got, want)
	}
}
