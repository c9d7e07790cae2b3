// Package console is a sink that prints changes as JSON lines on standard output.
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// Writer prints changes. Partitions share one buffered output under a mutex: each batch
// is written whole, so lines never interleave.
type Writer struct {
	mu        sync.Mutex
	out       *bufio.Writer
	schemas   bool
	connector string
	buf       []byte
}

var (
	_ connector.Sink          = (*Writer)(nil)
	_ connector.SchemaApplier = (*Writer)(nil)
)

// Open returns a console sink writing to standard output.
func Open(_ context.Context, cfg *connector.Config, _ connector.Env) (connector.Sink, error) {
	return New(os.Stdout, cfg.Bool("schema-changes")), nil
}

// New returns a console sink writing to w.
func New(w io.Writer, schemaChanges bool) *Writer {
	return &Writer{out: bufio.NewWriterSize(w, 64<<10), schemas: schemaChanges, connector: "weir"}
}

func (w *Writer) Apply(_ context.Context, b *connector.Batch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now().UnixMilli()
	for i := range b.Changes {
		w.buf = event.AppendEnvelope(w.buf[:0], &b.Changes[i], w.connector, now)
		w.buf = append(w.buf, '\n')
		if _, err := w.out.Write(w.buf); err != nil {
			return fmt.Errorf("write to standard output: %w", err)
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
	b := append(w.buf[:0], `{"ddl":`...)
	b = event.AppendJSONString(b, c.String())
	b = append(b, "}\n"...)
	w.buf = b
	_, err := w.out.Write(b)
	return err
}

func (w *Writer) Commit(context.Context, *checkpoint.Checkpoint) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.out.Flush(); err != nil {
		return fmt.Errorf("flush standard output: %w", err)
	}
	return nil
}

func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Flush()
}
