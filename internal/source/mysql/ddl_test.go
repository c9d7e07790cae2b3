package mysql

import (
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
)

// TestDDLMidStream changes a table's schema while rows flow: each row is decoded with
// the schema in force at its position, and each DDL arrives as a schema change in order.
func TestDDLMidStream(t *testing.T) {
	exec(t, `CREATE DATABASE ddl; CREATE TABLE ddl.t (id INT PRIMARY KEY, note VARCHAR(10), amount DECIMAL(6,2))`)
	s, tables, start := openAt(t, `ddl.\.*`)
	exec(t, `USE ddl;
		INSERT INTO t VALUES (1, 'one', 1.5);
		CREATE PROCEDURE p1() SELECT id FROM t;
		CREATE VIEW v1 AS SELECT id FROM t;
		ALTER TABLE t ADD COLUMN qty INT NOT NULL DEFAULT 7 AFTER id;
		INSERT INTO t VALUES (2, 8, 'two', 2.5);
		ALTER TABLE t MODIFY note VARCHAR(100);
		INSERT INTO t VALUES (3, 9, 'a note much longer than ten characters', 3.5);
		ALTER TABLE t RENAME COLUMN note TO memo;
		INSERT INTO t (id, qty, memo, amount) VALUES (4, 10, 'four', 4.5);
		ALTER TABLE t CHANGE amount price DECIMAL(12,3), DROP COLUMN qty;
		INSERT INTO t VALUES (5, 'five', 5.125);
		RENAME TABLE t TO t2;
		INSERT INTO t2 VALUES (6, 'six', 6);
		CREATE TABLE fresh (k VARCHAR(8) PRIMARY KEY, n BIGINT UNSIGNED);
		CREATE DATABASE ddl_other; CREATE TABLE ddl_other.x (a INT PRIMARY KEY);
		INSERT INTO fresh VALUES ('x', 18446744073709551615);`)

	var changes []event.Change
	var ddl []*event.SchemaChange
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		if b.Schema != nil {
			ddl = append(ddl, b.Schema)
		}
		changes = append(changes, b.Changes...)
		return len(changes) == 7
	})
	var kinds []string
	for _, c := range ddl {
		kinds = append(kinds, c.String())
	}
	want := "add column ddl.t.qty | modify column ddl.t.note | rename column ddl.t.note to memo | " +
		"rename column ddl.t.amount to price | drop column ddl.t.qty | rename table ddl.t to ddl.t2 | create table ddl.fresh"
	if got := strings.Join(kinds, " | "); got != want {
		t.Errorf("schema changes:\n got %s\nwant %s", got, want)
	}
	// Each row with its own schema.
	expect := []struct {
		table string
		cols  string
		row   string
	}{
		{"t", "id note amount", "1 one 1.50"},
		{"t", "id qty note amount", "2 8 two 2.50"},
		{"t", "id qty note amount", "3 9 a note much longer than ten characters 3.50"},
		{"t", "id qty memo amount", "4 10 four 4.50"},
		{"t", "id memo price", "5 five 5.125"},
		{"t2", "id memo price", "6 six 6.000"},
		{"fresh", "k n", "x 18446744073709551615"},
	}
	for i, e := range expect {
		c := changes[i]
		var cols, vals []string
		for j, col := range c.Schema.Columns {
			cols = append(cols, col.Name)
			vals = append(vals, c.After[j].String())
		}
		if c.Schema.ID.Table != e.table || strings.Join(cols, " ") != e.cols || strings.Join(vals, " ") != e.row {
			t.Errorf("change %d: %s (%s) = %s; want %s (%s) = %s", i, c.Schema.ID.Table, strings.Join(cols, " "), strings.Join(vals, " "), e.table, e.cols, e.row)
		}
	}
	if got := changes[4].Schema.Columns[2].Type.String(); got != "decimal(12,3)" {
		t.Errorf("price after CHANGE: %s", got)
	}
}

// TestOnlineSchemaChangeCutOver replays what gh-ost does: a shadow table is created like
// the real one, altered, filled by copying, and swapped in by an atomic rename. The
// shadow's rows are not emitted; the swap is one schema change of the real table; rows
// after it carry the new column.
func TestOnlineSchemaChangeCutOver(t *testing.T) {
	exec(t, `CREATE DATABASE osc; CREATE TABLE osc.t (id INT PRIMARY KEY, v VARCHAR(10))`)
	exec(t, `INSERT INTO osc.t VALUES (1, 'a'), (2, 'b')`)
	s, tables, start := openAt(t, `osc.t`)
	exec(t, `USE osc;
		CREATE TABLE _t_gho LIKE t;
		ALTER TABLE _t_gho ADD COLUMN extra INT NOT NULL DEFAULT 5;
		INSERT INTO _t_gho (id, v) SELECT id, v FROM t;
		UPDATE t SET v = 'a2' WHERE id = 1;
		REPLACE INTO _t_gho (id, v) VALUES (1, 'a2');
		RENAME TABLE t TO _t_del, _t_gho TO t;
		INSERT INTO t VALUES (3, 'c', 9);
		DROP TABLE _t_del;`)
	var changes []event.Change
	var ddl []string
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		if b.Schema != nil {
			ddl = append(ddl, b.Schema.String())
		}
		changes = append(changes, b.Changes...)
		return len(changes) >= 2 && b.Boundary
	})
	if strings.Join(ddl, " | ") != "alter table osc.t" {
		t.Errorf("schema changes: %q, want one alter table of osc.t", ddl)
	}
	if len(changes) != 2 {
		t.Fatalf("changes: %d, want the update of t and the insert after the cut-over (no shadow rows)", len(changes))
	}
	if c := changes[0]; c.Op != event.OpUpdate || c.After[1].Str() != "a2" || len(c.Schema.Columns) != 2 {
		t.Errorf("first change: %s %v", c.Op, c.After)
	}
	if c := changes[1]; c.Op != event.OpInsert || c.Schema.ID.Table != "t" || len(c.Schema.Columns) != 3 || c.After[2].Int() != 9 {
		t.Errorf("after the cut-over: %s %s %v", c.Op, c.Schema.ID, c.After)
	}
}

// TestDDLCharsets: text columns declared without a charset take their table's default,
// or their database's, as DDL in the binlog sets them — so non-UTF-8 bytes in the binlog
// decode to the right text.
func TestDDLCharsets(t *testing.T) {
	exec(t, `CREATE DATABASE cs_latin CHARACTER SET latin1; CREATE DATABASE cs_utf CHARACTER SET utf8mb4;
		CREATE TABLE cs_utf.t0 (id INT PRIMARY KEY)`)
	s, tables, start := openAt(t, `cs_\.*.t\.*`)
	exec(t, `CREATE TABLE cs_latin.t1 (id INT PRIMARY KEY, name VARCHAR(20));
		INSERT INTO cs_latin.t1 VALUES (1, 'café');
		CREATE TABLE cs_utf.t2 (id INT PRIMARY KEY, name VARCHAR(20)) DEFAULT CHARSET=latin1;
		INSERT INTO cs_utf.t2 VALUES (2, 'crème');
		ALTER TABLE cs_utf.t2 ADD COLUMN more TEXT;
		INSERT INTO cs_utf.t2 VALUES (3, 'brûlée', 'über');
		ALTER TABLE cs_utf.t2 CONVERT TO CHARACTER SET utf8mb4;
		INSERT INTO cs_utf.t2 VALUES (4, 'naïve', '日本');`)
	var got []string
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			var parts []string
			for _, v := range c.After[1:] {
				parts = append(parts, v.String())
			}
			got = append(got, strings.Join(parts, " "))
		}
		return len(got) == 4
	})
	want := "café | crème | brûlée über | naïve 日本"
	if g := strings.Join(got, " | "); g != want {
		t.Fatalf("decoded %q, want %q", g, want)
	}
}
