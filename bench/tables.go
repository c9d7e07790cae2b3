package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"
)

// The many-tables scenario (issue 22, item 5): one pipeline over -tables sysbench-like
// tables of -rows/-tables rows each, MariaDB → PostgreSQL, against one table of the same
// -rows rows in the same run:
//
//	snapshot  scan.startup.mode snapshot of all the tables, process start → exit (which
//	          includes the index on k of every table), against the same of the one table;
//	          medians of -table-rounds alternating runs of each. Start-up is process start
//	          → weir's first "snapshotting a table" line (its first chunk dispatched).
//	stream    scan.startup.mode initial; once the snapshot is in, -table-changes
//	          single-row updates spread over all the tables, applied on 8 connections
//	          while weir runs, then a sentinel update; catch-up is the end of the
//	          workload → the sentinel visible in PostgreSQL. The checkpoint's size is its
//	          file in the state directory; its time is weir_checkpoint_duration_seconds
//	          (mean over the stream). Then a restart from that checkpoint: process start
//	          → weir's "streaming changes" line.
var (
	tables       = flag.Int("tables", 1000, "tables of the many-tables scenario, of -rows/-tables rows each (0: skip it)")
	tableChanges = flag.Int("table-changes", 5000, "single-row updates of the many-tables scenario's stream, spread over all its tables")
	tableRounds  = flag.Int("table-rounds", 3, "alternating snapshot runs of the many tables and of the one table, whose medians are reported")
)

const manyPipeline = `
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: %s
  scan.startup.mode: %s
  heartbeat.interval: 200ms
sink:
  type: postgres
  url: %s
pipeline:
  name: %s
  parallelism: %d
  checkpoint.interval: 1s
`

// manyTables runs the many-tables scenario.
func (e *env) manyTables(ctx context.Context) error {
	n, per := *tables, *rows / *tables
	total := n * per
	if err := e.fillManyTables(n, per); err != nil {
		return err
	}
	// Snapshot: the many tables and the one table, alternating.
	var manyT, oneT, manyCPU, oneCPU, manyRSS, oneRSS, startup, resolved []float64
	for round := range *tableRounds {
		for _, many := range []bool{true, false} {
			name, sel := "one", `one.sbtest1`
			if many {
				name, sel = "many", `many.t\d+`
			}
			if err := e.freshPG(ctx, name); err != nil {
				return err
			}
			w, err := e.launchMany(name, sel, "snapshot", fmt.Sprintf("state-%s-%d", name, round))
			if err != nil {
				return err
			}
			err = w.cmd.Wait()
			took := time.Since(w.start).Seconds()
			cpu, rss, _ := w.stop()
			if err != nil {
				return fmt.Errorf("weir snapshot of %s: %v\n%s", name, err, w.log)
			}
			got, err := e.countAll(ctx, name, name == "many")
			if err != nil || got != total {
				return fmt.Errorf("after the snapshot %s has %d rows (%v), want %d\n%s", name, got, err, total, w.log)
			}
			if many {
				manyT, manyCPU, manyRSS = append(manyT, took), append(manyCPU, cpu), append(manyRSS, rss)
				if t, ok := w.logAt("snapshotting a table"); ok {
					startup = append(startup, t.Sub(w.start).Seconds())
				}
				if t, ok := w.logAt("starting fresh"); ok {
					resolved = append(resolved, t.Sub(w.start).Seconds())
				}
			} else {
				oneT, oneCPU, oneRSS = append(oneT, took), append(oneCPU, cpu), append(oneRSS, rss)
			}
			log("snapshot of %s: %.1f s, CPU %.1f s, peak RSS %.0f MB", name, took, cpu, rss)
		}
	}
	m, o := median(manyT), median(oneT)
	e.results = append(e.results,
		result{Scenario: fmt.Sprintf("snapshot %d tables × %d rows MariaDB → PostgreSQL", n, per), Weir: float64(total) / m, Unit: "rows/s",
			Raw: float64(total) / o, RawName: fmt.Sprintf("weir's snapshot of one table of %d rows (medians of %d alternating runs)", total, *tableRounds),
			CPU: median(manyCPU), RSSMB: slices.Max(manyRSS),
			Note: fmt.Sprintf("%.1f s against %.1f s (%.2f×; one table: CPU %.1f s, peak RSS %.0f MB); start-up (process start → first chunk) %.2f s, of which resolving the tables (→ starting fresh) %.2f s",
				m, o, m/o, median(oneCPU), slices.Max(oneRSS), median(startup), median(resolved))})
	return e.manyStream(ctx, n)
}

// fillManyTables makes database many in MariaDB with n tables t0001… of per rows each,
// and database one with one table of n×per rows.
func (e *env) fillManyTables(n, per int) error {
	log("filling many.t0001…t%04d with %d rows each, and one.sbtest1 with %d rows", n, per, n*per)
	row := `seq %% 100000, CONCAT_WS('-', MD5(seq), MD5(seq+1), MD5(seq+2), LEFT(MD5(seq+3), 21)), CONCAT_WS('-', MD5(seq+4), LEFT(MD5(seq+5), 27))`
	const table = "(id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, KEY k_1 (k))"
	if err := e.db.Exec("", fmt.Sprintf("CREATE DATABASE one; USE one; CREATE TABLE sbtest1 %s; INSERT INTO sbtest1 SELECT seq, "+row+" FROM seq_1_to_%d; CREATE DATABASE many",
		table, n*per)); err != nil {
		return err
	}
	// A hundred tables per client call: each its CREATE and one INSERT … SELECT.
	for lo := 1; lo <= n; lo += 100 {
		var b strings.Builder
		for i := lo; i < lo+100 && i <= n; i++ {
			fmt.Fprintf(&b, "CREATE TABLE t%04d %s; INSERT INTO t%04d SELECT seq, "+row+" FROM seq_1_to_%d;\n", i, table, i, per)
		}
		if err := e.db.Exec("many", b.String()); err != nil {
			return err
		}
	}
	return nil
}

// freshPG makes database db of PostgreSQL anew.
func (e *env) freshPG(ctx context.Context, db string) error {
	if err := e.pg.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return err
	}
	return e.pg.Exec(ctx, "postgres", "CREATE DATABASE "+db)
}

// launchMany starts weir over the tables sel matches into PostgreSQL database name.
func (e *env) launchMany(name, sel, mode, state string) (*weirRun, error) {
	w, err := e.launch(fmt.Sprintf(manyPipeline, e.db.Port, sel, mode, e.pg.URL(name), name, *par), state)
	if err == nil && *profDir != "" {
		go profileRest(w.addr, runs, w.done)
	}
	return w, err
}

// profileRest saves CPU profiles of 5 s each after the first 4 s (profileOnce's) until
// done (cpu-<run>-<n>.pb.gz; go tool pprof takes them together).
func profileRest(addr string, run int, done <-chan struct{}) {
	select {
	case <-done:
		return
	case <-time.After(4500 * time.Millisecond):
	}
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		profileOnce(addr, fmt.Sprintf("cpu-%d-%02d.pb.gz", run, i), "/debug/pprof/profile?seconds=5")
	}
}

// countAll counts the rows of database db in PostgreSQL: of its tables many.t… (many)
// or of one.sbtest1.
func (e *env) countAll(ctx context.Context, db string, many bool) (int, error) {
	conn, err := pgx.Connect(ctx, e.pg.URL(db))
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	q := "SELECT count(*) FROM one.sbtest1"
	if many {
		var parts []string
		for i := 1; i <= *tables; i++ {
			parts = append(parts, fmt.Sprintf("SELECT count(*) AS n FROM many.t%04d", i))
		}
		q = "SELECT sum(n) FROM (" + strings.Join(parts, " UNION ALL ") + ") c"
	}
	var got int
	err = conn.QueryRow(ctx, q).Scan(&got)
	return got, err
}

// logAt is the time of the first line of weir's log whose message is msg.
func (w *weirRun) logAt(msg string) (time.Time, bool) {
	for _, line := range strings.Split(w.log.String(), "\n") {
		if !strings.Contains(line, `msg="`+msg+`"`) || !strings.HasPrefix(line, "time=") {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		return t, err == nil
	}
	return time.Time{}, false
}

// metric is the value of the series of /metrics whose line starts with prefix (-1 when
// there is none).
func (w *weirRun) metric(prefix string) float64 {
	resp, err := http.Get("http://" + w.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			return v
		}
	}
	return -1
}

// manyStream is the stream part of the scenario: initial mode over the many tables, a
// workload over all of them once the snapshot is in, and a restart.
func (e *env) manyStream(ctx context.Context, n int) error {
	if err := e.freshPG(ctx, "many"); err != nil {
		return err
	}
	state := "state-many-stream"
	w, err := e.launchMany("many", `many.t\d+`, "initial", state)
	if err != nil {
		return err
	}
	defer func() {
		if w.cmd.ProcessState == nil {
			w.stop()
		}
	}()
	// The snapshot is in, and a checkpoint taken after it.
	cps := `weir_checkpoint_duration_seconds_count{pipeline="many"}`
	for !w.log.has(`msg="snapshot finished"`) {
		if w.cmd.ProcessState != nil {
			return fmt.Errorf("weir exited:\n%s", w.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	first := w.metric(cps)
	for w.metric(cps) < first+2 { // (a scrape of a thousand tables' series costs weir: not too often)
		time.Sleep(300 * time.Millisecond)
	}
	sum0, count0 := w.metric(`weir_checkpoint_duration_seconds_sum{pipeline="many"}`), w.metric(cps)

	log("applying %d single-row updates over %d tables", *tableChanges, n)
	t0 := time.Now()
	if err := e.updateMany(n, *tableChanges); err != nil {
		return err
	}
	applied := time.Since(t0)
	if err := e.db.Exec("", fmt.Sprintf("UPDATE many.t%04d SET pad = 'sentinel' WHERE id = 1", n)); err != nil {
		return err
	}
	pgc, err := pgx.Connect(ctx, e.pg.URL("many"))
	if err != nil {
		return err
	}
	defer pgc.Close(ctx)
	for {
		var pad string
		if err := pgc.QueryRow(ctx, fmt.Sprintf("SELECT pad FROM many.t%04d WHERE id = 1", n)).Scan(&pad); err == nil && strings.TrimSpace(pad) == "sentinel" {
			break
		}
		if w.cmd.ProcessState != nil {
			return fmt.Errorf("weir exited:\n%s", w.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	caughtUp := time.Since(t0)
	// Checkpoints over the stream, a few more after the workload.
	for c := w.metric(cps); w.metric(cps) < c+3; {
		time.Sleep(300 * time.Millisecond)
	}
	sum1, count1 := w.metric(`weir_checkpoint_duration_seconds_sum{pipeline="many"}`), w.metric(cps)
	cpu, rss, err := w.stop()
	if err != nil {
		return fmt.Errorf("stop weir: %v\n%s", err, w.log)
	}
	fi, err := os.Stat(filepath.Join(e.dir, state, "pipelines", "many", "checkpoint.json"))
	if err != nil {
		return err
	}
	var sinkCP int
	if err := pgc.QueryRow(ctx, "SELECT octet_length(checkpoint::text) FROM weir_checkpoints WHERE pipeline = 'many'").Scan(&sinkCP); err != nil {
		return fmt.Errorf("the sink's checkpoint: %w", err)
	}
	// A restart from that checkpoint: start → streaming.
	r, err := e.launchMany("many", `many.t\d+`, "initial", state)
	if err != nil {
		return err
	}
	for !r.log.has(`msg="streaming changes"`) {
		if r.cmd.ProcessState != nil {
			return fmt.Errorf("weir exited:\n%s", r.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	restart := time.Since(r.start)
	if t, ok := r.logAt("streaming changes"); ok {
		restart = t.Sub(r.start)
	}
	if _, _, err := r.stop(); err != nil {
		return fmt.Errorf("stop weir: %v\n%s", err, r.log)
	}
	cpMean := (sum1 - sum0) / max(count1-count0, 1)
	e.results = append(e.results,
		result{Scenario: fmt.Sprintf("stream of %d single-row updates over %d tables MariaDB → PostgreSQL", *tableChanges, n),
			Weir: float64(*tableChanges) / caughtUp.Seconds(), Unit: "changes/s", Raw: float64(*tableChanges) / applied.Seconds(),
			RawName: "the workload's own rate (8 connections, autocommit)", CPU: cpu, RSSMB: rss,
			Note: fmt.Sprintf("caught up %.2f s after the workload's end; checkpoint %.0f kB (file; %.0f kB in the sink), %.1f ms each over the stream (%d checkpoints); restart from it → streaming %.2f s",
				(caughtUp - applied).Seconds(), float64(fi.Size())/1024, float64(sinkCP)/1024, 1000*cpMean, int(count1-count0), restart.Seconds())})
	return nil
}

// updateMany applies count single-row updates, table i%n of the many tables, each on one
// of 8 connections in autocommit.
func (e *env) updateMany(n, count int) error {
	const conns = 8
	per := *rows / *tables
	return e.onConns("many", conns, func(c int, conn *client.Conn) error {
		rng := rand.New(rand.NewPCG(uint64(c), 7))
		for i := c; i < count; i += conns {
			q := fmt.Sprintf("UPDATE t%04d SET k = k + 1, c = '%0120d' WHERE id = %d", 1+i%n, rng.Int64(), 1+rng.IntN(per))
			if _, err := conn.Execute(q); err != nil {
				return err
			}
		}
		return nil
	})
}
