package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
)

// TestKafkaSIGKILLExactlyOnce: `weir run` into Kafka (an in-process kfake cluster: no
// broker installs here), SIGKILLed twice mid-stream and run again to the end: a
// read_committed consumer of the tables' topics sees every change exactly once, in
// order per key.
func TestKafkaSIGKILLExactlyOnce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	const rows, changes = 3000, 30000
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`source:
  type: datagen
  tables: demo.orders, demo.users
  rows: %d
  changes-per-second: 4000
  max-changes: %d
  transaction-size: 3
  seed: 9
sink:
  type: kafka
  properties.bootstrap.servers: %s
  value.format: weir-json
  topic.partitions: 3
pipeline:
  name: to-kafka
  parallelism: 3
  checkpoint.interval: 200ms
`, rows, changes, brokers[0]))
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	committed := func() int64 {
		ends, err := adm.ListCommittedOffsets(context.Background(), "demo.orders", "demo.users")
		if err != nil {
			return 0
		}
		n := int64(0)
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	last := int64(0)
	for kill := range 2 {
		p := start(t, dir, "run", "--progress", "off", "p.yaml")
		waitFor(t, "records committed past the last kill", time.Minute, func() bool { return committed() > last+2000 || p.exited() })
		if p.exited() {
			t.Fatalf("weir exited:\n%s", p.stderr)
		}
		p.signal(syscall.SIGKILL)
		p.wait(t, 30*time.Second)
		last = committed()
		t.Logf("kill %d with %d offsets committed", kill+1, last)
	}
	if code, out := runWeir(t, dir, "run", "--progress", "off", "p.yaml"); code != 0 {
		t.Fatalf("the last run: exit %d\n%s", code, out)
	}
	recs := readCommitted(t, brokers, "demo.orders", "demo.users")
	m := datagen.NewModel(9, rows, []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}})
	if err := conformance.CheckDatagen(recs, m, changes, true); err != nil {
		t.Fatal(err)
	}
}

// readCommitted reads every committed value of topics, as change records (tombstones and
// transaction markers left out).
func readCommitted(t *testing.T, brokers []string, topics ...string) []conformance.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(context.Background(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]map[int32]int64{}
	remaining := func() bool {
		left := false
		ends.Each(func(o kadm.ListedOffset) {
			if next[o.Topic][o.Partition] < o.Offset {
				left = true
			}
		})
		return left
	}
	var lines []byte
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for remaining() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading the topics: %v", ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if next[r.Topic] == nil {
				next[r.Topic] = map[int32]int64{}
			}
			next[r.Topic][r.Partition] = r.Offset + 1
			if r.Value != nil && !r.Attrs.IsControl() {
				lines = append(append(lines, r.Value...), '\n')
			}
		})
	}
	path := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(path, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := conformance.ReadJSONLines(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
