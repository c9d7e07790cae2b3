package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/sink/file"
)

// TestSuperviseRestartsOnRetryableErrors: retryable failures at random moments restart
// the run from its checkpoint until it finishes, exactly once; a fatal error stops it.
func TestSuperviseRestartsOnRetryableErrors(t *testing.T) {
	s := setup{rows: 500, changes: 4000, txn: 2, parallelism: 2, chunkRows: 64}
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	var restarts atomic.Int64
	policy := engine.RestartPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	res, err := engine.Supervise(context.Background(), policy, slog.New(slog.DiscardHandler),
		func(error) { restarts.Add(1) },
		func(ctx context.Context) (*engine.Result, error) {
			failAt := int64(2 + rng.IntN(10)) // well before the end of a run
			if restarts.Load() >= 8 {
				failAt = -1 // let it finish
			}
			return runOnce(t, ctx, s, store, dir+"/out", func(k connector.Sink) connector.Sink {
				return &retryableSink{failingSink{Sink: k, failAt: failAt}}
			})
		})
	if err != nil || !res.Finished {
		t.Fatalf("got %+v, %v", res, err)
	}
	if restarts.Load() < 8 {
		t.Fatalf("%d restarts", restarts.Load())
	}
	recs, _ := conformance.ReadFileSink(dir + "/out")
	if err := conformance.CheckDatagen(recs, s.source().Model(), s.changes, true); err != nil {
		t.Fatal(err)
	}

	attempts := 0
	_, err = engine.Supervise(context.Background(), policy, slog.New(slog.DiscardHandler), nil,
		func(context.Context) (*engine.Result, error) {
			attempts++
			return nil, errors.New("bad credentials")
		})
	if err == nil || attempts != 1 {
		t.Fatalf("a fatal error: %d attempts, %v", attempts, err)
	}
}

type retryableSink struct{ failingSink }

func (r *retryableSink) Apply(ctx context.Context, b *connector.Batch) error {
	return fault.AsRetryable(r.failingSink.Apply(ctx, b))
}

// Commit fails retryably too: which call the injected failure falls on (an apply or a
// commit) depends on timing.
func (r *retryableSink) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	return fault.AsRetryable(r.failingSink.Commit(ctx, cp))
}

// slowSink is a file sink that takes its time, so the source outruns it.
type slowSink struct {
	connector.Sink
}

func (s slowSink) Apply(ctx context.Context, b *connector.Batch) error {
	time.Sleep(2 * time.Millisecond)
	return s.Sink.Apply(ctx, b)
}

// TestMemoryIsBoundedByBytes: a source at full speed into a slow sink is held back by the
// byte-bounded queue; what is in flight stays within the configured bytes.
func TestMemoryIsBoundedByBytes(t *testing.T) {
	dir := t.TempDir()
	store, _ := checkpoint.OpenLocal(dir + "/state")
	defer store.Close()
	s := setup{rows: 0, changes: 0, txn: 1, parallelism: 2}
	src := s.source()
	src.SetMaxChanges(0)
	sink, _ := file.New(dir+"/out", "t", "datagen", false)
	defer sink.Close()
	cfg := engine.Config{Pipeline: "t", Parallelism: 2, CheckpointInterval: 50 * time.Millisecond,
		QueueMaxBytes: 1 << 20, BatchMaxBytes: 64 << 10, BatchMaxRows: 100000}
	stats := &engine.Stats{}
	counted := &countingSource{latestOnly: latestOnly{src}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := engine.New(cfg, counted, slowSink{sink}, store, engine.Options{Stats: stats}).Run(ctx)
		done <- err
	}()
	const minChangeSize = 300 // bytes a generated change holds at the least, by Change.Size
	bound := 2 * (cfg.QueueMaxBytes + int64(cfg.Parallelism)*cfg.BatchMaxBytes*4)
	var worst int64
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		inFlight := (counted.emitted.Load() - stats.RowsOut.Load()) * minChangeSize
		worst = max(worst, inFlight)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if stats.RowsOut.Load() == 0 {
		t.Fatal("nothing was applied")
	}
	if worst > bound {
		t.Fatalf("in flight: %d bytes at worst, bound %d", worst, bound)
	}
	t.Logf("in flight at worst: %d KiB (bound %d KiB); %d changes applied", worst>>10, bound>>10, stats.RowsOut.Load())
}

// countingSource counts the changes the engine has taken from the source.
type countingSource struct {
	latestOnly
	emitted atomic.Int64
}

func (c *countingSource) Stream(ctx context.Context, from event.Position, schemas []*event.Schema, emit func(context.Context, event.Batch) error) error {
	return c.latestOnly.Stream(ctx, from, schemas, func(ctx context.Context, b event.Batch) error {
		n := int64(len(b.Changes))
		err := emit(ctx, b)
		if err == nil {
			c.emitted.Add(n)
		}
		return err
	})
}

// TestFirstRunGivesUp: with restart.max-attempts 0, a pipeline that never took a
// checkpoint fails after FirstRunMaxAttempts retryable errors, saying so, and its Stats say
// it is restarting (not ready) meanwhile; one that has a checkpoint keeps retrying.
func TestFirstRunGivesUp(t *testing.T) {
	stats := &engine.Stats{}
	checkpointed := false
	policy := engine.RestartPolicy{Initial: time.Millisecond, Max: time.Millisecond, FirstRunMaxAttempts: 3,
		Checkpointed: func() bool { return checkpointed }, Stats: stats}
	attempts := 0
	unreachable := fault.AsRetryable(errors.New("connect to 127.0.0.1:1: connection refused"))
	_, err := engine.Supervise(context.Background(), policy, slog.New(slog.DiscardHandler), nil,
		func(context.Context) (*engine.Result, error) {
			attempts++
			if attempts > 1 {
				if ok, why := stats.Ready(time.Now()); ok || !strings.Contains(why, "connection refused") {
					t.Errorf("attempt %d: ready %v, %q", attempts, ok, why)
				}
			}
			return nil, unreachable
		})
	if attempts != 3 || err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts, none of which reached a first checkpoint") {
		t.Fatalf("%d attempts: %v", attempts, err)
	}
	checkpointed, attempts = true, 0
	_, err = engine.Supervise(context.Background(), policy, slog.New(slog.DiscardHandler), nil,
		func(context.Context) (*engine.Result, error) {
			if attempts++; attempts < 10 {
				return nil, unreachable
			}
			return &engine.Result{Finished: true}, nil
		})
	if err != nil || attempts != 10 {
		t.Fatalf("with a checkpoint: %d attempts, %v", attempts, err)
	}
}

// TestSuperviseStartsAgainOnRequest: a run that ends to take up a request
// (engine.ErrRequested) is started again at once, and never counts as a failure.
func TestSuperviseStartsAgainOnRequest(t *testing.T) {
	policy := engine.RestartPolicy{Initial: time.Hour, Max: time.Hour, MaxAttempts: 1}
	attempts, restarts := 0, 0
	res, err := engine.Supervise(context.Background(), policy, slog.New(slog.DiscardHandler), func(error) { restarts++ },
		func(context.Context) (*engine.Result, error) {
			if attempts++; attempts <= 3 {
				return nil, engine.ErrRequested
			}
			return &engine.Result{Finished: true}, nil
		})
	if err != nil || !res.Finished || attempts != 4 || restarts != 0 {
		t.Fatalf("got %+v, %v after %d attempts and %d restarts", res, err, attempts, restarts)
	}
}
