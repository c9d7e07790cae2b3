package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/format"
	kafkasink "github.com/weir-data/weir/internal/sink/kafka"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/testenv"
)

var kafkaRecords = flag.Int("kafka-records", 300_000, "records in the Kafka source's topics")

// kafkaSource measures `weir run` of the Kafka source into discard — records fetched
// read_committed, decoded from debezium-json with its schema, through the engine —
// against franz-go consuming the same records read_committed with no processing (the
// raw limit of the same run), three runs each, alternating, medians. The cluster is
// kfake, in the bench's process: its CPU weighs on both sides alike.
func (e *env) kafkaSource(ctx context.Context) error {
	k, err := testenv.StartKafka()
	if err != nil {
		return err
	}
	defer k.Stop()
	tables := []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}}
	n := *kafkaRecords
	log("filling Kafka with %d debezium-json records", n)
	m := datagen.NewModel(1, int64(n), tables)
	w, err := kafkasink.New(ctx, kafkasink.Options{Brokers: k.Brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "b"},
		CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 3, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: "fill"})
	if err != nil {
		return err
	}
	for i := 0; i < n; i += 1000 {
		if err := w.Apply(ctx, &connector.Batch{Changes: m.Changes(int64(i), min(1000, n-i), 1, 0).Changes}); err != nil {
			return err
		}
	}
	if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "fill", Seq: 1}); err != nil {
		return err
	}
	w.Close()
	file := fmt.Sprintf(`source:
  type: kafka
  properties.bootstrap.servers: %s
  topic: demo.orders;demo.users
sink:
  type: discard
pipeline:
  name: bench
  parallelism: %d
  checkpoint.interval: 1s
`, k.Brokers[0], *par)
	var weirRates, rawRates, cpus, rsss []float64
	for i := range 3 {
		t0 := time.Now()
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics("demo.orders", "demo.users"),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			return err
		}
		got := 0
		for got < n {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				cl.Close()
				return err
			}
			got += fs.NumRecords()
		}
		cl.Close()
		rawRates = append(rawRates, float64(n)/time.Since(t0).Seconds())

		state := fmt.Sprintf("state-kafka-%d", i)
		r, err := e.launch(file, state)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(10 * time.Minute)
		for r.rowsOut("demo.orders")+r.rowsOut("demo.users") < float64(n) {
			if time.Now().After(deadline) || r.cmd.ProcessState != nil {
				r.stop()
				return fmt.Errorf("weir read %.0f of %d records\n%s", r.rowsOut("demo.orders")+r.rowsOut("demo.users"), n, r.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(r.start)
		cpu, rss, _ := r.stop()
		weirRates, cpus, rsss = append(weirRates, float64(n)/took.Seconds()), append(cpus, cpu), append(rsss, rss)
		os.RemoveAll(filepath.Join(e.dir, state))
	}
	e.results = append(e.results, result{Scenario: fmt.Sprintf("Kafka source, %d debezium-json records → discard", n), Weir: median(weirRates), Unit: "records/s",
		Raw: median(rawRates), RawName: "franz-go consuming them read_committed, no processing", CPU: median(cpus), RSSMB: median(rsss)})
	return nil
}
