package engine

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// byteBudget bounds the bytes of changes in flight between producers (source, chunk
// readers) and the router. Producers acquire before they send; the router releases once
// it has handed the changes on to the writers, whose own queues are bounded in batches.
type byteBudget struct {
	sem  *semaphore.Weighted
	max  int64
	held atomic.Int64
}

func newByteBudget(max int64) *byteBudget {
	return &byteBudget{sem: semaphore.NewWeighted(max), max: max}
}

// Acquire waits for n bytes (at most the whole budget, so one huge batch still passes)
// and returns how many it took.
func (b *byteBudget) Acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.max)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return 0, err
	}
	b.held.Add(n)
	return n, nil
}

// Release returns n bytes taken by Acquire.
func (b *byteBudget) Release(n int64) {
	b.held.Add(-n)
	b.sem.Release(n)
}

// Held returns the bytes in flight now.
func (b *byteBudget) Held() int64 { return b.held.Load() }
