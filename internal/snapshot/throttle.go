package snapshot

import (
	"context"
	"math"

	"golang.org/x/time/rate"
)

// Throttle caps the rows and bytes per second the source reads, snapshot and binlog
// together (scan.rate-limit.*), so a pipeline never saturates its source. A zero limit
// is no limit.
type Throttle struct {
	rows, bytes *rate.Limiter
}

// NewThrottle returns a throttle of the given limits (0: none).
func NewThrottle(rowsPerSecond, bytesPerSecond int64) *Throttle {
	t := &Throttle{}
	if rowsPerSecond > 0 {
		t.rows = rate.NewLimiter(rate.Limit(rowsPerSecond), int(max(rowsPerSecond, 1024)))
	}
	if bytesPerSecond > 0 {
		t.bytes = rate.NewLimiter(rate.Limit(bytesPerSecond), int(min(max(bytesPerSecond, 1<<20), math.MaxInt32)))
	}
	return t
}

// Wait blocks until rows rows of size bytes may be read.
func (t *Throttle) Wait(ctx context.Context, rows, bytes int) error {
	if t.rows != nil {
		if err := waitN(ctx, t.rows, rows); err != nil {
			return err
		}
	}
	if t.bytes != nil {
		if err := waitN(ctx, t.bytes, bytes); err != nil {
			return err
		}
	}
	return nil
}

// waitN waits for n tokens, in pieces no larger than the burst.
func waitN(ctx context.Context, l *rate.Limiter, n int) error {
	for n > 0 {
		k := min(n, l.Burst())
		if err := l.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// Unlimit lifts the limits from now on (a snapshot held back can then run at full speed).
func (t *Throttle) Unlimit() {
	for _, l := range []*rate.Limiter{t.rows, t.bytes} {
		if l != nil {
			l.SetLimit(rate.Inf)
		}
	}
}
