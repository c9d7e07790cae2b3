package kafka

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/format"
	"github.com/weir-data/weir/internal/source/datagen"
)

// Tested against franz-go's kfake, an in-process cluster speaking Kafka's protocol
// (transactions, read_committed and compaction included): no Kafka broker installs here.

var tables = []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}}

func cluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// crashing fails the run at its n-th Apply or Commit, as a crash would: the sink is left
// as it is (not closed, its transaction open), and the next run's sink must fence it.
type crashing struct {
	connector.Sink
	calls, at int
}

var errCrash = errors.New("crash")

func (c *crashing) step() error {
	c.calls++
	if c.calls == c.at {
		return errCrash
	}
	return nil
}

func (c *crashing) Apply(ctx context.Context, b *connector.Batch) error {
	if err := c.step(); err != nil {
		return err
	}
	return c.Sink.Apply(ctx, b)
}

func (c *crashing) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	if err := c.step(); err != nil {
		return err
	}
	return c.Sink.Commit(ctx, cp)
}

func (c *crashing) LoadCheckpoint(ctx context.Context, p string) (*checkpoint.Checkpoint, error) {
	return c.Sink.(connector.CheckpointKeeper).LoadCheckpoint(ctx, p)
}

// TestExactlyOnceAcrossCrashes: runs of a datagen pipeline into Kafka that crash at
// various points (their producers left open, fenced by the next) leave each change in
// its table's topic exactly once for a read_committed consumer, in order per key; the
// next run resumes from the checkpoint the sink's transactions committed.
func TestExactlyOnceAcrossCrashes(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	const rows, changes = 400, 3000
	model := func() *datagen.Source {
		src := datagen.New(datagen.NewModel(3, rows, tables), -1)
		src.SetMaxChanges(changes)
		src.SetTransactionSize(3)
		return src
	}
	store, _ := checkpoint.OpenLocal(t.TempDir())
	defer store.Close()
	cfg := engine.Config{Pipeline: "k", Parallelism: 2, CheckpointInterval: 5 * time.Millisecond, BatchMaxRows: 50, ChunkRows: 64, BatchMaxDelay: time.Millisecond}
	open := func() *Writer {
		w, err := New(ctx, Options{Brokers: brokers, Format: format.Options{Format: format.WeirJSON, SourceType: "datagen"}, ExactlyOnce: true,
			CheckpointTopic: "weir_checkpoints", Tombstones: true, CreateTopics: true, Partitions: 1, Replication: -1,
			MaxRequestBytes: 1 << 20, Pipeline: "k"})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	var left []*Writer
	defer func() {
		for _, w := range left {
			w.cl.Close()
		}
	}()
	for _, at := range []int{7, 23, 41, 60} {
		w := open()
		left = append(left, w) // crashed: never closed by the run
		_, err := engine.New(cfg, model(), &crashing{Sink: w, at: at}, store, engine.Options{}).Run(ctx)
		if !errors.Is(err, errCrash) {
			t.Fatalf("run crashing at step %d: %v", at, err)
		}
	}
	w := open()
	res, err := engine.New(cfg, model(), w, store, engine.Options{}).Run(ctx)
	if err != nil || !res.Finished {
		t.Fatalf("the last run: %v %+v", err, res)
	}
	w.Close()

	recs := consume(t, brokers, "demo.orders", "demo.users")
	t.Logf("%d records", len(recs))
	if err := conformance.CheckDatagen(recs, datagen.NewModel(3, rows, tables), changes, true); err != nil {
		t.Fatal(err)
	}
}

// consume reads every committed record of topics (values only; tombstones left out) as
// change records.
func consume(t *testing.T, brokers []string, topics ...string) []conformance.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := newAdmin(cl)
	ends, err := adm.ListCommittedOffsets(context.Background(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var lines []byte
	seen := map[string]int64{}
	remaining := func() bool {
		for _, topic := range topics {
			e, _ := ends.Lookup(topic, 0)
			if seen[topic] < e.Offset-1 {
				return true
			}
		}
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for remaining() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading the topics: %v (read to %v of %v)", ctx.Err(), seen, ends)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[r.Topic] = r.Offset
			if r.Value != nil && !r.Attrs.IsControl() {
				lines = append(append(lines, r.Value...), '\n')
			}
		})
	}
	path := filepath.Join(dir, "records.jsonl")
	if err := os.WriteFile(path, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := conformance.ReadJSONLines(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
