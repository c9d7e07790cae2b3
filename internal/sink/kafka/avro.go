package kafka

import (
	"context"
	"fmt"
	"sync"

	hamba "github.com/hamba/avro/v2"

	"github.com/weir-data/weir/internal/avro"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/format"
)

// AvroFormat is the value.format of Debezium's records in Avro with a schema registry
// (Flink's name for it).
const AvroFormat = "debezium-avro-confluent"

// AvroOptions configure debezium-avro-confluent values (and avro-confluent keys).
type AvroOptions struct {
	URL      string // the schema registry
	Strategy string // subject naming: topic-name, record-name, topic-record-name
	Keys     bool   // key.format avro-confluent: keys in Avro too
}

// avroWriter writes values (and keys) as Kafka Connect's AvroConverter does with
// Debezium's changes: each change's Connect schema becomes an Avro schema (internal/avro),
// registered under its subject before the first record that uses it, so a table whose
// schema changed registers its new version before its first record of the new shape.
type avroWriter struct {
	o      AvroOptions
	reg    *avro.Registry
	tables sync.Map // avroKey → *avroTable
	fixed  sync.Map // fixedKey → *avroTable: records of a fixed schema (transactions.go)
}

type avroKey struct {
	schema *event.Schema
	topic  string
}

// avroTable is what one table's records in one topic are written with.
type avroTable struct {
	value, key     hamba.Schema
	valueID, keyID int
}

func newAvroWriter(o AvroOptions) (*avroWriter, error) {
	reg, err := avro.NewRegistry(o.URL)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: debezium-avro-confluent.url: %w", err)
	}
	return &avroWriter{o: o, reg: reg}, nil
}

// table returns the schemas of s's records in topic, registering them the first time.
func (a *avroWriter) table(ctx context.Context, f *format.Writer, s *event.Schema, topic string) (*avroTable, error) {
	k := avroKey{s, topic}
	if t, ok := a.tables.Load(k); ok {
		return t.(*avroTable), nil
	}
	t := &avroTable{}
	var err error
	if t.value, err = avro.FromConnect(f.DebeziumSchema(s)); err != nil {
		return nil, fmt.Errorf("kafka sink: table %s: %w", s.ID, err)
	}
	if t.valueID, err = a.reg.Register(ctx, avro.Subject(a.o.Strategy, topic, t.value, false), t.value); err != nil {
		return nil, fmt.Errorf("kafka sink: table %s: %w", s.ID, err)
	}
	if a.o.Keys && len(s.Key) > 0 {
		if t.key, err = avro.FromConnect(f.DebeziumKeySchema(s)); err != nil {
			return nil, fmt.Errorf("kafka sink: the key of table %s: %w", s.ID, err)
		}
		if t.keyID, err = a.reg.Register(ctx, avro.Subject(a.o.Strategy, topic, t.key, true), t.key); err != nil {
			return nil, fmt.Errorf("kafka sink: the key of table %s: %w", s.ID, err)
		}
	}
	a.tables.Store(k, t)
	return t, nil
}

// encode appends the record value of c in Avro (payload is its debezium-json payload).
func (t *avroTable) encode(b []byte, payload []byte) ([]byte, error) {
	return avro.Encode(avro.AppendHeader(b, t.valueID), t.value, payload)
}

// encodeKey appends c's record key in Avro.
func (t *avroTable) encodeKey(b []byte, f *format.Writer, c *event.Change) ([]byte, error) {
	return avro.Encode(avro.AppendHeader(b, t.keyID), t.key, f.AppendDebeziumKey(nil, c))
}
