// Package discard is a sink that drops every change after counting it.
package discard

import (
	"context"
	"sync/atomic"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
)

// Writer counts and drops.
type Writer struct {
	applied atomic.Int64
	commits atomic.Int64
}

var _ connector.Sink = (*Writer)(nil)

// Open returns a discarding sink.
func Open(context.Context, *connector.Config, connector.Env) (connector.Sink, error) {
	return &Writer{}, nil
}

func (w *Writer) Apply(_ context.Context, b *connector.Batch) error {
	w.applied.Add(int64(len(b.Changes)))
	return nil
}

func (w *Writer) Commit(context.Context, *checkpoint.Checkpoint) error {
	w.commits.Add(1)
	return nil
}

// Applied returns the number of changes applied so far.
func (w *Writer) Applied() int64 { return w.applied.Load() }

func (w *Writer) Close() error { return nil }
