package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
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
	"github.com/weir-data/weir/internal/sink/postgres"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/source/mysql"
	"github.com/weir-data/weir/internal/testenv"
)

const mariadbPipeline = `
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.orders
  heartbeat.interval: 500ms
  scan.incremental.snapshot.chunk.size: 4000
  scan.rate-limit.rows-per-second: 30000
sink:
%s
pipeline:
  name: maria
  parallelism: 3
  checkpoint.interval: 200ms
`

// TestMariaDBSIGKILLConverges runs `weir run` of MariaDB → file while concurrent
// transactions change the table, kills it with SIGKILL at random moments of the snapshot
// and of the stream, restarts it each time, and checks that once it has caught up the
// sink's rows (its changelog folded by key) equal the table's, and that the changelog
// holds each change exactly once. With a 200,000-row table under an integer key, and
// under a text key in a case-insensitive collation.
func TestMariaDBSIGKILLConverges(t *testing.T) {
	t.Run("int", func(t *testing.T) {
		sigkillConverges(t, 200000, "id BIGINT PRIMARY KEY", "seq",
			func(n int) string { return fmt.Sprint(n) }, func(n int) string { return fmt.Sprint(n) }, true, fileTarget)
	})
	t.Run("text", func(t *testing.T) {
		lit := func(n int) string { return fmt.Sprintf("'K%07d'", n) }
		sigkillConverges(t, 100000, "id VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY", "CONCAT('K', LPAD(seq, 7, '0'))", lit, lit, false, fileTarget)
	})
}

// TestMariaDBToPostgresSIGKILL is the same with the PostgreSQL sink: in upsert mode the
// table equals the source's, in changelog mode the changelog table holds every change
// exactly once, kills in the middle of commits notwithstanding.
func TestMariaDBToPostgresSIGKILL(t *testing.T) {
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) {
			pg, err := testenv.StartPostgres()
			if err != nil {
				t.Fatal(err)
			}
			defer pg.Stop()
			if err := pg.Exec(context.Background(), "postgres", "CREATE DATABASE dw"); err != nil {
				t.Fatal(err)
			}
			sigkillConverges(t, 100000, "id BIGINT PRIMARY KEY", "seq",
				func(n int) string { return fmt.Sprint(n) }, func(n int) string { return fmt.Sprint(n) }, true, postgresTarget(pg, mode))
		})
	}
}

// target is where a test pipeline writes and how the test reads it back.
type target struct {
	yaml string
	// image is the sink's table image; records its changelog (nil: it keeps none).
	image   func(t *testing.T, dir string, s *event.Schema) map[string]map[string]any
	records func(t *testing.T, dir string, s *event.Schema) []conformance.Record
	// diagnose, when set, describes the target server's state (sessions, locks) for a
	// failure message.
	diagnose func(t *testing.T) string
}

var fileTarget = target{
	yaml: "  type: file\n  path: out\n  fsync: false",
	records: func(t *testing.T, dir string, _ *event.Schema) []conformance.Record {
		recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
		if err != nil {
			t.Fatal(err)
		}
		return recs
	},
}

func postgresTarget(pg *testenv.Postgres, mode string) target {
	read := func(t *testing.T, s *event.Schema, extra []string, order string) ([]event.Row, [][]string) {
		conn, err := pgx.Connect(context.Background(), pg.URL("dw"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rows, ex, err := postgres.ReadRows(context.Background(), conn, s, extra, order)
		if err != nil {
			t.Fatal(err)
		}
		return rows, ex
	}
	tg := target{yaml: fmt.Sprintf("  type: postgres\n  url: %s\n  sink.mode: %s", pg.URL("dw"), mode)}
	return tg.withReader(read, mode)
}

// withReader completes a SQL target from a function that reads a table back: its
// changelog in changelog mode, else its image.
func (tg target) withReader(read func(t *testing.T, s *event.Schema, extra []string, order string) ([]event.Row, [][]string), mode string) target {
	if mode == "changelog" {
		tg.records = func(t *testing.T, _ string, s *event.Schema) []conformance.Record {
			rows, ex := read(t, s, []string{"_weir_op", "_weir_pos", "_weir_before"}, "_weir_seq")
			var out []conformance.Record
			for i, row := range rows {
				rec, err := conformance.ChangelogRecord(s, row, ex[i][0], ex[i][1], ex[i][2], "mariadb")
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, rec)
			}
			return out
		}
		return tg
	}
	tg.image = func(t *testing.T, _ string, s *event.Schema) map[string]map[string]any {
		rows, _ := read(t, s, nil, "")
		img, err := conformance.TableImage(s, rows)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	return tg
}

func sigkillConverges(t *testing.T, rows int, keyDDL, seqKey string, key, keyLit func(int) string, exactLog bool, tg target) {
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec("", fmt.Sprintf(`CREATE DATABASE shop; USE shop;
		CREATE TABLE orders (%s, v INT NOT NULL, note VARCHAR(40), amount DECIMAL(12,2));
		INSERT INTO orders SELECT %s, seq %% 100, CONCAT('order ', seq), seq / 7 FROM seq_1_to_%d`, keyDDL, seqKey, rows)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(mariadbPipeline, db.Port, tg.yaml))

	// The workload.
	conn, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", db.Port), "root", "", "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	txns := 0
	go func() {
		defer wg.Done()
		w := testenv.Workload{Conn: conn, Table: "orders", Existing: rows, Seed: 7, Pause: time.Millisecond,
			Insert: func(n int) string { return fmt.Sprintf("(%s, 1, 'new', 2.5)", key(n)) },
			Where:  func(n int) string { return "id = " + keyLit(n) },
			MoveTo: func(n int) string { return "id = " + keyLit(n) },
			Update: "v = v + 1, note = 'upd'"}
		var err error
		if txns, err = w.Run(stop); err != nil {
			t.Error(err)
		}
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	inSnapshot := 0
	var procs []*proc // every process, for a failure's report
	for kill := 0; kill < 8; kill++ {
		p := start(t, dir, "run", "p.yaml")
		procs = append(procs, p)
		wait := 100 + rng.IntN(900)
		if kill < 3 {
			wait = 50 + rng.IntN(250) // early: inside the snapshot
		}
		time.Sleep(time.Duration(wait) * time.Millisecond)
		if p.exited() {
			t.Fatalf("weir exited before it was killed:\n%s", p.stderr)
		}
		p.signal(syscall.SIGKILL)
		p.wait(t, 10*time.Second)
		if !strings.Contains(p.stderr.String(), "snapshot finished") && !strings.Contains(p.stderr.String(), "snapshot=false") {
			inSnapshot++
		}

	}
	if inSnapshot == 0 {
		t.Fatal("no kill fell inside the snapshot; the test did not test it")
	}
	close(stop)
	wg.Wait()

	// Let it catch up, then compare.
	final := start(t, dir, "run", "p.yaml")
	procs = append(procs, final)
	src, err := mysql.New(context.Background(), mysql.Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "shop.orders"}, connector.Env{Pipeline: "check"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tables, err := src.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var all []event.Row
	if err := src.ReadChunk(context.Background(), tables[0], snapshot.Chunk{Table: tables[0].ID}, func(rs []event.Row) error {
		all = append(all, rs...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, err := conformance.TableImage(tables[0], all)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{"shop.orders": {"id"}}
	var diff string
	sinkImage := func() map[string]map[string]any {
		if tg.image != nil {
			return tg.image(t, dir, tables[0])
		}
		got, err := conformance.Fold(tg.records(t, dir, tables[0]), keys)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if diff = conformance.DiffImages(want, sinkImage(), 10); diff == "" {
			break
		}
	}
	if diff != "" && tg.diagnose != nil {
		t.Logf("the target, not converged:\n%s", tg.diagnose(t))
	}
	final.signal(syscall.SIGTERM)
	if code := final.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("final run: exit %d\n%s", code, final.stderr)
	}
	if diff != "" {
		t.Fatalf("after 8 kills and %d concurrent transactions the sink differs from the source: %s\nthe processes:\n%s", txns, diff, logsOf(procs))
	}
	// And, where Go orders the keys as the server does, the changelog is clean: each key
	// read or inserted once, then updated or deleted, kills and snapshot notwithstanding.
	// (Text keys under a case-insensitive collation may see a change before their chunk.)
	if exactLog && tg.records != nil {
		if err := conformance.CheckChangelog(tg.records(t, dir, tables[0]), keys); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("8 kills (%d in the snapshot), %d concurrent transactions, %d rows: sink equals source", inSnapshot, txns, len(want))
}

// TestDiscover lists what a MariaDB source would emit.
func TestDiscover(t *testing.T) {
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec("", `CREATE DATABASE shop; CREATE TABLE shop.items (id BIGINT UNSIGNED PRIMARY KEY, price DECIMAL(10,2), tags SET('a','b'), seen DATETIME(3) NOT NULL);
		CREATE TABLE shop.log (msg TEXT)`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(mariadbPipeline, db.Port, fileTarget.yaml))
	code, out := runWeir(t, dir, "discover", "--source", "p.yaml")
	if code != 1 || !strings.Contains(out, "no table matches tables: shop.orders") {
		t.Fatalf("a selection that matches nothing: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), strings.Replace(fmt.Sprintf(mariadbPipeline, db.Port, fileTarget.yaml), "shop.orders", "shop.\\.*", 1))
	code, out = runWeir(t, dir, "discover", "p.yaml") // positional, as every command takes its file
	// A table without a key is listed too (it is not copied), not an end to the listing.
	for _, want := range []string{"shop.items  (key: id)", "bigint(20) unsigned", "uint64", "decimal(10,2)", "set('a','b')", "datetime(3)", "timestamp(3)",
		"shop.log  (key: none: it is not copied until it has a primary key"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("discover: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}
