package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/snapshot"
)

// streamIDs streams from pos until want inserts of table t have come, returning their ids.
func streamIDs(t *testing.T, s *Source, pos event.Position, schemas []*event.Schema, want int) []int64 {
	t.Helper()
	var ids []int64
	streamUntil(t, s, pos, schemas, func(b event.Batch) bool {
		for _, c := range b.Changes {
			ids = append(ids, c.After[0].Int())
		}
		return len(ids) >= want
	})
	return ids
}

func TestStartupModes(t *testing.T) {
	exec(t, `CREATE DATABASE modes; CREATE TABLE modes.t (id INT PRIMARY KEY); INSERT INTO modes.t VALUES (1), (2)`)
	ctx := context.Background()
	base := open(t, "modes.t")
	tables, err := base.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mark, err := base.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `INSERT INTO modes.t VALUES (3), (4)`)

	// latest-offset starts at the end of the binlog: only what comes after.
	latest, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "modes.t", Mode: "latest-offset"}, connector.Env{Pipeline: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer latest.Close()
	if latest.StartupMode() != "latest-offset" {
		t.Fatal(latest.StartupMode())
	}
	now, err := latest.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `INSERT INTO modes.t VALUES (5)`)
	if ids := streamIDs(t, latest, now, tables, 1); ids[0] != 5 {
		t.Fatalf("latest-offset: %v, want [5]", ids)
	}

	// specific-offset by GTID starts after the given transactions.
	p, err := decodePosition(mark)
	if err != nil || p.GTID == "" {
		t.Fatalf("position %s has no GTID set: %v", mark, err)
	}
	specific, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "modes.t",
		Mode: "specific-offset", SpecificGTID: p.GTID}, connector.Env{Pipeline: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer specific.Close()
	from, _ := specific.Position(ctx)
	if ids := streamIDs(t, specific, from, tables, 3); ids[0] != 3 || ids[1] != 4 || ids[2] != 5 {
		t.Fatalf("specific-offset %s: %v, want [3 4 5]", p.GTID, ids)
	}

	// specific-offset by file and position.
	byFile, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "modes.t",
		Mode: "specific-offset", SpecificFile: p.File, SpecificPos: p.Pos}, connector.Env{Pipeline: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer byFile.Close()
	from, _ = byFile.Position(ctx)
	if ids := streamIDs(t, byFile, from, tables, 3); ids[0] != 3 {
		t.Fatalf("specific-offset %s:%d: %v, want 3 first", p.File, p.Pos, ids)
	}

	if _, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "modes.t", Mode: "specific-offset"}, connector.Env{}); err == nil ||
		!strings.Contains(err.Error(), "scan.startup.specific-offset.gtid-set") {
		t.Fatalf("specific-offset without an offset: %v", err)
	}
}

// TestPurgedBinlogIsFatal: a position whose binlog the server has purged stops the
// pipeline with a message that names the position and the way out.
func TestPurgedBinlogIsFatal(t *testing.T) {
	exec(t, `CREATE DATABASE purged; CREATE TABLE purged.t (id INT PRIMARY KEY)`)
	s := open(t, "purged.t")
	ctx := context.Background()
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `FLUSH BINARY LOGS; INSERT INTO purged.t VALUES (1)`)
	old := position{File: "mysql-bin.000001", Pos: 4}
	exec(t, `FLUSH BINARY LOGS; INSERT INTO purged.t VALUES (2); FLUSH BINARY LOGS`)
	cur, err := db.Query("", "SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, "PURGE BINARY LOGS TO '"+strings.Fields(cur)[0]+"'")
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = s.Stream(sctx, old.encode(), tables, func(context.Context, event.Batch) error { return nil })
	if err == nil || fault.Classify(err) != fault.Fatal || !strings.Contains(err.Error(), "no longer has the binlog") ||
		!strings.Contains(err.Error(), "mysql-bin.000001") || !strings.Contains(err.Error(), "new snapshot") {
		t.Fatalf("got %v (%s)", err, fault.Classify(err))
	}
}

// TestStartupAtTimestamp starts the binlog at a moment: only transactions committed at or
// after it arrive, even when the moment lies inside an older binlog file.
func TestStartupAtTimestamp(t *testing.T) {
	exec(t, `CREATE DATABASE ts; CREATE TABLE ts.t (id INT PRIMARY KEY); INSERT INTO ts.t VALUES (10), (11)`)
	time.Sleep(1100 * time.Millisecond) // binlog times have whole seconds
	at := time.Now().UnixMilli()
	time.Sleep(1100 * time.Millisecond)
	exec(t, `INSERT INTO ts.t VALUES (12); FLUSH BINARY LOGS; INSERT INTO ts.t VALUES (13)`)
	ctx := context.Background()
	s, tables := openOptions(t, "ts", Options{Tables: "ts.t", Mode: "timestamp", StartupMillis: at})
	from, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := streamIDs(t, s, from, tables, 2); ids[0] != 12 || ids[1] != 13 {
		t.Fatalf("from %s: %v, want [12 13]", from, ids)
	}
	if _, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "ts.t", Mode: "timestamp"}, connector.Env{}); err == nil {
		t.Fatal("timestamp mode without a timestamp must be refused")
	}
}

// TestStartupEarliestOffset: earliest-offset streams from the oldest binlog file the
// server keeps, so the table's first rows, written long before, come too.
func TestStartupEarliestOffset(t *testing.T) {
	exec(t, `CREATE DATABASE early; CREATE TABLE early.t (id INT PRIMARY KEY); INSERT INTO early.t VALUES (1), (2)`)
	exec(t, `FLUSH BINARY LOGS`) // the rows are in an older file than the current one
	exec(t, `INSERT INTO early.t VALUES (3)`)
	ctx := context.Background()
	s, tables := openOptions(t, "early", Options{Tables: "early.t", Mode: "earliest-offset"})
	pos, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := decodePosition(pos)
	conn, err := s.pool.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.Execute("SHOW BINARY LOGS")
	s.pool.put(conn)
	if err != nil {
		t.Fatal(err)
	}
	if oldest, _ := res.GetString(0, 0); p.Pos != 4 || p.File != oldest {
		t.Fatalf("earliest position %s, want the start of the oldest file the server keeps, %s", pos, oldest)
	}
	if ids := streamIDs(t, s, pos, tables, 3); len(ids) != 3 || ids[0] != 1 || ids[2] != 3 {
		t.Fatalf("ids %v, want 1, 2, 3", ids)
	}
}

// TestTablesExclude: tables.exclude leaves tables out of what tables selects, in the
// snapshot's discovery and for tables created later alike.
func TestTablesExclude(t *testing.T) {
	exec(t, `CREATE DATABASE excl; CREATE TABLE excl.orders (id INT PRIMARY KEY); CREATE TABLE excl.orders_bak (id INT PRIMARY KEY);
		CREATE TABLE excl.tmp_1 (id INT PRIMARY KEY)`)
	s, tables := openOptions(t, "excl", Options{Tables: `excl.\.*`, Exclude: `excl.orders_bak, excl.tmp_\.*`})
	if len(tables) != 1 || tables[0].ID.Table != "orders" {
		t.Fatalf("tables %v, want excl.orders alone", tables)
	}
	for _, p := range s.patterns {
		if p.Match("excl", "tmp_2") || !p.Match("excl", "orders_new") {
			t.Fatalf("a later table: tmp_2 selected %v, orders_new %v", p.Match("excl", "tmp_2"), p.Match("excl", "orders_new"))
		}
	}
}

// TestKeyColumnPerTable: Flink CDC's db.table:column form gives each table without a
// primary key its own key column.
func TestKeyColumnPerTable(t *testing.T) {
	exec(t, `CREATE DATABASE keyless; CREATE TABLE keyless.a (ka INT NOT NULL UNIQUE, v INT); CREATE TABLE keyless.b (kb VARCHAR(10) NOT NULL UNIQUE, v INT)`)
	_, tables := openOptions(t, "keyless", Options{Tables: `keyless.\.*`, KeyColumn: "keyless.a:ka, keyless.b:kb"})
	got := map[string]string{}
	for _, tb := range tables {
		got[tb.ID.Table] = strings.Join(tb.KeyNames(), ",")
	}
	if got["a"] != "ka" || got["b"] != "kb" {
		t.Fatalf("keys %v, want a by ka and b by kb", got)
	}
	if _, err := connector.ParseKeyColumns("keyless.a:ka, keyless.b"); err == nil {
		t.Fatal("an item without its column parsed")
	}
}

// TestSpecificOffsetSkips: skip-events and skip-rows (Flink CDC's and Debezium's, for an
// offset inside a transaction) skip that many binlog events, then rows, after the
// specific offset — on the first stream from it only.
func TestSpecificOffsetSkips(t *testing.T) {
	exec(t, `CREATE DATABASE skips; CREATE TABLE skips.t (id INT PRIMARY KEY)`)
	ctx := context.Background()
	base := open(t, "skips.t")
	conn, err := base.pool.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at, err := logEnd(conn)
	base.pool.put(conn)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `INSERT INTO skips.t VALUES (1), (2), (3)`)
	exec(t, `INSERT INTO skips.t VALUES (4)`)
	exec(t, `INSERT INTO skips.t VALUES (5), (6)`)
	// The events of the first transaction, as the server lists them.
	conn, err = base.pool.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.Execute(fmt.Sprintf("SHOW BINLOG EVENTS IN '%s' FROM %d", at.file, at.pos))
	base.pool.put(conn)
	if err != nil {
		t.Fatal(err)
	}
	first := int64(0)
	for i := range res.RowNumber() {
		first++
		if typ, _ := res.GetString(i, 2); typ == "Xid" {
			break
		}
	}
	s, tables := openOptions(t, "skips", Options{Tables: "skips.t", Mode: "specific-offset",
		SpecificFile: at.file, SpecificPos: at.pos, SkipEvents: first, SkipRows: 1})
	pos, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := streamIDs(t, s, pos, tables, 2); fmt.Sprint(ids) != "[5 6]" {
		t.Fatalf("ids %v, want 5 and 6: the first transaction's %d events and then one row skipped", ids, first)
	}
}

// TestTinyint1AsBoolean: with treat-tinyint1-as-boolean.enabled a TINYINT(1) column is
// a boolean in the snapshot and in the binlog alike (also one a later CREATE TABLE
// declares); TINYINT(4) stays an integer; without it, TINYINT(1) is one too.
func TestTinyint1AsBoolean(t *testing.T) {
	exec(t, `CREATE DATABASE tb1; CREATE TABLE tb1.t (id INT PRIMARY KEY, flag TINYINT(1), n TINYINT(4)); INSERT INTO tb1.t VALUES (1, 1, 1), (2, 0, 2)`)
	ctx := context.Background()
	for _, on := range []bool{true, false} {
		s, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: `tb1.\.*`, TinyIntBool: on}, connector.Env{Pipeline: "tb1"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tables, err := s.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := "int8"
		if on {
			want = "boolean"
		}
		if got := tables[0].Columns[1].Type.String(); got != want || tables[0].Columns[2].Type.String() != "int8" {
			t.Fatalf("option %v: flag is %s, n %s; want %s and int8", on, got, tables[0].Columns[2].Type, want)
		}
		var snap []event.Row
		if err := s.ReadChunk(ctx, tables[0], snapshot.Chunk{Table: tables[0].ID}, func(rs []event.Row) error { snap = append(snap, rs...); return nil }); err != nil {
			t.Fatal(err)
		}
		if on && (snap[0][1].Rep() != event.RepBool || !snap[0][1].Bool() || snap[1][1].Bool()) {
			t.Fatalf("snapshot flags %v %v", snap[0][1], snap[1][1])
		}
		if !on {
			continue
		}
		pos, err := s.Position(ctx)
		if err != nil {
			t.Fatal(err)
		}
		exec(t, `INSERT INTO tb1.t VALUES (3, 1, 3); CREATE TABLE tb1.u (id INT PRIMARY KEY, ok BOOLEAN); INSERT INTO tb1.u VALUES (1, TRUE)`)
		var got []string
		streamUntil(t, s, pos, tables, func(b event.Batch) bool {
			for _, c := range b.Changes {
				got = append(got, fmt.Sprintf("%s:%s=%v", c.Schema.ID.Table, c.Schema.Columns[1].Type, c.After[1].Rep() == event.RepBool && c.After[1].Bool()))
			}
			return len(got) == 2
		})
		if fmt.Sprint(got) != "[t:boolean=true u:boolean=true]" {
			t.Fatalf("stream %v", got)
		}
	}
}

// openOptions opens a source on the test server with o (its address and user filled
// in) for pipeline, and resolves its tables.
func openOptions(t *testing.T, pipeline string, o Options) (*Source, []*event.Schema) {
	t.Helper()
	o.Host, o.Port, o.User = "127.0.0.1", db.Port, "root"
	s, err := New(context.Background(), o, connector.Env{Pipeline: pipeline})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tables, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, tables
}
