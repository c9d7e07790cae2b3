package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/testenv"
	"github.com/weir-data/weir/internal/verify"
)

// TestStockServerText: a MariaDB with its stock defaults (latin1 server charset) holding
// utf8mb4 and latin1 text is copied exactly, into a MariaDB sink on that same stock
// server and into PostgreSQL, by a snapshot and by the binlog; `weir verify` says equal.
// Then text corruptions are planted in the sink (an emoji turned into '?', UTF-8 read as
// latin1, a trailing space, a lost accent, a lost scale) and verify finds each one.
func TestStockServerText(t *testing.T) {
	m, err := testenv.StartStockMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := pg.Exec(context.Background(), "postgres", "CREATE DATABASE dw"); err != nil {
		t.Fatal(err)
	}
	// The database takes the server's default (latin1); one column says utf8mb4.
	if err := m.Exec("", `CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY,
		name VARCHAR(40) CHARACTER SET utf8mb4, lat VARCHAR(20), code CHAR(6), amount DECIMAL(10,2));
		INSERT INTO shop.items VALUES (1, 'Widget 🧩', 'café', 'ab', 148.00), (2, 'Привет', 'naïve', 'cd', 1.50),
		(3, 'plain', 'x', 'ef', 2.25), (4, '中文 ok', 'Ærø ‰', 'gh', 3.10), (5, '😀', '€', 'ij', 0.01)`); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{1: "Widget 🧩|café|ab", 2: "Привет|naïve|cd", 3: "plain|x|ef", 4: "中文 ok|Ærø ‰|gh", 5: "😀|€|ij", 6: "Gadget 🧩|été|kl"}
	for _, kind := range []string{"mariadb", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			// The MariaDB sink is on the source's server: routed into another database.
			sink := fmt.Sprintf("sink:\n  type: mariadb\n  url: mysql://root@127.0.0.1:%d/dw\nroute:\n  - source-table: shop.items\n    sink-table: dw.items\n", m.Port)
			if kind == "postgres" {
				sink = "sink:\n  type: postgres\n  url: " + pg.URL("dw") + "\n"
			}
			writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.items
  heartbeat.interval: 300ms
%spipeline:
  name: stock-%s
  checkpoint.interval: 300ms
`, m.Port, sink, kind))
			read, exec := stockSink(t, kind, m, pg)
			if err := m.Exec("", "DELETE FROM shop.items WHERE id = 6"); err != nil {
				t.Fatal(err)
			}
			p := start(t, dir, "run", "p.yaml")
			defer func() {
				if t.Failed() {
					t.Logf("weir run:\n%s", p.stderr)
				}
			}()
			waitFor(t, "the snapshot in the sink", time.Minute, func() bool { return len(read()) >= 5 })
			if err := m.Exec("", "INSERT INTO shop.items VALUES (6, 'Gadget 🧩', 'été', 'kl', 9.99)"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "row 6 in the sink", time.Minute, func() bool { return len(read()) == 6 })
			p.signal(syscall.SIGTERM)
			if code := p.wait(t, time.Minute); code != 0 {
				t.Fatalf("weir run: exit %d\n%s", code, p.stderr)
			}
			got := read()
			for id, w := range want {
				if got[id] != w {
					t.Errorf("row %d: the sink has %q, want %q", id, got[id], w)
				}
			}
			if code, out := runWeir(t, dir, "verify", "p.yaml"); code != 0 || !strings.Contains(out, "equal") {
				t.Fatalf("verify of an exact copy: exit %d\n%s", code, out)
			}
			mojibake := "CONCAT('Gadget ', CONVERT(CAST(CONVERT('🧩' USING utf8mb4) AS BINARY) USING latin1))"
			if kind == "postgres" {
				mojibake = "'Gadget ' || convert_from(convert_to('🧩', 'UTF8'), 'LATIN1')"
			}
			for _, q := range []string{
				"UPDATE %s SET name = 'Widget ?' WHERE id = 1",       // the emoji as a latin1 connection stores it
				"UPDATE %s SET name = 'ÐŸÑ€Ð¸Ð²ÐµÑ‚' WHERE id = 2",   // UTF-8 read as latin1
				"UPDATE %s SET code = 'ef ' WHERE id = 3",            // a trailing space
				"UPDATE %s SET lat = 'Aero ‰' WHERE id = 4",          // accents lost
				"UPDATE %s SET amount = 3 WHERE id = 4",              // the scale lost: 3.10 as an integer
				"UPDATE %s SET lat = '?' WHERE id = 5",               // a character latin1 has, lost
				"UPDATE %s SET name = " + mojibake + " WHERE id = 6", // the emoji's bytes as latin1
			} {
				exec(q)
			}
			code, out := runWeir(t, dir, "verify", "p.yaml", "--json")
			if code != 1 {
				t.Fatalf("verify of planted corruption: exit %d, want 1\n%s", code, out)
			}
			var rep verify.Report
			if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1]), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			found := map[string]bool{}
			for _, d := range rep.Tables[0].Keys {
				for _, c := range d.Columns {
					found[fmt.Sprintf("%v.%s", d.Key["id"], c.Column)] = true
				}
			}
			for _, k := range []string{"1.name", "2.name", "3.code", "4.lat", "4.amount", "5.lat", "6.name"} {
				if !found[k] {
					t.Errorf("verify did not find the corruption of %s", k)
				}
			}
			if rep.Differences != 6 || t.Failed() {
				t.Fatalf("%d differences, want 6\n%s", rep.Differences, out)
			}
		})
	}
}

// stockSink reads the sink table of TestStockServerText (id → "name|lat|code", read as
// the server converts the text, in hex) and runs an UPDATE on it (%s: the table).
func stockSink(t *testing.T, kind string, m *testenv.MariaDB, pg *testenv.Postgres) (read func() map[int]string, exec func(q string)) {
	rows := map[int]string{}
	parse := func(out string) map[int]string {
		rows := map[int]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 4 {
				continue
			}
			var id int
			fmt.Sscan(f[0], &id)
			var vals []string
			for _, h := range f[1:] {
				b, _ := hex.DecodeString(h)
				vals = append(vals, string(b))
			}
			rows[id] = strings.Join(vals, "|")
		}
		return rows
	}
	if kind == "mariadb" {
		return func() map[int]string {
				out, err := m.Query("", "SELECT id, HEX(CONVERT(name USING utf8mb4)), HEX(CONVERT(lat USING utf8mb4)), HEX(CONVERT(code USING utf8mb4)) FROM dw.items")
				if err != nil {
					return rows
				}
				return parse(out)
			}, func(q string) {
				if err := m.Exec("", fmt.Sprintf(q, "dw.items")); err != nil {
					t.Fatal(err)
				}
			}
	}
	ctx := context.Background()
	return func() map[int]string {
			conn, err := pgx.Connect(ctx, pg.URL("dw"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			rs, err := conn.Query(ctx, "SELECT id, encode(convert_to(name, 'UTF8'), 'hex'), encode(convert_to(lat, 'UTF8'), 'hex'), encode(convert_to(code, 'UTF8'), 'hex') FROM shop.items")
			if err != nil {
				return rows
			}
			var b strings.Builder
			for rs.Next() {
				var id int
				var a, c, d string
				if err := rs.Scan(&id, &a, &c, &d); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "%d\t%s\t%s\t%s\n", id, a, c, d)
			}
			return parse(b.String())
		}, func(q string) {
			if err := pg.Exec(ctx, "dw", fmt.Sprintf(q, "shop.items")); err != nil {
				t.Fatal(err)
			}
		}
}
