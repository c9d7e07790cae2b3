package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/testenv"
)

// The chaos suite (TestChaos): a pipeline copies a table under concurrent transactions (multi-row
// inserts, updates, key moves across chunks, deletes, large transactions, and DDL: add
// column, widen column) while faults chosen by a seed hit it: SIGKILL of weir during the
// snapshot and the stream, clean restarts of the source and of the target server, and
// every connection between weir and either server cut by a TCP proxy. When the writes and
// faults stop and weir has caught up, `weir verify` must find the target equal to the
// source. A failure names the seed; -chaos.seed reruns it.
//
// The normal test command runs seeds 1…3 per direction (-chaos.sequences N for more);
// -chaos.duration runs new seeds for as long as asked.
var (
	chaosDuration  = flag.Duration("chaos.duration", 0, "run fault sequences with new seeds per direction for this long (0: the fixed short run)")
	chaosSeed      = flag.Uint64("chaos.seed", 0, "run only this seed")
	chaosSequences = flag.Int("chaos.sequences", 3, "fault sequences (seeds 1…N) per direction in the fixed run")
)

func TestChaos(t *testing.T) {
	// mariadb-watermark reads MariaDB as weir reads MySQL: snapshot chunks join the stream
	// by binlog watermarks (scan.snapshot.join: watermark).
	// mariadb-stock is a server with MariaDB's built-in charset defaults (latin1): its
	// table's note column is latin1, its tag utf8mb4, and a MariaDB target of such a
	// source is a stock server too.
	for _, dir := range [][2]string{{"mariadb", "postgres"}, {"mariadb", "mariadb"}, {"postgres", "postgres"}, {"postgres", "mariadb"},
		{"mariadb-stock", "postgres"}, {"mariadb-stock", "mariadb-stock"}, {"postgres", "mariadb-stock"},
		{"mariadb-watermark", "postgres"}, {"mariadb-watermark", "mariadb"}} {
		kind := dir[1]
		t.Run(dir[0]+"-to-"+kind, func(t *testing.T) {
			c := startChaosEnv(t, dir[0], kind)
			switch {
			case *chaosSeed != 0:
				t.Run(fmt.Sprint(*chaosSeed), func(t *testing.T) { c.sequence(t, *chaosSeed) })
			case *chaosDuration > 0:
				for seed, end := uint64(1), time.Now().Add(*chaosDuration); time.Now().Before(end); seed++ {
					t.Run(fmt.Sprint(seed), func(t *testing.T) { c.sequence(t, seed) })
				}
			default:
				for seed := uint64(1); seed <= uint64(*chaosSequences); seed++ {
					t.Run(fmt.Sprint(seed), func(t *testing.T) { c.sequence(t, seed) })
				}
			}
		})
	}
}

// chaosEnv is a source server and a target server, each behind a proxy weir goes through.
type chaosEnv struct {
	kind          string
	src           *chaosSource
	pg            *testenv.Postgres
	dst           *testenv.MariaDB
	srcPx, dstPx  *testenv.Proxy
	restartTarget func() error
}

func startChaosEnv(t *testing.T, srcKind, kind string) *chaosEnv {
	c := &chaosEnv{kind: kind, src: startChaosSource(t, srcKind)}
	var err error
	port := 0
	if kind == "postgres" {
		if c.pg, err = testenv.StartPostgres(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.pg.Stop() })
		if err := c.pg.Exec(context.Background(), "postgres", "CREATE DATABASE dw"); err != nil {
			t.Fatal(err)
		}
		port, c.restartTarget = c.pg.Port, c.pg.Restart
	} else {
		start := testenv.StartMariaDB
		if kind == "mariadb-stock" {
			start, c.kind = testenv.StartStockMariaDB, "mariadb"
		}
		if c.dst, err = start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.dst.Stop() })
		port, c.restartTarget = c.dst.Port, c.dst.Restart
	}
	if c.srcPx, err = testenv.StartProxy(c.src.port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.srcPx.Close() })
	if c.dstPx, err = testenv.StartProxy(port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.dstPx.Close() })
	return c
}

const faultPipeline = `
source:
%s  scan.incremental.snapshot.chunk.size: 400
  scan.rate-limit.rows-per-second: 3000
sink:
  type: %s
  url: %s
  sink.mode: %s
pipeline:
  name: %s
  parallelism: 2
  checkpoint.interval: 300ms
  schema.change.behavior: evolve
  restart.backoff.initial: 200ms
  restart.backoff.max: 1s
`

// A fault is one thing that goes wrong, by name.
var chaosFaults = []string{"kill weir", "restart source", "restart target", "cut source", "cut target"}

// sequence runs one seed: a fresh database, the workload, the faults, then verify.
func (c *chaosEnv) sequence(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	db := fmt.Sprintf("chaos%d", seed)
	const rows = 6000
	if err := c.src.create(db, rows); err != nil {
		t.Fatal(err)
	}
	defer c.src.cleanup(t, db)
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/dw?sslmode=disable", c.dstPx.Port)
	if c.kind != "postgres" {
		url = fmt.Sprintf("mysql://root@127.0.0.1:%d/weir", c.dstPx.Port)
	}
	// Even seeds keep a changelog: every change must then be there exactly once. Its
	// rows keep the columns they had when written, so no column is added in that mode.
	mode := "upsert"
	if seed%2 == 0 {
		mode = "changelog"
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(faultPipeline, c.src.block(c.srcPx.Port, db), c.kind, url, mode, db))

	// The faults, chosen now so the log can say them: four of them, a first one early
	// enough to land in the snapshot.
	type fault struct {
		after time.Duration
		what  string
	}
	var plan []fault
	at := time.Duration(300+rng.IntN(700)) * time.Millisecond
	for range 4 {
		plan = append(plan, fault{at, chaosFaults[rng.IntN(len(chaosFaults))]})
		at += time.Duration(700+rng.IntN(1500)) * time.Millisecond
	}
	t.Logf("seed %d, %s: %v", seed, mode, plan)

	w := &weirSupervisor{dir: dir}
	w.start(t)
	defer w.stop()

	// The workload, straight to the source, reconnecting after a source restart (each
	// new connection inserts keys of its own range).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var txns int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for attempt := 0; ; attempt++ {
			select {
			case <-stop:
				return
			default:
			}
			exec, closeConn, err := c.src.session(db)
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			wl := testenv.Workload{Exec: exec, Postgres: c.src.kind == "postgres", Table: "t", Existing: rows + 100000*attempt, Seed: seed*100 + uint64(attempt),
				Pause:  2 * time.Millisecond,
				Insert: func(n int) string { return fmt.Sprintf("(%d, %d, 'new é', 1.5, '😀 %d')", n, n%1000, n) },
				Where:  func(n int) string { return fmt.Sprintf("id = %d", n) },
				MoveTo: func(n int) string { return fmt.Sprintf("id = %d", n) },
				Update: "v = v + 1, note = 'updated à', tag = '✓ upd'"}
			n, _ := wl.Run(stop)
			txns += n
			closeConn()
		}
	}()
	// DDL and a large transaction at seeded moments, each retried on a new connection
	// until the source takes it.
	lo := 1 + rng.IntN(rows-1500)
	steps := []struct {
		after time.Duration
		sql   string
	}{
		{time.Duration(500+rng.IntN(3000)) * time.Millisecond, c.src.modifyNote},
		{time.Duration(500+rng.IntN(3000)) * time.Millisecond, fmt.Sprintf("UPDATE t SET v = v + 1 WHERE id BETWEEN %d AND %d", lo, lo+1500)},
	}
	if mode == "upsert" {
		steps = append(steps, struct {
			after time.Duration
			sql   string
		}{time.Duration(500+rng.IntN(3000)) * time.Millisecond, c.src.addColumn})
	}
	slices.SortFunc(steps, func(a, b struct {
		after time.Duration
		sql   string
	}) int {
		return int(a.after - b.after)
	})
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, st := range steps {
			time.Sleep(time.Until(start.Add(st.after)))
			for try := 0; ; try++ {
				err := c.src.exec(db, st.sql)
				if err == nil || c.src.duplicateColumn(err) { // taken before the cut
					break
				}
				if try == 50 {
					t.Errorf("%s: %v", st.sql, err)
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()

	for _, f := range plan {
		time.Sleep(time.Until(start.Add(f.after)))
		switch f.what {
		case "kill weir":
			w.kill()
		case "restart source":
			if err := c.src.restart(); err != nil {
				t.Fatalf("restart the source: %v", err)
			}
		case "restart target":
			if err := c.restartTarget(); err != nil {
				t.Fatalf("restart the target: %v", err)
			}
		case "cut source":
			c.srcPx.Cut()
		case "cut target":
			c.dstPx.Cut()
		}
		t.Logf("%5.1fs %s", time.Since(start).Seconds(), f.what)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	if mode == "changelog" {
		c.checkChangelog(t, seed, db, plan, w)
		return
	}
	// Caught up and equal: verify, with time to settle, until it says so.
	deadline := time.Now().Add(2 * time.Minute)
	var out string
	for {
		var code int
		code, out = runWeir(t, dir, "verify", "p.yaml", "--settle", "20s")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("seed %d (faults %v, %d workload transactions): the target does not equal the source:\n%s\nweir's log (last 8 KB, less progress lines):\n%s",
				seed, plan, txns, out, w.logTail(8192))
		}
		time.Sleep(time.Second)
	}
	t.Logf("seed %d: %d workload transactions, %d weir starts; %s", seed, txns, w.starts, strings.TrimSpace(out))
}

// checkChangelog waits until the target's changelog, folded by key, equals the source's
// table, then checks that it holds every change exactly once.
func (c *chaosEnv) checkChangelog(t *testing.T, seed uint64, db string, plan any, w *weirSupervisor) {
	src, err := c.src.open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tables, err := src.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := tables[0]
	var all []event.Row
	if err := src.(connector.ChunkReader).ReadChunk(context.Background(), s, snapshot.Chunk{Table: s.ID}, func(rs []event.Row) error {
		all = append(all, rs...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, err := conformance.TableImage(s, all)
	if err != nil {
		t.Fatal(err)
	}
	var tg target
	if c.kind == "postgres" {
		tg = postgresTarget(c.pg, "changelog")
	} else {
		tg = mariadbTarget(c.dst, "changelog")
	}
	keys := map[string][]string{s.ID.String(): {"id"}}
	var diff string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		recs := tg.records(t, "", s)
		got, err := conformance.Fold(recs, keys)
		if err != nil {
			t.Fatal(err)
		}
		if diff = conformance.DiffImages(want, got, 10); diff != "" {
			continue
		}
		if err := conformance.CheckChangelog(recs, keys); err != nil {
			t.Fatalf("seed %d (faults %v): the changelog folds to the source, but: %v\nweir's log (last 8 KB, less progress lines):\n%s", seed, plan, err, w.logTail(8192))
		}
		t.Logf("seed %d: %d changes in the changelog, each once; folded, it equals the source (%d rows)", seed, len(recs), len(want))
		return
	}
	t.Fatalf("seed %d (faults %v): the changelog does not fold to the source: %s\nweir's log (last 8 KB, less progress lines):\n%s", seed, plan, diff, w.logTail(8192))
}

// weirSupervisor keeps `weir run p.yaml` running, as a process supervisor would: it
// starts it again whenever it exits, until stopped.
type weirSupervisor struct {
	dir    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	log    bytes.Buffer
	starts int
	done   chan struct{}
	quit   chan struct{}
}

func (w *weirSupervisor) start(t *testing.T) {
	w.quit = make(chan struct{})
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		for {
			w.mu.Lock()
			cmd := exec.Command(weirBin, "run", "p.yaml")
			cmd.Dir = w.dir
			cmd.Stdout, cmd.Stderr = &w.log, &w.log
			w.cmd = cmd
			w.starts++
			err := cmd.Start()
			w.mu.Unlock()
			if err != nil {
				t.Errorf("start weir: %v", err)
				return
			}
			cmd.Wait()
			select {
			case <-w.quit:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

func (w *weirSupervisor) kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cmd.Process.Signal(syscall.SIGKILL)
}

func (w *weirSupervisor) stop() {
	close(w.quit)
	w.mu.Lock()
	w.cmd.Process.Signal(syscall.SIGKILL)
	w.mu.Unlock()
	<-w.done
}

// logTail is the last n bytes of weir's log, less its periodic progress lines (which
// would fill it while verify waits).
func (w *weirSupervisor) logTail(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b []byte
	for line := range bytes.Lines(w.log.Bytes()) {
		if !bytes.Contains(line, []byte(" msg=progress ")) {
			b = append(b, line...)
		}
	}
	return string(b[max(0, len(b)-n):])
}
