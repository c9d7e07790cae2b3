package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/avro"
	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/format"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/testenv"
	"github.com/weir-data/weir/internal/types"
)

// Tested against franz-go's kfake, an in-process cluster speaking Kafka's protocol
// (transactions, read_committed and compaction included): no Kafka broker installs here.

var tables = []event.TableID{{Schema: "demo", Table: "orders"}, {Schema: "demo", Table: "users"}}

func cluster(t *testing.T) []string {
	t.Helper()
	k, err := testenv.StartKafka()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	return k.Brokers
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
	for _, at := range []int{5, 13, 21, 29} {
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

	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	recs, err := conformance.ReadKafka(rctx, brokers, t.TempDir(), "demo.orders", "demo.users")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records", len(recs))
	if err := conformance.CheckDatagen(recs, datagen.NewModel(3, rows, tables), changes, true); err != nil {
		t.Fatal(err)
	}
}

// TestMurmur2Vectors: the sink's murmur2 (by-table) is the Java client's (the vectors of
// Kafka's UtilsTest.testMurmur2); the key partitioner's is franz-go's, checked in
// TestRecords against the same.
func TestMurmur2Vectors(t *testing.T) {
	for in, want := range map[string]int32{"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, "abc": 479470107} {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestRecords: what a consumer reads: the key as a JSON object of the primary key, the
// value in debezium-json by default, the table's topic (or the mapped one), the headers,
// a tombstone after a delete, and each key in the partition the Java client's default
// partitioner picks for it.
func TestRecords(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	s := &event.Schema{ID: event.TableID{Schema: "shop", Table: "orders"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}}, {Name: "v", Type: types.Type{Kind: types.String}, Nullable: true}}}
	u := &event.Schema{ID: event.TableID{Schema: "shop", Table: "users"}, Key: []int{0}, Columns: s.Columns}
	reg := connector.NewRegistry([]*connector.SourceDef{{Spec: datagen.Spec, Open: datagen.Open}}, []*connector.SinkDef{{Spec: Spec, Open: Open}})
	p, err := spec.Parse("p.yaml", []byte(fmt.Sprintf(`source:
  type: datagen
  tables: shop.orders
sink:
  type: kafka
  properties.bootstrap.servers: %s
  sink.tableId-to-topic.mapping: shop.users:people
  sink.custom-header: env:test
  sink.add-tableId-to-header-enabled: true
  topic.partitions: 12
  properties.compression.type: zstd
  properties.linger.ms: 5
`, brokers[0])), reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg := *p.Sink.Config
	sink, err := Open(ctx, &cfg, connector.Env{Pipeline: "r", SourceType: "mysql"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var changes []event.Change
	for i := range 40 {
		changes = append(changes, event.Change{Op: event.OpInsert, Schema: s, After: event.Row{event.Int(int64(i)), event.String("a")}, Pos: event.Pos{Log: "bin.1@4", Off: uint64(i)}})
	}
	changes = append(changes, event.Change{Op: event.OpDelete, Schema: s, Before: event.Row{event.Int(3), event.String("a")}, Pos: event.Pos{Log: "bin.1@9"}},
		event.Change{Op: event.OpInsert, Schema: u, After: event.Row{event.Int(1), event.Null()}, Pos: event.Pos{Log: "bin.1@12"}})
	if err := sink.Apply(ctx, &connector.Batch{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "r", Seq: 1, Position: "x"}); err != nil {
		t.Fatal(err)
	}
	cp, err := sink.(connector.CheckpointKeeper).LoadCheckpoint(ctx, "r")
	if err != nil || cp == nil || cp.Seq != 1 {
		t.Fatalf("the checkpoint kept: %+v %v", cp, err)
	}
	got := readRecords(t, brokers, 43, "shop.orders", "people")
	if len(got) != 43 {
		t.Fatalf("%d records, want 40 inserts, a delete and its tombstone, and a user", len(got))
	}
	tombstones := 0
	for _, r := range got {
		if want := int32(murmur2(r.Key)&0x7fffffff) % 12; r.Partition != want {
			t.Errorf("key %s in partition %d, where the Java client puts it in %d", r.Key, r.Partition, want)
		}
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		if h["env"] != "test" || h["tableName"] == "" || h["op"] == "" {
			t.Errorf("headers %v", h)
		}
		switch {
		case r.Value == nil:
			tombstones++
			if string(r.Key) != `{"id":3}` {
				t.Errorf("a tombstone of key %s", r.Key)
			}
		case r.Topic == "people":
			if string(r.Key) != `{"id":1}` || h["tableName"] != "users" {
				t.Errorf("the user: key %s, headers %v", r.Key, h)
			}
		default:
			var v struct {
				Schema  map[string]any
				Payload struct {
					Op     string
					Source map[string]any
				}
			}
			if err := json.Unmarshal(r.Value, &v); err != nil || v.Schema == nil || v.Payload.Source["table"] != "orders" {
				t.Errorf("a value that is not debezium-json with its schema: %s", r.Value)
			}
		}
	}
	if tombstones != 1 {
		t.Errorf("%d tombstones, want 1", tombstones)
	}
}

// TestByTableAndSchemaChanges: by-table puts every change of a table in the partition the
// Java client gives a record keyed by the table id; a schema change goes, as Debezium
// writes it, to sink.schema-change-topic, keyed by its database.
func TestByTableAndSchemaChanges(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	s := &event.Schema{ID: event.TableID{Schema: "shop", Table: "orders"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}, SourceType: "bigint"}, {Name: "v", Type: types.Type{Kind: types.String}, Nullable: true, SourceType: "varchar(20)"}}}
	w, err := New(ctx, Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "srv"}, ExactlyOnce: true,
		Partitioning: "by-table", SchemaTopic: "srv", CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 7, Replication: -1,
		MaxRequestBytes: 1 << 20, Pipeline: "bt"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var changes []event.Change
	for i := range 30 {
		changes = append(changes, event.Change{Op: event.OpInsert, Schema: s, After: event.Row{event.Int(int64(i)), event.String("x")}})
	}
	if err := w.Apply(ctx, &connector.Batch{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	if err := w.ApplySchema(ctx, &event.SchemaChange{Kind: event.AddColumn, Table: s.ID, Before: s, After: s, Column: "v",
		DDL: "ALTER TABLE orders ADD COLUMN v VARCHAR(20)"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "bt", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	got := readRecords(t, brokers, 31, "shop.orders", "srv")
	want := int32(murmur2([]byte("shop.orders"))&0x7fffffff) % 7
	var ddl map[string]any
	for _, r := range got {
		if r.Topic == "srv" {
			if string(r.Key) != `{"databaseName":"shop"}` || json.Unmarshal(r.Value, &ddl) != nil {
				t.Fatalf("the schema change record: key %s value %s", r.Key, r.Value)
			}
			continue
		}
		if r.Partition != want {
			t.Fatalf("a change of shop.orders in partition %d, want %d", r.Partition, want)
		}
	}
	tc := ddl["tableChanges"].([]any)[0].(map[string]any)
	cols := tc["table"].(map[string]any)["columns"].([]any)
	if len(got) != 31 || ddl["databaseName"] != "shop" || ddl["ddl"] != "ALTER TABLE orders ADD COLUMN v VARCHAR(20)" || tc["type"] != "ALTER" ||
		tc["id"] != `"shop"."orders"` || len(cols) != 2 || cols[1].(map[string]any)["typeName"] != "VARCHAR(20)" {
		t.Fatalf("%d records; the schema change %v", len(got), ddl)
	}
}

// readRecords reads n committed records of topics (tombstones included), waiting a
// minute at most for them.
func readRecords(t *testing.T, brokers []string, n int, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(got) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	return got
}

// TestAvroSchemaVersions: in debezium-avro-confluent, a table's first record registers its
// value and key schemas; after ADD COLUMN the first record of the new shape registers a new
// version first, and each record names the id of the schema it was written with. A
// change the registry refuses as incompatible (a NOT NULL column without a default under
// BACKWARD) stops the sink with the subject and the registry's reason.
func TestAvroSchemaVersions(t *testing.T) {
	brokers := cluster(t)
	reg, err := testenv.StartSchemaRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	ctx := context.Background()
	v1 := &event.Schema{ID: event.TableID{Schema: "shop", Table: "orders"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}, SourceType: "bigint"}}}
	v2 := &event.Schema{ID: v1.ID, Key: []int{0}, Columns: append(slices.Clone(v1.Columns),
		event.Column{Name: "note", Type: types.Type{Kind: types.String}, Nullable: true, SourceType: "varchar(20)"})}
	v3 := &event.Schema{ID: v1.ID, Key: []int{0}, Columns: append(slices.Clone(v2.Columns),
		event.Column{Name: "qty", Type: types.Type{Kind: types.Int32}, SourceType: "int"})}
	w, err := New(ctx, Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "srv", NoSchema: true},
		Avro: &AvroOptions{URL: reg.URL, Strategy: "topic-name", Keys: true}, ExactlyOnce: true, CheckpointTopic: "weir_checkpoints",
		CreateTopics: true, Partitions: 1, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: "av"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	apply := func(s *event.Schema, row event.Row) error {
		return w.Apply(ctx, &connector.Batch{Changes: []event.Change{{Op: event.OpInsert, Schema: s, After: row}}})
	}
	if err := apply(v1, event.Row{event.Int(1)}); err != nil {
		t.Fatal(err)
	}
	if got := reg.Versions("shop.orders-value"); len(got) != 1 {
		t.Fatalf("after the first record: versions %v", got)
	}
	if err := apply(v2, event.Row{event.Int(2), event.String("n")}); err != nil {
		t.Fatal(err)
	}
	if got := reg.Versions("shop.orders-value"); len(got) != 2 || len(reg.Versions("shop.orders-key")) != 1 {
		t.Fatalf("after ADD COLUMN: value versions %v, key versions %v; want 2 and 1", got, reg.Versions("shop.orders-key"))
	}
	if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "av", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, brokers, 2, "shop.orders")
	ids := map[int]bool{}
	for _, r := range recs {
		id, _, err := avro.SplitHeader(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
		if _, _, err := avro.SplitHeader(r.Key); err != nil {
			t.Fatalf("key %q: %v", r.Key, err)
		}
	}
	if len(recs) != 2 || len(ids) != 2 {
		t.Fatalf("%d records with schema ids %v: want 2 records of 2 schemas", len(recs), ids)
	}
	err = apply(v3, event.Row{event.Int(3), event.Null(), event.Int(1)})
	if err == nil || !strings.Contains(err.Error(), "shop.orders-value") || !strings.Contains(err.Error(), "409") && !strings.Contains(strings.ToLower(err.Error()), "incompatible") {
		t.Fatalf("an incompatible schema: %v", err)
	}
}

// TestTransactionTopic: with provide.transaction.metadata, each source transaction has a
// BEGIN record and, once whole (at the checkpoint), an END record with its change counts
// in all and per table, as Debezium writes them to its transaction topic; in JSON, and in
// Avro with their schemas registered.
func TestTransactionTopic(t *testing.T) {
	brokers := cluster(t)
	reg, err := testenv.StartSchemaRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	ctx := context.Background()
	table := func(name string) *event.Schema {
		return &event.Schema{ID: event.TableID{Schema: "shop", Table: name}, Key: []int{0}, Columns: []event.Column{{Name: "id", Type: types.Type{Kind: types.Int64}}}}
	}
	a, b := table("a"), table("b")
	change := func(s *event.Schema, txn string, off uint64) event.Change {
		return event.Change{Op: event.OpInsert, Schema: s, After: event.Row{event.Int(int64(off))}, Pos: event.Pos{Log: txn, Off: off}}
	}
	for _, useAvro := range []bool{false, true} {
		name := fmt.Sprintf("tx%v", useAvro)
		o := Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: name, Transactions: true},
			ExactlyOnce: true, CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 1, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: name}
		if useAvro {
			o.Avro, o.Format.NoSchema = &AvroOptions{URL: reg.URL, Strategy: "topic-name"}, true
		}
		w, err := New(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		batch := []event.Change{change(a, "0-1-7", 0), change(b, "0-1-7", 1), change(a, "0-1-7", 2), change(a, "0-1-8", 0)}
		if err := w.Apply(ctx, &connector.Batch{Changes: batch}); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: name, Seq: 1}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		var events []string
		for _, r := range readRecords(t, brokers, 4, name+".transaction") {
			value := r.Value
			if useAvro {
				id, rest, err := avro.SplitHeader(value)
				if err != nil {
					t.Fatal(err)
				}
				text, _ := reg.Schema(name+".transaction-value", 1)
				s, _ := hamba.Parse(text)
				if value, _, err = avro.Decode(nil, s, rest); err != nil || id == 0 {
					t.Fatalf("an Avro transaction record: schema %d, %v", id, err)
				}
			} else {
				var env struct {
					Schema  json.RawMessage
					Payload json.RawMessage
				}
				if err := json.Unmarshal(value, &env); err != nil || !strings.Contains(string(env.Schema), "TransactionMetadataValue") {
					t.Fatalf("record %s: want the schema/payload wrapper", value)
				}
				value = env.Payload
			}
			var ev struct {
				Status, ID      string
				EventCount      *int64 `json:"event_count"`
				DataCollections []struct {
					DataCollection string `json:"data_collection"`
					EventCount     int64  `json:"event_count"`
				} `json:"data_collections"`
			}
			if err := json.Unmarshal(value, &ev); err != nil {
				t.Fatal(err)
			}
			s := ev.Status + " " + ev.ID
			if ev.EventCount != nil {
				s += fmt.Sprintf(" %d", *ev.EventCount)
				for _, d := range ev.DataCollections {
					s += fmt.Sprintf(" %s:%d", d.DataCollection, d.EventCount)
				}
			}
			events = append(events, s)
		}
		want := "BEGIN 0-1-7|BEGIN 0-1-8|END 0-1-7 3 shop.a:2 shop.b:1|END 0-1-8 1 shop.a:1"
		if got := strings.Join(events, "|"); got != want {
			t.Errorf("avro=%v: the transaction topic holds %s, want %s", useAvro, got, want)
		}
	}
}

// TestTopicConfig: a table topic the sink creates gets topic.config's settings.
func TestTopicConfig(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	w, err := New(ctx, Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "srv"},
		CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 2, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: "tc",
		TopicConfig: map[string]*string{"retention.ms": ptr("1234567")}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := &event.Schema{ID: event.TableID{Schema: "shop", Table: "kept"}, Key: []int{0}, Columns: []event.Column{{Name: "id", Type: types.Type{Kind: types.Int64}}}}
	if err := w.Apply(ctx, &connector.Batch{Changes: []event.Change{{Op: event.OpInsert, Schema: s, After: event.Row{event.Int(1)}}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "tc", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer cl.Close()
	cfgs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, "shop.kept")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("shop.kept", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			if c.Value == nil || *c.Value != "1234567" {
				t.Fatalf("retention.ms %v, want 1234567", c.Value)
			}
			return
		}
	}
	t.Fatalf("the topic's configs hold no retention.ms: %+v", rc.Configs)
}

// TestRecordTooLarge: a change whose record is larger than properties.max.request.size is
// refused, and the error names its table, its key and the setting.
func TestRecordTooLarge(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	w, err := New(ctx, Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "srv"}, ExactlyOnce: true,
		CheckpointTopic: "weir_checkpoints", CreateTopics: true, Partitions: 1, Replication: -1, MaxRequestBytes: 2048, Pipeline: "big"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := &event.Schema{ID: event.TableID{Schema: "shop", Table: "docs"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}}, {Name: "body", Type: types.Type{Kind: types.String}, Nullable: true}}}
	err = w.Apply(ctx, &connector.Batch{Changes: []event.Change{{Op: event.OpInsert, Schema: s, After: event.Row{event.Int(42), event.String(strings.Repeat("x", 8000))}}}})
	if err == nil {
		err = w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "big", Seq: 1})
	}
	if err == nil || !strings.Contains(err.Error(), "table shop.docs") || !strings.Contains(err.Error(), `{"id":42}`) || !strings.Contains(err.Error(), "properties.max.request.size") {
		t.Fatalf("a record over max.request.size: %v", err)
	}
}

// TestKeyChangeSplit: an update that changes its row's key is written as a delete of the
// old key (with its tombstone) in the old key's partition and an insert of the new key,
// as Debezium writes it, so each key's changes stay in one partition, in order.
func TestKeyChangeSplit(t *testing.T) {
	brokers := cluster(t)
	ctx := context.Background()
	s := &event.Schema{ID: event.TableID{Schema: "shop", Table: "orders"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}}, {Name: "v", Type: types.Type{Kind: types.String}, Nullable: true}}}
	w, err := New(ctx, Options{Brokers: brokers, Format: format.Options{Format: format.DebeziumJSON, SourceType: "mysql", Name: "srv", NoSchema: true}, ExactlyOnce: true,
		CheckpointTopic: "weir_checkpoints", Tombstones: true, CreateTopics: true, Partitions: 8, Replication: -1, MaxRequestBytes: 1 << 20, Pipeline: "mv"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	changes := []event.Change{
		{Op: event.OpUpdate, Schema: s, Before: event.Row{event.Int(1), event.String("a")}, After: event.Row{event.Int(1), event.String("b")}},
		{Op: event.OpUpdate, Schema: s, Before: event.Row{event.Int(1), event.String("b")}, After: event.Row{event.Int(99), event.String("b")}},
	}
	if err := w.Apply(ctx, &connector.Batch{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, &checkpoint.Checkpoint{Pipeline: "mv", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	got := readRecords(t, brokers, 4, "shop.orders")
	var seen []string
	for _, r := range got {
		var v struct{ Op string }
		json.Unmarshal(r.Value, &v)
		op := v.Op
		if r.Value == nil {
			op = "tombstone"
		}
		if want := int32(murmur2(r.Key)&0x7fffffff) % 8; r.Partition != want {
			t.Errorf("key %s in partition %d, want %d", r.Key, r.Partition, want)
		}
		seen = append(seen, string(r.Key)+" "+op)
	}
	slices.Sort(seen)
	if strings.Join(seen, "|") != `{"id":1} d|{"id":1} tombstone|{"id":1} u|{"id":99} c` {
		t.Fatalf("records %v", seen)
	}
}
