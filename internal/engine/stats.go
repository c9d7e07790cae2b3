package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Phase is where a run is in its phase machine (see Engine.Run).
type Phase int32

// The phases.
const (
	PhaseResolve Phase = iota
	PhaseSnapshot
	PhaseStream
	PhaseFinished
)

func (p Phase) String() string {
	switch p {
	case PhaseSnapshot:
		return "snapshot"
	case PhaseStream:
		return "stream"
	case PhaseFinished:
		return "finished"
	}
	return "resolve"
}

// Stats are a run's live counters, safe to read from any goroutine (progress lines,
// the control plane) while the run writes them.
type Stats struct {
	phase         atomic.Int32
	RowsIn        atomic.Int64 // changes received from the source
	RowsOut       atomic.Int64 // changes applied by the sink writers
	Durable       atomic.Int64 // changes covered by the last checkpoint (all runs)
	ChunksDone    atomic.Int64
	ChunksSplit   atomic.Int64
	SplitFinished atomic.Bool // every table of the snapshot is split
	Checkpoints   atomic.Int64
	// SnapshotRows and SnapshotEstimate are the snapshot's rows read (all runs) and the
	// sources' estimate of all its tables' rows (0: unknown), for progress and its ETA.
	SnapshotRows     atomic.Int64
	SnapshotEstimate atomic.Int64
	lastCheckpoint   atomic.Int64 // unix nanos
	restart          atomic.Pointer[Restart]
	ready            sync.Map // table name → struct{}: its snapshot and its indexes are in the sink
}

// TableReady reports whether table (as TableID.String names it) is ready: its snapshot
// is in the sink and so are its indexes (engine/indexes.go).
func (s *Stats) TableReady(table string) bool {
	_, ok := s.ready.Load(table)
	return ok
}

// Restart is what Supervise last knew of a pipeline it restarts: the error, which attempt
// comes next, and when. It stays set until a run reaches its snapshot or stream.
type Restart struct {
	Err     string
	Attempt int
	Next    time.Time
}

// Restarting returns the restart in progress, nil when the run is not restarting.
func (s *Stats) Restarting() *Restart { return s.restart.Load() }

// Ready reports whether the pipeline is connected and moving (in its snapshot or stream,
// not restarting) or finished, with the reason either way (the body of /readyz).
func (s *Stats) Ready(now time.Time) (bool, string) {
	if r := s.Restarting(); r != nil {
		wait := "now"
		if d := r.Next.Sub(now); d > 0 {
			wait = "in " + d.Round(time.Millisecond).String()
		}
		return false, fmt.Sprintf("not ready: restarting (attempt %d %s) after: %s", r.Attempt, wait, r.Err)
	}
	switch p := s.Phase(); p {
	case PhaseSnapshot, PhaseStream, PhaseFinished:
		return true, "ready " + p.String()
	}
	return false, "not ready: starting (connecting to the source and the sink, resolving tables)"
}

// Live is the body of /healthz: the process is working, also while it restarts with backoff.
func (s *Stats) Live() string {
	if r := s.Restarting(); r != nil {
		return fmt.Sprintf("ok restarting (attempt %d): %s", r.Attempt, r.Err)
	}
	return "ok " + s.Phase().String()
}

// Phase returns the current phase.
func (s *Stats) Phase() Phase { return Phase(s.phase.Load()) }

func (s *Stats) setPhase(p Phase) { s.phase.Store(int32(p)) }

// LastCheckpoint returns when the last checkpoint was taken (zero if none yet).
func (s *Stats) LastCheckpoint() time.Time {
	n := s.lastCheckpoint.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
