package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/store"
	"github.com/weir-data/weir/internal/testenv"
)

// weirServer is a `weir server` process on its own port and data directory.
type weirServer struct {
	t    *testing.T
	dir  string
	url  string
	addr string
	p    *proc
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer starts `weir server` on addr with its data under dir and flags, and waits
// until it answers.
func startServer(t *testing.T, dir, addr string, flags ...string) *weirServer {
	t.Helper()
	s := &weirServer{t: t, dir: dir, addr: addr, url: "http://" + addr}
	s.p = start(t, dir, append([]string{"server", "--addr", addr, "--data", filepath.Join(dir, "data")}, flags...)...)
	waitFor(t, "the server to answer", time.Minute, func() bool {
		code, _ := runWeir(t, dir, "pipeline", "list", "--server", s.url)
		return code == 0 || s.p.exited()
	})
	if s.p.exited() {
		t.Fatalf("the server exited:\n%s", s.p.stderr)
	}
	return s
}

// stop stops the server gracefully; it must exit 0.
func (s *weirServer) stop() {
	s.t.Helper()
	s.p.signal(syscall.SIGTERM)
	if code := s.p.wait(s.t, time.Minute); code != 0 {
		s.t.Fatalf("server exit %d\n%s", code, s.p.stderr)
	}
}

// cli runs `weir pipeline ARGS` against the server.
func (s *weirServer) cli(args ...string) (int, string) {
	return runWeir(s.t, s.dir, append(append([]string{"pipeline"}, args...), "--server", s.url)...)
}

func (s *weirServer) get(name string) server.Pipeline {
	s.t.Helper()
	code, out := s.cli("get", name, "-o", "json")
	if code != 0 {
		s.t.Fatalf("get %s: exit %d\n%s\nserver:\n%s", name, code, out, s.p.stderr)
	}
	var p server.Pipeline
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		s.t.Fatalf("%v: %s", err, out)
	}
	return p
}

const serverDatagen = `source:
  type: datagen
  tables: demo.orders, demo.users
  rows: 3000
  changes-per-second: 3000
  max-changes: %d
  transaction-size: 3
  seed: 5
  scan.incremental.snapshot.chunk.size: 500
sink:
  type: file
  path: out
pipeline:
  name: Datagen to files
  checkpoint.interval: 100ms
`

// TestServerResumesAfterSIGKILL: a pipeline created on a server through the CLI resumes
// by itself each time the server is SIGKILLed and started again, and its files hold every
// change exactly once.
func TestServerResumesAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	const changes = 24000
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(serverDatagen, changes))
	s := startServer(t, dir, addr)
	if code, out := s.cli("create", "-f", "p.yaml"); code != 0 || !strings.Contains(out, "datagen-to-files") {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	durable := int64(0)
	for kill := range 2 {
		waitFor(t, "progress past the last kill", time.Minute, func() bool {
			p := s.get("datagen-to-files")
			return p.State == "RUNNING" && p.Phase == "stream" && p.Durable > durable
		})
		durable = s.get("datagen-to-files").Durable
		s.p.signal(syscall.SIGKILL)
		s.p.wait(t, 30*time.Second)
		t.Logf("kill %d at %d durable changes", kill+1, durable)
		s = startServer(t, dir, addr)
	}
	waitFor(t, "the pipeline to finish", 2*time.Minute, func() bool {
		return s.get("datagen-to-files").State == "FINISHED"
	})
	recs, err := conformance.ReadFileSink(filepath.Join(dir, "data", "files", "out"))
	if err != nil {
		t.Fatal(err)
	}
	m := datagen.NewModel(5, 3000, []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}})
	if err := conformance.CheckDatagen(recs, m, changes, true); err != nil {
		t.Fatal(err)
	}
	code, out := s.cli("events", "datagen-to-files")
	if code != 0 || strings.Count(out, "STARTING") < 3 || !strings.Contains(out, "FINISHED") ||
		!strings.Contains(out, "SNAPSHOT_STARTED") || !strings.Contains(out, "demo.users: 3000 rows in 6 chunks") {
		t.Fatalf("events: exit %d\n%s", code, out)
	}
	var runs server.Runs
	getJSON(t, s.url+"/api/v1/pipelines/datagen-to-files/runs", &runs)
	if len(runs.Runs) != 3 || runs.Runs[0].State != "FINISHED" || !strings.Contains(runs.Runs[2].Error, "killed or crashed") {
		t.Fatalf("runs: %+v", runs.Runs)
	}
	// The log holds the lines of the earlier lives too (kept on disk).
	if code, out := s.cli("logs", "datagen-to-files", "--tail", "2000"); code != 0 || strings.Count(out, "streaming changes") < 3 {
		t.Fatalf("logs: exit %d\n%s", code, out)
	}
	s.stop()
}

// TestServerLifecycleThroughCLI: suspend and resume, stop and start through the CLI, each
// answered with the state it leads to; an action not legal in the state is refused with
// the state (exit 1); asked again, an action does nothing; a bad file is refused with its
// line and the fix (exit 2); a graceful stop of the server stops the pipeline at a
// checkpoint, and the next server resumes it.
func TestServerLifecycleThroughCLI(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(serverDatagen, 0))
	writeFile(t, filepath.Join(dir, "bad.yaml"), strings.Replace(fmt.Sprintf(serverDatagen, 0), "checkpoint.interval", "checkpoint.intervall", 1))
	writeFile(t, filepath.Join(dir, "bad2.yaml"), strings.Replace(fmt.Sprintf(serverDatagen, 0), "rows: 3000", "rows: 3001", 1))
	s := startServer(t, dir, addr)
	code, out := s.cli("create", "-f", "bad.yaml")
	if code != 2 || !strings.Contains(out, "line 15, column 3") || !strings.Contains(out, `did you mean "checkpoint.interval"`) {
		t.Fatalf("a bad file: exit %d\n%s", code, out)
	}
	if code, out := s.cli("create", "-f", "p.yaml"); code != 0 {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	if code, out := s.cli("create", "-f", "p.yaml"); code != 0 || !strings.Contains(out, "datagen-to-files") {
		t.Fatalf("the same create again (a retry): exit %d\n%s", code, out)
	}
	if code, out := s.cli("create", "-f", "bad2.yaml"); code != 1 || !strings.Contains(out, "already exists with another file") {
		t.Fatalf("another file under the name: exit %d\n%s", code, out)
	}
	name := "datagen-to-files"
	running := func() bool { p := s.get(name); return p.State == "RUNNING" && p.Checkpoints > 0 }
	waitFor(t, "RUNNING", time.Minute, running)
	follower := start(t, dir, "pipeline", "logs", name, "-f", "--server", s.url)
	steps := []struct {
		action, state string
		code          int
	}{
		{"suspend", "SUSPENDED", 0}, {"suspend", "SUSPENDED", 0}, {"resume", "", 0},
		{"stop", "STOPPED", 0}, {"resume", "", 1}, {"stop", "STOPPED", 0}, {"start", "", 0},
	}
	for _, st := range steps {
		code, out := s.cli(st.action, name, "-o", "json")
		if code != st.code {
			t.Fatalf("%s: exit %d, want %d\n%s", st.action, code, st.code, out)
		}
		if st.code == 1 && !strings.Contains(out, "STOPPED") {
			t.Fatalf("%s refused without the state:\n%s", st.action, out)
		}
		if st.state != "" {
			if p := s.get(name); p.State != st.state {
				t.Fatalf("after %s: %s, want %s", st.action, p.State, st.state)
			}
		}
		if st.action == "resume" && st.code == 0 || st.action == "start" {
			waitFor(t, "RUNNING after "+st.action, time.Minute, running)
		}
	}
	// The follower saw the stops as they came.
	waitFor(t, "the followed log to show the stops", time.Minute, func() bool {
		return strings.Count(follower.stderr.String(), "stopping: draining in-flight work") >= 2
	})
	s.stop()
	follower.wait(t, time.Minute) // the server's end ends the stream
	s = startServer(t, dir, addr)
	waitFor(t, "RUNNING after the server's restart", time.Minute, running)
	code, out = s.cli("events", name)
	if code != 0 || !strings.Contains(out, "stopped after a final checkpoint") {
		t.Fatalf("events: exit %d\n%s", code, out)
	}
	if code, out := s.cli("delete", name, "--drop-state"); code != 0 {
		t.Fatalf("delete: exit %d\n%s", code, out)
	}
	if code, out := s.cli("get", name); code != 1 || !strings.Contains(out, "not found") {
		t.Fatalf("get after delete: exit %d\n%s", code, out)
	}
}

// TestServerUpgradeAndRollback: `weir pipeline apply` creates a pipeline, then upgrades
// it with a new projection column: it resumes from a checkpoint, the column appears, and
// nothing is copied twice; an upgrade that cannot keep the state (another seed: other
// data) is refused with the reason; a rollback puts version 1 back in force.
func TestServerUpgradeAndRollback(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	const changes = 30000
	v1 := fmt.Sprintf(serverDatagen, changes)
	v2 := v1 + "transform:\n  - source-table: demo.orders\n    projection: \\*, UPPER(name) AS uname\n"
	writeFile(t, filepath.Join(dir, "v1.yaml"), v1)
	writeFile(t, filepath.Join(dir, "v2.yaml"), v2)
	writeFile(t, filepath.Join(dir, "v3.yaml"), strings.Replace(v2, "seed: 5", "seed: 6", 1))
	s := startServer(t, dir, addr)
	name := "datagen-to-files"
	if code, out := s.cli("apply", "-f", "v1.yaml", "--yes"); code != 0 || !strings.Contains(out, "plan: create pipeline") {
		t.Fatalf("apply v1: exit %d\n%s", code, out)
	}
	waitFor(t, "the stream", time.Minute, func() bool { p := s.get(name); return p.Phase == "stream" && p.Durable > 6000 })
	code, out := s.cli("apply", "-f", "v2.yaml", "--yes")
	if code != 0 || !strings.Contains(out, "+ transform:") || !strings.Contains(out, "at version 2") {
		t.Fatalf("apply v2: exit %d\n%s", code, out)
	}
	waitFor(t, "progress at version 2", time.Minute, func() bool { p := s.get(name); return p.State == "RUNNING" && p.Version == 2 && p.Durable > 0 })
	code, out = s.cli("apply", "-f", "v3.yaml", "--yes")
	if code != 1 || !strings.Contains(out, `source.seed changed ("5" → "6")`) || !strings.Contains(out, "reset") {
		t.Fatalf("apply v3: exit %d\n%s", code, out)
	}
	if code, out := s.cli("rollback", name, "--to", "1"); code != 0 {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	if p := s.get(name); p.Version != 1 || len(p.Versions) != 2 {
		t.Fatalf("after the rollback: version %d of %v", p.Version, p.Versions)
	}
	if code, out := s.cli("versions", name, "--diff", "2"); code != 0 || !strings.Contains(out, "+   - source-table: demo.orders") {
		t.Fatalf("versions --diff 2: exit %d\n%s", code, out)
	}
	// A version that fails soon after its upgrade, where its file asks for it, is rolled
	// back to the one before by the server.
	writeFile(t, filepath.Join(dir, "v4.yaml"), strings.Replace(v1, "  checkpoint.interval: 100ms\n", "  checkpoint.interval: 100ms\n  upgrade.rollback-within: 5min\n", 1)+
		"transform:\n  - source-table: demo.orders\n    projection: \\*, UPPER(nmae) AS uname\n")
	if code, out := s.cli("apply", "-f", "v4.yaml", "--yes"); code != 0 || !strings.Contains(out, "at version 3") {
		t.Fatalf("apply v4: exit %d\n%s", code, out)
	}
	waitFor(t, "the rollback of version 3", time.Minute, func() bool { p := s.get(name); return p.Version == 1 && p.State == "RUNNING" })
	if code, out := s.cli("events", name); code != 0 || !strings.Contains(out, "version 3 failed") || !strings.Contains(out, "no column nmae") ||
		!strings.Contains(out, "version 2 submitted: valid") || !strings.Contains(out, `REFUSED`) {
		t.Fatalf("events: exit %d\n%s", code, out)
	}
	waitFor(t, "the pipeline to finish", 2*time.Minute, func() bool { return s.get(name).State == "FINISHED" })
	recs, err := conformance.ReadFileSink(filepath.Join(dir, "data", "files", "out"))
	if err != nil {
		t.Fatal(err)
	}
	withColumn := 0
	for i := range recs {
		for _, img := range []map[string]any{recs[i].Before, recs[i].After} {
			u, ok := img["uname"]
			if !ok {
				continue
			}
			if u != strings.ToUpper(fmt.Sprint(img["name"])) {
				t.Fatalf("uname %v of name %v", u, img["name"])
			}
			withColumn++
			delete(img, "uname")
		}
	}
	if withColumn == 0 {
		t.Fatal("no record has the column version 2 added")
	}
	m := datagen.NewModel(5, 3000, []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}})
	if err := conformance.CheckDatagen(recs, m, changes, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d images with the new column", withColumn)
}

// TestServerAlertsOnStoppedSource: a source that stops raises the restarts and
// no-progress alerts at a webhook, once each; when it comes back they resolve.
func TestServerAlertsOnStoppedSource(t *testing.T) {
	m, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if err := m.Exec("", "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT); INSERT INTO shop.t VALUES (1, 1), (2, 2);"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []server.Notification
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n server.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("a webhook body: %v", err)
		}
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	defer hook.Close()
	seen := func(status, rule string) int {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for _, n := range got {
			if n.Status == status && n.Rule == rule && n.Pipeline == "alerted" {
				k++
			}
		}
		return k
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yml"), "rules:\n  - name: restarts\n    threshold: 2\n    for: 5s\n  - name: no_progress\n    for: 1s\n    severity: critical\n")
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.t
sink:
  type: file
  path: out
pipeline:
  name: alerted
  checkpoint.interval: 100ms
  restart.backoff.initial: 100ms
  restart.backoff.max: 300ms
`, m.Port))
	s := startServer(t, dir, freeAddr(t), "--alert-webhook", hook.URL, "--alert-rules", "rules.yml", "--alert-interval", "100ms")
	if code, out := s.cli("create", "-f", "p.yaml"); code != 0 {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	waitFor(t, "the stream", time.Minute, func() bool { p := s.get("alerted"); return p.Phase == "stream" && p.Checkpoints > 0 })
	m.Pause()
	waitFor(t, "the alerts", time.Minute, func() bool { return seen("firing", "restarts") > 0 && seen("firing", "no_progress") > 0 })
	if p := s.get("alerted"); p.State != "RESTARTING" && p.State != "STARTING" || p.LastError == "" {
		t.Fatalf("with its source down: %s, error %q", p.State, p.LastError)
	}
	if err := m.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resolutions", time.Minute, func() bool { return seen("resolved", "restarts") > 0 && seen("resolved", "no_progress") > 0 })
	if n := seen("firing", "no_progress") + seen("firing", "restarts"); n != 2 {
		t.Fatalf("%d firings, want one per rule: %+v", n, got)
	}
	var alerts server.Alerts
	getJSON(t, s.url+"/api/v1/alerts", &alerts)
	if len(alerts.Alerts) != 2 || alerts.Alerts[0].Resolved.IsZero() {
		t.Fatalf("alerts: %+v", alerts.Alerts)
	}
	s.stop()
}

// TestServerThreePipelinesSurviveKills: one server runs MariaDB → PostgreSQL, PostgreSQL →
// MariaDB and datagen → files while both databases take writes; it is SIGKILLed twice
// mid-stream and started again; the pipelines resume by themselves, `weir verify` finds
// each SQL pair equal, and the files hold every generated change once.
func TestServerThreePipelinesSurviveKills(t *testing.T) {
	ctx := context.Background()
	m, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := m.Exec("", "CREATE DATABASE shop; CREATE DATABASE back; CREATE TABLE shop.orders (id INT PRIMARY KEY, v INT, note VARCHAR(40));"+
		"INSERT INTO shop.orders SELECT seq, seq, CONCAT('n', seq) FROM shop.seq_1_to_2000;"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE DATABASE dw", "CREATE DATABASE src"} {
		if err := pg.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	if err := pg.Exec(ctx, "src", "CREATE TABLE items (id int PRIMARY KEY, v int, note text); INSERT INTO items SELECT g, g, 'n' || g FROM generate_series(1, 2000) g"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml": fmt.Sprintf("source:\n  type: mariadb\n  hostname: 127.0.0.1\n  port: %d\n  username: root\n  tables: shop.orders\n"+
			"sink:\n  type: postgres\n  url: %s\npipeline:\n  name: maria-to-pg\n  checkpoint.interval: 200ms\n", m.Port, pg.URL("dw")),
		"b.yaml": fmt.Sprintf("source:\n  type: postgres\n  hostname: 127.0.0.1\n  port: %d\n  username: postgres\n  tables: src.public.items\n"+
			"sink:\n  type: mariadb\n  url: mysql://root@127.0.0.1:%d/back\npipeline:\n  name: pg-to-maria\n  checkpoint.interval: 200ms\n", pg.Port, m.Port),
		"c.yaml": fmt.Sprintf(serverDatagen, 20000),
	}
	for name, body := range files {
		writeFile(t, filepath.Join(dir, name), body)
	}
	// Writers on both sources, until the kills are over.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m.Exec("shop", fmt.Sprintf("INSERT INTO orders VALUES (%d, %d, 'w'); UPDATE orders SET v = v + 1 WHERE id = %d; DELETE FROM orders WHERE id = %d", 100000+i, i, i%2000+1, i%500+1000))
		}
	})
	wg.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			pg.Exec(ctx, "src", fmt.Sprintf("INSERT INTO items VALUES (%d, %d, 'w'); UPDATE items SET v = v + 1 WHERE id = %d; DELETE FROM items WHERE id = %d", 100000+i, i, i%2000+1, i%500+1000))
		}
	})
	addr := freeAddr(t)
	s := startServer(t, dir, addr)
	names := []string{"maria-to-pg", "pg-to-maria", "datagen-to-files"}
	for _, f := range []string{"a.yaml", "b.yaml", "c.yaml"} {
		if code, out := s.cli("create", "-f", f); code != 0 {
			t.Fatalf("create %s: exit %d\n%s", f, code, out)
		}
	}
	durable := map[string]int64{}
	for kill := range 2 {
		waitFor(t, "every pipeline past its last kill", 2*time.Minute, func() bool {
			for _, n := range names {
				p := s.get(n)
				if (p.State != "RUNNING" || p.Phase != "stream" || p.Durable <= durable[n]) && p.State != "FINISHED" {
					return false
				}
			}
			return true
		})
		for _, n := range names {
			durable[n] = s.get(n).Durable
		}
		s.p.signal(syscall.SIGKILL)
		s.p.wait(t, 30*time.Second)
		t.Logf("kill %d at %v durable changes", kill+1, durable)
		s = startServer(t, dir, addr)
	}
	close(stop)
	wg.Wait()
	for _, f := range []string{"a.yaml", "b.yaml"} {
		var out string
		waitFor(t, "verify "+f+" equal", 3*time.Minute, func() bool {
			var code int
			code, out = runWeir(t, dir, "verify", f)
			return code == 0
		})
		if !strings.Contains(out, "equal") {
			t.Fatalf("verify %s:\n%s", f, out)
		}
	}
	waitFor(t, "the datagen pipeline to finish", 2*time.Minute, func() bool { return s.get("datagen-to-files").State == "FINISHED" })
	recs, err := conformance.ReadFileSink(filepath.Join(dir, "data", "files", "out"))
	if err != nil {
		t.Fatal(err)
	}
	model := datagen.NewModel(5, 3000, []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}})
	if err := conformance.CheckDatagen(recs, model, 20000, true); err != nil {
		t.Fatal(err)
	}
	for _, n := range names[:2] {
		if p := s.get(n); p.State != "RUNNING" {
			t.Errorf("%s is %s (%s)", n, p.State, p.LastError)
		}
	}
	// A resnapshot of a running pipeline's table is taken up; the pair stays equal.
	if code, out := s.cli("resnapshot", "maria-to-pg", "--table", "shop.orders"); code != 0 {
		t.Fatalf("resnapshot: exit %d\n%s", code, out)
	}
	waitFor(t, "the request taken up", time.Minute, func() bool {
		code, out := s.cli("logs", "maria-to-pg", "--tail", "2000")
		return code == 0 && strings.Contains(out, "copying tables again on request")
	})
	waitFor(t, "verify equal after the resnapshot", 3*time.Minute, func() bool {
		code, _ := runWeir(t, dir, "verify", "a.yaml")
		return code == 0
	})
	if p := s.get("maria-to-pg"); len(p.Tables) != 1 || p.Tables[0].Table != "shop.orders" || p.Tables[0].RowsOut == 0 || p.Tables[0].SnapshotRowsRead < 2000 {
		t.Errorf("per-table status of maria-to-pg: %+v", p.Tables)
	}
	// Deleted with its state, a pipeline leaves no replication slot behind.
	if code, out := s.cli("delete", "pg-to-maria", "--drop-state"); code != 0 {
		t.Fatalf("delete: exit %d\n%s", code, out)
	}
	if slots, err := pgLines(ctx, pg.URL("src"), "SELECT slot_name FROM pg_replication_slots"); err != nil || len(slots) != 0 {
		t.Fatalf("slots after the delete: %v %v", slots, err)
	}
	s.stop()
}

// TestTwoServersOneStore: two servers share a PostgreSQL store; the pipelines created on
// one run there; when it is SIGKILLed the other takes them over within its lease TTL and
// runs them to their end; no pipeline ran on both at once: each file changelog holds
// every change exactly once.
func TestTwoServersOneStore(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE weir"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const changes = 30000
	names := []string{"p1", "p2", "p3"}
	for i, n := range names {
		body := strings.Replace(fmt.Sprintf(serverDatagen, changes), "Datagen to files", n, 1)
		body = strings.Replace(body, "path: out", "path: out-"+n, 1)
		body = strings.Replace(body, "seed: 5", fmt.Sprintf("seed: %d", i+1), 1)
		writeFile(t, filepath.Join(dir, n+".yaml"), body)
	}
	startShared := func() *weirServer {
		return startServer(t, dir, freeAddr(t), "--store", pg.URL("weir"), "--lease-ttl", "2s")
	}
	a, b := startShared(), startShared()
	for _, n := range names {
		if code, out := a.cli("create", "-f", n+".yaml"); code != 0 {
			t.Fatalf("create %s: exit %d\n%s", n, code, out)
		}
	}
	waitFor(t, "the pipelines streaming on the first server", time.Minute, func() bool {
		for _, n := range names {
			if p := a.get(n); p.Phase != "stream" || p.Durable <= 6000 {
				return false
			}
		}
		return true
	})
	for _, n := range names {
		if p := b.get(n); p.State != "RUNNING" || p.RowsIn != 0 {
			t.Fatalf("the second server's view of %s: %s with %d rows read here; want RUNNING elsewhere", n, p.State, p.RowsIn)
		}
	}
	a.p.signal(syscall.SIGKILL)
	a.p.wait(t, 30*time.Second)
	killed := time.Now()
	waitFor(t, "the second server to take the pipelines over", time.Minute, func() bool {
		for _, n := range names {
			if p := b.get(n); p.RowsIn == 0 && p.State != "FINISHED" {
				return false
			}
		}
		return true
	})
	t.Logf("taken over %s after the kill (lease TTL 2s)", time.Since(killed).Round(10*time.Millisecond))
	waitFor(t, "the pipelines to finish", 2*time.Minute, func() bool {
		for _, n := range names {
			if b.get(n).State != "FINISHED" {
				return false
			}
		}
		return true
	})
	for i, n := range names {
		recs, err := conformance.ReadFileSink(filepath.Join(dir, "data", "files", "out-"+n))
		if err != nil {
			t.Fatal(err)
		}
		m := datagen.NewModel(int64(i+1), 3000, []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}})
		if err := conformance.CheckDatagen(recs, m, changes, true); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	b.stop()
}

// TestServerRelaunchesAFailedPipeline: a pipeline whose source is down from the start
// gives up after its attempts (FAILED, with the reason); the server starts it again later,
// and once the source is back it runs.
func TestServerRelaunchesAFailedPipeline(t *testing.T) {
	m, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if err := m.Exec("", "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1);"); err != nil {
		t.Fatal(err)
	}
	m.Pause()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf("source:\n  type: mariadb\n  hostname: 127.0.0.1\n  port: %d\n  username: root\n  tables: shop.t\n"+
		"sink:\n  type: file\n  path: out\npipeline:\n  name: late\n  restart.backoff.initial: 50ms\n  restart.backoff.max: 100ms\n", m.Port))
	s := startServer(t, dir, freeAddr(t), "--relaunch-after", "300ms")
	if code, out := s.cli("create", "-f", "p.yaml"); code != 0 {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	waitFor(t, "a relaunch after the failure", time.Minute, func() bool {
		_, out := s.cli("events", "late")
		return strings.Contains(out, "FAILED") && strings.Contains(out, "RELAUNCHED")
	})
	if err := m.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pipeline running once its source is back", 2*time.Minute, func() bool {
		p := s.get("late")
		return p.State == "RUNNING" && p.Checkpoints > 0
	})
	s.stop()
}

// TestServerLogin: the built server with its first administrator added to its store by
// `weir server user add`: clients are asked to log in, `weir login` keeps a session
// token for them, and `weir logout` ends it.
func TestServerLogin(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, dir, addr)
	defer s.stop()
	env := []string{"WEIR_CONFIG_DIR=" + filepath.Join(dir, "config"), "WEIR_PASSWORD=a long password"}
	if code, out := runWeirEnv(t, dir, env, "server", "user", "add", "root", "--admin", "--data", filepath.Join(dir, "data")); code != 0 {
		t.Fatalf("user add: exit %d\n%s", code, out)
	}
	if code, out := runWeirEnv(t, dir, env, "pipeline", "list", "--server", s.url); code != 1 || !strings.Contains(out, "weir login") {
		t.Fatalf("a client without a token: exit %d\n%s", code, out)
	}
	bad := []string{env[0], "WEIR_PASSWORD=not the password"}
	if code, out := runWeirEnv(t, dir, bad, "login", "--user", "root", "--server", s.url); code != 1 || !strings.Contains(out, "wrong user or password") {
		t.Fatalf("a wrong password: exit %d\n%s", code, out)
	}
	if code, out := runWeirEnv(t, dir, env, "login", "--user", "root", "--server", s.url); code != 0 || !strings.Contains(out, "logged in") {
		t.Fatalf("login: exit %d\n%s", code, out)
	}
	if st, err := os.Stat(filepath.Join(dir, "config", "credentials.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the credentials file: %v %v", st, err)
	}
	if code, out := runWeirEnv(t, dir, env, "pipeline", "list", "--server", s.url); code != 0 {
		t.Fatalf("list after login: exit %d\n%s", code, out)
	}
	if code, out := runWeirEnv(t, dir, env, "logout", "--server", s.url); code != 0 {
		t.Fatalf("logout: exit %d\n%s", code, out)
	}
	if code, _ := runWeirEnv(t, dir, env, "pipeline", "list", "--server", s.url); code != 1 {
		t.Fatal("the client still reaches the server after logout")
	}
	if strings.Contains(s.p.stderr.String(), "a long password") {
		t.Fatal("the server's log holds the password")
	}
}

// TestServerConnectionsAndKeyRotation: on the built server, a MariaDB connection made with
// `weir connection create` (its password from the environment) passes `weir connection
// test`, and a pipeline that names it copies the table; after `weir server rotate-key`
// the server starts with the new key alone and the pipeline and the connection still
// work. The password is in no log line, answer or metric of the whole scenario.
func TestServerConnectionsAndKeyRotation(t *testing.T) {
	const password = "Zq8-connection-pw-41"
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec("", `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, v INT);
		USE shop; INSERT INTO shop.orders SELECT seq, seq FROM seq_1_to_100;
		CREATE USER cdc IDENTIFIED BY '`+password+`'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cdc; GRANT SELECT ON shop.* TO cdc`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k1 := "k1=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := "k2=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	writeFile(t, filepath.Join(dir, "old.keys"), k1+"\n")
	writeFile(t, filepath.Join(dir, "rotate.keys"), k2+"\n"+k1+"\n")
	writeFile(t, filepath.Join(dir, "new.keys"), k2+"\n")
	addr := freeAddr(t)
	s := startServer(t, dir, addr, "--key-file", filepath.Join(dir, "old.keys"))
	env := []string{"WEIR_CONFIG_DIR=" + filepath.Join(dir, "config"), "SHOP_PW=" + password}
	conn := func(args ...string) (int, string) {
		return runWeirEnv(t, dir, env, append(append([]string{"connection"}, args...), "--server", s.url)...)
	}
	if code, out := conn("create", "shop", "--type", "mariadb", "--set", "hostname=127.0.0.1", "--set", fmt.Sprintf("port=%d", db.Port),
		"--set", "username=cdc", "--secret", "password=SHOP_PW"); code != 0 || !strings.Contains(out, "password=(sealed)") {
		t.Fatalf("connection create: exit %d\n%s", code, out)
	}
	if code, out := conn("test", "shop"); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("connection test: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), "source:\n  connection: shop\n  tables: shop.orders\nsink:\n  type: file\n  path: out\npipeline:\n  name: shop-copy\n  checkpoint.interval: 100ms\n")
	if code, out := s.cli("create", "-f", "p.yaml"); code != 0 {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	copied := func() int {
		recs, _ := conformance.ReadFileSink(filepath.Join(dir, "data", "files", "out"))
		return len(recs)
	}
	waitFor(t, "the table copied through the connection", time.Minute, func() bool { return copied() >= 100 })
	var answers []byte
	collect := func() {
		for _, path := range []string{"/api/v1/connections", "/api/v1/connections/shop", "/api/v1/pipelines/shop-copy", "/api/v1/pipelines/shop-copy/versions",
			"/api/v1/pipelines/shop-copy/events", "/api/v1/pipelines/shop-copy/logs?tail=2000", "/api/v1/audit", "/metrics"} {
			resp, err := http.Get(s.url + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers = append(answers, b...)
		}
	}
	collect()
	s.stop()
	if code, out := runWeirEnv(t, dir, env, "server", "rotate-key", "--key-file", filepath.Join(dir, "rotate.keys"), "--data", filepath.Join(dir, "data")); code != 0 || !strings.Contains(out, "1 connection(s) sealed again with key k2") {
		t.Fatalf("rotate-key: exit %d\n%s", code, out)
	}
	logs := s.p.stderr.String()
	s = startServer(t, dir, addr, "--key-file", filepath.Join(dir, "new.keys"))
	defer s.stop()
	if err := db.Exec("", "INSERT INTO shop.orders VALUES (101, 101)"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pipeline to resume with the new key alone", time.Minute, func() bool { return copied() >= 101 })
	if code, out := conn("test", "shop"); code != 0 {
		t.Fatalf("connection test after rotation: exit %d\n%s", code, out)
	}
	collect()
	logs += s.p.stderr.String()
	for what, text := range map[string][]byte{"an API answer": answers, "the server's log": []byte(logs)} {
		if bytes.Contains(text, []byte(password)) {
			t.Fatalf("%s holds the connection's password", what)
		}
	}
}

// TestServerGrants is the access issue's walk-through on the built server: the
// connection to MariaDB is workspace default's; workspace a asks for shop.orders only,
// and default's admin approves; a's pipeline for shop.* is refused, the one for
// shop.orders copies it; a table added to shop later is not read; revoking the grant
// suspends the pipeline, saying why.
func TestServerGrants(t *testing.T) {
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec("", `CREATE DATABASE shop; USE shop; CREATE TABLE orders (id INT PRIMARY KEY, v INT);
		INSERT INTO orders SELECT seq, seq FROM seq_1_to_50;
		CREATE USER cdc IDENTIFIED BY 'grant-pw-9'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cdc; GRANT SELECT ON shop.* TO cdc`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keys"), "k1="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n")
	s := startServer(t, dir, freeAddr(t), "--key-file", filepath.Join(dir, "keys"))
	defer s.stop()
	resp, err := http.Post(s.url+"/api/v1/workspaces", "application/json", strings.NewReader(`{"name":"a"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("workspace a: %v %v", resp, err)
	}
	resp.Body.Close()
	env := []string{"WEIR_CONFIG_DIR=" + filepath.Join(dir, "config"), "SHOP_PW=grant-pw-9"}
	weir := func(args ...string) (int, string) {
		return runWeirEnv(t, dir, env, append(args, "--server", s.url)...)
	}
	if code, out := weir("connection", "create", "shop", "--type", "mariadb", "--set", "hostname=127.0.0.1", "--set", fmt.Sprintf("port=%d", db.Port),
		"--set", "username=cdc", "--secret", "password=SHOP_PW"); code != 0 {
		t.Fatalf("connection: exit %d\n%s", code, out)
	}
	if code, out := weir("grant", "request", "shop", "--tables", "shop.orders", "--reason", "monthly reports", "--workspace", "a"); code != 0 || !strings.HasPrefix(out, "1\t") {
		t.Fatalf("request: exit %d\n%s", code, out)
	}
	if code, out := weir("grant", "approve", "1", "--why", "fine"); code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	pipeline := "source:\n  connection: shop\n  tables: %s\nsink:\n  type: file\n  path: out\npipeline:\n  name: %s\n  checkpoint.interval: 100ms\n"
	writeFile(t, filepath.Join(dir, "wide.yaml"), fmt.Sprintf(pipeline, `shop.\.*`, "wide"))
	if code, out := weir("pipeline", "create", "-f", "wide.yaml", "--workspace", "a"); code != 2 || !strings.Contains(out, "outside the grant") {
		t.Fatalf("shop.* under a grant of shop.orders: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "orders.yaml"), fmt.Sprintf(pipeline, "shop.orders", "orders"))
	if code, out := weir("pipeline", "create", "-f", "orders.yaml", "--workspace", "a"); code != 0 {
		t.Fatalf("shop.orders: exit %d\n%s", code, out)
	}
	records := func() []conformance.Record {
		recs, _ := conformance.ReadFileSink(filepath.Join(dir, "data", "files", "out"))
		return recs
	}
	waitFor(t, "shop.orders copied", time.Minute, func() bool { return len(records()) >= 50 })
	if code, out := weir("catalog", "scan", "shop"); code != 0 {
		t.Fatalf("scan: exit %d\n%s", code, out)
	}
	if err := db.Exec("", `USE shop; CREATE TABLE extra (id INT PRIMARY KEY); INSERT INTO extra VALUES (1); INSERT INTO orders VALUES (51, 51)`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change after the new table", time.Minute, func() bool { return len(records()) >= 51 })
	for _, r := range records() {
		if r.Table() != "shop.orders" {
			t.Fatalf("a table outside the grant was read: %s", r.Table())
		}
	}
	// The next scan (the hourly one, or this) finds the new table, and the pipeline's events say it is not read.
	if code, out := weir("catalog", "scan", "shop"); code != 0 || !strings.Contains(out, "shop.extra") {
		t.Fatalf("second scan: exit %d\n%s", code, out)
	}
	if code, out := weir("pipeline", "events", "orders", "--workspace", "a"); code != 0 ||
		!strings.Contains(out, "table shop.extra appeared on connection shop outside this workspace's grant 1 (shop.orders): it is not read") {
		t.Fatalf("the events say the new table is not read: exit %d\n%s", code, out)
	}
	if code, out := weir("grant", "revoke", "1", "--why", "audit finding"); code != 0 {
		t.Fatalf("revoke: exit %d\n%s", code, out)
	}
	waitFor(t, "the pipeline suspended", time.Minute, func() bool {
		code, out := weir("pipeline", "get", "orders", "-o", "json", "--workspace", "a")
		return code == 0 && strings.Contains(out, `"state": "SUSPENDED"`)
	})
	if code, out := weir("pipeline", "events", "orders", "--workspace", "a"); code != 0 || !strings.Contains(out, "revoked by local-admin: audit finding") {
		t.Fatalf("the events say why: exit %d\n%s", code, out)
	}
	// Asked again for one column of the table, approved: the pipeline reads the table
	// whole, so it does not resume until it projects that column alone.
	if code, out := weir("grant", "request", "shop", "--tables", "shop.orders", "--columns", "shop.orders=id", "--reason", "ids only", "--workspace", "a"); code != 0 ||
		!strings.Contains(out, "shop.orders [shop.orders: id]") {
		t.Fatalf("request of a column: exit %d\n%s", code, out)
	}
	if code, out := weir("grant", "approve", "2"); code != 0 {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	if code, out := weir("pipeline", "resume", "orders", "--workspace", "a"); code == 0 || !strings.Contains(out, "column(s) v outside the grant") {
		t.Fatalf("the whole table under a grant of one column: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "ids.yaml"), fmt.Sprintf(pipeline, "shop.orders", "orders")+"transform:\n  - source-table: shop.orders\n    projection: id\n")
	if code, out := weir("pipeline", "apply", "-f", "ids.yaml", "--workspace", "a"); code != 0 {
		t.Fatalf("the granted column: exit %d\n%s", code, out)
	}
}

// TestServerCatalog: the tables of a MariaDB connection scanned into the catalog, found
// by a column's name; the detector proposes a level for the e-mail and phone columns, and
// the preview masks them above the workspace's clearance until a person sets one lower;
// a second scan keeps what people wrote and says what changed.
func TestServerCatalog(t *testing.T) {
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec("", `CREATE DATABASE crm; USE crm; CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(80), phone VARCHAR(20), note TEXT);
		INSERT INTO customers VALUES (1, 'ann@example.com', '+4915112345678', 'vip'), (2, 'bo@example.org', '+4915187654321', NULL);
		CREATE TABLE `+"`we\"ird;ta``ble ü`"+` (`+"`id;--`"+` INT PRIMARY KEY, `+"`e-mail ü`"+` VARCHAR(80)); INSERT INTO `+"`we\"ird;ta``ble ü`"+` VALUES (1, 'x@example.com');
		CREATE USER cat IDENTIFIED BY 'catalog-pw-3'; GRANT SELECT ON crm.* TO cat; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cat`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keys"), "k1="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))+"\n")
	s := startServer(t, dir, freeAddr(t), "--key-file", filepath.Join(dir, "keys"))
	defer s.stop()
	env := []string{"WEIR_CONFIG_DIR=" + filepath.Join(dir, "config"), "CAT_PW=catalog-pw-3"}
	if code, out := runWeirEnv(t, dir, env, "connection", "create", "crm", "--type", "mariadb", "--set", "hostname=127.0.0.1", "--set", fmt.Sprintf("port=%d", db.Port),
		"--set", "username=cat", "--secret", "password=CAT_PW", "--server", s.url); code != 0 {
		t.Fatalf("connection: exit %d\n%s", code, out)
	}
	call := func(method, path, body string, v any) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || json.Unmarshal(b, v) != nil {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
	}
	var scan server.ScanResult
	call("POST", "/api/v1/connections/crm/scan", "", &scan)
	if scan.Tables != 2 || len(scan.Added) != 2 || scan.Added[0] != "crm.customers" {
		t.Fatalf("scan: %+v", scan)
	}
	// A name with quotes, a backtick, a semicolon and Unicode is kept as it is, and read as it is.
	weird := "crm.we\"ird;ta`ble ü"
	var entry store.CatalogEntry
	call("GET", "/api/v1/catalog/crm/"+url.PathEscape(weird), "", &entry)
	if entry.Name != weird || entry.Columns[0].Name != "id;--" || entry.Columns[1].Name != "e-mail ü" {
		t.Fatalf("the odd table: %+v", entry)
	}
	var odd server.Preview
	call("GET", "/api/v1/catalog/crm/"+url.PathEscape(weird)+"/preview", "", &odd)
	if len(odd.Rows) != 1 || odd.Rows[0][0] != "1" {
		t.Fatalf("the odd table's preview: %+v", odd)
	}
	var found server.CatalogList
	call("GET", "/api/v1/catalog?q=phone", "", &found)
	if len(found.Tables) != 1 || found.Tables[0].Name != "crm.customers" {
		t.Fatalf("search by a column: %+v", found)
	}
	levels := map[string]string{}
	for _, c := range found.Tables[0].Columns {
		levels[c.Name] = c.Level + "/" + c.Proposed
	}
	if levels["email"] != "confidential/email" || levels["phone"] != "confidential/phone" || levels["note"] != "internal/" {
		t.Fatalf("proposed levels: %v", levels)
	}
	var pv server.Preview
	call("GET", "/api/v1/catalog/crm/crm.customers/preview", "", &pv)
	if strings.Join(pv.Masked, ",") != "email,phone" || len(pv.Rows) != 2 || pv.Rows[0][1] != "****" || pv.Rows[0][2] != "****" || pv.Rows[0][3] != "vip" {
		t.Fatalf("the preview: %+v", pv)
	}
	var doc map[string]any
	call("PATCH", "/api/v1/catalog/crm/crm.customers", `{"description":"who buys","columns":{"phone":{"level":"internal","description":"mobile"}}}`, &doc)
	call("GET", "/api/v1/catalog/crm/crm.customers/preview", "", &pv)
	if strings.Join(pv.Masked, ",") != "email" || !strings.HasPrefix(pv.Rows[0][2], "+49") {
		t.Fatalf("the preview after the phone was set internal: %+v", pv)
	}
	if err := db.Exec("", "ALTER TABLE crm.customers ADD COLUMN city VARCHAR(40)"); err != nil {
		t.Fatal(err)
	}
	call("POST", "/api/v1/connections/crm/scan", "", &scan)
	call("GET", "/api/v1/catalog?q=mobile", "", &found)
	if len(scan.Changed) != 1 || len(found.Tables) != 1 || found.Tables[0].Description != "who buys" {
		t.Fatalf("a second scan: %+v; what people wrote: %+v", scan, found)
	}
	if code, out := runWeirEnv(t, dir, env, "catalog", "show", "crm", "crm.customers", "--server", s.url); code != 0 || !strings.Contains(out, "mobile") || !strings.Contains(out, "confidential (unconfirmed)") {
		t.Fatalf("weir catalog show: exit %d\n%s", code, out)
	}
	// A pipeline may not copy the confidential column unmasked; masked, it may.
	pipeline := "source:\n  connection: crm\n  tables: crm.customers\nsink:\n  type: file\n  path: out\n%spipeline:\n  name: crm-copy\n"
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(pipeline, ""))
	if code, out := s.cli("create", "-f", "p.yaml"); code != 2 || !strings.Contains(out, "column email of crm.customers is confidential, above workspace default's clearance (internal)") {
		t.Fatalf("an unmasked confidential column: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(pipeline, "transform:\n  - source-table: crm.customers\n    mask: email = null\n"))
	if code, out := s.cli("create", "-f", "p.yaml"); code != 0 {
		t.Fatalf("the confidential column masked: exit %d\n%s", code, out)
	}
}
