package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/testenv"
)

// TestFilterPushdown snapshots a 1M-row table through a filter that 1% of its rows pass,
// from MariaDB and from PostgreSQL: with pushdown the source reads only those rows
// (weir_snapshot_rows_read), without it every row, and both give the same rows — those
// the test selects itself. The filter has a term the source cannot take (a function),
// which weir evaluates.
func TestFilterPushdown(t *testing.T) {
	const rows, matching = 1_000_000, 10_000
	const filter = "v < 1000 AND c LIKE 'row%' AND CONCAT(c, '') = c"
	wantIDs := map[string]bool{}
	for id := 1; id <= rows; id++ {
		if id%100000 < 1000 {
			wantIDs[fmt.Sprint(id)] = true
		}
	}
	t.Run("mariadb", func(t *testing.T) {
		db, err := testenv.StartMariaDB()
		if err != nil {
			t.Fatal(err)
		}
		defer db.Stop()
		if err := db.Exec("", fmt.Sprintf(`CREATE DATABASE shop; USE shop;
			CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, c VARCHAR(40) NOT NULL);
			INSERT INTO t SELECT seq, seq %% 100000, CONCAT('row ', seq) FROM seq_1_to_%d`, rows)); err != nil {
			t.Fatal(err)
		}
		source := fmt.Sprintf("  type: mariadb\n  hostname: 127.0.0.1\n  port: %d\n  username: root\n  tables: shop.t", db.Port)
		pushdownRuns(t, source, "shop.t", "shop.t", filter, rows, matching, wantIDs)
	})
	t.Run("postgres", func(t *testing.T) {
		pg, err := testenv.StartPostgres()
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Stop()
		ctx := context.Background()
		if err := pg.Exec(ctx, "postgres", "CREATE DATABASE shop"); err != nil {
			t.Fatal(err)
		}
		if err := pg.Exec(ctx, "shop", fmt.Sprintf(`CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, c varchar(40) NOT NULL);
			INSERT INTO t SELECT g, g %% 100000, 'row ' || g FROM generate_series(1, %d) g`, rows)); err != nil {
			t.Fatal(err)
		}
		source := fmt.Sprintf("  type: postgres\n  hostname: 127.0.0.1\n  port: %d\n  username: postgres\n  database-name: shop\n  tables: public.t", pg.Port)
		pushdownRuns(t, source, "public.t", "shop.public.t", filter, rows, matching, wantIDs)
	})
}

// pushdownRuns runs the filtered snapshot of table (named label in metrics and records)
// with and without pushdown and checks both.
func pushdownRuns(t *testing.T, source, table, label, filter string, rows, matching int, wantIDs map[string]bool) {
	for _, pushdown := range []bool{true, false} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`
source:
%s
  scan.incremental.snapshot.chunk.size: 50000
sink:
  type: file
  path: out
  fsync: false
transform:
  - source-table: %s
    filter: %s
pipeline:
  name: pushdown-%t
  parallelism: 2
  filter.pushdown: %t
`, source, table, filter, pushdown, pushdown))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		get := func(path string) string {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				return ""
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		p := start(t, dir, "run", "--metrics-addr", addr, "p.yaml")
		waitFor(t, "the snapshot's end", 2*time.Minute, func() bool {
			if p.exited() {
				t.Fatalf("weir exited:\n%s", p.stderr)
			}
			return strings.HasPrefix(get("/healthz"), "ok stream")
		})
		metrics := get("/metrics")
		p.signal(syscall.SIGTERM)
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("exit %d\n%s", code, p.stderr)
		}
		var read float64
		name := fmt.Sprintf(`weir_snapshot_rows_read{pipeline="pushdown-%t",table="%s"} `, pushdown, label)
		for _, line := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(line, name) {
				fmt.Sscan(strings.TrimPrefix(line, name), &read)
			}
		}
		switch {
		case pushdown && (int(read) != matching || !strings.Contains(p.stderr.String(), "filter pushed down into the snapshot queries")):
			t.Errorf("with pushdown the source read %.0f rows of %d, want the %d that match\n%s", read, rows, matching, p.stderr)
		case !pushdown && int(read) != rows:
			t.Errorf("without pushdown the source read %.0f rows, want all %d", read, rows)
		}
		recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := conformance.Fold(recs, map[string][]string{label: {"id"}})
		if err != nil {
			t.Fatal(err)
		}
		missing, extra := 0, 0
		for id := range wantIDs {
			if got[fmt.Sprintf(`["%s",%s]`, label, id)] == nil {
				missing++
			}
		}
		for key, row := range got {
			if id, _ := row["id"].(float64); !wantIDs[fmt.Sprintf("%.0f", id)] {
				extra++
				if extra < 3 {
					t.Errorf("row %s does not pass the filter", key)
				}
			}
		}
		if missing > 0 || extra > 0 || len(got) != matching {
			t.Errorf("pushdown %t: %d rows, %d missing, %d extra", pushdown, len(got), missing, extra)
		}
		t.Logf("pushdown %t: the source read %.0f rows; %d reached the sink", pushdown, read, len(got))
	}
}
