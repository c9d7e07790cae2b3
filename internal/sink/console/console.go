// Package console is a sink that prints changes as JSON lines on standard output.
package console

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/format"
)

// Writer prints changes. Partitions share one output under a mutex, so lines never
// interleave. Lines gather in a buffer that is written out whole, at a line boundary, once
// it holds flushAt bytes and at each Commit: no write ends inside a record, so a process
// killed at any moment leaves whole lines behind (never half a record that the next
// process's first line would be glued to).
// MarksSnapshot: debezium-json records say which reads are the snapshot's first and last
// (connector.SnapshotMarker).
func (w *Writer) MarksSnapshot() bool { return w.fmt.MarksSnapshot() }

type Writer struct {
	mu        sync.Mutex
	out       io.Writer
	pending   []byte // whole lines not yet written
	schemas   bool
	connector string
	fmt       *format.Writer
}

// flushAt is how many bytes of whole lines are gathered before they are written.
const flushAt = 64 << 10

var (
	_ connector.Sink          = (*Writer)(nil)
	_ connector.SchemaApplier = (*Writer)(nil)
)

// Open returns a console sink writing to standard output; source.connector is the
// pipeline's source type, as every sink writes it.
func Open(_ context.Context, cfg *connector.Config, env connector.Env) (connector.Sink, error) {
	w := New(os.Stdout, cfg.Bool("schema-changes"))
	if env.SourceType != "" {
		w.connector = env.SourceType
	}
	fw, err := format.New(format.FromConfig(cfg, env))
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("console sink: %w", err))
	}
	w.fmt = fw
	return w, nil
}

// New returns a console sink writing to w.
func New(w io.Writer, schemaChanges bool) *Writer {
	return &Writer{out: w, schemas: schemaChanges, connector: "weir"}
}

// flush writes the pending lines in one write; w.mu is held.
func (w *Writer) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	_, err := w.out.Write(w.pending)
	w.pending = w.pending[:0]
	if err != nil {
		return fmt.Errorf("write to standard output: %w", err)
	}
	return nil
}

func (w *Writer) Apply(_ context.Context, b *connector.Batch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now().UnixMilli()
	for i := range b.Changes {
		if w.fmt != nil {
			w.pending = w.fmt.Append(w.pending, &b.Changes[i], now)
		} else {
			w.pending = event.AppendEnvelope(w.pending, &b.Changes[i], w.connector, now)
		}
		w.pending = append(w.pending, '\n')
		if len(w.pending) >= flushAt {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer) ApplySchema(_ context.Context, c *event.SchemaChange) error {
	if !w.schemas {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fmt == nil {
		w.pending = append(w.pending, `{"ddl":`...)
		w.pending = event.AppendJSONString(w.pending, c.String())
		w.pending = append(w.pending, "}\n"...)
		return w.flush()
	}
	var ok bool
	if w.pending, ok = w.fmt.AppendSchemaChange(w.pending, c, time.Now().UnixMilli()); ok {
		w.pending = append(w.pending, '\n')
	}
	return w.flush()
}

func (w *Writer) Commit(context.Context, *checkpoint.Checkpoint) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}

func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}
