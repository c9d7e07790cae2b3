// Package kafka is a source that reads change records from Kafka topics (franz-go).
//
// Each record is a change of the table its value names (debezium-json with its Connect
// schema). A table is learnt from its first record: its columns and types from the
// record's schema, its key from the record key's fields; the stream announces it to the
// engine as a table created there (a schema change), and again, as altered, when its
// schema changes. The position is the next offset of every partition read, as JSON; a
// checkpoint holds it, so that a restart reads on from there (exactly once into a sink
// that keeps its checkpoint with its data). With properties.group.id the offsets of each
// checkpoint are committed to that group too, for lag tools.
package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/kafkaconn"
	"github.com/weir-data/weir/internal/metrics"
)

// Options configure the source.
type Options struct {
	Brokers []string
	Topics  []string
	Pattern *regexp.Regexp
	// Startup is scan.startup.mode: earliest-offset (""), latest-offset, group-offsets,
	// timestamp (from StartMillis) or specific-offsets (Specific, by partition).
	Startup     string
	StartMillis int64
	Specific    map[int32]int64
	Group       string // offsets committed to this group at each checkpoint; "" none
	// Discovery is how often new partitions and topics are looked for (0: 30 s).
	Discovery time.Duration
	// Format is the records' value.format: debezium-json (""), canal-json, json, with
	// JSON's settings (rows.go), or debezium-avro-confluent, with its RegistryURL.
	Format                                   string
	JSONTable, JSONColumns, JSONKey, OpField string
	RegistryURL                              string
	// BadRecords is fail, skip or dead-letter; DeadLetters the dead-letter topic.
	BadRecords, DeadLetters string
	// Discover: the source is opened for `weir discover`, whose Tables samples records.
	Discover bool
	Log      *slog.Logger
	Metrics  *metrics.Set
	Pipeline string
}

// Source is the Kafka source.
type Source struct {
	o   Options
	dec decoder
	cl  *kgo.Client // metadata and admin
	adm *kadm.Client
}

var (
	_ connector.Source       = (*Source)(nil)
	_ connector.Acker        = (*Source)(nil)
	_ connector.StartupModer = (*Source)(nil)
)

// StartupMode: a Kafka source has no snapshot; Position says where a fresh start reads.
func (s *Source) StartupMode() string {
	if s.o.Startup == "" {
		return "earliest-offset"
	}
	return s.o.Startup
}

// Open opens the Kafka source from its config.
func Open(_ context.Context, cfg *connector.Config, env connector.Env) (connector.Source, error) {
	o := Options{Startup: cfg.String("scan.startup.mode"), StartMillis: cfg.Int("scan.startup.timestamp-millis"), Group: cfg.String("properties.group.id"),
		Discovery: cfg.Duration("scan.topic-partition-discovery.interval"), BadRecords: cfg.String("bad-record.policy"),
		DeadLetters: cfg.String("bad-record.topic"), Log: env.Logger, Metrics: env.Metrics, Pipeline: env.Pipeline,
		Format: cfg.String("value.format"), JSONTable: cfg.String("json.table"), JSONColumns: cfg.String("json.columns"),
		JSONKey: cfg.String("json.key"), OpField: cfg.String("json.op-field"), Discover: env.Role == "discover",
		RegistryURL: cfg.String("debezium-avro-confluent.url")}
	switch o.Startup {
	case "group-offsets":
		if o.Group == "" {
			return nil, fault.AsFatal(errors.New("kafka source: scan.startup.mode is group-offsets: name the group with properties.group.id"))
		}
	case "timestamp":
		if !cfg.IsSet("scan.startup.timestamp-millis") {
			return nil, fault.AsFatal(errors.New("kafka source: scan.startup.mode is timestamp: give scan.startup.timestamp-millis"))
		}
	case "specific-offsets":
		var err error
		if o.Specific, err = specificOffsets(cfg.String("scan.startup.specific-offsets")); err != nil {
			return nil, fault.AsFatal(fmt.Errorf("kafka source: %w", err))
		}
	}
	if o.BadRecords == "dead-letter" && o.DeadLetters == "" {
		return nil, fault.AsFatal(errors.New("kafka source: bad-record.policy is dead-letter: name its topic with bad-record.topic"))
	}
	o.Brokers = kafkaconn.Brokers(cfg.String("properties.bootstrap.servers"))
	for _, t := range strings.FieldsFunc(cfg.String("topic"), func(r rune) bool { return r == ';' || r == ',' }) {
		if t = strings.TrimSpace(t); t != "" {
			o.Topics = append(o.Topics, t)
		}
	}
	if p := cfg.String("topic-pattern"); p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fault.AsFatal(fmt.Errorf("kafka source: topic-pattern %q: %w", p, err))
		}
		o.Pattern = re
	}
	if len(o.Topics) == 0 && o.Pattern == nil {
		return nil, fault.AsFatal(errors.New("kafka source: name the topics to read with topic or topic-pattern"))
	}
	return New(o)
}

// Check is what `weir validate` checks of the source: the brokers answer.
func Check(ctx context.Context, cfg *connector.Config, _ connector.Env) []error {
	return kafkaconn.Check(ctx, kafkaconn.Brokers(cfg.String("properties.bootstrap.servers")))
}

// New connects to the brokers.
func New(o Options) (*Source, error) {
	s := &Source{o: o}
	switch o.Format {
	case "", "debezium-json":
		d, err := newJSONRows("", o.JSONColumns, o.JSONKey, "")
		if err != nil {
			return nil, fault.AsFatal(fmt.Errorf("kafka source: %w", err))
		}
		s.dec = newDebeziumJSON().withDeclared(d.declared, d.key)
	case "canal-json":
		s.dec = canalJSON{}
	case "json":
		d, err := newJSONRows(o.JSONTable, o.JSONColumns, o.JSONKey, o.OpField)
		if err != nil {
			return nil, fault.AsFatal(fmt.Errorf("kafka source: %w", err))
		}
		s.dec = d
	case "debezium-avro-confluent":
		if o.RegistryURL == "" {
			return nil, fault.AsFatal(errors.New("kafka source: value.format is debezium-avro-confluent: give the schema registry's url in debezium-avro-confluent.url"))
		}
		d, err := newDebeziumAvro(o.RegistryURL)
		if err != nil {
			return nil, fault.AsFatal(fmt.Errorf("kafka source: %w", err))
		}
		s.dec = d
	default:
		return nil, fault.AsFatal(fmt.Errorf("kafka source: value.format %q is none of debezium-json, canal-json, json, debezium-avro-confluent", o.Format))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.MetadataMinAge(min(s.discovery()/2, 5*time.Second)))
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("kafka source: %w", err))
	}
	s.cl, s.adm = cl, kadm.NewClient(cl)
	return s, nil
}

func (s *Source) Close() error {
	s.cl.Close()
	return nil
}

// offsets is a position: the next offset of each partition of each topic.
type offsets map[string]map[int32]int64

func (p offsets) encode() event.Position {
	b, _ := json.Marshal(p)
	return event.Position(b)
}

func decodeOffsets(pos event.Position) (offsets, error) {
	p := offsets{}
	if pos == "" {
		return p, nil
	}
	if err := json.Unmarshal([]byte(pos), &p); err != nil {
		return nil, fault.AsFatal(fmt.Errorf("kafka source: position %q is not one of this source's: %w", pos, err))
	}
	return p, nil
}

// topics lists the topics the source reads now.
func (s *Source) topics(ctx context.Context) ([]string, error) {
	if s.o.Pattern == nil {
		return s.o.Topics, nil
	}
	all, err := s.adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafka source: list the topics: %w", err)
	}
	var out []string
	for _, t := range all.Names() {
		if s.o.Pattern.MatchString(t) && !strings.HasPrefix(t, "__") {
			out = append(out, t)
		}
	}
	return out, nil
}

// Tables returns no table to a pipeline: each is learnt from its first record, in the
// stream. To `weir discover` it returns the tables learnt from a sample: the first
// discoverSample records of the topics (or as many as they hold).
func (s *Source) Tables(ctx context.Context) ([]*event.Schema, error) {
	if !s.o.Discover {
		return nil, nil
	}
	topics, err := s.topics(ctx)
	if err != nil {
		return nil, err
	}
	ends, err := s.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("kafka source: list the offsets of %v: %w", topics, err)
	}
	left := map[string]map[int32]int64{} // partitions with records still to sample, to their end
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			if left[o.Topic] == nil {
				left[o.Topic] = map[int32]int64{}
			}
			left[o.Topic][o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.o.Brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("kafka source: %w", err))
	}
	defer cl.Close()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	known := map[event.TableID]*table{}
	for n := 0; n < discoverSample && len(left) > 0 && sctx.Err() == nil; {
		fs := cl.PollFetches(sctx)
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Offset+1 >= left[r.Topic][r.Partition] {
				delete(left[r.Topic], r.Partition)
				if len(left[r.Topic]) == 0 {
					delete(left, r.Topic)
				}
			}
			if r.Value != nil {
				s.dec.decode(r, known) // a record that does not decode tells nothing of the tables
			}
		})
	}
	var out []*event.Schema
	for _, t := range known {
		out = append(out, t.schema)
	}
	slices.SortFunc(out, func(a, b *event.Schema) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	return out, nil
}

// fetchMaxBytes bounds one fetch of the source's client.
const fetchMaxBytes = 4 << 20

// discoverSample is how many records `weir discover` reads to learn the tables.
const discoverSample = 1000

// Position is where a fresh start reads from (scan.startup.mode): each partition's first
// record (earliest-offset), its end (latest-offset), the group's committed offsets
// (group-offsets; a partition the group has none of from its first record), the first
// record at or after a time (timestamp), or the offsets given (specific-offsets; other
// partitions from their first record).
func (s *Source) Position(ctx context.Context) (event.Position, error) {
	topics, err := s.topics(ctx)
	if err != nil {
		return "", err
	}
	var listed kadm.ListedOffsets
	switch s.o.Startup {
	case "latest-offset":
		listed, err = s.adm.ListEndOffsets(ctx, topics...)
	case "timestamp":
		listed, err = s.adm.ListOffsetsAfterMilli(ctx, s.o.StartMillis, topics...)
	default:
		listed, err = s.adm.ListStartOffsets(ctx, topics...)
	}
	if err != nil {
		return "", fmt.Errorf("kafka source: list the offsets of %v: %w", topics, err)
	}
	p := offsets{}
	var lerr error
	listed.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition): // not made yet: discovery reads it from its first record
			if s.o.Log != nil {
				s.o.Log.Warn("a topic to read does not exist yet: it is read from its first record once it does (scan.topic-partition-discovery.interval)", "topic", o.Topic)
			}
			return
		case o.Err != nil:
			lerr = fmt.Errorf("kafka source: offsets of %s[%d]: %w", o.Topic, o.Partition, o.Err)
			return
		}
		if p[o.Topic] == nil {
			p[o.Topic] = map[int32]int64{}
		}
		p[o.Topic][o.Partition] = o.Offset
	})
	if lerr != nil {
		return "", lerr
	}
	switch s.o.Startup {
	case "group-offsets":
		committed, err := s.adm.FetchOffsetsForTopics(ctx, s.o.Group, topics...)
		if err != nil {
			return "", fmt.Errorf("kafka source: the committed offsets of group %s: %w", s.o.Group, err)
		}
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 && p[o.Topic] != nil {
				p[o.Topic][o.Partition] = o.At
			}
		})
	case "specific-offsets":
		for _, parts := range p {
			for part, off := range s.o.Specific {
				if _, ok := parts[part]; ok {
					parts[part] = off
				}
			}
		}
	}
	return p.encode(), nil
}

// specificOffsets reads scan.startup.specific-offsets: partition:0,offset:42;partition:1,offset:300.
func specificOffsets(spec string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, item := range strings.Split(spec, ";") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		var part int32
		var off int64
		if _, err := fmt.Sscanf(strings.ReplaceAll(item, " ", ""), "partition:%d,offset:%d", &part, &off); err != nil || part < 0 || off < 0 {
			return nil, fmt.Errorf("scan.startup.specific-offsets: %q is not partition:N,offset:M", item)
		}
		out[part] = off
	}
	if len(out) == 0 {
		return nil, errors.New("scan.startup.mode is specific-offsets: give them in scan.startup.specific-offsets (partition:0,offset:42;partition:1,offset:300)")
	}
	return out, nil
}

// Stream reads every record after from, in order per partition; each poll's records are
// one batch whose End is the offsets after them.
func (s *Source) Stream(ctx context.Context, from event.Position, schemas []*event.Schema, emit func(context.Context, event.Batch) error) error {
	pos, err := decodeOffsets(from)
	if err != nil {
		return err
	}
	if s.o.BadRecords == "dead-letter" { // the dead-letter topic, made if it is missing
		res, err := s.adm.CreateTopic(ctx, 1, -1, nil, s.o.DeadLetters)
		if err == nil {
			err = res.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka source: create the dead-letter topic %s: %w", s.o.DeadLetters, err)
		}
	}
	start := map[string]map[int32]kgo.Offset{}
	for t, parts := range pos {
		start[t] = map[int32]kgo.Offset{}
		for p, off := range parts {
			start[t][p] = kgo.NewOffset().At(off)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.o.Brokers...), kgo.ConsumePartitions(start), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.MetadataMinAge(min(s.discovery()/2, 5*time.Second)), kgo.WithLogger(kafkaconn.Logger(s.o.Log)),
		// A poll's records are one batch of changes: bounded, so that memory is too (the
		// client's default is 50 MiB a fetch).
		kgo.FetchMaxBytes(fetchMaxBytes), kgo.FetchMaxPartitionBytes(fetchMaxBytes/4), kgo.MaxConcurrentFetches(2))
	if err != nil {
		return fault.AsFatal(fmt.Errorf("kafka source: %w", err))
	}
	defer cl.Close()
	known := map[event.TableID]*table{}
	for _, sc := range schemas {
		known[sc.ID] = &table{schema: sc}
	}
	dctx, stopDiscovery := context.WithCancel(ctx)
	defer stopDiscovery()
	reading := map[string]map[int32]bool{} // the partitions read, for discovery
	for t, parts := range pos {
		reading[t] = map[int32]bool{}
		for p := range parts {
			reading[t][p] = true
		}
	}
	go s.discover(dctx, cl, reading)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("kafka source: read %s[%d]: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		if m := s.o.Metrics; m != nil { // how far behind each partition's end
			fs.EachPartition(func(p kgo.FetchTopicPartition) {
				if n := len(p.Records); n > 0 {
					lag := p.HighWatermark - (p.Records[n-1].Offset + 1)
					m.SourceLagRecords.WithLabelValues(s.o.Pipeline, p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(max(lag, 0)))
				}
			})
		}
		var changes []event.Change
		var recErr error
		fs.EachRecord(func(r *kgo.Record) {
			if recErr != nil {
				return
			}
			if pos[r.Topic] == nil {
				pos[r.Topic] = map[int32]int64{}
			}
			defer func() { pos[r.Topic][r.Partition] = r.Offset + 1 }() // read once its changes are in the batch
			if r.Value == nil {                                         // a tombstone
				return
			}
			cs, announce, err := s.dec.decode(r, known)
			if err != nil {
				recErr = s.bad(ctx, cl, r, err)
				return
			}
			if announce != nil { // the changes before it go first, then the new shape, at the offsets before r
				if len(changes) > 0 {
					if recErr = emit(ctx, event.Batch{Changes: changes, End: pos.encode()}); recErr != nil {
						return
					}
					changes = nil
				}
				if recErr = emit(ctx, event.Batch{Schema: announce, End: pos.encode(), Boundary: true}); recErr != nil {
					return
				}
			}
			for i := range cs { // topic[partition]:offset; a record of several rows: topic[partition]@offset:row
				cs[i].Pos = event.Pos{Log: fmt.Sprintf("%s[%d]", r.Topic, r.Partition), Off: uint64(r.Offset)}
				if len(cs) > 1 {
					cs[i].Pos = event.Pos{Log: fmt.Sprintf("%s[%d]@%d", r.Topic, r.Partition, r.Offset), Off: uint64(i)}
				}
			}
			changes = append(changes, cs...)
		})
		if recErr != nil {
			return recErr
		}
		if err := emit(ctx, event.Batch{Changes: changes, End: pos.encode(), Boundary: true}); err != nil {
			return err
		}
	}
}

// discover adds to cl, every Options.Discovery, the partitions of the topics (the
// pattern's now) that the position does not hold, read from their first record.
func (s *Source) discover(ctx context.Context, cl *kgo.Client, reading map[string]map[int32]bool) {
	every := s.discovery()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		topics, err := s.topics(ctx)
		if err != nil || len(topics) == 0 {
			continue
		}
		listed, err := s.adm.ListStartOffsets(ctx, topics...)
		if err != nil {
			continue
		}
		add := map[string]map[int32]kgo.Offset{}
		listed.Each(func(o kadm.ListedOffset) {
			if o.Err != nil || reading[o.Topic][o.Partition] {
				return
			}
			if reading[o.Topic] == nil {
				reading[o.Topic] = map[int32]bool{}
			}
			reading[o.Topic][o.Partition] = true
			if add[o.Topic] == nil {
				add[o.Topic] = map[int32]kgo.Offset{}
			}
			add[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		})
		if len(add) > 0 {
			cl.AddConsumePartitions(add)
		}
	}
}

func (s *Source) discovery() time.Duration {
	if s.o.Discovery <= 0 {
		return 30 * time.Second
	}
	return s.o.Discovery
}

// bad applies the bad-record policy to record r, which did not decode (err): an error
// that stops the pipeline (fail), or nil once it is counted (skip) or written to the
// dead-letter topic with the reason in its headers (dead-letter).
func (s *Source) bad(ctx context.Context, cl *kgo.Client, r *kgo.Record, err error) error {
	where := fmt.Sprintf("%s[%d]@%d", r.Topic, r.Partition, r.Offset)
	switch s.o.BadRecords {
	case "skip", "dead-letter":
	default:
		return fault.AsFatal(fmt.Errorf("kafka source: the record at %s: %w; fix the producer, or set bad-record.policy to skip or dead-letter", where, err))
	}
	if s.o.Metrics != nil {
		s.o.Metrics.SourceBadRecords.WithLabelValues(s.o.Pipeline).Inc()
	}
	if s.o.Log != nil {
		s.o.Log.Warn("a record that does not decode: "+map[string]string{"skip": "skipped", "dead-letter": "sent to the dead-letter topic"}[s.o.BadRecords],
			"at", where, "err", err)
	}
	if s.o.BadRecords == "skip" {
		return nil
	}
	dl := &kgo.Record{Topic: s.o.DeadLetters, Key: r.Key, Value: r.Value, Headers: append(append([]kgo.RecordHeader(nil), r.Headers...),
		kgo.RecordHeader{Key: "weir.error", Value: []byte(err.Error())},
		kgo.RecordHeader{Key: "weir.source", Value: []byte(where)})}
	if perr := cl.ProduceSync(ctx, dl).FirstErr(); perr != nil {
		return fmt.Errorf("kafka source: write the bad record at %s to %s: %w", where, s.o.DeadLetters, perr)
	}
	return nil
}

// Ack commits the checkpoint's offsets to the consumer group, if one is set.
func (s *Source) Ack(ctx context.Context, pos event.Position) error {
	if s.o.Group == "" {
		return nil
	}
	p, err := decodeOffsets(pos)
	if err != nil {
		return err
	}
	commit := kadm.Offsets{}
	for t, parts := range p {
		for part, off := range parts {
			commit.Add(kadm.Offset{Topic: t, Partition: part, At: off, LeaderEpoch: -1})
		}
	}
	_, err = s.adm.CommitOffsets(ctx, s.o.Group, commit)
	return err
}
