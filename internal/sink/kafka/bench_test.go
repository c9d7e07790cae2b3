package kafka

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/format"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/testenv"
)

// BenchmarkSink: changes per second through the sink (debezium-json values, keys,
// exactly once with a checkpoint every 10,000 changes) next to the raw limit of the same
// run: franz-go producing the same records, already encoded, in the same transactions.
// Against kfake, in-process and a fresh cluster for each: its log writes weigh on both
// sides alike, so the figures compare weir with the bare client, not with a broker.
func BenchmarkSink(b *testing.B) {
	ctx := context.Background()
	m := datagen.NewModel(1, 10000, tables)
	batch := m.Changes(0, 1000, 1, 0).Changes
	const perCommit = 10
	b.Run("weir", func(b *testing.B) {
		brokers := benchCluster(b)
		w, err := New(ctx, Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "b"},
			ExactlyOnce: true, CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 3, Replication: -1,
			MaxRequestBytes: 1 << 20, Pipeline: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		b.ResetTimer()
		for i := range b.N {
			if err := w.Apply(ctx, &connector.Batch{Changes: batch}); err != nil {
				b.Fatal(err)
			}
			if i%perCommit == perCommit-1 || i == b.N-1 {
				if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "bench", Seq: int64(i)}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "changes/s")
	})
	b.Run("raw", func(b *testing.B) {
		brokers := benchCluster(b)
		f, _ := format.New(format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "b"})
		recs := make([]*kgo.Record, len(batch))
		for i := range batch {
			recs[i] = &kgo.Record{Topic: batch[i].Schema.ID.String(), Key: appendKey(nil, &batch[i]), Value: f.Append(nil, &batch[i], 0)}
		}
		setup, err := New(ctx, Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON}, CheckpointTopic: "weir_checkpoints",
			CreateTopics: true, Partitions: 3, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: "setup"})
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range tables { // the same topics as weir's, made the same way
			if err := setup.ensureTopic(ctx, id.String(), 3, nil); err != nil {
				b.Fatal(err)
			}
		}
		setup.Close()
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("raw"), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
			kgo.ProducerLinger(5_000_000))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		b.ResetTimer()
		for i := range b.N {
			if i%perCommit == 0 {
				cl.BeginTransaction()
			}
			for _, r := range recs {
				cl.Produce(ctx, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}, nil)
			}
			if i%perCommit == perCommit-1 || i == b.N-1 {
				cl.Flush(ctx)
				if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "changes/s")
	})
	_ = event.OpRead
}

// benchCluster is a fresh in-process cluster for one benchmark.
func benchCluster(b *testing.B) []string {
	b.Helper()
	k, err := testenv.StartKafka()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(k.Stop)
	return k.Brokers
}
