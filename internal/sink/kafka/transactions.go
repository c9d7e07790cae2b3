package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/avro"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/format"
)

// Debezium's transaction topic (debezium-json.provide.transaction.metadata): a BEGIN
// record when a source transaction's first change is written, an END record with its
// change counts, in all and per table, once it is whole. Checkpoints fall between source
// transactions, so every transaction begun since the last commit is whole at the next:
// the ENDs are written then, inside the same Kafka transaction as the changes and the
// checkpoint, and a consumer sees both or neither. The writers of one sink run in
// parallel (one per key partition), so a transaction's changes and its BEGIN are in no
// fixed order across topics: a consumer matches them by the id, as with Debezium's.
type txTopic struct {
	topic string
	mu    sync.Mutex
	open  map[string][]format.TableCount // transactions begun since the last commit
	order []string
}

// noteTxn counts c in its transaction, writing the BEGIN record of a transaction first seen.
func (w *Writer) noteTxn(ctx context.Context, c *event.Change) error {
	if w.tx == nil || c.Op == event.OpRead || c.Pos.Log == "" {
		return nil
	}
	t, id, table := w.tx, c.Pos.Log, format.DataCollection(c.Schema.ID)
	t.mu.Lock()
	counts, seen := t.open[id]
	i := 0
	for i < len(counts) && counts[i].Table != table {
		i++
	}
	if i == len(counts) {
		counts = append(counts, format.TableCount{Table: table})
	}
	counts[i].Count++
	t.open[id] = counts
	if !seen {
		t.order = append(t.order, id)
	}
	t.mu.Unlock()
	if seen {
		return nil
	}
	return w.writeTxn(ctx, id, nil)
}

// endTxns writes the END records of the transactions begun since the last commit.
func (w *Writer) endTxns(ctx context.Context) error {
	if w.tx == nil {
		return nil
	}
	t := w.tx
	t.mu.Lock()
	order, open := t.order, t.open
	t.order, t.open = nil, map[string][]format.TableCount{}
	t.mu.Unlock()
	for _, id := range order {
		if err := w.writeTxn(ctx, id, open[id]); err != nil {
			return err
		}
	}
	return nil
}

// writeTxn produces a BEGIN (tables nil) or END record of transaction id.
func (w *Writer) writeTxn(ctx context.Context, id string, tables []format.TableCount) error {
	if err := w.ensureTopic(ctx, w.tx.topic, 1, nil); err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	value := format.AppendTransactionEvent(nil, id, tables, now, w.avro == nil && !w.o.Format.NoSchema)
	key := format.AppendTransactionKey(nil, id, false)
	if w.avro != nil {
		vs, ks := format.TransactionSchemas()
		var err error
		if value, err = w.avro.encodeConnect(ctx, w.tx.topic, vs, value, false); err != nil {
			return err
		}
		if key, err = w.avro.encodeConnect(ctx, w.tx.topic, ks, key, true); err != nil {
			return err
		}
	}
	w.produce(ctx, &kgo.Record{Topic: w.tx.topic, Key: key, Value: value})
	return nil
}

// encodeConnect writes a payload of a fixed Connect schema in Avro, registering the
// schema under topic's subject once.
func (a *avroWriter) encodeConnect(ctx context.Context, topic string, connect, payload []byte, key bool) ([]byte, error) {
	k := fixedKey{string(connect), topic}
	got, ok := a.fixed.Load(k)
	if !ok {
		s, err := avro.FromConnect(connect)
		if err != nil {
			return nil, err
		}
		id, err := a.reg.Register(ctx, avro.Subject(a.o.Strategy, topic, s, key), s)
		if err != nil {
			return nil, err
		}
		got = &avroTable{value: s, valueID: id}
		a.fixed.Store(k, got)
	}
	return got.(*avroTable).encode(nil, payload)
}

type fixedKey struct{ connect, topic string }
