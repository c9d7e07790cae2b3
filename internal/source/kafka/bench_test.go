package kafka

import (
	"context"
	"testing"
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

// BenchmarkSource: records per second read by the source — fetched read_committed,
// decoded from debezium-json with its schema into changes, batched with their offsets —
// next to the raw limit of the same run: franz-go fetching the same records
// read_committed, with no processing. Against kfake, in-process, one cluster for both.
func BenchmarkSource(b *testing.B) {
	ctx := context.Background()
	k, err := testenv.StartKafka()
	if err != nil {
		b.Fatal(err)
	}
	defer k.Stop()
	const records = 20000
	m := datagen.NewModel(1, records, tables)
	w, err := kafkasink.New(ctx, kafkasink.Options{Brokers: k.Brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "b"},
		ExactlyOnce: true, CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 3, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: "b"})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < records; i += 1000 {
		if err := w.Apply(ctx, &connector.Batch{Changes: m.Changes(int64(i), 1000, 1, 0).Changes}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "b", Seq: 1}); err != nil {
		b.Fatal(err)
	}
	w.Close()
	topics := []string{"demo.orders", "demo.users"}

	b.Run("weir", func(b *testing.B) {
		for range b.N {
			src, err := New(Options{Brokers: k.Brokers, Topics: topics})
			if err != nil {
				b.Fatal(err)
			}
			from, err := src.Position(ctx)
			if err != nil {
				b.Fatal(err)
			}
			sctx, cancel := context.WithCancel(ctx)
			n := 0
			err = src.Stream(sctx, from, nil, func(_ context.Context, batch event.Batch) error {
				if n += len(batch.Changes); n >= records {
					cancel()
				}
				return nil
			})
			cancel()
			src.Close()
			if err != nil || n != records {
				b.Fatalf("read %d changes, want %d: %v", n, records, err)
			}
		}
		b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("raw", func(b *testing.B) {
		for range b.N {
			cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				b.Fatal(err)
			}
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			n := 0
			for n < records && rctx.Err() == nil {
				n += cl.PollFetches(rctx).NumRecords()
			}
			cancel()
			cl.Close()
			if n != records {
				b.Fatalf("read %d records, want %d", n, records)
			}
		}
		b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
	})
}
