package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
)

// TestValidateBadFiles runs `weir validate` on every bad file of the spec's golden tests:
// each prints its expected message (with line and column) and exits 2.
func TestValidateBadFiles(t *testing.T) {
	files, _ := filepath.Glob("../../internal/spec/testdata/*.bad.yaml")
	if len(files) < 10 {
		t.Fatalf("found %d bad files; the golden tests live in internal/spec/testdata", len(files))
	}
	specDir, _ := filepath.Abs("../../internal/spec")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(specDir, "testdata", name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"validate", "--offline", "testdata/" + name + ".yaml"}
			if strings.HasPrefix(name, "unset-env") { // --offline notes an unset variable instead
				args = []string{"validate", "testdata/" + name + ".yaml"}
			}
			code, out := runWeirEnv(t, specDir, []string{"WEIR_TEST_SECRET=hunter2"}, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; output:\n%s", code, out)
			}
			if !strings.Contains(out, strings.TrimSpace(string(want))) {
				t.Fatalf("output:\n%s\nwant it to contain:\n%s", out, want)
			}
			if strings.Contains(out, "hunter2") {
				t.Fatal("a secret was printed")
			}
		})
	}
}

// TestValidateCompilesTransforms: online, validate compiles the transforms against the
// source's real tables, so a misspelt column is refused before any run, with its table,
// its expression and the columns there are.
func TestValidateCompilesTransforms(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), `source:
  type: datagen
  tables: demo.orders
  rows: 10
sink:
  type: file
  path: ./out
transform:
  - source-table: demo.orders
    projection: \*, UPPER(nmae) AS uname
pipeline:
  name: t
`)
	if code, out := runWeir(t, dir, "validate", "--offline", "p.yaml"); code != 0 {
		t.Fatalf("--offline cannot know the columns, yet exit %d:\n%s", code, out)
	}
	code, out := runWeir(t, dir, "validate", "p.yaml")
	if want := `table demo.orders: "UPPER(nmae)": no column nmae in the table (columns: id, name, amount`; code != 2 || !strings.Contains(out, want) {
		t.Fatalf("exit %d, want 2 and %q:\n%s", code, want, out)
	}
}

// TestMainJob runs the README's first command on the example and checks what it prints
// and writes.
func TestMainJob(t *testing.T) {
	dir := t.TempDir()
	example, err := os.ReadFile("../../examples/datagen-to-file.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), string(example))
	code, out := runWeir(t, dir, "run", "--progress", "off", "p.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, `pipeline "datagen-to-file" finished`) || !strings.Contains(out, "output: JSON-lines files in "+filepath.Join(dir, "out")) {
		t.Fatalf("the run does not say that it finished and where the output went:\n%s", out)
	}
	recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	m := datagen.NewModel(42, 100000, []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}})
	if err := conformance.CheckDatagen(recs, m, 20000, true); err != nil {
		t.Fatal(err)
	}
	// A second run has nothing left to do and repeats nothing.
	code, out = runWeir(t, dir, "run", "p.yaml")
	recs2, _ := conformance.ReadFileSink(filepath.Join(dir, "out"))
	if code != 0 || len(recs2) != len(recs) {
		t.Fatalf("second run: exit %d, %d records (was %d):\n%s", code, len(recs2), len(recs), out)
	}
}

// TestMetricsAndHealth scrapes --metrics-addr while a pipeline runs.
func TestMetricsAndHealth(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), slowPipeline)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := start(t, dir, "run", "--metrics-addr", addr, "p.yaml")
	get := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var metrics string
	waitFor(t, "metrics with a checkpoint", 20*time.Second, func() bool {
		metrics = get("/metrics")
		return strings.Contains(metrics, "weir_checkpoint_last_timestamp_seconds{") &&
			strings.Contains(metrics, `weir_rows_out_total{pipeline="fenced",table="shop.orders"}`)
	})
	for _, name := range []string{
		`weir_rows_in_total{pipeline="fenced",table="shop.orders"}`,
		`weir_bytes_in_total{pipeline="fenced",table="shop.orders"}`,
		`weir_bytes_out_total{pipeline="fenced",table="shop.orders"}`,
		`weir_batch_apply_seconds_bucket{pipeline="fenced"`,
		`weir_sink_commit_seconds_bucket{pipeline="fenced"`,
		`weir_checkpoint_duration_seconds_bucket{pipeline="fenced"`,
		`weir_pipeline_phase{phase="stream",pipeline="fenced"} 1`,
		`weir_queue_bytes{pipeline="fenced"}`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(metrics, name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	if h := get("/healthz"); !strings.HasPrefix(h, "ok stream") {
		t.Errorf("/healthz says %q", h)
	}
	if code, h := getStatus(t, "http://"+addr+"/readyz"); code != 200 || !strings.HasPrefix(h, "ready stream") {
		t.Errorf("/readyz says %d %q", code, h)
	}
	if h := get("/debug/pprof/heap?debug=1"); !strings.Contains(h, "heap profile:") {
		t.Errorf("/debug/pprof/heap says %.200q", h)
	}
	p.signal(syscall.SIGINT)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT:\n%s", code, p.stderr)
	}
}

// TestProgressLine forces the progress line on and checks that it shows the phase.
func TestProgressLine(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), slowPipeline)
	p := start(t, dir, "run", "--progress", "on", "p.yaml")
	waitFor(t, "a progress line", 20*time.Second, func() bool {
		return bytes.Contains(p.stderr.Bytes(), []byte("rows/s"))
	})
	p.signal(syscall.SIGTERM)
	p.wait(t, 20*time.Second)
	out := p.stderr.String()
	if !strings.Contains(out, "stream") {
		t.Fatalf("the progress line does not name the phase:\n%s", out)
	}
	// A log line never shares a line with the progress line: it clears it first.
	for i := strings.Index(out, "time="); i >= 0; {
		if i > 0 && out[i-1] != '\n' && !strings.HasSuffix(out[:i], "\r\033[K") {
			t.Fatalf("a log line follows the progress line on the same line: %q", out[max(0, i-80):i+20])
		}
		next := strings.Index(out[i+1:], "time=")
		if next < 0 {
			break
		}
		i += 1 + next
	}
	// Without a terminal and without --progress on, no line is drawn; the progress is
	// logged instead, with each table's snapshot started and finished.
	dir2 := t.TempDir()
	writeFile(t, filepath.Join(dir2, "p.yaml"), slowPipeline)
	q := start(t, dir2, "run", "--progress-interval", "200ms", "p.yaml")
	waitFor(t, "a progress log line", 20*time.Second, func() bool {
		return bytes.Contains(q.stderr.Bytes(), []byte("msg=progress pipeline=fenced phase=stream"))
	})
	q.signal(syscall.SIGTERM)
	q.wait(t, 20*time.Second)
	out = q.stderr.String()
	if strings.Contains(out, "rows/s") || strings.Contains(out, "\033[K") {
		t.Fatalf("a progress line was drawn on a non-terminal:\n%s", out)
	}
	for _, want := range []string{`msg="snapshotting a table" pipeline=fenced table=shop.orders rows_estimated=100`,
		`msg="snapshotted a table" pipeline=fenced table=shop.orders rows=100`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// TestExitCodes checks the exit codes of DESIGN §1.1.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	if code, out := runWeir(t, dir, "run", "missing.yaml"); code != 2 {
		t.Errorf("missing file: exit %d, want 2:\n%s", code, out)
	}
	if code, out := runWeir(t, dir, "run", "--no-such-flag", "x.yaml"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2:\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "ro.yaml"), fmt.Sprintf("source:\n  type: datagen\n  tables: a.b\nsink:\n  type: file\n  path: %s\n", "/proc/weir-cannot-write"))
	if code, out := runWeir(t, dir, "run", "ro.yaml"); code != 1 {
		t.Errorf("unwritable output: exit %d, want 1:\n%s", code, out)
	}
}

// TestExamplesValidate: every example file is valid.
func TestExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d examples", len(files))
	}
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		code, out := runWeirEnv(t, t.TempDir(), []string{"MYSQL_PASSWORD=x", "PG_PASSWORD=y", "TARGET_PASSWORD=z", "WEIR_MASK_KEY=k"}, "validate", "--offline", abs)
		if code != 0 {
			t.Errorf("%s: exit %d\n%s", f, code, out)
		}
	}
}

// getStatus GETs url and returns the status code and body (0 when nothing answers).
func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHealthWhileUnreachable: a pipeline whose source cannot be reached is alive
// (/healthz 200, saying it restarts) but not ready (/readyz 503 with the error), and a
// first run that never connects fails after its attempts with the reason, exit 1, never
// printing the password.
func TestHealthWhileUnreachable(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: cdc
  password: s3cret-pw
  tables: shop.orders
sink:
  type: file
  path: out
pipeline:
  name: unreachable
  restart.backoff.initial: 300ms
  restart.backoff.max: 600ms
`, dead))
	p := start(t, dir, "run", "--metrics-addr", addr, "p.yaml")
	waitFor(t, "a restart on /readyz", 30*time.Second, func() bool {
		code, body := getStatus(t, "http://"+addr+"/readyz")
		if code == 503 && strings.Contains(body, "restarting") {
			if !strings.Contains(body, "connect to 127.0.0.1:") {
				t.Errorf("/readyz does not say why: %q", body)
			}
			return true
		}
		return false
	})
	if code, body := getStatus(t, "http://"+addr+"/healthz"); code != 200 || !strings.HasPrefix(body, "ok restarting") {
		t.Errorf("/healthz while restarting: %d %q", code, body)
	}
	if code := p.wait(t, time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, p.stderr)
	}
	out := p.stderr.String()
	if !strings.Contains(out, "gave up after 5 attempts") || !strings.Contains(out, "restart.max-attempts") || strings.Contains(out, "s3cret-pw") {
		t.Fatalf("output:\n%s", out)
	}
}

// TestDoubleSIGTERMIsOneStop: two SIGTERMs at once (GNU timeout signals the process and
// then its group) stop gracefully, with a final checkpoint; a second signal a second
// later quits at once.
func TestDoubleSIGTERMIsOneStop(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), slowPipeline)
	p := start(t, dir, "run", "p.yaml")
	waitFor(t, "the first checkpoint", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, ".weir", "pipelines", "fenced", "checkpoint.json"))
		return err == nil
	})
	p.signal(syscall.SIGTERM)
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 || !strings.Contains(p.stderr.String(), "last checkpoint") {
		t.Fatalf("two SIGTERMs at once: exit %d\n%s", code, p.stderr)
	}
}

// TestBatchRuntimeMode: execution.runtime-mode BATCH (Flink's one-off copy) copies the
// snapshot and finishes, though the source would stream for ever after it.
func TestBatchRuntimeMode(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), `source:
  type: datagen
  tables: demo.orders
  rows: 500
  changes-per-second: 1000
  seed: 7
sink:
  type: file
  path: ./out
pipeline:
  name: One-off copy
  execution.runtime-mode: BATCH
`)
	code, out := runWeir(t, dir, "run", "--progress", "off", "p.yaml")
	if code != 0 || !strings.Contains(out, `pipeline "one-off-copy" finished`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Op != "r" {
			t.Fatalf("a change (%s) after the snapshot in batch mode", r.Op)
		}
	}
	if len(recs) != 500 {
		t.Fatalf("%d records, want the 500 rows of the snapshot", len(recs))
	}
}

// TestFileSinkFormats: the file sink writes debezium-json and canal-json records that
// read as their formats say (the formats' own tests hold them field by field).
func TestFileSinkFormats(t *testing.T) {
	for _, f := range []string{"debezium-json", "canal-json"} {
		t.Run(f, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`source:
  type: datagen
  tables: demo.orders
  rows: 50
  changes-per-second: 2000
  max-changes: 100
  seed: 3
sink:
  type: file
  path: ./out
  format: %s
pipeline:
  name: formats
`, f))
			if code, out := runWeir(t, dir, "run", "--progress", "off", "p.yaml"); code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "out", "*.jsonl"))
			kinds := map[string]int{}
			for _, name := range files {
				data, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
					var rec map[string]any
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("%v: %s", err, line)
					}
					if f == "debezium-json" {
						p := rec["payload"].(map[string]any)
						kinds[p["op"].(string)]++
						if rec["schema"].(map[string]any)["name"] != "formats.demo.orders.Envelope" {
							t.Fatalf("schema name %v", rec["schema"].(map[string]any)["name"])
						}
					} else {
						kinds[rec["type"].(string)]++
					}
				}
			}
			if f == "debezium-json" && (kinds["r"] != 50 || kinds["c"]+kinds["u"]+kinds["d"] != 100) ||
				f == "canal-json" && kinds["INSERT"]+kinds["UPDATE"]+kinds["DELETE"] != 150 {
				t.Fatalf("records by kind %v (files %v)", kinds, files)
			}
		})
	}
}
