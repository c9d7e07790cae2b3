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

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
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
  type: file
  path: out
  fsync: false
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
			func(n int) string { return fmt.Sprint(n) }, func(n int) string { return fmt.Sprint(n) }, true)
	})
	t.Run("text", func(t *testing.T) {
		lit := func(n int) string { return fmt.Sprintf("'K%07d'", n) }
		sigkillConverges(t, 100000, "id VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY", "CONCAT('K', LPAD(seq, 7, '0'))", lit, lit, false)
	})
}

func sigkillConverges(t *testing.T, rows int, keyDDL, seqKey string, key, keyLit func(int) string, exactLog bool) {
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
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(mariadbPipeline, db.Port))

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
	for kill := 0; kill < 8; kill++ {
		p := start(t, dir, "run", "p.yaml")
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
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := conformance.Fold(recs, keys)
		if err != nil {
			t.Fatal(err)
		}
		if diff = conformance.DiffImages(want, got, 10); diff == "" {
			break
		}
	}
	final.signal(syscall.SIGTERM)
	if code := final.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("final run: exit %d\n%s", code, final.stderr)
	}
	if diff != "" {
		t.Fatalf("after 8 kills and %d concurrent transactions the sink differs from the source: %s", txns, diff)
	}
	// And, where Go orders the keys as the server does, the changelog is clean: each key
	// read or inserted once, then updated or deleted, kills and snapshot notwithstanding.
	// (Text keys under a case-insensitive collation may see a change before their chunk.)
	if exactLog {
		checkChangelog(t, dir, keys)
	}
	t.Logf("8 kills (%d in the snapshot), %d concurrent transactions, %d rows: sink equals source", inSnapshot, txns, len(want))
}

func checkChangelog(t *testing.T, dir string, keys map[string][]string) {
	recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if err := conformance.CheckChangelog(recs, keys); err != nil {
		t.Fatal(err)
	}
}

// TestDiscover lists what a MariaDB source would emit.
func TestDiscover(t *testing.T) {
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec("", `CREATE DATABASE shop; CREATE TABLE shop.items (id BIGINT UNSIGNED PRIMARY KEY, price DECIMAL(10,2), tags SET('a','b'), seen DATETIME(3) NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(mariadbPipeline, db.Port))
	code, out := runWeir(t, dir, "discover", "--source", "p.yaml")
	if code != 1 || !strings.Contains(out, "no table matches tables: shop.orders") {
		t.Fatalf("a selection that matches nothing: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), strings.Replace(fmt.Sprintf(mariadbPipeline, db.Port), "shop.orders", "shop.\\.*", 1))
	code, out = runWeir(t, dir, "discover", "--source", "p.yaml")
	for _, want := range []string{"shop.items  (key: id)", "bigint(20) unsigned", "uint64", "decimal(10,2)", "set('a','b')", "datetime(3)", "timestamp(3)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("discover: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}
