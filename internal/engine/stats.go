package engine

import (
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
	phase          atomic.Int32
	RowsIn         atomic.Int64 // changes received from the source
	RowsOut        atomic.Int64 // changes applied by the sink writers
	Durable        atomic.Int64 // changes covered by the last checkpoint (all runs)
	ChunksDone     atomic.Int64
	ChunksSplit    atomic.Int64
	SplitFinished  atomic.Bool // every table of the snapshot is split
	Checkpoints    atomic.Int64
	lastCheckpoint atomic.Int64 // unix nanos
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
