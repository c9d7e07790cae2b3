package runtime_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/connectors"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/sink/discard"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// events records a pipeline's events and lets a test wait for one.
type events struct {
	mu   sync.Mutex
	list []runtime.Event
	ch   chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1)} }

func (e *events) add(ev runtime.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// states returns "STATE" or "STATE/phase" of each event so far.
func (e *events) states() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.list {
		s := string(ev.State)
		if ev.Phase != "" {
			s += "/" + ev.Phase
		}
		out = append(out, s)
	}
	return out
}

// waitFor waits until an event satisfies ok and returns it.
func (e *events) waitFor(t *testing.T, what string, ok func(runtime.Event) bool) runtime.Event {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		e.mu.Lock()
		for _, ev := range e.list {
			if ok(ev) {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-deadline:
			t.Fatalf("no event %s; events: %v", what, e.states())
		}
	}
}

func state(s runtime.State) func(runtime.Event) bool {
	return func(ev runtime.Event) bool { return ev.State == s }
}

// pipeline parses a pipeline file written for dir (its output under dir/out).
func pipeline(t *testing.T, reg *connector.Registry, yaml string) *spec.Pipeline {
	t.Helper()
	p, err := spec.Parse("p.yaml", []byte(yaml), reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func datagenFile(dir string, rows, changes, rate int) string {
	return fmt.Sprintf(`source:
  type: datagen
  tables: demo.orders, demo.users
  rows: %d
  max-changes: %d
  changes-per-second: %d
  transaction-size: 2
  scan.incremental.snapshot.chunk.size: 100
sink:
  type: file
  path: %s
pipeline:
  name: p
  checkpoint.interval: 50ms
  restart.backoff.initial: 10ms
  restart.backoff.max: 20ms
`, rows, changes, rate, filepath.Join(dir, "out"))
}

func start(t *testing.T, p *spec.Pipeline, reg *connector.Registry, store checkpoint.Store, dir string) (*runtime.Pipeline, *events) {
	t.Helper()
	ev := newEvents()
	pl := runtime.New(p, runtime.Options{Registry: reg, Store: store, StateDir: dir, OnEvent: ev.add})
	if err := pl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return pl, ev
}

// TestLifecycleToFinished: a bounded pipeline goes CREATED → STARTING → RUNNING (its
// snapshot, then its stream) → FINISHED, each an event with a reason, tells when each
// table's snapshot starts and finishes and when the table is ready, and its output holds
// every change once.
func TestLifecycleToFinished(t *testing.T) {
	dir := t.TempDir()
	reg := connectors.Registry()
	store, _ := checkpoint.OpenLocal(filepath.Join(dir, "state"))
	defer store.Close()
	p := pipeline(t, reg, datagenFile(dir, 300, 500, 100000))
	ev := newEvents()
	var mu sync.Mutex
	var notices []string
	pl := runtime.New(p, runtime.Options{Registry: reg, Store: store, StateDir: dir, OnEvent: ev.add, OnNotice: func(kind, table, _ string) {
		mu.Lock()
		notices = append(notices, kind+" "+table)
		mu.Unlock()
	}})
	if err := pl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Wait(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(notices)
	if want := []string{"snapshot_finished demo.orders", "snapshot_finished demo.users", "snapshot_started demo.orders", "snapshot_started demo.users",
		"table_ready demo.orders", "table_ready demo.users"}; !slices.Equal(notices, want) {
		t.Errorf("notices %v, want %v", notices, want)
	}
	if got, want := ev.states(), []string{"STARTING", "RUNNING/snapshot", "RUNNING/stream", "FINISHED"}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	for _, e := range ev.list {
		if e.Reason == "" || e.Pipeline != "p" || e.Time.IsZero() {
			t.Errorf("event without its reason, pipeline or time: %+v", e)
		}
	}
	if s := pl.Status(); s.State != runtime.Finished || !strings.Contains(s.Output, "out") {
		t.Errorf("status %+v", s)
	}
	recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	m := datagen.NewModel(42, 300, []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}})
	if err := conformance.CheckDatagen(recs, m, 500, true); err != nil {
		t.Fatal(err)
	}
}

// TestStopSuspendKill: Stop and Suspend end a running pipeline after a final checkpoint
// (STOPPED, SUSPENDED); Kill ends it at once (STOPPED, killed); the claim is given back
// each time, so the next Pipeline of the same name resumes from the checkpoint.
func TestStopSuspendKill(t *testing.T) {
	dir := t.TempDir()
	reg := connectors.Registry()
	store, _ := checkpoint.OpenLocal(filepath.Join(dir, "state"))
	defer store.Close()
	p := pipeline(t, reg, datagenFile(dir, 200, 0, 2000))
	var lastSeq int64
	for _, tc := range []struct {
		end  func(*runtime.Pipeline)
		want runtime.State
		why  string
	}{
		{(*runtime.Pipeline).Stop, runtime.Stopped, "final checkpoint"},
		{(*runtime.Pipeline).Suspend, runtime.Suspended, "final checkpoint"},
		{(*runtime.Pipeline).Kill, runtime.Stopped, "killed"},
	} {
		pl, ev := start(t, p, reg, store, dir)
		ev.waitFor(t, "RUNNING/stream", func(e runtime.Event) bool { return e.Phase == "stream" })
		for pl.Stats().Checkpoints.Load() < 2 { // moving: checkpoints since the stream began
			select {
			case <-pl.Done():
				t.Fatalf("the pipeline ended before its second checkpoint: %v", ev.states())
			case <-time.After(5 * time.Millisecond): // paces the poll of a counter
			}
		}
		tc.end(pl)
		res, err := pl.Wait()
		if err != nil {
			t.Fatal(err)
		}
		last := ev.list[len(ev.list)-1]
		if last.State != tc.want || !strings.Contains(last.Reason, tc.why) {
			t.Fatalf("ended %s (%s), want %s (%s)", last.State, last.Reason, tc.want, tc.why)
		}
		cp, err := store.Load(context.Background(), "p")
		if err != nil || cp == nil || cp.Seq <= lastSeq {
			t.Fatalf("checkpoint %v (err %v): want one past #%d", cp, err, lastSeq)
		}
		if tc.want == runtime.Suspended && (res.Checkpoint == nil || res.Checkpoint.Seq != cp.Seq) {
			t.Fatalf("suspended without its final checkpoint in the store: %v against %d", res.Checkpoint, cp.Seq)
		}
		lastSeq = cp.Seq
	}
}

// TestRestartingThenFailed: a pipeline whose source is down is RESTARTING with the error
// and the next attempt's time, not RUNNING; one that never reached a checkpoint gives up
// after its attempts, FAILED with the reason.
func TestRestartingThenFailed(t *testing.T) {
	dir := t.TempDir()
	reg := connectors.Registry()
	store, _ := checkpoint.OpenLocal(filepath.Join(dir, "state"))
	defer store.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	p := pipeline(t, reg, fmt.Sprintf(`source:
  type: postgres
  hostname: 127.0.0.1
  port: %d
  username: u
  database-name: d
  tables: public.t
sink:
  type: file
  path: %s
pipeline:
  name: down
  restart.backoff.initial: 10ms
  restart.backoff.max: 20ms
`, port, filepath.Join(dir, "out")))
	pl, ev := start(t, p, reg, store, dir)
	r := ev.waitFor(t, "RESTARTING", state(runtime.Restarting))
	if r.Error == "" || r.Attempt < 2 || r.Next.IsZero() {
		t.Errorf("a restart without its error, attempt or next time: %+v", r)
	}
	if _, err := pl.Wait(); err == nil {
		t.Fatal("a pipeline whose source never answered did not fail")
	}
	last := ev.list[len(ev.list)-1]
	if last.State != runtime.Failed || !strings.Contains(last.Error, "gave up after 5 attempts") {
		t.Fatalf("ended %+v", last)
	}
	if slices.Contains(ev.states(), "RUNNING/stream") || slices.Contains(ev.states(), "RUNNING/snapshot") {
		t.Fatalf("RUNNING with its source down: %v", ev.states())
	}
}

// panicky is a sink whose writers panic.
type panicky struct{ discard.Writer }

func (*panicky) Apply(context.Context, *connector.Batch) error { panic("a bug in a sink") }

// TestPanicFailsOnlyItsPipeline: a panic in one pipeline's sink writer fails that pipeline
// (FAILED, the panic in its error); another pipeline of the process runs on to its end.
func TestPanicFailsOnlyItsPipeline(t *testing.T) {
	dir := t.TempDir()
	reg := connectors.Registry()
	reg.Sinks["panicky"] = &connector.SinkDef{Spec: connector.Spec{Type: "panicky", Summary: "panics"},
		Open: func(context.Context, *connector.Config, connector.Env) (connector.Sink, error) {
			return &panicky{}, nil
		}}
	store, _ := checkpoint.OpenLocal(filepath.Join(dir, "state"))
	defer store.Close()
	bad := pipeline(t, reg, "source:\n  type: datagen\n  tables: demo.orders\n  rows: 100\nsink:\n  type: panicky\npipeline:\n  name: bad\n")
	good := pipeline(t, reg, datagenFile(dir, 300, 300, 100000))
	mem := &runtime.Memory{Total: 64 << 20}
	var pls []*runtime.Pipeline
	for _, p := range []*spec.Pipeline{bad, good} {
		pl := runtime.New(p, runtime.Options{Registry: reg, Store: store, StateDir: dir, Memory: mem})
		if err := pl.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		pls = append(pls, pl)
	}
	if _, err := pls[0].Wait(); err == nil || !strings.Contains(err.Error(), "panic: a bug in a sink") {
		t.Fatalf("the panicking pipeline ended with %v", err)
	}
	if s := pls[0].Status(); s.State != runtime.Failed {
		t.Fatalf("state %s, want FAILED", s.State)
	}
	if _, err := pls[1].Wait(); err != nil || pls[1].Status().State != runtime.Finished {
		t.Fatalf("the other pipeline: %v, %s", err, pls[1].Status().State)
	}
}

// TestMemoryIsShared: the queues of a process's pipelines share its budget, each at most
// an equal part, none under the floor; a budget of none grants what is asked.
func TestMemoryIsShared(t *testing.T) {
	m := &runtime.Memory{Total: 96 << 20}
	if got := m.Reserve("a", 64<<20); got != 64<<20 {
		t.Fatalf("alone: %d", got)
	}
	if got := m.Reserve("b", 64<<20); got != 48<<20 {
		t.Fatalf("second of two: %d, want half of the budget", got)
	}
	for i := range 40 {
		m.Reserve(fmt.Sprint("x", i), 64<<20)
	}
	if got := m.Reserve("late", 64<<20); got != 4<<20 {
		t.Fatalf("among 43: %d, want the floor", got)
	}
	m.Release("late")
	one := &runtime.Memory{}
	if got := one.Reserve("p", 64<<20); got != 64<<20 || one.Limit() != 64<<20+48<<20 {
		t.Fatalf("no budget: grant %d, limit %d", got, one.Limit())
	}
}
