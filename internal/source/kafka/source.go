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
	"reflect"
	"regexp"
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
	Brokers  []string
	Topics   []string
	Pattern  *regexp.Regexp
	Earliest bool   // a fresh start reads each partition from its first record
	Group    string // offsets committed to this group at each checkpoint; "" none
	// Discovery is how often new partitions and topics are looked for (0: 30 s).
	Discovery time.Duration
	// BadRecords is fail, skip or dead-letter; DeadLetters the dead-letter topic.
	BadRecords, DeadLetters string
	Log                     *slog.Logger
	Metrics                 *metrics.Set
	Pipeline                string
}

// Source is the Kafka source.
type Source struct {
	o   Options
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
	if s.o.Earliest {
		return "earliest-offset"
	}
	return "latest-offset"
}

// Open opens the Kafka source from its config.
func Open(_ context.Context, cfg *connector.Config, env connector.Env) (connector.Source, error) {
	o := Options{Earliest: cfg.String("scan.startup.mode") != "latest-offset", Group: cfg.String("properties.group.id"),
		Discovery: cfg.Duration("scan.topic-partition-discovery.interval"), BadRecords: cfg.String("bad-record.policy"),
		DeadLetters: cfg.String("bad-record.topic"), Log: env.Logger, Metrics: env.Metrics, Pipeline: env.Pipeline}
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

// Tables returns no table: each is learnt from its first record, in the stream.
func (s *Source) Tables(context.Context) ([]*event.Schema, error) { return nil, nil }

// Position is where a fresh start reads from: each partition's first record
// (earliest-offset) or its end (latest-offset).
func (s *Source) Position(ctx context.Context) (event.Position, error) {
	topics, err := s.topics(ctx)
	if err != nil {
		return "", err
	}
	var listed kadm.ListedOffsets
	if s.o.Earliest {
		listed, err = s.adm.ListStartOffsets(ctx, topics...)
	} else {
		listed, err = s.adm.ListEndOffsets(ctx, topics...)
	}
	if err != nil {
		return "", fmt.Errorf("kafka source: list the offsets of %v: %w", topics, err)
	}
	p := offsets{}
	var lerr error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = fmt.Errorf("kafka source: offsets of %s[%d]: %w", o.Topic, o.Partition, o.Err)
			return
		}
		if p[o.Topic] == nil {
			p[o.Topic] = map[int32]int64{}
		}
		p[o.Topic][o.Partition] = o.Offset
	})
	return p.encode(), lerr
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
		kgo.MetadataMinAge(min(s.discovery()/2, 5*time.Second)))
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
			pos[r.Topic][r.Partition] = r.Offset + 1
			if r.Value == nil { // a tombstone
				return
			}
			c, announce, err := decode(r, known)
			if err != nil {
				recErr = s.bad(ctx, cl, r, err)
				return
			}
			if announce != nil { // the changes before it go first, then the new shape
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
			c.Pos = event.Pos{Log: fmt.Sprintf("%s[%d]", r.Topic, r.Partition), Off: uint64(r.Offset)}
			changes = append(changes, c)
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

// table is a table the stream knows, with the Connect schema it was learnt from.
type table struct {
	schema *event.Schema
	row    *connectField
	raw    string // the row struct's schema as JSON, to see it change
}

// decode turns a record into a change; announce is the schema change the engine must
// take first when the record's table is new or its schema changed.
func decode(r *kgo.Record, known map[event.TableID]*table) (c event.Change, announce *event.SchemaChange, err error) {
	var env envelope
	if err := json.Unmarshal(r.Value, &env); err != nil {
		return c, nil, fmt.Errorf("not debezium-json: %w", err)
	}
	row := rowStruct(&env.Schema)
	if row == nil {
		return c, nil, errors.New("no schema: write debezium-json with its schema (schemas.enable=true; weir's debezium-json.schema-include)")
	}
	src := env.Payload.Source
	id := event.TableID{Schema: src.DB, Table: src.Table}
	if src.Schema != "" { // PostgreSQL: db.schema.table
		id = event.TableID{Namespace: src.DB, Schema: src.Schema, Table: src.Table}
	}
	if id.Table == "" {
		return c, nil, errors.New("its source block names no table")
	}
	rawRow, _ := json.Marshal(row)
	t := known[id]
	if t == nil || t.raw != string(rawRow) {
		s, err := schemaOf(id, row, keyFields(r.Key))
		if err != nil {
			return c, nil, err
		}
		switch {
		case t == nil || t.row == nil && reflect.DeepEqual(t.schema.Columns, s.Columns):
			if t == nil {
				announce = &event.SchemaChange{Kind: event.CreateTable, Table: id, After: s, DDL: "a table learnt from its first record"}
			}
		default:
			announce = &event.SchemaChange{Kind: event.AlterTable, Table: id, Before: t.schema, After: s, DDL: "the records' schema changed"}
		}
		t = &table{schema: s, row: row, raw: string(rawRow)}
		known[id] = t
	}
	c.Schema = t.schema
	c.CommitMicros = env.Payload.TsMs * 1000
	switch env.Payload.Op {
	case "c", "r":
		c.Op = event.OpInsert
	case "u":
		c.Op = event.OpUpdate
	case "d":
		c.Op = event.OpDelete
	default:
		return c, nil, fmt.Errorf("op %q is none of c, u, d, r", env.Payload.Op)
	}
	if c.Before, err = rowOf(env.Payload.Before, t.schema, t.row); err != nil {
		return c, nil, err
	}
	if c.After, err = rowOf(env.Payload.After, t.schema, t.row); err != nil {
		return c, nil, err
	}
	return c, announce, nil
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
