package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/testenv"
)

// TestKafkaSIGKILLExactlyOnce: `weir run` into Kafka (an in-process kfake cluster: no
// broker installs here), SIGKILLed twice mid-stream and run again to the end: a
// read_committed consumer of the tables' topics sees every change exactly once, in
// order per key.
func TestKafkaSIGKILLExactlyOnce(t *testing.T) {
	k, err := testenv.StartKafka()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	brokers := k.Brokers
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
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	recs, err := conformance.ReadKafka(rctx, brokers, t.TempDir(), "demo.orders", "demo.users")
	if err != nil {
		t.Fatal(err)
	}
	m := datagen.NewModel(9, rows, []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}})
	if err := conformance.CheckDatagen(recs, m, changes, true); err != nil {
		t.Fatal(err)
	}
}
