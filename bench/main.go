// Command bench measures weir end to end next to the raw limits of the same databases in
// the same run, on private servers it starts (internal/testenv):
//
//	go run ./bench [-rows 1000000] [-changes 1000000] [-rate 4000] [-latency 20s]
//
// Scenario MariaDB → PostgreSQL, sysbench-like table (id, k, c CHAR(120), pad CHAR(60)):
//
//	snapshot  weir's snapshot of -rows rows (scan.startup.mode: snapshot), which makes the
//	          source's index on k once the rows are in, against one COPY stream of the same
//	          rows into the indexed table, and against COPY into an unindexed table followed
//	          by building the key and the index (the physical limit)
//	backlog   weir catching up with -changes single-row changes (inserts, updates,
//	          deletes) made while it was stopped, against one set-based upsert and delete
//	          of the same changes from a staging table
//	latency   source commit → visible in PostgreSQL at a steady -rate changes/s
//
// Scenario PostgreSQL → discard, PostgreSQL and MariaDB, the same table in a PostgreSQL
// source (bench/postgres.go):
//
//	snapshot  weir's snapshot (scan.startup.mode initial: chunks joined into the stream)
//	          against the client's read of the table (COPY … TO STDOUT into nothing), and
//	          into PostgreSQL against that read piped into COPY, then the key
//	backlog   weir catching up with -changes single-row changes into discard, against
//	          pg_recvlogical reading the same changes from a slot of its own (pgoutput)
//
// It prints a Markdown table (rows/s, the raw figure, their ratio, weir's CPU seconds
// and peak RSS), and JSON with -json.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/testenv"
)

type result struct {
	Scenario string  `json:"scenario"`
	Weir     float64 `json:"weir"`
	Unit     string  `json:"unit"`
	Raw      float64 `json:"raw,omitempty"`
	RawName  string  `json:"raw_name,omitempty"`
	CPU      float64 `json:"cpu_seconds,omitempty"`
	RSSMB    float64 `json:"peak_rss_mb,omitempty"`
	Note     string  `json:"note,omitempty"`
}

var (
	rows     = flag.Int("rows", 1_000_000, "rows of the snapshot table")
	changes  = flag.Int("changes", 1_000_000, "single-row changes of the backlog")
	rate     = flag.Int("rate", 4000, "changes per second of the latency run")
	latency  = flag.Duration("latency", 20*time.Second, "length of the latency run")
	par      = flag.Int("parallelism", 4, "pipeline.parallelism")
	asJSON   = flag.Bool("json", false, "print JSON")
	keepLogs = flag.Bool("v", false, "print weir's log of each run")
	sources  = flag.String("sources", "mariadb,postgres,kafka,tables", "the source engines whose scenarios run (tables: MariaDB's many-tables scenario, bench/tables.go)")
	profDir  = flag.String("profile", "", "save weir's heap profile every second of each run in this directory (heap-<run>-<n>.pb.gz), and a CPU profile and an execution trace of its first 4 seconds (cpu-<run>.pb.gz, trace-<run>.out)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type env struct {
	db      *testenv.MariaDB
	pg      *testenv.Postgres
	dir     string
	weir    string
	results []result
	// backlogCPU is weir's CPU seconds per change of the MariaDB → PostgreSQL backlog.
	backlogCPU float64
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "weir-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e := &env{dir: dir, weir: filepath.Join(dir, "weir")}
	build := exec.Command("go", "build", "-o", e.weir, "./cmd/weir")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build weir: %v\n%s", err, out)
	}
	if e.db, err = testenv.StartMariaDB(); err != nil {
		return err
	}
	defer e.db.Stop()
	if e.pg, err = testenv.StartPostgres(); err != nil {
		return err
	}
	defer e.pg.Stop()
	for _, db := range []string{"dw", "raw"} {
		if err := e.pg.Exec(ctx, "postgres", "CREATE DATABASE "+db); err != nil {
			return err
		}
	}
	if strings.Contains(*sources, "postgres") {
		if err := e.postgresSource(ctx); err != nil {
			return err
		}
	}
	if strings.Contains(*sources, "kafka") {
		if err := e.kafkaSource(ctx); err != nil {
			return err
		}
	}
	if *tables > 0 && strings.Contains(*sources, "tables") {
		if err := e.manyTables(ctx); err != nil {
			return err
		}
	}
	if !strings.Contains(*sources, "mariadb") {
		return e.print()
	}
	log("filling sb.sbtest1 with %d rows", *rows)
	if err := e.db.Exec("", fmt.Sprintf(`CREATE DATABASE sb; USE sb;
		CREATE TABLE sbtest1 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, KEY k_1 (k));
		CREATE TABLE probe (id BIGINT PRIMARY KEY, sent BIGINT NOT NULL);
		INSERT INTO sbtest1 SELECT seq, seq %% 100000,
		  CONCAT_WS('-', MD5(seq), MD5(seq+1), MD5(seq+2), LEFT(MD5(seq+3), 21)),
		  CONCAT_WS('-', MD5(seq+4), LEFT(MD5(seq+5), 27)) FROM seq_1_to_%d`, *rows)); err != nil {
		return err
	}
	if err := e.snapshot(ctx); err != nil {
		return err
	}
	if err := e.backlog(ctx); err != nil {
		return err
	}
	if err := e.latency(ctx); err != nil {
		return err
	}
	return e.print()
}

// print writes the results as a Markdown table, or JSON with -json.
func (e *env) print() error {
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(e.results)
	}
	fmt.Printf("| scenario | weir | raw limit | ratio | weir CPU s | weir peak RSS |\n|---|---|---|---|---|---|\n")
	for _, r := range e.results {
		raw, ratio := "", ""
		if r.Raw > 0 {
			raw = fmt.Sprintf("%.0f %s (%s)", r.Raw, r.Unit, r.RawName)
			ratio = fmt.Sprintf("%.2f", r.Weir/r.Raw)
		}
		fmt.Printf("| %s | %.0f %s | %s | %s | %.1f | %.0f MB |\n", r.Scenario, r.Weir, r.Unit, raw, ratio, r.CPU, r.RSSMB)
		if r.Note != "" {
			fmt.Printf("|  | %s | | | | |\n", r.Note)
		}
	}
	return nil
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

const pipeline = `
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: sb.sbtest1, sb.probe
  scan.startup.mode: %s
  heartbeat.interval: 200ms
sink:
%s
pipeline:
  name: bench
  parallelism: %d
  checkpoint.interval: 1s
`

// logBuffer is weir's output, written by the process's copier and read by the bench
// while it runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) Bytes() []byte { return []byte(l.String()) }

// has reports whether the output holds s.
func (l *logBuffer) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.b.Bytes(), []byte(s))
}

// weirRun is one weir process.
type weirRun struct {
	cmd   *exec.Cmd
	log   *logBuffer
	start time.Time
	done  chan struct{} // closed when the run stops (ends the sampling)
	peak  atomic.Int64  // the highest VmHWM seen, in kB
	addr  string        // where it serves /metrics
}

// logSpan is the time between the first lines of weir's log whose messages are from and
// to (by the lines' own timestamps), and whether both are there.
func (w *weirRun) logSpan(from, to string) (time.Duration, bool) {
	t0, ok0 := w.logAt(from)
	t1, ok1 := w.logAt(to)
	return t1.Sub(t0), ok0 && ok1
}

// rowsOut is weir_rows_out_total of table, from the run's /metrics (-1 when it does not
// answer yet).
func (w *weirRun) rowsOut(table string) float64 {
	resp, err := http.Get("http://" + w.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "weir_rows_out_total{") && strings.Contains(line, `table="`+table+`"`) {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			sum += v
		}
	}
	return sum
}

var runs int

func (e *env) startWeir(mode string) (*weirRun, error) {
	return e.startWeirInto(mode, "  type: postgres\n  url: "+e.pg.URL("dw"), "state")
}

// startWeirInto starts weir with the given sink block, keeping its state in state.
func (e *env) startWeirInto(mode, sink, state string) (*weirRun, error) {
	return e.launch(fmt.Sprintf(pipeline, e.db.Port, mode, sink, *par), state)
}

// launch starts weir on the pipeline file text, keeping its state in state.
func (e *env) launch(file, state string) (*weirRun, error) {
	path := filepath.Join(e.dir, "p.yaml")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		return nil, err
	}
	runs++
	addr := fmt.Sprintf("127.0.0.1:%d", 19000+runs)
	args := []string{"run", path, "--state", filepath.Join(e.dir, state), "--metrics-addr", addr}
	w := &weirRun{cmd: exec.Command(e.weir, args...), log: &logBuffer{}, done: make(chan struct{}), addr: addr}
	w.cmd.Stderr, w.cmd.Stdout = w.log, w.log
	w.start = time.Now()
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	if *profDir != "" {
		go profileHeap(addr, runs, w.done)
		go profileOnce(addr, fmt.Sprintf("cpu-%d.pb.gz", runs), "/debug/pprof/profile?seconds=4")
		go profileOnce(addr, fmt.Sprintf("trace-%d.out", runs), "/debug/pprof/trace?seconds=4")
	}
	go w.samplePeak()
	return w, nil
}

// samplePeak keeps the process's VmHWM (its own peak RSS) while it runs: wait4's
// ru_maxrss is not weir's alone, as Linux carries into it the RSS of the bench process
// that started it (os/exec starts children with vfork, sharing the parent's memory until
// exec).
func (w *weirRun) samplePeak() {
	for {
		if kb := vmHWM(w.cmd.Process.Pid); kb > w.peak.Load() {
			w.peak.Store(kb)
		}
		select {
		case <-w.done:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// profileHeap saves the heap profile of the weir serving addr every second until done.
func profileHeap(addr string, run int, done <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-done:
			return
		case <-time.After(time.Second):
		}
		resp, err := http.Get("http://" + addr + "/debug/pprof/heap")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		os.WriteFile(filepath.Join(*profDir, fmt.Sprintf("heap-%d-%03d.pb.gz", run, n)), b, 0o644)
	}
}

// profileOnce saves what path of the weir serving addr gives (a CPU profile or an
// execution trace of the run's first seconds) as file name in the profile directory.
func profileOnce(addr, name, path string) {
	var resp *http.Response
	var err error
	for range 50 { // until weir listens
		if resp, err = http.Get("http://" + addr + path); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	os.WriteFile(filepath.Join(*profDir, name), b, 0o644)
}

// stop ends the run gracefully and returns its CPU seconds and peak RSS in MB (see
// samplePeak).
func (w *weirRun) stop() (cpu, rssMB float64, err error) {
	if kb := vmHWM(w.cmd.Process.Pid); kb > w.peak.Load() {
		w.peak.Store(kb)
	}
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	rssMB = float64(w.peak.Load()) / 1024
	if w.cmd.ProcessState == nil {
		w.cmd.Process.Signal(syscall.SIGTERM)
		err = w.cmd.Wait()
	}
	if *keepLogs {
		os.Stderr.Write(w.log.Bytes())
	}
	ru := w.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return cpu, rssMB, err
}

// procCPU is the CPU seconds process pid has used so far (user and system).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis: state is the 3rd field of the
	// line, utime and stime the 14th and 15th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var ut, st float64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return (ut + st) / 100
}

// vmHWM is the VmHWM of process pid in kB, or 0 once it has exited.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb
		}
	}
	return 0
}

func (e *env) snapshot(ctx context.Context) error {
	// Raw: the table as tab-separated text from the MariaDB client, then COPY.
	dump := filepath.Join(e.dir, "sbtest1.tsv")
	f, err := os.Create(dump)
	if err != nil {
		return err
	}
	t0 := time.Now()
	cmd := exec.Command("mariadb", "-h127.0.0.1", fmt.Sprintf("-P%d", e.db.Port), "-uroot", "--batch", "--skip-column-names", "--quick",
		"-e", "SELECT id, k, c, pad FROM sb.sbtest1")
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	f.Close()
	readRate := float64(*rows) / time.Since(t0).Seconds()
	copyIndexed, err := e.rawCopy(ctx, dump, true)
	if err != nil {
		return err
	}
	copyThenIndex, err := e.rawCopy(ctx, dump, false)
	if err != nil {
		return err
	}
	piped, err := e.rawPipe(ctx)
	if err != nil {
		return err
	}
	log("raw: read %.0f rows/s, COPY into indexed %.0f rows/s, COPY then key %.0f rows/s, read piped into COPY then key %.0f rows/s",
		readRate, copyIndexed, copyThenIndex, piped)

	w, err := e.startWeir("snapshot")
	if err != nil {
		return err
	}
	err = w.cmd.Wait()
	took := time.Since(w.start)
	cpu, rss, _ := w.stop()
	if err != nil {
		return fmt.Errorf("weir snapshot run: %v\n%s", err, w.log)
	}
	n, err := e.count(ctx, "dw", "sb.sbtest1")
	if err != nil || n != *rows {
		return fmt.Errorf("after the snapshot the target has %d rows (%v), want %d\n%s", n, err, *rows, w.log)
	}
	weirRate := float64(*rows) / took.Seconds()
	// The same snapshot into nothing: what weir's reading side does alone.
	d, err := e.startWeirInto("snapshot", "  type: discard", "state-discard")
	if err != nil {
		return err
	}
	err = d.cmd.Wait()
	discardTook := time.Since(d.start)
	dcpu, drss, _ := d.stop()
	if err != nil {
		return fmt.Errorf("weir snapshot into discard: %v\n%s", err, d.log)
	}
	e.results = append(e.results,
		result{Scenario: fmt.Sprintf("snapshot %d rows MariaDB → PostgreSQL", *rows), Weir: weirRate, Unit: "rows/s",
			Raw: copyThenIndex, RawName: "COPY into an unindexed table, then the key and the index on k", CPU: cpu, RSSMB: rss},
		result{Scenario: "  same, against one COPY stream into the table with its key and index", Weir: weirRate, Unit: "rows/s", Raw: copyIndexed, RawName: "COPY"},
		result{Scenario: "  same, against the client's read of the source table", Weir: weirRate, Unit: "rows/s", Raw: readRate, RawName: "mariadb --quick"},
		result{Scenario: "  same, against the read piped into COPY, then the key and the index", Weir: weirRate, Unit: "rows/s", Raw: piped,
			RawName: "mariadb --quick | COPY, then the key and the index on k: both sides at once on the same machine, as weir runs"},
		result{Scenario: fmt.Sprintf("snapshot %d rows MariaDB → discard", *rows), Weir: float64(*rows) / discardTook.Seconds(), Unit: "rows/s",
			Raw: readRate, RawName: "mariadb --quick", CPU: dcpu, RSSMB: drss})
	if err := e.transformOverhead(); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(e.dir, "state"))
}

// benchTransform is a transform of five computed columns and a filter that keeps 90% of
// the rows (most rows pay for the projection).
const benchTransform = `
transform:
  - source-table: sb.sbtest1
    projection: "id, k, c, pad, k * 2 AS k2, UPPER(LEFT(c, 10)) AS c_up, CONCAT(id, '-', k) AS tag, CHAR_LENGTH(pad) AS pad_len, IF(k % 2 = 0, 'even', 'odd') AS parity"
    filter: k % 10 <> 0`

// transformOverhead runs the MariaDB → discard snapshot with and without benchTransform,
// three times each, alternating, and reports the medians.
func (e *env) transformOverhead() error {
	var plain, tf, tfCPU []float64
	for i := range 6 {
		sink := "  type: discard"
		if i%2 == 1 {
			sink += benchTransform
		}
		w, err := e.startWeirInto("snapshot", sink, fmt.Sprintf("state-tf-%d", i))
		if err != nil {
			return err
		}
		err = w.cmd.Wait()
		took := time.Since(w.start)
		cpu, _, _ := w.stop()
		if err != nil {
			return fmt.Errorf("weir snapshot into discard (transform %t): %v\n%s", i%2 == 1, err, w.log)
		}
		if i%2 == 1 {
			tf, tfCPU = append(tf, took.Seconds()), append(tfCPU, cpu)
		} else {
			plain = append(plain, took.Seconds())
		}
	}
	p, t := median(plain), median(tf)
	e.results = append(e.results, result{Scenario: fmt.Sprintf("snapshot %d rows MariaDB → discard through a transform (5 computed columns, a filter keeping 90%%)", *rows),
		Weir: float64(*rows) / t, Unit: "rows/s", Raw: float64(*rows) / p, RawName: "the same snapshot without the transform (medians of 3 alternating runs)",
		CPU: median(tfCPU), Note: fmt.Sprintf("the transform adds %.0f%% to the end-to-end time", 100*(t/p-1))})
	return nil
}

// median is the middle of x (sorted in place), the upper middle of an even count.
func median(x []float64) float64 {
	slices.Sort(x)
	return x[len(x)/2]
}

// rawCopy loads the dump into a fresh table of database raw, with its key before (one
// COPY stream into the indexed table) or after (COPY, then ADD PRIMARY KEY).
func (e *env) rawCopy(ctx context.Context, dump string, indexed bool) (float64, error) {
	conn, err := pgx.Connect(ctx, e.pg.URL("raw"))
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	key := ""
	if indexed {
		key = ", PRIMARY KEY (id)"
		defer conn.Exec(ctx, "DROP INDEX IF EXISTS sbtest1_k")
	}
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS sbtest1; CREATE TABLE sbtest1 (id integer NOT NULL, k integer NOT NULL, c varchar(120) NOT NULL, pad varchar(60) NOT NULL"+key+")"); err != nil {
		return 0, err
	}
	f, err := os.Open(dump)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	t0 := time.Now()
	if indexed {
		if _, err := conn.Exec(ctx, "CREATE INDEX sbtest1_k ON sbtest1 (k)"); err != nil {
			return 0, err
		}
	}
	if _, err := conn.PgConn().CopyFrom(ctx, f, "COPY sbtest1 FROM STDIN"); err != nil {
		return 0, err
	}
	if !indexed {
		if err := keyAndIndex(ctx, conn); err != nil {
			return 0, err
		}
	}
	return float64(*rows) / time.Since(t0).Seconds(), nil
}

// rawPipe moves the table the raw way with both ends running at once, as weir's snapshot
// must: the client's read of the source piped into one COPY into an unindexed table, then
// the key.
func (e *env) rawPipe(ctx context.Context) (float64, error) {
	conn, err := pgx.Connect(ctx, e.pg.URL("raw"))
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS sbtest1; CREATE TABLE sbtest1 (id integer NOT NULL, k integer NOT NULL, c varchar(120) NOT NULL, pad varchar(60) NOT NULL)"); err != nil {
		return 0, err
	}
	cmd := exec.Command("mariadb", "-h127.0.0.1", fmt.Sprintf("-P%d", e.db.Port), "-uroot", "--batch", "--skip-column-names", "--quick",
		"-e", "SELECT id, k, c, pad FROM sb.sbtest1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	_, err = conn.PgConn().CopyFrom(ctx, out, "COPY sbtest1 FROM STDIN")
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("read piped into COPY: %w", werr)
	}
	if err != nil {
		return 0, err
	}
	if err := keyAndIndex(ctx, conn); err != nil {
		return 0, err
	}
	return float64(*rows) / time.Since(t0).Seconds(), nil
}

// keyAndIndex builds what the source table has, after the rows: the key and sysbench's
// index on k.
func keyAndIndex(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, "ALTER TABLE sbtest1 ADD PRIMARY KEY (id); CREATE INDEX ON sbtest1 (k)")
	return err
}

func (e *env) count(ctx context.Context, db, table string) (int, error) {
	conn, err := pgx.Connect(ctx, e.pg.URL(db))
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// change is one single-row change of the backlog.
type change struct {
	op     byte // 'i', 'u', 'd'
	id, k  int
	c, pad string
}

func backlogChanges(n, rows int) []change {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]change, n)
	next := rows + 1
	for i := range out {
		ch := change{k: rng.IntN(100000), c: fmt.Sprintf("%0120d", rng.Int64()), pad: fmt.Sprintf("%060d", i)}
		switch r := rng.IntN(10); {
		case r < 3:
			ch.op, ch.id = 'i', next
			next++
		case r < 8:
			ch.op, ch.id = 'u', 1+rng.IntN(rows)
		default:
			ch.op, ch.id = 'd', 1+rng.IntN(rows)
		}
		out[i] = ch
	}
	return out
}

func (ch change) sql() string {
	switch ch.op {
	case 'i':
		return fmt.Sprintf("INSERT INTO sbtest1 VALUES (%d, %d, '%s', '%s')", ch.id, ch.k, ch.c, ch.pad)
	case 'u':
		return fmt.Sprintf("UPDATE sbtest1 SET k = %d, c = '%s', pad = '%s' WHERE id = %d", ch.k, ch.c, ch.pad, ch.id)
	}
	return fmt.Sprintf("DELETE FROM sbtest1 WHERE id = %d", ch.id)
}

func (e *env) backlog(ctx context.Context) error {
	// weir copies the table and stops, so that the changes wait for it in the binlog.
	if err := e.pg.Exec(ctx, "dw", "DROP SCHEMA sb CASCADE; DROP TABLE weir_checkpoints"); err != nil {
		return err
	}
	w, err := e.startWeir("initial")
	if err != nil {
		return err
	}
	for {
		if n, err := e.count(ctx, "dw", "sb.sbtest1"); err == nil && n == *rows && strings.Contains(w.log.String(), "snapshot finished") {
			break
		}
		if w.cmd.ProcessState != nil {
			return fmt.Errorf("weir exited:\n%s", w.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a checkpoint after the snapshot
	if _, _, err := w.stop(); err != nil {
		return fmt.Errorf("stop weir: %v\n%s", err, w.log)
	}
	list := backlogChanges(*changes, *rows)
	status, err := e.db.Query("", "SHOW MASTER STATUS")
	if err != nil {
		return err
	}
	binlog := strings.Fields(status) // file, position, …
	log("applying %d single-row changes to MariaDB", len(list))
	if err := e.applyToMariaDB(list); err != nil {
		return err
	}
	t0 := time.Now()
	read := exec.Command("mariadb-binlog", "--read-from-remote-server", "--host=127.0.0.1", fmt.Sprintf("--port=%d", e.db.Port),
		"--user=root", "--start-position="+binlog[1], "--to-last-log", binlog[0])
	if out, err := read.CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb-binlog: %v\n%s", err, out[:min(len(out), 2000)])
	}
	rawRead := float64(len(list)) / time.Since(t0).Seconds()
	if err := e.db.Exec("sb", "INSERT INTO probe VALUES (-1, 0)"); err != nil { // the sentinel: the last change
		return err
	}
	w, err = e.startWeir("initial")
	if err != nil {
		return err
	}
	for {
		var n int
		if n, err = e.count(ctx, "dw", "sb.probe WHERE id = -1"); err == nil && n == 1 {
			break
		}
		if w.cmd.ProcessState != nil {
			return fmt.Errorf("weir exited:\n%s", w.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(w.start)
	cpu, rss, err := w.stop()
	if err != nil {
		return fmt.Errorf("stop weir: %v\n%s", err, w.log)
	}
	// The same backlog into nothing, from the binlog position before it: weir's reading
	// side alone. It ends when the sentinel, the last change, has gone out.
	d, err := e.startWeirInto(fmt.Sprintf("specific-offset\n  scan.startup.specific-offset.file: %s\n  scan.startup.specific-offset.pos: %s",
		binlog[0], binlog[1]), "  type: discard", "state-discard-backlog")
	if err != nil {
		return err
	}
	for d.rowsOut("sb.probe") < 1 {
		if d.cmd.ProcessState != nil {
			return fmt.Errorf("weir exited:\n%s", d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	discardTook := time.Since(d.start)
	dcpu, drss, err := d.stop()
	if err != nil {
		return fmt.Errorf("stop weir: %v\n%s", err, d.log)
	}
	raw, err := e.rawUpsert(ctx, list)
	if err != nil {
		return err
	}
	e.backlogCPU = cpu / float64(len(list))
	e.results = append(e.results, result{Scenario: fmt.Sprintf("backlog of %d single-row changes MariaDB → PostgreSQL", len(list)),
		Weir: float64(len(list)) / took.Seconds(), Unit: "changes/s", Raw: raw, RawName: "COPY to staging, then one upsert and one delete",
		CPU: cpu, RSSMB: rss, Note: "weir's time includes its start and reading the binlog"},
		result{Scenario: "  same, against the raw read of the change log", Weir: float64(len(list)) / took.Seconds(), Unit: "changes/s",
			Raw: rawRead, RawName: "mariadb-binlog --read-from-remote-server, decoded to text"},
		result{Scenario: fmt.Sprintf("backlog of %d single-row changes MariaDB → discard", len(list)), Weir: float64(len(list)) / discardTook.Seconds(),
			Unit: "changes/s", Raw: rawRead, RawName: "mariadb-binlog --read-from-remote-server, decoded to text", CPU: dcpu, RSSMB: drss,
			Note: "weir's time includes its start"})
	return nil
}

func (e *env) applyToMariaDB(list []change) error {
	const conns = 8
	return e.onConns("sb", conns, func(c int, conn *client.Conn) error {
		// Changes of one key go through one connection, so they apply in list order.
		for _, ch := range list {
			if ch.id%conns != c {
				continue
			}
			if _, err := conn.Execute(ch.sql()); err != nil {
				return err
			}
		}
		return nil
	})
}

// onConns runs f on conns connections to MariaDB database db at once, each given its
// number, and returns the first error.
func (e *env) onConns(db string, conns int, f func(c int, conn *client.Conn) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", e.db.Port), "root", "", db)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			if err := f(c, conn); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// rawUpsert applies the same changes to a copy of the table in database raw the
// set-based way: COPY them into a staging table, then one INSERT … ON CONFLICT of each
// key's last image and one DELETE of the keys whose last change is a delete.
func (e *env) rawUpsert(ctx context.Context, list []change) (float64, error) {
	conn, err := pgx.Connect(ctx, e.pg.URL("raw"))
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE UNLOGGED TABLE stage (seq bigint, op "char", id integer, k integer, c varchar(120), pad varchar(60))`); err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	for i, ch := range list {
		fmt.Fprintf(&buf, "%d\t%c\t%d\t%d\t%s\t%s\n", i, ch.op, ch.id, ch.k, ch.c, ch.pad)
	}
	t0 := time.Now()
	if _, err := conn.PgConn().CopyFrom(ctx, &buf, "COPY stage FROM STDIN"); err != nil {
		return 0, err
	}
	_, err = conn.Exec(ctx, `BEGIN;
		CREATE TEMP TABLE last AS SELECT DISTINCT ON (id) * FROM stage ORDER BY id, seq DESC;
		INSERT INTO sbtest1 SELECT id, k, c, pad FROM last WHERE op <> 'd'
		  ON CONFLICT (id) DO UPDATE SET k = EXCLUDED.k, c = EXCLUDED.c, pad = EXCLUDED.pad;
		DELETE FROM sbtest1 t USING last l WHERE t.id = l.id AND l.op = 'd';
		COMMIT`)
	if err != nil {
		return 0, err
	}
	return float64(len(list)) / time.Since(t0).Seconds(), nil
}

// latency inserts probe rows at a steady rate, each carrying its send time, and polls
// PostgreSQL for them: the delay from the source's commit to the row being visible.
func (e *env) latency(ctx context.Context) error {
	w, err := e.startWeir("initial")
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	cpu0 := procCPU(w.cmd.Process.Pid) // the steady rate's CPU, without the start
	conn, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", e.db.Port), "root", "", "sb")
	if err != nil {
		return err
	}
	defer conn.Close()
	pgc, err := pgx.Connect(ctx, e.pg.URL("dw"))
	if err != nil {
		return err
	}
	defer pgc.Close(ctx)

	var lat []time.Duration
	done := make(chan struct{})
	var sent int
	go func() {
		defer close(done)
		const perTick = 4
		tick := time.NewTicker(time.Second * perTick / time.Duration(*rate))
		defer tick.Stop()
		end := time.Now().Add(*latency)
		for id := 1; time.Now().Before(end); {
			<-tick.C
			// One transaction per change, each a separate commit in the binlog.
			for range perTick {
				if _, err := conn.Execute(fmt.Sprintf("INSERT INTO probe VALUES (%d, %d)", id, time.Now().UnixMicro())); err != nil {
					log("probe insert: %v", err)
					return
				}
				id++
				sent++
			}
		}
	}()
	last := 0
	for polling := true; polling; {
		select {
		case <-done:
			polling = last < sent
			if !polling {
				continue
			}
		default:
		}
		rows, err := pgc.Query(ctx, "SELECT id, sent FROM sb.probe WHERE id > $1 ORDER BY id", last)
		if err != nil {
			return err
		}
		now := time.Now().UnixMicro()
		for rows.Next() {
			var id, s int64
			rows.Scan(&id, &s)
			lat = append(lat, time.Duration(now-s)*time.Microsecond)
			last = int(id)
		}
		rows.Close()
		time.Sleep(2 * time.Millisecond)
	}
	live := (procCPU(w.cmd.Process.Pid) - cpu0) / float64(len(lat))
	cpu, rss, err := w.stop()
	if err != nil {
		return fmt.Errorf("stop weir: %v\n%s", err, w.log)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	achieved := float64(len(lat)) / latency.Seconds()
	e.results = append(e.results,
		result{Scenario: fmt.Sprintf("latency at %d changes/s (%.0f achieved), p50", *rate, achieved), Weir: float64(q(0.5).Milliseconds()), Unit: "ms", CPU: cpu, RSSMB: rss},
		result{Scenario: "  p99", Weir: float64(q(0.99).Milliseconds()), Unit: "ms"},
		result{Scenario: "  max", Weir: float64(lat[len(lat)-1].Milliseconds()), Unit: "ms"},
		result{Scenario: "  weir's CPU per change at that rate", Weir: live * 1e6, Unit: "µs",
			Note: fmt.Sprintf("%.1f× the backlog's %.1f µs per change (a cost: lower is better)", live/e.backlogCPU, e.backlogCPU*1e6)})
	return nil
}
