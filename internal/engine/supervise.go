package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/weir-data/weir/internal/fault"
)

// RestartPolicy says how a pipeline recovers from retryable errors.
type RestartPolicy struct {
	Initial     time.Duration // first backoff
	Max         time.Duration // backoff cap
	MaxAttempts int           // consecutive failed attempts before giving up; 0: see FirstRunMaxAttempts
	// FirstRunMaxAttempts bounds the attempts, when MaxAttempts is 0, of a pipeline that has
	// never taken a checkpoint (Checkpointed says whether it has): one that never
	// connected ends with the reason instead of retrying for ever. 0: never give up.
	FirstRunMaxAttempts int
	Checkpointed        func() bool
	// HealthyAfter resets the backoff when a run lasted at least this long.
	HealthyAfter time.Duration
	// Stats, when set, records each restart for health (Stats.Ready).
	Stats *Stats
}

// limit is how many consecutive failed attempts p allows now (0: no limit).
func (p RestartPolicy) limit() int {
	if p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	if p.Checkpointed != nil && !p.Checkpointed() {
		return p.FirstRunMaxAttempts
	}
	return 0
}

// Supervise calls attempt until it finishes, is stopped (ctx), or fails with an error that
// fault.Classify does not call retryable. After a retryable error it backs off (doubling,
// with jitter, up to Max) and tries again: attempt opens its connectors anew and resumes
// from the last checkpoint. onRestart is called before each retry.
func Supervise(ctx context.Context, p RestartPolicy, log *slog.Logger, onRestart func(err error),
	attempt func(ctx context.Context) (*Result, error)) (*Result, error) {
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max < p.Initial {
		p.Max = max(p.Initial, time.Minute)
	}
	if p.HealthyAfter <= 0 {
		p.HealthyAfter = time.Minute
	}
	backoff := p.Initial
	failures := 0
	for {
		started := time.Now()
		res, err := attempt(ctx)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return &Result{}, nil // stopped while failing: the stop wins
		}
		if errors.Is(err, ErrRequested) { // not a failure: start again at once
			continue
		}
		class := fault.Classify(err)
		if class != fault.Retryable {
			return nil, err
		}
		if time.Since(started) >= p.HealthyAfter {
			backoff, failures = p.Initial, 0
		}
		failures++
		if n := p.limit(); n > 0 && failures >= n {
			if n == p.FirstRunMaxAttempts && p.MaxAttempts == 0 {
				return nil, fmt.Errorf("gave up after %d attempts, none of which reached a first checkpoint (restart.max-attempts sets how many): %w", failures, err)
			}
			return nil, fmt.Errorf("gave up after %d attempts: %w", failures, err)
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		log.Warn("retryable error: restarting from the last checkpoint", "err", err, "in", wait.Round(time.Millisecond), "attempt", failures)
		if p.Stats != nil {
			p.Stats.restart.Store(&Restart{Err: err.Error(), Attempt: failures + 1, Next: time.Now().Add(wait)})
		}
		if onRestart != nil {
			onRestart(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return &Result{}, nil
		case <-t.C:
		}
		backoff = min(backoff*2, p.Max)
	}
}
