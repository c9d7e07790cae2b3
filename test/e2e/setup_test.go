package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/testenv"
)

// TestSinkIsSourceIsRefused: a MariaDB sink on the source's own server without a route
// would write each table into itself (and, with soft deletes, add a column to the source
// table): validate and run both refuse it with the fix, exit 1, and the source table is
// left as it was. With a route to another database the same servers are fine.
func TestSinkIsSourceIsRefused(t *testing.T) {
	m, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if err := m.Exec("", "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.items VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pipeline := func(route string) string {
		return fmt.Sprintf(`source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.items
  scan.startup.mode: snapshot
sink:
  type: mariadb
  url: mysql://root@localhost:%d/shop
  sink.delete-mode: soft
%spipeline:
  name: self
`, m.Port, m.Port, route)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), pipeline(""))
	for _, cmd := range []string{"validate", "run"} {
		code, out := runWeir(t, dir, cmd, "p.yaml")
		if code != 1 || !strings.Contains(out, "table shop.items would be written into itself") || !strings.Contains(out, "route it to another table") {
			t.Fatalf("weir %s: exit %d\n%s", cmd, code, out)
		}
	}
	cols, err := m.Query("", "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items'")
	if err != nil || strings.TrimSpace(cols) != "id,name" {
		t.Fatalf("the source table's columns are now %q (%v)", cols, err)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), pipeline("route:\n  - source-table: shop.items\n    sink-table: copy.items\n"))
	if code, out := runWeir(t, dir, "run", "p.yaml"); code != 0 {
		t.Fatalf("with a route: exit %d\n%s", code, out)
	}
	if n, err := m.Query("", "SELECT COUNT(*) FROM copy.items"); err != nil || strings.TrimSpace(n) != "1" {
		t.Fatalf("copy.items: %q %v", n, err)
	}
}

// TestTableWithoutKeyAppends: a table without a primary key is copied into a sink that
// appends (files: each snapshot row once, then each insert, update and delete, in order),
// while a sink that upserts refuses it, at validate and before run writes anything.
func TestTableWithoutKeyAppends(t *testing.T) {
	m, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if err := m.Exec("", "CREATE DATABASE logs; CREATE TABLE logs.events (msg VARCHAR(40), n INT); INSERT INTO logs.events VALUES ('a', 1), ('b', 2), ('b', 2)"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pipeline := func(sink string) string {
		return fmt.Sprintf("source:\n  type: mariadb\n  hostname: 127.0.0.1\n  port: %d\n  username: root\n  tables: logs.events\n  heartbeat.interval: 200ms\n"+
			"sink:\n%s\npipeline:\n  name: keyless\n  checkpoint.interval: 200ms\n", m.Port, sink)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), pipeline(fmt.Sprintf("  type: mariadb\n  url: mysql://root@127.0.0.1:%d/dw\nroute:\n  - source-table: logs.events\n    sink-table: dw.events", m.Port)))
	for _, cmd := range []string{"validate", "run"} {
		if code, out := runWeir(t, dir, cmd, "p.yaml"); code != 1 || !strings.Contains(out, "table dw.events has no primary key, and sink.mode upsert needs one") {
			t.Fatalf("weir %s into an upserting sink: exit %d\n%s", cmd, code, out)
		}
	}
	if out, _ := m.Query("", "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'dw' AND TABLE_NAME = 'events'"); strings.TrimSpace(out) != "0" {
		t.Fatalf("the refused run made the sink table: %q", out)
	}
	dir2 := t.TempDir()
	writeFile(t, filepath.Join(dir2, "p.yaml"), pipeline("  type: file\n  path: out"))
	p := start(t, dir2, "run", "p.yaml")
	read := func() []string {
		recs, err := conformance.ReadFileSink(filepath.Join(dir2, "out"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			img := r.After
			if r.Op == "d" {
				img = r.Before
			}
			out = append(out, fmt.Sprintf("%s %v %v", r.Op, img["msg"], img["n"]))
		}
		return out
	}
	waitFor(t, "the snapshot's three rows", time.Minute, func() bool { return len(read()) == 3 })
	if err := m.Exec("", "INSERT INTO logs.events VALUES ('c', 3); UPDATE logs.events SET n = 10 WHERE msg = 'a'; DELETE FROM logs.events WHERE msg = 'c'"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the three changes", time.Minute, func() bool { return len(read()) == 6 })
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	got := read()
	slices.Sort(got[:3])
	want := []string{"r a 1", "r b 2", "r b 2", "c c 3", "u a 10", "d c 3"}
	if !slices.Equal(got, want) {
		t.Fatalf("records %q, want %q", got, want)
	}
	// And into a MariaDB table in changelog mode: every record, in order.
	dir3 := t.TempDir()
	writeFile(t, filepath.Join(dir3, "p.yaml"), strings.Replace(pipeline(fmt.Sprintf("  type: mariadb\n  url: mysql://root@127.0.0.1:%d/dw\n  sink.mode: changelog\nroute:\n  - source-table: logs.events\n    sink-table: dw.events", m.Port)),
		"heartbeat.interval: 200ms\n", "heartbeat.interval: 200ms\n  scan.startup.mode: snapshot\n", 1))
	if code, out := runWeir(t, dir3, "run", "p.yaml"); code != 0 {
		t.Fatalf("into a changelog: exit %d\n%s", code, out)
	}
	if out, err := m.Query("", "SELECT GROUP_CONCAT(CONCAT(_weir_op, ' ', msg, ' ', n) ORDER BY msg, n) FROM dw.events"); err != nil || strings.TrimSpace(out) != "r a 10,r b 2,r b 2" {
		t.Fatalf("the changelog table: %q %v", out, err)
	}
}
