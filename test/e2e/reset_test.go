package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/testenv"
)

// TestResetRemovesEveryTrace: a PostgreSQL → PostgreSQL pipeline that ran keeps a
// replication slot, a publication, its checkpoint and a row in the sink's checkpoint
// table. `weir reset` lists them and, without a terminal, removes nothing unless --yes;
// with --yes none is left, and the next run starts over with a new snapshot.
func TestResetRemovesEveryTrace(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	for _, q := range []string{"CREATE DATABASE shop", "CREATE DATABASE dw"} {
		if err := pg.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	if err := pg.Exec(ctx, "shop", "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`source:
  type: postgres
  hostname: 127.0.0.1
  port: %d
  username: postgres
  database-name: shop
  tables: public.items
sink:
  type: postgres
  url: %s
pipeline:
  name: resettable
  checkpoint.interval: 200ms
`, pg.Port, pg.URL("dw")))
	count := func(db, q string) int {
		conn, err := pgx.Connect(ctx, pg.URL(db))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	traces := func() string {
		_, err := os.Stat(filepath.Join(dir, ".weir", "pipelines", "resettable", "checkpoint.json"))
		return fmt.Sprintf("slots %d, publications %d, sink checkpoint rows %d, local checkpoint %v",
			count("shop", "SELECT count(*) FROM pg_replication_slots"), count("shop", "SELECT count(*) FROM pg_publication"),
			count("dw", "SELECT count(*) FROM weir_checkpoints WHERE pipeline = 'resettable'"), err == nil)
	}
	p := start(t, dir, "run", "p.yaml")
	waitFor(t, "the snapshot in the sink", time.Minute, func() bool {
		return count("dw", "SELECT count(*) FROM pg_tables WHERE tablename = 'items'") == 1 && count("dw", "SELECT count(*) FROM public.items") == 100
	})
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, p.stderr)
	}
	const all = "slots 1, publications 1, sink checkpoint rows 1, local checkpoint true"
	if got := traces(); got != all {
		t.Fatalf("after a run: %s, want %s", got, all)
	}
	code, out := runWeir(t, dir, "reset", "p.yaml")
	if code != 2 || !strings.Contains(out, "replication slot weir_resettable") || !strings.Contains(out, "publication") ||
		!strings.Contains(out, "weir_checkpoints") || !strings.Contains(out, "--yes") {
		t.Fatalf("reset without a terminal or --yes: exit %d\n%s", code, out)
	}
	if got := traces(); got != all {
		t.Fatalf("an unconfirmed reset removed something: %s", got)
	}
	if code, out := runWeir(t, dir, "reset", "--yes", "p.yaml"); code != 0 || !strings.Contains(out, "is reset") {
		t.Fatalf("reset --yes: exit %d\n%s", code, out)
	}
	if got, want := traces(), "slots 0, publications 0, sink checkpoint rows 0, local checkpoint false"; got != want {
		t.Fatalf("after reset: %s, want %s", got, want)
	}
	q := start(t, dir, "run", "p.yaml")
	waitFor(t, "a fresh start", time.Minute, func() bool { return strings.Contains(q.stderr.String(), "starting fresh") })
	q.signal(syscall.SIGTERM)
	q.wait(t, time.Minute)
}

// TestResnapshot: a table whose copy in the sink went wrong (a row missing, one changed,
// one too many) is copied again by `weir resnapshot` while changes keep flowing into
// it; then verify finds the two equal. Into PostgreSQL the pipeline runs throughout and
// takes the request at a checkpoint; into MariaDB it is stopped, and its next run takes
// it.
func TestResnapshot(t *testing.T) {
	for _, kind := range []string{"postgres", "mariadb"} {
		t.Run(kind, func(t *testing.T) {
			online := kind == "postgres"
			e := startMariaTo(t, kind, `CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), n INT);
				USE shop; INSERT INTO shop.items SELECT seq, CONCAT('item ', seq), seq FROM seq_1_to_3000`, "shop.items", "lenient")
			p := start(t, e.dir, "run", "p.yaml")
			e.waitEqual(t, p, "shop.items")
			if !online {
				p.signal(syscall.SIGTERM)
				if code := p.wait(t, time.Minute); code != 0 {
					t.Fatalf("exit %d\n%s", code, p.stderr)
				}
			}
			corrupt := []string{"DELETE FROM shop.items WHERE id = 7", "UPDATE shop.items SET n = -1 WHERE id = 8",
				"INSERT INTO shop.items (id, name, n) VALUES (99999, 'extra', 0)"}
			for _, q := range corrupt {
				var err error
				if kind == "postgres" {
					err = e.pg.Exec(context.Background(), "dw", q)
				} else {
					err = e.dst.Exec("", q)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if code, out := runWeir(t, e.dir, "verify", "p.yaml"); code != 1 {
				t.Fatalf("verify of a corrupted copy: exit %d\n%s", code, out)
			}
			if code, out := runWeir(t, e.dir, "resnapshot", "p.yaml", "--table", "shop.nothere"); code != 2 || !strings.Contains(out, "its tables: shop.items") {
				t.Fatalf("resnapshot of an unknown table: exit %d\n%s", code, out)
			}
			code, out := runWeir(t, e.dir, "resnapshot", "p.yaml", "--table", "shop.items")
			want := "it is not running; its next `weir run"
			if online {
				want = "took the request: it is copying shop.items again beside its stream"
			}
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("resnapshot: exit %d, want %q in\n%s\nrun:\n%s", code, want, out, p.stderr)
			}
			q := p
			if !online {
				q = start(t, e.dir, "run", "p.yaml")
			}
			for i := range 20 { // changes flow while the table is copied again
				if err := e.db.Exec("", fmt.Sprintf("UPDATE shop.items SET n = n + 1 WHERE id = %d; DELETE FROM shop.items WHERE id = %d; INSERT INTO shop.items VALUES (%d, 'new', 1)",
					100+i, 2000+i, 5000+i)); err != nil {
					t.Fatal(err)
				}
			}
			e.waitEqual(t, q, "shop.items")
			q.signal(syscall.SIGTERM)
			if code := q.wait(t, time.Minute); code != 0 {
				t.Fatalf("exit %d\n%s", code, q.stderr)
			}
			for _, said := range []string{"copying tables again on request", "emptied a sink table to copy its source table again"} {
				if !strings.Contains(q.stderr.String(), said) {
					t.Errorf("the run did not say %q:\n%s", said, q.stderr)
				}
			}
			if code, out := runWeir(t, e.dir, "verify", "p.yaml"); code != 0 {
				t.Fatalf("verify after resnapshot: exit %d\n%s", code, out)
			}
		})
	}
}

// TestVerifyReportsAGoneTable: a table the pipeline copied that the source no longer has
// is reported by verify, its rows in the sink counted as extra, not skipped.
func TestVerifyReportsAGoneTable(t *testing.T) {
	e := startMariaTo(t, "postgres", `CREATE DATABASE shop; USE shop; CREATE TABLE a (id INT PRIMARY KEY); CREATE TABLE b (id INT PRIMARY KEY);
		INSERT INTO a VALUES (1), (2); INSERT INTO b VALUES (1), (2), (3)`, `shop.\.*`, "lenient")
	p := start(t, e.dir, "run", "p.yaml")
	e.waitEqual(t, p, `shop.\.*`)
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	if err := e.db.Exec("", "DROP TABLE shop.b"); err != nil {
		t.Fatal(err)
	}
	code, out := runWeir(t, e.dir, "verify", "p.yaml")
	if code != 1 || !strings.Contains(out, "shop.b: source 0 rows, sink 3 rows: 0 missing, 3 extra") || !strings.Contains(out, "no longer has this table") {
		t.Fatalf("verify after a source table was dropped: exit %d\n%s", code, out)
	}
}

// TestPauseTable: `weir pause` pauses one table of a running pipeline while the other goes
// on — its changes are not written, its schema change is — the pause outlives a SIGKILL,
// and `weir resnapshot` resumes it by copying it again, after which verify finds source
// and sink equal.
func TestPauseTable(t *testing.T) {
	e := startMariaTo(t, "postgres", `CREATE DATABASE shop; USE shop;
		CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), n INT); CREATE TABLE other (id INT PRIMARY KEY, n INT);
		INSERT INTO items SELECT seq, CONCAT('item ', seq), seq FROM seq_1_to_3000; INSERT INTO other SELECT seq, seq FROM seq_1_to_10`,
		"shop.items, shop.other", "lenient")
	p := start(t, e.dir, "run", "p.yaml")
	e.waitEqual(t, p, "shop.items, shop.other")
	if code, out := runWeir(t, e.dir, "pause", "p.yaml", "--table", "shop.nothere"); code != 2 || !strings.Contains(out, "its tables: shop.items, shop.other") {
		t.Fatalf("pause of an unknown table: exit %d\n%s", code, out)
	}
	if code, out := runWeir(t, e.dir, "pause", "p.yaml", "--table", "shop.items"); code != 0 || !strings.Contains(out, "took the request: shop.items is paused") {
		t.Fatalf("pause: exit %d\n%s\nrun:\n%s", code, out, p.stderr)
	}
	pausedRow := func() (n int, exists bool) {
		t.Helper()
		ctx := context.Background()
		c, err := pgx.Connect(ctx, e.pg.URL("dw"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if err := c.QueryRow(ctx, "SELECT n FROM shop.items WHERE id = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		err = c.QueryRow(ctx, "SELECT true FROM shop.items WHERE id = 2").Scan(&exists)
		if err != nil && err != pgx.ErrNoRows {
			t.Fatal(err)
		}
		return n, exists
	}
	if err := e.db.Exec("shop", `UPDATE items SET n = -5 WHERE id = 1; DELETE FROM items WHERE id = 2; ALTER TABLE items ADD COLUMN c INT;
		UPDATE items SET c = 7 WHERE id = 3; INSERT INTO other VALUES (11, 11)`); err != nil {
		t.Fatal(err)
	}
	e.waitEqual(t, p, "shop.other") // the other table goes on
	if n, exists := pausedRow(); n != 1 || !exists {
		t.Fatalf("the paused table was written: id 1 has n = %d (want 1), id 2 exists: %v", n, exists)
	}

	p.signal(syscall.SIGKILL) // the pause outlives the process
	p.wait(t, time.Minute)
	q := start(t, e.dir, "run", "p.yaml")
	if err := e.db.Exec("shop", `UPDATE items SET n = -6 WHERE id = 1; INSERT INTO other VALUES (12, 12)`); err != nil {
		t.Fatal(err)
	}
	e.waitEqual(t, q, "shop.other")
	if n, exists := pausedRow(); n != 1 || !exists {
		t.Fatalf("after a restart, the paused table was written: id 1 has n = %d (want 1), id 2 exists: %v", n, exists)
	}
	if !strings.Contains(q.stderr.String(), "a table is paused on request") {
		t.Errorf("the run does not say the table is paused:\n%s", q.stderr)
	}

	if code, out := runWeir(t, e.dir, "resnapshot", "p.yaml", "--table", "shop.items"); code != 0 || !strings.Contains(out, "took the request") {
		t.Fatalf("resnapshot to resume: exit %d\n%s\nrun:\n%s", code, out, q.stderr)
	}
	e.waitEqual(t, q, "shop.items, shop.other")
	q.signal(syscall.SIGTERM)
	if code := q.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, q.stderr)
	}
	if code, out := runWeir(t, e.dir, "verify", "p.yaml"); code != 0 {
		t.Fatalf("verify after the table was resumed: exit %d\n%s", code, out)
	}
}
