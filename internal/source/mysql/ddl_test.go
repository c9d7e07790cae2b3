package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/event"
)

// TestDDLMidStream changes a table's schema while rows flow: each row is decoded with
// the schema in force at its position, and each DDL arrives as a schema change in order.
func TestDDLMidStream(t *testing.T) {
	exec(t, `CREATE DATABASE ddl; CREATE TABLE ddl.t (id INT PRIMARY KEY, note VARCHAR(10), amount DECIMAL(6,2))`)
	s := open(t, `ddl.\.*`)
	ctx := context.Background()
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `USE ddl;
		INSERT INTO t VALUES (1, 'one', 1.5);
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
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	errDone := errors.New("done")
	err = s.Stream(sctx, start, tables, func(_ context.Context, b event.Batch) error {
		if b.Schema != nil {
			ddl = append(ddl, b.Schema)
		}
		changes = append(changes, b.Changes...)
		if len(changes) == 7 {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("stream: %v (%d changes)", err, len(changes))
	}
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
