package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	hamba "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/avro"
	"github.com/weir-data/weir/internal/event"
)

// debeziumAvro reads debezium-avro-confluent: Debezium's changes in Avro, framed with the
// id of their schema in a Confluent-compatible registry (as Kafka Connect's AvroConverter
// writes them, and weir's Kafka sink). The schema, fetched once per id, is turned back
// into the Connect schema it was made from, the value into Connect's JSON, and the
// record read as debezium-json: the same tables, types and keys. A key in Avro is read
// the same way; one in JSON as it is. A new schema version of a table is a new shape,
// announced as the table altered.
type debeziumAvro struct {
	reg     *avro.Registry
	json    *debeziumJSON // what the records read as, once in Connect's JSON
	mu      sync.Mutex
	connect map[int][]byte // Connect schema (JSON) per schema id
}

func newDebeziumAvro(url string) (*debeziumAvro, error) {
	reg, err := avro.NewRegistry(url)
	if err != nil {
		return nil, fmt.Errorf("debezium-avro-confluent.url: %w", err)
	}
	return &debeziumAvro{reg: reg, json: newDebeziumJSON(), connect: map[int][]byte{}}, nil
}

func (d *debeziumAvro) decode(r *kgo.Record, known map[event.TableID]*table) ([]event.Change, *event.SchemaChange, error) {
	value, err := d.toJSON(r.Value, true)
	if err != nil {
		return nil, nil, err
	}
	key := r.Key
	if len(key) > 0 && key[0] == 0 {
		if key, err = d.toJSON(key, false); err != nil {
			return nil, nil, fmt.Errorf("the key: %w", err)
		}
	}
	return d.json.decode(&kgo.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: key, Value: value}, known)
}

// toJSON turns an Avro record into Connect's JSON: with its schema ({"schema", "payload"})
// when withSchema, else the payload alone.
func (d *debeziumAvro) toJSON(b []byte, withSchema bool) ([]byte, error) {
	id, rest, err := avro.SplitHeader(b)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := d.reg.Schema(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []byte
	if withSchema {
		out = append(append(out, `{"schema":`...), d.connectOf(id, s)...)
		out = append(out, `,"payload":`...)
	}
	out, rest, err = avro.Decode(out, s, rest)
	if err != nil {
		return nil, fmt.Errorf("the Avro value of schema %d: %w", id, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%d bytes follow the Avro value of schema %d", len(rest), id)
	}
	if withSchema {
		out = append(out, '}')
	}
	return out, nil
}

func (d *debeziumAvro) connectOf(id int, s hamba.Schema) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.connect[id]
	if !ok {
		c = avro.ToConnect(s)
		d.connect[id] = c
	}
	return c
}
