package kafka

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/format"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/sink/file"
	kafkasink "github.com/weir-data/weir/internal/sink/kafka"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/testenv"
	"github.com/weir-data/weir/internal/types"
)

var tables = []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}}

// cluster starts an in-process Kafka-protocol cluster (testenv.StartKafka).
func cluster(t *testing.T) []string {
	t.Helper()
	k, err := testenv.StartKafka()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	return k.Brokers
}

// TestRoundTrip: changes written to Kafka by weir's sink and read back by this source
// fold into the same tables as the same changes written straight to files; stopped and
// started again, the source resumes from its checkpoint. In each value format: tables
// learnt from their records (debezium-json: types from the Connect schema, keys from the
// record keys; canal-json: types from mysqlType, keys from pkNames; json: types inferred,
// keys from the record keys, deletes by json.op-field; debezium-avro-confluent: Avro keys
// and values with their schemas in a registry).
func TestRoundTrip(t *testing.T) {
	for _, f := range []string{format.DebeziumJSON, format.CanalJSON, format.JSON, kafkasink.AvroFormat} {
		t.Run(f, func(t *testing.T) { roundTrip(t, f, "") })
	}
	// debezium-json without its schema (schemas.enable=false), read with declared columns.
	t.Run("debezium-json-declared", func(t *testing.T) {
		roundTrip(t, format.DebeziumJSON, "id int64, name string(64), amount decimal(12,2), status string(16), qty int32, updated_at timestamp(6), note string")
	})
}

// roundTrip runs the test in valueFormat; with columns, debezium-json is written without
// its schema and read with those columns declared.
func roundTrip(t *testing.T, valueFormat, columns string) {
	brokers := cluster(t)
	ctx := context.Background()
	const rows, changes = 300, 2000
	gen := func() *datagen.Source {
		src := datagen.New(datagen.NewModel(4, rows, tables), -1)
		src.SetMaxChanges(changes)
		src.SetTransactionSize(2)
		return src
	}
	cfg := func(name string) engine.Config {
		return engine.Config{Pipeline: name, Parallelism: 2, CheckpointInterval: 10 * time.Millisecond, ChunkRows: 100, BatchMaxDelay: time.Millisecond}
	}
	dir := t.TempDir()

	// The reference: datagen straight into files.
	store, _ := checkpoint.OpenLocal(filepath.Join(dir, "state"))
	defer store.Close()
	ref, _ := file.New(filepath.Join(dir, "ref"), "ref", "datagen", false)
	if _, err := engine.New(cfg("ref"), gen(), ref, store, engine.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	ref.Close()
	// datagen into Kafka, as debezium-json with its schema.
	fo := format.Options{Format: valueFormat, SourceType: "mysql", Name: "in", OpField: "op", NoSchema: columns != ""}
	var ao *kafkasink.AvroOptions
	var registry string
	if valueFormat == kafkasink.AvroFormat {
		reg, err := testenv.StartSchemaRegistry()
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Stop()
		registry = reg.URL
		ao = &kafkasink.AvroOptions{URL: reg.URL, Strategy: "topic-name", Keys: true}
		fo.Format, fo.NoSchema = format.DebeziumJSON, true
		defer func() {
			if len(reg.Versions("demo.orders-value")) != 1 || len(reg.Versions("demo.orders-key")) != 1 {
				t.Errorf("subjects demo.orders-value %v, demo.orders-key %v: want one version each", reg.Versions("demo.orders-value"), reg.Versions("demo.orders-key"))
			}
		}()
	}
	ks, err := kafkasink.New(ctx, kafkasink.Options{Brokers: brokers, Format: fo, Avro: ao,
		ExactlyOnce: true, CheckpointTopic: "weir_checkpoints", Tombstones: true, CreateTopics: true, Partitions: 3, Replication: -1,
		MaxRequestBytes: 1 << 20, Pipeline: "in"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.New(cfg("in"), gen(), ks, store, engine.Options{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	ks.Close()
	// Kafka back into files, in two runs.
	out := filepath.Join(dir, "out")
	want := 2*rows + changes
	for _, until := range []int{want / 3, want} {
		src, err := New(Options{Brokers: brokers, Topics: []string{"demo.orders", "demo.users"}, Format: valueFormat, OpField: "op", RegistryURL: registry, JSONColumns: columns})
		if err != nil {
			t.Fatal(err)
		}
		sink, err := file.New(out, "back", "kafka", false)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := engine.New(cfg("back"), src, sink, store, engine.Options{}).Run(rctx)
			done <- err
		}()
		deadline := time.Now().Add(time.Minute)
		for {
			recs, _ := conformance.ReadFileSink(out)
			if len(recs) >= until {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("the source stopped: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d records in the files, want %d", len(recs), until)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		sink.Close()
		src.Close()
	}
	refRecs, _ := conformance.ReadFileSink(filepath.Join(dir, "ref"))
	got, _ := conformance.ReadFileSink(out)
	keys := map[string][]string{"demo.orders": {"id"}, "demo.users": {"id"}}
	wantImg, err := conformance.Fold(refRecs, keys)
	if err != nil {
		t.Fatal(err)
	}
	gotImg, err := conformance.Fold(got, keys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := conformance.DiffImages(wantImg, gotImg, 10); diff != "" {
		t.Fatalf("read back from Kafka, the tables differ from the direct copy: %s", diff)
	}
	if len(got) != want {
		t.Fatalf("%d records read back, want %d (each once)", len(got), want)
	}
}

// TestDiscovery: a partition added to a topic while the source runs, and a topic that
// comes to match its pattern, are read within the discovery interval, from their first
// record.
func TestDiscovery(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	ks, err := kafkasink.New(ctx, kafkasink.Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "in"},
		Partitioning: "by-table", CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 1, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: "in"})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	m := datagen.NewModel(4, 10, tables)
	write := func(table int, keys ...int64) {
		var cs []event.Change
		for _, k := range keys {
			cs = append(cs, event.Change{Op: event.OpInsert, Schema: m.Schemas()[table], After: m.Row(table, k, 0)})
		}
		if err := ks.Apply(ctx, &connector.Batch{Changes: cs}); err != nil {
			t.Fatal(err)
		}
		if err := ks.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "in"}); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 1, 2)
	src, err := New(Options{Brokers: brokers, Pattern: regexp.MustCompile(`^demo\.`), Discovery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	from, err := src.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan event.Change, 100)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go src.Stream(sctx, from, nil, func(_ context.Context, b event.Batch) error {
		for _, c := range b.Changes {
			got <- c
		}
		return nil
	})
	wait := func(n int) map[string]int {
		seen := map[string]int{}
		deadline := time.After(time.Minute)
		for i := 0; i < n; i++ {
			select {
			case c := <-got:
				seen[c.Schema.ID.String()]++
			case <-deadline:
				t.Fatalf("%d of %d changes read: %v", i, n, seen)
			}
		}
		return seen
	}
	if seen := wait(2); seen["demo.orders"] != 2 {
		t.Fatalf("the first topic: %v", seen)
	}
	// A partition added to the first topic, with a record in it; a new topic for the
	// second table, which the pattern matches.
	adm := kadm.NewClient(src.cl)
	if _, err := adm.CreatePartitions(ctx, 3, "demo.orders"); err != nil {
		t.Fatal(err)
	}
	raw, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"demo.orders": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var first *kgo.Record
	for first == nil {
		raw.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if first == nil && r.Value != nil {
				first = r
			}
		})
	}
	if err := raw.ProduceSync(ctx, &kgo.Record{Topic: "demo.orders", Partition: 3, Key: first.Key, Value: first.Value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	write(1, 3, 4, 5)
	if seen := wait(4); seen["demo.users"] != 3 || seen["demo.orders"] != 1 {
		t.Fatalf("the new partition and the new topic: %v", seen)
	}
}

// TestBadRecordPolicies: a record that does not decode stops the stream with its place
// and the reason (fail), is passed over and counted (skip), or is written to the
// dead-letter topic with the reason in its headers (dead-letter); the good record after
// it is read in the last two.
func TestBadRecordPolicies(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	ks, err := kafkasink.New(ctx, kafkasink.Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "in"},
		CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 1, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: "in"})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	raw, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := kadm.NewClient(raw).CreateTopic(ctx, 1, -1, nil, "demo.orders"); err != nil {
		t.Fatal(err)
	}
	if err := raw.ProduceSync(ctx, &kgo.Record{Topic: "demo.orders", Key: []byte(`{"id":1}`), Value: []byte("not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	m := datagen.NewModel(4, 10, tables)
	if err := ks.Apply(ctx, &connector.Batch{Changes: []event.Change{{Op: event.OpInsert, Schema: m.Schemas()[0], After: m.Row(0, 2, 0)}}}); err != nil {
		t.Fatal(err)
	}
	if err := ks.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "in"}); err != nil {
		t.Fatal(err)
	}
	for _, policy := range []string{"fail", "skip", "dead-letter"} {
		t.Run(policy, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			ms := metrics.New(reg)
			src, err := New(Options{Brokers: brokers, Topics: []string{"demo.orders"}, BadRecords: policy,
				DeadLetters: "dead", Metrics: ms, Pipeline: "p"})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			from, _ := src.Position(ctx)
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			got := make(chan event.Change, 10)
			done := make(chan error, 1)
			go func() {
				done <- src.Stream(sctx, from, nil, func(_ context.Context, b event.Batch) error {
					for _, c := range b.Changes {
						got <- c
					}
					return nil
				})
			}()
			if policy == "fail" {
				err := <-done
				if err == nil || !strings.Contains(err.Error(), "demo.orders[0]@0") || !strings.Contains(err.Error(), "bad-record.policy") {
					t.Fatalf("fail: %v", err)
				}
				return
			}
			select {
			case c := <-got:
				if c.After[0].Int() != 2 {
					t.Fatalf("the good record: %v", c.After)
				}
			case err := <-done:
				t.Fatalf("the stream stopped: %v", err)
			case <-time.After(time.Minute):
				t.Fatal("the good record after the bad one was not read")
			}
			if n := testutil.ToFloat64(ms.SourceBadRecords.WithLabelValues("p")); n != 1 {
				t.Errorf("bad records counted: %v", n)
			}
			if n := testutil.CollectAndCount(ms.SourceLagRecords); n != 1 {
				t.Errorf("lag series of the partitions read: %d, want 1", n)
			} else if n := testutil.ToFloat64(ms.SourceLagRecords.WithLabelValues("p", "demo.orders", "0")); n != 0 {
				t.Errorf("lag in records once all is read: %v, want 0", n)
			}
			if policy == "dead-letter" {
				dl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("dead"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
				if err != nil {
					t.Fatal(err)
				}
				defer dl.Close()
				var r *kgo.Record
				for r == nil {
					dl.PollFetches(ctx).EachRecord(func(x *kgo.Record) { r = x })
				}
				h := map[string]string{}
				for _, x := range r.Headers {
					h[x.Key] = string(x.Value)
				}
				if string(r.Value) != "not json" || !strings.Contains(h["weir.error"], "not debezium-json") || h["weir.source"] != "demo.orders[0]@0" {
					t.Fatalf("the dead letter: %s %v", r.Value, h)
				}
			}
		})
	}
}

// TestStartupModes: where a pipeline with no checkpoint starts, per scan.startup.mode;
// and what `weir discover` shows of the topic.
func TestStartupModes(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("rows"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, "rows"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // record i at second i+1 of 1970
		r := &kgo.Record{Value: []byte(`{"id":1}`), Timestamp: time.UnixMilli(int64(i+1) * 1000)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "lagtools", kadm.Offsets{"rows": {0: {Topic: "rows", Partition: 0, At: 4, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    Options
		want int64
	}{
		{Options{}, 0},
		{Options{Startup: "latest-offset"}, 10},
		{Options{Startup: "group-offsets", Group: "lagtools"}, 4},
		{Options{Startup: "timestamp", StartMillis: 5500}, 5},
		{Options{Startup: "specific-offsets", Specific: map[int32]int64{0: 7}}, 7},
	} {
		c.o.Brokers, c.o.Topics, c.o.Format = brokers, []string{"rows"}, "json"
		src, err := New(c.o)
		if err != nil {
			t.Fatal(err)
		}
		pos, err := src.Position(ctx)
		src.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.o.Startup, err)
		}
		p, _ := decodeOffsets(pos)
		if got := p["rows"][0]; got != c.want {
			t.Errorf("scan.startup.mode %q: starts at offset %d, want %d", c.o.Startup, got, c.want)
		}
	}
	// `weir discover` learns the tables from a sample of the records.
	src, err := New(Options{Brokers: brokers, Topics: []string{"rows"}, Format: "json", Discover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ts, err := src.Tables(ctx)
	if err != nil || len(ts) != 1 || ts[0].ID.Table != "rows" || len(ts[0].Columns) != 1 || ts[0].Columns[0].Type.Kind != types.Int64 {
		t.Fatalf("discovered %v, %v: want the table rows (id int64)", ts, err)
	}
	if _, err := specificOffsets("partition:0;offset:1"); err == nil || !strings.Contains(err.Error(), "partition:N,offset:M") {
		t.Errorf("a malformed scan.startup.specific-offsets: %v", err)
	}
}

// TestAbortedTransactions: the source reads only committed records — not those of
// transactions left open by producers that died, aborted when the next one took their
// transactional id over — though the aborted ones span many of its bounded fetches.
func TestAbortedTransactions(t *testing.T) {
	k, err := testenv.StartKafka()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	brokers := k.Brokers
	ctx := context.Background()
	value := `{"id":%d,"pad":"` + strings.Repeat("x", 2000) + `"}`
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const parts = 8 // more than a fetch of the source takes at its bound per partition
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, parts, -1, nil, "rows"); err != nil {
		t.Fatal(err)
	}
	produce := func(from, n int, commit bool) {
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: "rows", Partition: int32(i % parts), Value: fmt.Appendf(nil, value, from+i)})
		}
		if err := k.ProduceInTransaction(ctx, "dies", recs, commit); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 3000, false) // ~6 MB in 8 partitions: more than a fetch of the source takes
	produce(3000, 3000, false)
	produce(12000, 100, true)
	src, err := New(Options{Brokers: brokers, Topics: []string{"rows"}, Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	from, err := src.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var ids []int64
	err = src.Stream(sctx, from, nil, func(_ context.Context, b event.Batch) error {
		for _, c := range b.Changes {
			ids = append(ids, c.After[c.Schema.ColumnIndex("id")].Int())
		}
		if len(ids) >= 100 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if len(ids) != 100 || ids[0] != 12000 || ids[99] != 12099 {
		t.Fatalf("read %d records (first %v): want the 100 committed ones, 12000…12099", len(ids), ids[:min(len(ids), 5)])
	}
}
