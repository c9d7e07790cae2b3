package e2e

import (
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/testenv"
)

// TestTransformProjectionAndFilter runs MariaDB → file with a transform rule (computed
// columns and a filter) while concurrent transactions move rows into and out of the
// filter, and SIGKILLs weir twice. Once caught up, the sink's changelog, folded by key,
// equals the source table transformed by the test itself (in Go, not by weir), and holds
// each change once.
func TestTransformProjectionAndFilter(t *testing.T) {
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	const rows = 20000
	if err := db.Exec("", fmt.Sprintf(`CREATE DATABASE shop; USE shop;
		CREATE TABLE orders (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40), amount DECIMAL(12,2));
		INSERT INTO orders SELECT seq, seq %% 100, CONCAT('order ', seq), seq / 7 FROM seq_1_to_%d`, rows)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.orders
  heartbeat.interval: 300ms
  scan.incremental.snapshot.chunk.size: 2000
  scan.rate-limit.rows-per-second: 20000
sink:
%s
transform:
  - source-table: shop.orders
    projection: id, v, UPPER(note) AS note_uc, amount * 2 AS twice, CONCAT(__table_name__, ':', id) AS tag
    filter: v >= 50 AND note IS NOT NULL
pipeline:
  name: tf
  parallelism: 2
  checkpoint.interval: 200ms
`, db.Port, fileTarget.yaml))

	conn, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", db.Port), "root", "", "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	txns := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := testenv.Workload{Conn: conn, Table: "orders", Existing: rows, Seed: 3, Pause: time.Millisecond,
			Insert: func(n int) string { return fmt.Sprintf("(%d, %d, 'new %d', 1.25)", n, n%100, n) },
			Where:  func(n int) string { return fmt.Sprintf("id = %d", n) },
			MoveTo: func(n int) string { return fmt.Sprintf("id = %d", n) },
			Update: "v = (v + 37) % 100, note = IF(v % 10 = 3, NULL, CONCAT(note, '+'))"} // in and out of the filter
		var err error
		if txns, err = w.Run(stop); err != nil {
			t.Error(err)
		}
	}()
	for kill := range 2 {
		p := start(t, dir, "run", "p.yaml")
		time.Sleep(time.Duration(400+500*kill) * time.Millisecond)
		if p.exited() {
			t.Fatalf("weir exited:\n%s", p.stderr)
		}
		p.signal(syscall.SIGKILL)
		p.wait(t, 10*time.Second)
	}
	final := start(t, dir, "run", "p.yaml")
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// The expected rows, transformed here.
	out, err := db.Query("shop", "SELECT id, v, IFNULL(note, '<null>'), amount FROM orders")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		var id, v int
		fmt.Sscan(f[0], &id)
		fmt.Sscan(f[1], &v)
		if v < 50 || f[2] == "<null>" {
			continue
		}
		twice, _ := new(big.Rat).SetString(f[3])
		twice.Mul(twice, big.NewRat(2, 1))
		want[fmt.Sprintf(`["shop.orders",%d]`, id)] = map[string]any{"id": float64(id), "v": float64(v), "note_uc": strings.ToUpper(f[2]),
			"twice": twice.FloatString(2), "tag": fmt.Sprintf("orders:%d", id)}
	}
	keys := map[string][]string{"shop.orders": {"id"}}
	var diff string
	var recs []conformance.Record
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		recs, err = conformance.ReadFileSink(filepath.Join(dir, "out"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := conformance.Fold(recs, keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range got { // decimals as the test writes them
			if s, ok := row["twice"].(string); ok {
				r, _ := new(big.Rat).SetString(s)
				row["twice"] = r.FloatString(2)
			}
		}
		if diff = conformance.DiffImages(want, got, 10); diff == "" {
			break
		}
	}
	final.signal(syscall.SIGTERM)
	if code := final.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, final.stderr)
	}
	if diff != "" {
		t.Fatalf("after %d concurrent transactions the sink differs from the transformed source: %s", txns, diff)
	}
	if err := conformance.CheckChangelog(recs, keys); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d concurrent transactions, 2 kills: the sink holds the %d rows that pass the filter, transformed, each change once", txns, len(want))
}
