package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
)

// Requests from other processes (`weir resnapshot`, `weir pause` while the pipeline runs) reach the
// engine through its checkpoint store (checkpoint.Requester). A run looks for them after
// a checkpoint, at most once a second; finding one, it ends with ErrRequested, and
// Supervise starts the next attempt at once. That attempt takes the requests before it
// begins: it marks the newest checkpoint with them and stores it as the next one, so it
// resumes from there as if the pipeline had been stopped, marked and started — the
// stream goes on from the checkpoint while the marked tables are copied beside it.

// ErrRequested ends a run to take up a request another process left for the pipeline.
var ErrRequested = errors.New("another process asked for work that starts from a checkpoint")

// requestPoll is how often a run looks for requests, at most.
const requestPoll = time.Second

// takeRequests marks cp with the pending requests and stores it as the next checkpoint
// (generation gen), then removes them. It returns the checkpoint to resume from.
func (e *Engine) takeRequests(ctx context.Context, gen int64, cp *checkpoint.Checkpoint) (*checkpoint.Checkpoint, error) {
	rq, ok := e.store.(checkpoint.Requester)
	if !ok {
		return cp, nil
	}
	reqs, err := rq.Requests(ctx, e.cfg.Pipeline)
	if err != nil || len(reqs) == 0 {
		return cp, err
	}
	ids := make([]string, len(reqs))
	marked := false
	for i, req := range reqs {
		ids[i] = req.ID
		switch {
		case cp == nil:
			e.log.Info("a request to copy or pause tables needs nothing: the pipeline starts afresh and copies every table",
				"request", req.ID, "tables", req.Tables())
		default:
			if err := req.Mark(cp); err != nil {
				e.log.Warn("a request to copy or pause tables is dropped", "request", req.ID, "err", err)
				continue
			}
			marked = true
			if len(req.Pause) > 0 {
				e.log.Info("pausing tables on request (weir pause): their rows are not written until they are copied again",
					"request", req.ID, "tables", req.Pause)
			}
			if len(req.Resnapshot) > 0 {
				e.log.Info("copying tables again on request (weir resnapshot): they are emptied in the sink and snapshotted beside the stream",
					"request", req.ID, "tables", req.Resnapshot)
			}
		}
	}
	if marked {
		cp.Seq++
		cp.Generation = gen
		cp.Time = time.Now().UTC()
		if err := e.store.Save(ctx, cp); err != nil {
			return nil, fmt.Errorf("store the checkpoint marked with the requests to copy or pause tables: %w", err)
		}
	}
	if err := rq.Done(ctx, e.cfg.Pipeline, ids); err != nil {
		return nil, err
	}
	return cp, nil
}

// requested reports, at most once per requestPoll, whether requests wait for the
// pipeline.
func (r *run) requested() (bool, error) {
	rq, ok := r.e.store.(checkpoint.Requester)
	if !ok || time.Since(r.polled) < requestPoll {
		return false, nil
	}
	r.polled = time.Now()
	reqs, err := rq.Requests(r.gctx, r.cfg.Pipeline)
	if err != nil {
		return false, err
	}
	return len(reqs) > 0, nil
}
