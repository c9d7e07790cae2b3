// Package kafka is a sink that writes each change as a Kafka record (franz-go).
//
// Records: the topic of the change's table (sink.tableId-to-topic.mapping, else topic,
// else the table id); the key the primary key's columns as a JSON object; the value the
// change in value.format (internal/format); after a delete a tombstone (the key, no value)
// where the table has a key. Partitioning by key uses murmur2 as the Java client's default
// partitioner, so each key keeps its order.
//
// Exactly once (sink.delivery-guarantee: exactly-once): one transactional producer per
// pipeline (transactional id "weir-" + pipeline), so that a new run fences the old. A
// transaction begins with the first record after a checkpoint; Commit flushes it, writes
// the checkpoint as a record keyed by the pipeline into the compacted checkpoint topic
// within it, and commits: the records and the checkpoint that covers them become visible
// to read_committed consumers together, or neither does. LoadCheckpoint reads the last
// committed checkpoint of the pipeline from that topic. At least once: the idempotent
// producer, the checkpoint written after a flush; a crash repeats what followed the last
// checkpoint.
package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/format"
	"github.com/weir-data/weir/internal/kafkaconn"
)

// Options configure the sink.
type Options struct {
	Brokers         []string
	Topic           string            // one topic for all; "" a topic per table
	Mapping         map[string]string // table id → topic
	Format          format.Options
	Partitioning    string // hash-by-key, by-table, round-robin, all-to-zero
	SchemaTopic     string // schema changes' topic; "" none
	ExactlyOnce     bool
	CheckpointTopic string
	Tombstones      bool
	TableHeaders    bool
	CustomHeaders   []kgo.RecordHeader
	CreateTopics    bool
	Partitions      int32
	Replication     int16
	TopicConfig     map[string]*string // configs of a topic the sink creates (retention.ms…)
	Compression     string
	MaxRequestBytes int32
	Avro            *AvroOptions // values in Avro (Format then writes their debezium-json payload); nil: Format's
	TxTopic         string       // Debezium's transaction topic, with Format.Transactions ("": the pipeline's name + ".transaction")
	Pipeline        string
	Log             interface {
		Info(msg string, args ...any)
	}
}

// Writer is the Kafka sink.
type Writer struct {
	o      Options
	cl     *kgo.Client
	adm    *kadm.Client
	fmts   sync.Pool // *format.Writer per Apply
	topics sync.Map  // topics known to exist
	avro   *avroWriter
	tx     *txTopic // Debezium's transaction topic; nil: not written

	mu      sync.Mutex // guards began and failed
	began   bool       // a transaction is open
	failed  error      // the first failed produce since the last commit
	pending sync.WaitGroup
}

var (
	_ connector.Sink             = (*Writer)(nil)
	_ connector.CheckpointKeeper = (*Writer)(nil)
	_ connector.SnapshotMarker   = (*Writer)(nil)
	_ connector.Destination      = (*Writer)(nil)
	_ connector.SchemaApplier    = (*Writer)(nil)
)

// ApplySchema writes schema change c to the schema change topic, in the open
// transaction, as Debezium writes it there (nothing without sink.schema-change-topic).
// The tables' topics take the new shape from their next record (debezium-json values
// carry their schema).
func (w *Writer) ApplySchema(ctx context.Context, c *event.SchemaChange) error {
	if w.o.SchemaTopic == "" {
		return nil
	}
	if err := w.begin(); err != nil {
		return err
	}
	if err := w.ensureTopic(ctx, w.o.SchemaTopic, 1, nil); err != nil {
		return err
	}
	f := w.fmts.Get().(*format.Writer)
	defer w.fmts.Put(f)
	value := f.AppendDebeziumSchemaChange(nil, c, time.Now().UnixMilli())
	w.produce(ctx, &kgo.Record{Topic: w.o.SchemaTopic, Key: format.DebeziumSchemaChangeKey(c.Table), Value: value})
	return w.err()
}

// Open opens the Kafka sink from its config.
func Open(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.Sink, error) {
	fo := format.FromConfig(cfg, env)
	switch {
	case cfg.IsSet("value.format"):
		fo.Format = cfg.String("value.format")
	case !cfg.IsSet("format"):
		fo.Format = format.DebeziumJSON // Flink CDC's Kafka sink's default
	}
	var ao *AvroOptions
	if fo.Format == AvroFormat {
		ao = &AvroOptions{URL: cfg.String("debezium-avro-confluent.url"), Strategy: cfg.String("debezium-avro-confluent.subject-name-strategy"),
			Keys: cfg.String("key.format") == "avro-confluent"}
		if ao.URL == "" {
			return nil, fault.AsFatal(errors.New("kafka sink: value.format is debezium-avro-confluent: give the schema registry's url in debezium-avro-confluent.url"))
		}
		fo.Format, fo.NoSchema = format.DebeziumJSON, true // the payload, which the Avro schema then types
	} else if cfg.String("key.format") == "avro-confluent" {
		return nil, fault.AsFatal(errors.New("kafka sink: key.format avro-confluent goes with value.format debezium-avro-confluent"))
	}
	if _, err := format.New(fo); err != nil {
		return nil, fault.AsFatal(fmt.Errorf("kafka sink: %w", err))
	}
	o := Options{
		Brokers: kafkaconn.Brokers(cfg.String("properties.bootstrap.servers")), Topic: cfg.String("topic"), Format: fo,
		Partitioning: cfg.String("partition.strategy"), SchemaTopic: cfg.String("sink.schema-change-topic"), ExactlyOnce: cfg.String("sink.delivery-guarantee") != "at-least-once",
		CheckpointTopic: cfg.String("sink.checkpoint-topic"), Tombstones: cfg.Bool("sink.tombstones"),
		TableHeaders: cfg.Bool("sink.add-tableId-to-header-enabled"), CreateTopics: cfg.Bool("topic.create"),
		Partitions: int32(cfg.Int("topic.partitions")), Replication: int16(cfg.Int("topic.replication-factor")),
		Compression: cfg.String("properties.compression.type"), MaxRequestBytes: int32(cfg.Int("properties.max.request.size")),
		Pipeline: env.Pipeline, Log: env.Logger, Avro: ao, TxTopic: cfg.String("sink.transaction-topic"),
	}
	var err error
	if o.Mapping, err = parsePairs(cfg.String("sink.tableId-to-topic.mapping"), ";", "sink.tableId-to-topic.mapping"); err != nil {
		return nil, fault.AsFatal(err)
	}
	topicConfig, err := parsePairs(cfg.String("topic.config"), ",", "topic.config")
	if err != nil {
		return nil, fault.AsFatal(err)
	}
	for k, v := range topicConfig {
		if o.TopicConfig == nil {
			o.TopicConfig = map[string]*string{}
		}
		o.TopicConfig[k] = ptr(v)
	}
	headers, err := parsePairs(cfg.String("sink.custom-header"), ",", "sink.custom-header")
	if err != nil {
		return nil, fault.AsFatal(err)
	}
	for k, v := range headers {
		o.CustomHeaders = append(o.CustomHeaders, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return New(ctx, o)
}

func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parsePairs reads "k:v<sep>k:v".
func parsePairs(s, sep, field string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range splitList(s, sep) {
		k, v, ok := strings.Cut(p, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s: %q is not key:value; write pairs as key:value separated by %q", field, p, sep)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// New connects to the brokers.
func New(ctx context.Context, o Options) (*Writer, error) {
	if len(o.Brokers) == 0 {
		return nil, fault.AsFatal(errors.New("kafka sink: properties.bootstrap.servers names no broker"))
	}
	opts := []kgo.Opt{kgo.SeedBrokers(o.Brokers...), kgo.ProducerBatchMaxBytes(o.MaxRequestBytes),
		kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5 * time.Millisecond)}
	switch o.Partitioning {
	case "all-to-zero":
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	case "round-robin":
		opts = append(opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	case "by-table": // the table id travels in the record's context
		hash := kgo.KafkaHasher(murmur2)
		opts = append(opts, kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
			return func(r *kgo.Record, n int) int {
				id, _ := r.Context.Value(tableKey{}).(string)
				return hash([]byte(id), n)
			}
		})))
	default:
		opts = append(opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	}
	switch o.Compression {
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	if o.ExactlyOnce {
		opts = append(opts, kgo.TransactionalID("weir-"+o.Pipeline), kgo.TransactionTimeout(time.Minute))
	}
	if l, ok := o.Log.(*slog.Logger); ok {
		opts = append(opts, kgo.WithLogger(kafkaconn.Logger(l)))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("kafka sink: %w", err))
	}
	w := &Writer{o: o, cl: cl, adm: kadm.NewClient(cl)}
	if o.Format.Transactions {
		topic := o.TxTopic
		if topic == "" {
			topic = o.Format.Name + ".transaction" // Debezium's ${topic.prefix}.transaction
		}
		w.tx = &txTopic{topic: topic, open: map[string][]format.TableCount{}}
	}
	if o.Avro != nil {
		if w.avro, err = newAvroWriter(*o.Avro); err != nil {
			cl.Close()
			return nil, fault.AsFatal(err)
		}
	}
	w.fmts.New = func() any {
		f, _ := format.New(o.Format)
		return f
	}
	if err := w.ensureTopic(ctx, o.CheckpointTopic, 1, map[string]*string{"cleanup.policy": ptr("compact")}); err != nil {
		cl.Close()
		return nil, fmt.Errorf("%w (the brokers of properties.bootstrap.servers: %s)", err, strings.Join(o.Brokers, ","))
	}
	if o.ExactlyOnce { // a run that died mid-transaction: its transaction is fenced and aborted here
		if err := cl.BeginTransaction(); err != nil {
			cl.Close()
			return nil, fmt.Errorf("kafka sink: begin a transaction: %w", err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			cl.Close()
			return nil, fmt.Errorf("kafka sink: take the transactional id weir-%s over: %w", o.Pipeline, err)
		}
	}
	return w, nil
}

func ptr[T any](v T) *T { return &v }

// ensureTopic creates topic if it is missing and the sink may create topics.
func (w *Writer) ensureTopic(ctx context.Context, topic string, partitions int32, configs map[string]*string) error {
	if _, ok := w.topics.Load(topic); ok {
		return nil
	}
	if w.o.CreateTopics {
		res, err := w.adm.CreateTopic(ctx, partitions, w.o.Replication, configs, topic)
		if err == nil {
			err = res.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka sink: create topic %s: %w", topic, err)
		}
	}
	w.topics.Store(topic, true)
	return nil
}

// topicOf is the topic of a table's changes.
func (w *Writer) topicOf(id event.TableID) string {
	name := id.String()
	if t, ok := w.o.Mapping[name]; ok {
		return t
	}
	if w.o.Topic != "" {
		return w.o.Topic
	}
	return name
}

// MarksSnapshot: debezium-json values say which reads are the snapshot's first and last.
func (w *Writer) MarksSnapshot() bool { return format.Marks(w.o.Format.Format) }

// Destination says where the records go.
func (w *Writer) Destination() string {
	if w.o.Topic != "" {
		return fmt.Sprintf("Kafka topic %s at %s", w.o.Topic, strings.Join(w.o.Brokers, ","))
	}
	return fmt.Sprintf("a Kafka topic per table at %s", strings.Join(w.o.Brokers, ","))
}

// Apply produces the batch's records (within the open transaction, begun here if none).
func (w *Writer) Apply(ctx context.Context, b *connector.Batch) error {
	if err := w.begin(); err != nil {
		return err
	}
	f := w.fmts.Get().(*format.Writer)
	defer w.fmts.Put(f)
	now := time.Now().UnixMilli()
	var keyBuf, buf []byte
	changes := splitKeyChanges(b.Changes)
	for i := range changes {
		c := &changes[i]
		topic := w.topicOf(c.Schema.ID)
		if err := w.ensureTopic(ctx, topic, w.o.Partitions, w.o.TopicConfig); err != nil {
			return err
		}
		var key, value []byte
		var at *avroTable
		if w.avro != nil {
			var err error
			if at, err = w.avro.table(ctx, f, c.Schema, topic); err != nil {
				return err
			}
		}
		if len(c.Schema.Key) > 0 {
			if at != nil && at.key != nil {
				var err error
				if key, err = at.encodeKey(nil, f, c); err != nil {
					return fault.AsFatal(fmt.Errorf("kafka sink: the key of a change of %s in Avro: %w", c.Schema.ID, err))
				}
			} else {
				keyBuf = appendKey(keyBuf[:0], c)
				key = append([]byte(nil), keyBuf...)
			}
		}
		if err := w.noteTxn(ctx, c); err != nil {
			return err
		}
		buf = f.Append(buf[:0], c, now) // encoded once into a reused buffer, then copied at its size
		if at != nil {
			var err error
			if value, err = at.encode(make([]byte, 0, len(buf)), buf); err != nil {
				return fault.AsFatal(fmt.Errorf("kafka sink: a change of %s (key %s) in Avro: %w", c.Schema.ID, keyBuf, err))
			}
		} else {
			value = append(make([]byte, 0, len(buf)), buf...)
		}
		w.produce(ctx, w.record(ctx, topic, key, value, c))
		if c.Op == event.OpDelete && w.o.Tombstones && key != nil {
			w.produce(ctx, w.record(ctx, topic, key, nil, c))
		}
	}
	return w.err()
}

// splitKeyChanges makes each update that changes its row's key a delete of the old key
// and an insert of the new one, as Debezium writes them: records are partitioned by key,
// so an update carried under the new key alone would land in another partition than the
// old key's earlier changes, and a consumer reading the partitions side by side could
// apply it before them — bringing the old row back. Split, each key's changes stay in its
// own partition, in order (and the old key gets its tombstone).
func splitKeyChanges(changes []event.Change) []event.Change {
	split := -1
	for i := range changes {
		if movesKey(&changes[i]) {
			split = i
			break
		}
	}
	if split < 0 {
		return changes
	}
	out := append(make([]event.Change, 0, len(changes)+4), changes[:split]...)
	for i := split; i < len(changes); i++ {
		c := &changes[i]
		if !movesKey(c) {
			out = append(out, *c)
			continue
		}
		out = append(out, c.With(event.OpDelete, c.Before, nil), c.With(event.OpInsert, nil, c.After))
	}
	return out
}

// movesKey reports whether c is an update that changes its row's key.
func movesKey(c *event.Change) bool {
	if c.Op != event.OpUpdate || c.Before == nil || len(c.Schema.Key) == 0 {
		return false
	}
	for _, k := range c.Schema.Key {
		if k < len(c.Before) && k < len(c.After) && !c.Before[k].Equal(c.After[k]) {
			return true
		}
	}
	return false
}

// tableKey carries a record's table id (record's Context).
type tableKey struct{}

func (w *Writer) record(ctx context.Context, topic string, key, value []byte, c *event.Change) *kgo.Record {
	// The table id travels with the record: for the by-table partitioner, and for an error
	// about the record to name it.
	r := &kgo.Record{Topic: topic, Key: key, Value: value, Context: context.WithValue(ctx, tableKey{}, c.Schema.ID.String())}
	if w.o.TableHeaders {
		id := c.Schema.ID
		r.Headers = append(r.Headers,
			kgo.RecordHeader{Key: "namespace", Value: []byte(id.Namespace)},
			kgo.RecordHeader{Key: "schemaName", Value: []byte(id.Schema)},
			kgo.RecordHeader{Key: "tableName", Value: []byte(id.Table)},
			kgo.RecordHeader{Key: "op", Value: []byte(c.Op.Letter())},
			kgo.RecordHeader{Key: "position", Value: c.Pos.Append(nil)})
	}
	r.Headers = append(r.Headers, w.o.CustomHeaders...)
	return r
}

// appendKey appends the JSON object of c's key columns.
func appendKey(b []byte, c *event.Change) []byte {
	row := c.Row()
	b = append(b, '{')
	for i, k := range c.Schema.Key {
		if i > 0 {
			b = append(b, ',')
		}
		col := &c.Schema.Columns[k]
		b = event.AppendJSONString(b, col.Name)
		b = append(b, ':')
		var v event.Value
		if k < len(row) {
			v = row[k]
		}
		b = event.AppendJSONValue(b, v, col.Type.Kind)
	}
	return append(b, '}')
}

func (w *Writer) produce(ctx context.Context, r *kgo.Record) {
	w.pending.Add(1)
	w.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		defer w.pending.Done()
		if err == nil {
			return
		}
		if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
			table, _ := r.Context.Value(tableKey{}).(string)
			err = fault.AsFatal(fmt.Errorf("a change of table %s (key %s) is a record of %d bytes, larger than topic %s or properties.max.request.size (%d bytes) takes: "+
				"raise properties.max.request.size and the topic's max.message.bytes, or leave the large column out with a transform: %w",
				table, r.Key, len(r.Value), r.Topic, w.o.MaxRequestBytes, err))
		}
		w.mu.Lock()
		if w.failed == nil {
			w.failed = fmt.Errorf("kafka sink: produce to %s: %w", r.Topic, err)
		}
		w.mu.Unlock()
	})
}

func (w *Writer) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func (w *Writer) begin() error {
	if !w.o.ExactlyOnce {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.began {
		return nil
	}
	if err := w.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka sink: begin a transaction: %w", err)
	}
	w.began = true
	return nil
}

// stored is the checkpoint record's value.
type stored struct {
	Pipeline   string                 `json:"pipeline"`
	Checkpoint *checkpoint.Checkpoint `json:"checkpoint"`
}

// Commit makes every record produced since the last commit visible together with the
// checkpoint cp (see the package comment).
func (w *Writer) Commit(ctx context.Context, cp *checkpoint.Checkpoint) error {
	if err := w.begin(); err != nil {
		return err
	}
	if err := w.endTxns(ctx); err != nil {
		return err
	}
	value, err := json.Marshal(stored{Pipeline: w.o.Pipeline, Checkpoint: cp})
	if err != nil {
		return err
	}
	w.produce(ctx, &kgo.Record{Topic: w.o.CheckpointTopic, Key: []byte(w.o.Pipeline), Value: value, Partition: 0})
	if err := w.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka sink: flush: %w", err)
	}
	w.pending.Wait()
	if err := w.err(); err != nil {
		return err
	}
	if !w.o.ExactlyOnce {
		return nil
	}
	w.mu.Lock()
	w.began = false
	w.mu.Unlock()
	if err := w.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("kafka sink: commit the transaction of checkpoint %d: %w", cp.Seq, err)
	}
	return nil
}

// LoadCheckpoint reads the pipeline's last committed checkpoint from the checkpoint
// topic: its records up to the last stable offset, read committed. The transaction
// markers are kept in the fetches, so that the end is seen even where the last offsets
// are markers.
func (w *Writer) LoadCheckpoint(ctx context.Context, pipeline string) (*checkpoint.Checkpoint, error) {
	ends, err := w.adm.ListCommittedOffsets(ctx, w.o.CheckpointTopic)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: read the end of %s: %w", w.o.CheckpointTopic, err)
	}
	end, ok := ends.Lookup(w.o.CheckpointTopic, 0)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("kafka sink: read the end of %s: %v", w.o.CheckpointTopic, end.Err)
	}
	if end.Offset == 0 {
		return nil, nil
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(w.o.Brokers...), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.o.CheckpointTopic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var last *checkpoint.Checkpoint
	for {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("kafka sink: read %s: %w", w.o.CheckpointTopic, ferr)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() && string(r.Key) == pipeline && r.Value != nil {
				var s stored
				if json.Unmarshal(r.Value, &s) == nil {
					last = s.Checkpoint
				}
			}
			done = done || r.Offset+1 >= end.Offset
		})
		if done {
			return last, nil
		}
	}
}

func (w *Writer) Close() error {
	if w.o.ExactlyOnce {
		w.mu.Lock()
		began := w.began
		w.mu.Unlock()
		if began {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			w.cl.AbortBufferedRecords(ctx)
			w.cl.EndTransaction(ctx, kgo.TryAbort)
			cancel()
		}
	}
	w.cl.Close()
	return nil
}

func newAdmin(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

// murmur2 is Kafka's hash of a record key (the Java client's Utils.murmur2), for
// by-table partitioning as the Java client would place a record keyed by the table id.
func murmur2(data []byte) uint32 {
	const seed, m, r = 0x9747b28c, 0x5bd1e995, 24
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch tail := data[n&^3:]; len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Check is what `weir validate` checks of the sink without writing: the brokers answer.
func Check(ctx context.Context, cfg *connector.Config, _ connector.Env) []error {
	return kafkaconn.Check(ctx, kafkaconn.Brokers(cfg.String("properties.bootstrap.servers")))
}
