package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/sink/discard"
	"github.com/weir-data/weir/internal/sink/file"
	"github.com/weir-data/weir/internal/source/datagen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var tables = []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}}

type setup struct {
	rows, changes int64
	txn           int64
	parallelism   int
	chunkRows     int
	mode          string
}

func (s setup) source() *datagen.Source {
	src := datagen.New(datagen.NewModel(7, s.rows, tables), -1)
	src.SetMaxChanges(s.changes)
	src.SetTransactionSize(s.txn)
	return src
}

func (s setup) config() engine.Config {
	return engine.Config{Pipeline: "t", Parallelism: s.parallelism, CheckpointInterval: 5 * time.Millisecond,
		BatchMaxRows: 64, ChunkRows: s.chunkRows, BatchMaxDelay: time.Millisecond}
}

// runOnce runs the pipeline with a fresh source and file sink over the same store and
// output directory, wrapping the sink with wrap.
func runOnce(t *testing.T, ctx context.Context, s setup, store checkpoint.Store, out string, wrap func(connector.Sink) connector.Sink, stats ...*engine.Stats) (*engine.Result, error) {
	t.Helper()
	sink, err := file.New(out, "t", "datagen", false)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var k connector.Sink = sink
	if wrap != nil {
		k = wrap(sink)
	}
	opts := engine.Options{}
	if len(stats) > 0 {
		opts.Stats = stats[0]
	}
	return engine.New(s.config(), s.source(), k, store, opts).Run(ctx)
}

func TestSnapshotThenStreamExactlyOnce(t *testing.T) {
	for _, s := range []setup{
		{rows: 1000, changes: 3000, txn: 1, parallelism: 1, chunkRows: 100},
		{rows: 1000, changes: 3000, txn: 3, parallelism: 4, chunkRows: 37},
		{rows: 0, changes: 500, txn: 2, parallelism: 2, chunkRows: 10},
	} {
		t.Run(fmt.Sprintf("rows=%d,txn=%d,p=%d", s.rows, s.txn, s.parallelism), func(t *testing.T) {
			dir := t.TempDir()
			store, _ := checkpoint.OpenLocal(dir + "/state")
			defer store.Close()
			res, err := runOnce(t, context.Background(), s, store, dir+"/out", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Finished {
				t.Fatal("the bounded source ended but the run did not finish")
			}
			recs, err := conformance.ReadFileSink(dir + "/out")
			if err != nil {
				t.Fatal(err)
			}
			if err := conformance.CheckDatagen(recs, s.source().Model(), s.changes, true); err != nil {
				t.Fatal(err)
			}
			if res.Checkpoint.Changes != int64(len(recs)) {
				t.Fatalf("checkpoint counts %d changes, files hold %d", res.Checkpoint.Changes, len(recs))
			}
		})
	}
}

// failingSink fails the run at its n-th Apply or Commit, like a crash: nothing after the
// last commit is committed.
type failingSink struct {
	connector.Sink
	calls, failAt int64
}

var errInjected = errors.New("injected crash")

func (f *failingSink) step() error {
	if atomic.AddInt64(&f.calls, 1) == f.failAt {
		return errInjected
	}
	return nil
}

func (f *failingSink) Apply(ctx context.Context, b *connector.Batch) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Sink.Apply(ctx, b)
}

func (f *failingSink) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Sink.Commit(ctx, cp)
}

func (f *failingSink) LoadCheckpoint(ctx context.Context, p string) (*checkpoint.Checkpoint, error) {
	return f.Sink.(connector.CheckpointKeeper).LoadCheckpoint(ctx, p)
}

// TestCrashAndResume crashes the run at random moments of the snapshot and the stream and
// resumes it each time: the output holds every change exactly once, in per-key order.
func TestCrashAndResume(t *testing.T) {
	s := setup{rows: 2000, changes: 6000, txn: 4, parallelism: 3, chunkRows: 150}
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	crashes := 0
	for attempt := 0; ; attempt++ {
		if attempt > 200 {
			t.Fatal("the pipeline does not finish")
		}
		failAt := int64(2 + rng.IntN(30) + attempt) // later attempts get further; small, so that even
		// a loaded machine (fewer, larger batches) crashes often
		if crashes >= 25 {
			failAt = -1 // enough crashes: let it finish
		}
		res, err := runOnce(t, context.Background(), s, store, dir+"/out", func(k connector.Sink) connector.Sink {
			return &failingSink{Sink: k, failAt: failAt}
		})
		if errors.Is(err, errInjected) {
			crashes++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if res.Finished {
			break
		}
	}
	if crashes < 5 {
		t.Fatalf("only %d crashes happened; the test did not test much", crashes)
	}
	recs, err := conformance.ReadFileSink(dir + "/out")
	if err != nil {
		t.Fatal(err)
	}
	if err := conformance.CheckDatagen(recs, s.source().Model(), s.changes, true); err != nil {
		t.Fatalf("after %d crashes: %v", crashes, err)
	}
	t.Logf("%d crashes, %d records, exactly once", crashes, len(recs))
}

// TestGracefulStopAndResume stops the run at random moments (a final checkpoint each
// time) and resumes it: nothing is lost or repeated.
func TestGracefulStopAndResume(t *testing.T) {
	s := setup{rows: 3000, changes: 20000, txn: 5, parallelism: 2, chunkRows: 200}
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	stops := 0
	for attempt := 0; ; attempt++ {
		if attempt > 100 {
			t.Fatal("the pipeline does not finish")
		}
		ctx, cancel := context.WithCancel(context.Background())
		stats := &engine.Stats{}
		go func() {
			for stats.RowsIn.Load() == 0 && ctx.Err() == nil {
				time.Sleep(100 * time.Microsecond)
			}
			time.Sleep(time.Duration(attempt%5) * time.Millisecond)
			cancel()
		}()
		res, err := runOnce(t, ctx, s, store, dir+"/out", nil, stats)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if res.Finished {
			break
		}
		stops++
		if res.Checkpoint == nil {
			t.Fatal("a stopped run took no final checkpoint")
		}
		// The final checkpoint covers everything this run routed: the files hold exactly
		// the changes it counts.
		recs, err := conformance.ReadFileSink(dir + "/out")
		if err != nil {
			t.Fatal(err)
		}
		if res.Checkpoint.Changes != int64(len(recs)) {
			t.Fatalf("stop %d: final checkpoint counts %d changes, the files hold %d", stops, res.Checkpoint.Changes, len(recs))
		}
	}
	recs, err := conformance.ReadFileSink(dir + "/out")
	if err != nil {
		t.Fatal(err)
	}
	if err := conformance.CheckDatagen(recs, s.source().Model(), s.changes, true); err != nil {
		t.Fatalf("after %d stops: %v", stops, err)
	}
	t.Logf("%d graceful stops, %d records, exactly once", stops, len(recs))
}

func TestSecondRunnerIsRefused(t *testing.T) {
	dir := t.TempDir()
	a, _ := checkpoint.OpenLocal(dir)
	defer a.Close()
	b, _ := checkpoint.OpenLocal(dir)
	defer b.Close()
	if _, err := a.Acquire(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	s := setup{rows: 10, changes: 10, txn: 1, parallelism: 1, chunkRows: 10}
	_, err := runOnce(t, context.Background(), s, b, dir+"/out", nil)
	if !errors.Is(err, checkpoint.ErrBusy) {
		t.Fatalf("second runner: got %v, want ErrBusy", err)
	}
	if fault.Classify(err) != fault.Fatal {
		t.Fatalf("a busy pipeline must be fatal, got %s", fault.Classify(err))
	}
}

func TestSnapshotModeFinishes(t *testing.T) {
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	src := datagen.New(datagen.NewModel(7, 500, tables), 1000)
	sink, _ := file.New(dir+"/out", "t", "datagen", false)
	defer sink.Close()
	cfg := setup{parallelism: 2, chunkRows: 64}.config()
	res, err := engine.New(cfg, snapshotOnly{src}, sink, store, engine.Options{}).Run(context.Background())
	if err != nil || !res.Finished {
		t.Fatalf("got %v, %v; want a finished run", res, err)
	}
	recs, _ := conformance.ReadFileSink(dir + "/out")
	if err := conformance.CheckDatagen(recs, src.Model(), 0, true); err != nil {
		t.Fatal(err)
	}
}

type snapshotOnly struct{ *datagen.Source }

func (snapshotOnly) StartupMode() string { return "snapshot" }

// TestResumeWarnsOfNewTables: tables the selection gained while the pipeline was stopped
// are named in a warning, since they are not captured.
func TestResumeWarnsOfNewTables(t *testing.T) {
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	first := datagen.New(datagen.NewModel(7, 10, tables[:1]), 0)
	ctx, cancel := context.WithCancel(context.Background())
	stats := &engine.Stats{}
	go func() {
		for stats.Phase() != engine.PhaseStream {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := engine.New(setup{parallelism: 1, chunkRows: 10}.config(), first, &discard.Writer{}, store, engine.Options{Stats: stats}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	second := datagen.New(datagen.NewModel(7, 10, tables), 0)
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	stats2 := &engine.Stats{}
	go func() { // the warning comes while resolving, before streaming
		for stats2.Phase() != engine.PhaseStream && ctx2.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel2()
	}()
	if _, err := engine.New(setup{parallelism: 1, chunkRows: 10}.config(), second, &discard.Writer{}, store, engine.Options{Logger: log, Stats: stats2}).Run(ctx2); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "not captured") || !strings.Contains(logs.String(), "demo.users") {
		t.Fatalf("no warning about demo.users:\n%s", logs.String())
	}
}

// settleSink checks connector.Batch.Settled: no batch is settled before a checkpoint
// that records the snapshot finished has been committed, and none with snapshot rows.
type settleSink struct {
	connector.Sink
	t                 *testing.T
	snapshotCommitted atomic.Bool
	settled, reads    atomic.Int64
}

func (s *settleSink) Apply(ctx context.Context, b *connector.Batch) error {
	hasReads := slices.ContainsFunc(b.Changes, func(c event.Change) bool { return c.Op == event.OpRead })
	if hasReads {
		s.reads.Add(1)
	}
	if b.Settled {
		s.settled.Add(1)
		if hasReads || !s.snapshotCommitted.Load() {
			s.t.Errorf("a settled batch (snapshot rows: %v) before the snapshot's end was committed", hasReads)
		}
	}
	return s.Sink.Apply(ctx, b)
}

func (s *settleSink) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	if err := s.Sink.Commit(ctx, cp); err != nil {
		return err
	}
	if cp.Snapshot == nil || cp.Snapshot.Finished() {
		s.snapshotCommitted.Store(true)
	}
	return nil
}

// TestBatchesSettleAfterTheSnapshot: batches are marked settled (a transactional sink may
// then commit them at once) only once a checkpoint with the snapshot finished is
// committed, and from then on.
func TestBatchesSettleAfterTheSnapshot(t *testing.T) {
	s := setup{rows: 1000, changes: 3000, txn: 2, parallelism: 2, chunkRows: 100}
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	var sink *settleSink
	if _, err := runOnce(t, context.Background(), s, store, dir+"/out", func(k connector.Sink) connector.Sink {
		sink = &settleSink{Sink: k, t: t}
		return sink
	}); err != nil {
		t.Fatal(err)
	}
	if sink.reads.Load() == 0 || sink.settled.Load() == 0 {
		t.Fatalf("%d batches with snapshot rows, %d settled batches: want both", sink.reads.Load(), sink.settled.Load())
	}
}

// TestSkippedOperations: the kinds of change Config.SkipOps names (Debezium's
// skipped.operations) never reach the sink; snapshot rows and the other kinds do.
func TestSkippedOperations(t *testing.T) {
	s := setup{rows: 200, changes: 1000, txn: 2, parallelism: 2, chunkRows: 50}
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	sink, err := file.New(dir+"/out", "t", "datagen", false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.config()
	cfg.SkipOps = []event.Op{event.OpDelete}
	if _, err := engine.New(cfg, s.source(), sink, store, engine.Options{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.Close()
	recs, err := conformance.ReadFileSink(dir + "/out")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range recs {
		kinds[r.Op]++
	}
	if kinds["d"] != 0 || kinds["r"] != 400 || kinds["c"] == 0 || kinds["u"] == 0 {
		t.Fatalf("records by kind %v: want no delete, every snapshot row, inserts and updates", kinds)
	}
}

// markSink records the snapshot marks of the reads it is given.
type markSink struct {
	connector.Sink
	mu     sync.Mutex
	plain  bool // it does not mark reads
	reads  int
	stream int                             // changes of the stream with a mark (none should have)
	marks  map[event.SnapshotMark][]string // mark → "table:key" of each read that has it
}

func (s *markSink) MarksSnapshot() bool { return !s.plain }

func (s *markSink) Apply(ctx context.Context, b *connector.Batch) error {
	s.mu.Lock()
	for _, c := range b.Changes {
		if c.Op != event.OpRead {
			if c.Mark != 0 {
				s.stream++
			}
			continue
		}
		s.reads++
		for m := event.FirstInTable; m <= event.LastInSnapshot; m <<= 1 {
			if c.Mark&m != 0 {
				s.marks[m] = append(s.marks[m], fmt.Sprintf("%s:%d", c.Schema.ID.Table, c.After[0].Int()))
			}
		}
	}
	s.mu.Unlock()
	return s.Sink.Apply(ctx, b)
}

// TestSnapshotMarks: for a sink that marks reads (connector.SnapshotMarker), each table's
// first and last rows are marked once, and the snapshot's first and last once (Debezium's
// source.snapshot); in key order where one reader reads the chunks in order, whatever
// the checkpoints between them. A sink that does not mark gets no marks.
func TestSnapshotMarks(t *testing.T) {
	for _, s := range []setup{
		{rows: 500, changes: 300, txn: 2, parallelism: 1, chunkRows: 50},
		{rows: 500, changes: 300, txn: 2, parallelism: 4, chunkRows: 37},
		{rows: 1, changes: 10, txn: 1, parallelism: 2, chunkRows: 10},
	} {
		t.Run(fmt.Sprintf("rows=%d,p=%d", s.rows, s.parallelism), func(t *testing.T) {
			dir := t.TempDir()
			store, _ := checkpoint.OpenLocal(dir + "/state")
			defer store.Close()
			sink := &markSink{marks: map[event.SnapshotMark][]string{}}
			if _, err := runOnce(t, context.Background(), s, store, dir+"/out", func(k connector.Sink) connector.Sink {
				sink.Sink = k
				return sink
			}); err != nil {
				t.Fatal(err)
			}
			if sink.reads != int(2*s.rows) || sink.stream > 0 {
				t.Fatalf("%d reads (want %d), %d changes of the stream marked", sink.reads, 2*s.rows, sink.stream)
			}
			for m, n := range map[event.SnapshotMark]int{event.FirstInTable: 2, event.LastInTable: 2, event.FirstInSnapshot: 1, event.LastInSnapshot: 1} {
				if got := sink.marks[m]; len(got) != n {
					t.Errorf("mark %d on %v, want %d rows", m, got, n)
				}
			}
			slices.Sort(sink.marks[event.FirstInTable])
			slices.Sort(sink.marks[event.LastInTable])
			last := fmt.Sprint(s.rows)
			plain := &markSink{marks: map[event.SnapshotMark][]string{}, plain: true}
			store2, _ := checkpoint.OpenLocal(t.TempDir())
			defer store2.Close()
			if _, err := runOnce(t, context.Background(), s, store2, t.TempDir(), func(k connector.Sink) connector.Sink {
				plain.Sink = k
				return plain
			}); err != nil {
				t.Fatal(err)
			}
			if len(plain.marks) != 0 || plain.reads != int(2*s.rows) {
				t.Errorf("a sink that does not mark got marks: %v (of %d reads)", plain.marks, plain.reads)
			}
			if s.parallelism == 1 {
				for m, want := range map[event.SnapshotMark][]string{
					event.FirstInTable: {"orders:1", "users:1"}, event.LastInTable: {"orders:" + last, "users:" + last},
					event.FirstInSnapshot: {"orders:1"}, event.LastInSnapshot: {"users:" + last},
				} {
					if !slices.Equal(sink.marks[m], want) {
						t.Errorf("mark %d on %v, want %v", m, sink.marks[m], want)
					}
				}
			}
		})
	}
}
