// Package runtime builds and supervises one pipeline from its file: the engine's
// configuration and transforms, its connectors, the claim on its state across restarts,
// restarts by fault class, and the states and events a control plane shows (DESIGN §4).
// `weir run` and `weir server` are both thin shells over it.
//
// The state machine, run by Pipeline.run:
//
//	CREATED ─Start─▶ STARTING ─phase snapshot|stream─▶ RUNNING ─────────┐
//	                    ▲   │                             │             │
//	                    │   └──── retryable error ────────┴─▶ RESTARTING│(backoff, then
//	                    └───────────────────────────────────── the next attempt)
//	RUNNING|STARTING|RESTARTING ─Stop─▶ STOPPED   (final checkpoint)
//	                            ─Suspend─▶ SUSPENDED (final checkpoint; resumed later)
//	                            ─Kill─▶ STOPPED   (no final checkpoint: resumes from the last)
//	                            ─bounded source ends, snapshot-only done─▶ FINISHED
//	                            ─error not retryable, attempts spent, panic─▶ FAILED
//
// Every transition is an Event with its reason, handed to Options.OnEvent in order.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/spec"
)

// State is where a pipeline is in its lifecycle.
type State string

// The states.
const (
	Created    State = "CREATED"
	Starting   State = "STARTING"
	Running    State = "RUNNING"
	Restarting State = "RESTARTING"
	Suspended  State = "SUSPENDED"
	Stopped    State = "STOPPED"
	Finished   State = "FINISHED"
	Failed     State = "FAILED"
)

// States lists the states.
var States = []State{Created, Starting, Running, Restarting, Suspended, Stopped, Finished, Failed}

// Terminal reports whether s is a state a pipeline stays in until it is started again.
func (s State) Terminal() bool {
	return s == Suspended || s == Stopped || s == Finished || s == Failed
}

// Event is one transition of a pipeline's state.
type Event struct {
	Time     time.Time `json:"time"`
	Pipeline string    `json:"pipeline"`
	State    State     `json:"state"`
	Phase    string    `json:"phase,omitempty"` // RUNNING: snapshot or stream
	Reason   string    `json:"reason"`
	Error    string    `json:"error,omitempty"`   // RESTARTING, FAILED: the error
	Attempt  int       `json:"attempt,omitempty"` // RESTARTING: the attempt that comes next
	Next     time.Time `json:"next,omitzero"`     // RESTARTING: when it comes
}

// Options are what a pipeline runs with besides its file.
type Options struct {
	Registry *connector.Registry
	// Store keeps the pipeline's checkpoints; the caller opens and closes it.
	Store checkpoint.Store
	// StateDir is the connectors' local state directory.
	StateDir string
	Logger   *slog.Logger
	// Metrics is the set the pipeline's series go to (with its pipeline label); nil: none.
	Metrics *metrics.Set
	// Memory budgets the queues of the process's pipelines; nil: the pipeline's own.
	Memory *Memory
	// OnEvent is called with each transition, in order, from the pipeline's goroutine.
	OnEvent func(Event)
	// OnNotice, when set, is told what else a control plane shows among the pipeline's
	// events (engine.Options.Notify, connector.Env.Notify): a table's snapshot started or
	// finished, a schema change applied, a table paused, a slow checkpoint.
	OnNotice func(kind, table, detail string)
	// Removal names the command that removes what a pipeline failing before its first
	// checkpoint leaves on its servers (LeftBehind); "" leaves that out.
	Removal string
}

// Status is a pipeline's state and counters at one moment.
type Status struct {
	State   State
	Phase   string
	Error   string // the last failure, also while restarting
	Restart *engine.Restart
	Stats   *engine.Stats
	// Output says where the sink writes, for a person (connector.Destination); "" unknown.
	Output string
}

// Pipeline is one pipeline under supervision.
type Pipeline struct {
	spec  *spec.Pipeline
	o     Options
	stats *engine.Stats
	log   *slog.Logger

	mu      sync.Mutex
	state   State
	phase   string
	lastErr string
	output  string
	stop    context.CancelFunc // graceful
	kill    context.CancelFunc // abort
	ending  State              // the state a requested end leads to
	started bool
	done    chan struct{}
	res     *engine.Result
	err     error
}

// New returns pipeline p, CREATED.
func New(p *spec.Pipeline, o Options) *Pipeline {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Memory == nil {
		o.Memory = &Memory{}
	}
	return &Pipeline{spec: p, o: o, stats: &engine.Stats{}, log: o.Logger.With("pipeline", p.Name), state: Created, done: make(chan struct{})}
}

// Name is the pipeline's identifier.
func (p *Pipeline) Name() string { return p.spec.Name }

// Stats are the live counters of the pipeline (all its attempts).
func (p *Pipeline) Stats() *engine.Stats { return p.stats }

// Status returns the pipeline's state now.
func (p *Pipeline) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Status{State: p.state, Phase: p.phase, Error: p.lastErr, Restart: p.stats.Restarting(), Stats: p.stats, Output: p.output}
}

// Start starts the pipeline in its own goroutine; ctx bounds its whole life (cancelling it
// is a Stop). A pipeline starts once: start a new Pipeline to run it again.
func (p *Pipeline) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return fmt.Errorf("pipeline %q was started already", p.spec.Name)
	}
	p.started = true
	stopCtx, stop := context.WithCancel(ctx)
	killCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	p.stop, p.kill, p.ending = stop, kill, Stopped
	p.mu.Unlock()
	p.transition(Event{State: Starting, Reason: "started"})
	go p.run(stopCtx, killCtx)
	return nil
}

// Stop asks the pipeline to stop after a final checkpoint; Wait waits for it.
func (p *Pipeline) Stop() { p.end(Stopped) }

// Suspend is Stop that ends SUSPENDED: the pipeline is meant to resume from its checkpoint.
func (p *Pipeline) Suspend() { p.end(Suspended) }

// Kill ends the pipeline at once, without a final checkpoint: it resumes from the last.
func (p *Pipeline) Kill() {
	p.mu.Lock()
	kill, stop := p.kill, p.stop
	p.ending = Stopped
	p.mu.Unlock()
	if kill != nil {
		kill()
		stop()
	}
}

func (p *Pipeline) end(s State) {
	p.mu.Lock()
	stop := p.stop
	if stop != nil {
		p.ending = s
	}
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Done is closed when the pipeline has reached a terminal state.
func (p *Pipeline) Done() <-chan struct{} { return p.done }

// Wait waits for the pipeline's end and returns how it ended: the result of a run that
// stopped or finished, or the error that failed it.
func (p *Pipeline) Wait() (*engine.Result, error) {
	<-p.done
	return p.res, p.err
}

func (p *Pipeline) transition(e Event) {
	p.mu.Lock()
	e.Time, e.Pipeline = time.Now(), p.spec.Name
	if p.state == e.State && p.phase == e.Phase && e.State != Restarting {
		p.mu.Unlock()
		return
	}
	p.state, p.phase = e.State, e.Phase
	if e.Error != "" {
		p.lastErr = e.Error
	}
	on := p.o.OnEvent
	if m := p.o.Metrics; m != nil {
		for _, s := range States {
			v := 0.0
			if s == e.State {
				v = 1
			}
			m.State.WithLabelValues(p.spec.Name, string(s)).Set(v)
		}
	}
	p.mu.Unlock()
	p.log.Debug("pipeline state", "state", e.State, "phase", e.Phase, "reason", e.Reason)
	if on != nil {
		on(e)
	}
}

// run claims the pipeline and supervises its attempts until it ends.
func (p *Pipeline) run(stopCtx, killCtx context.Context) {
	defer close(p.done)
	res, err := p.supervise(stopCtx, killCtx)
	p.mu.Lock()
	ending := p.ending
	p.mu.Unlock()
	switch {
	case err != nil:
		p.res, p.err = nil, err
		p.transition(Event{State: Failed, Reason: "failed", Error: err.Error()})
	case killCtx.Err() != nil:
		p.res = res
		p.transition(Event{State: Stopped, Reason: "killed: no final checkpoint; it resumes from the last"})
	case res.Finished:
		p.res = res
		p.transition(Event{State: Finished, Reason: "finished: nothing more to copy"})
	default:
		p.res = res
		why := "stopped after a final checkpoint"
		if ending == Suspended {
			why = "suspended after a final checkpoint"
		}
		p.transition(Event{State: ending, Reason: why})
	}
}

func (p *Pipeline) supervise(stopCtx, killCtx context.Context) (res *engine.Result, err error) {
	defer func() { // a panic fails this pipeline, not the process
		if r := recover(); r != nil {
			res, err = nil, fault.AsFatal(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	sp, store := p.spec, p.o.Store
	// Claim the pipeline before opening anything, so that a second runner is refused
	// with a message about the pipeline rather than about one of its connectors; the
	// claim is held across restarts.
	if _, err := store.Acquire(stopCtx, sp.Name); err != nil {
		if stopCtx.Err() != nil {
			return &engine.Result{}, nil
		}
		return nil, fmt.Errorf("claim pipeline %q: %w", sp.Name, err)
	}
	defer store.Release(context.WithoutCancel(stopCtx), sp.Name)
	queue := p.o.Memory.Reserve(sp.Name, sp.QueueMaxBytes)
	defer p.o.Memory.Release(sp.Name)

	cfg := EngineConfig(sp)
	cfg.QueueMaxBytes = queue
	tf, err := Transformer(sp, p.log)
	if err != nil {
		return nil, fault.AsFatal(err)
	}
	env := connector.Env{Pipeline: sp.Name, SourceType: sp.Source.Type, Logger: p.log, StateDir: p.o.StateDir, Parallelism: sp.Parallelism,
		Metrics: p.o.Metrics, SchemaChangeBehavior: sp.SchemaChangeBehavior, Notices: &connector.Notices{}, Notify: p.o.OnNotice}
	hadCheckpoint := false
	if cp, err := store.Load(stopCtx, sp.Name); err == nil && cp != nil {
		hadCheckpoint = true
	}
	checkpointed := func() bool { return hadCheckpoint || p.stats.Checkpoints.Load() > 0 }
	policy := engine.RestartPolicy{Initial: sp.RestartBackoffInitial, Max: sp.RestartBackoffMax, MaxAttempts: sp.RestartMaxAttempts,
		FirstRunMaxAttempts: FirstRunMaxAttempts, Stats: p.stats, Checkpointed: checkpointed}
	onRestart := func(err error) {
		if p.o.Metrics != nil {
			p.o.Metrics.Restarts.WithLabelValues(sp.Name).Inc()
		}
		e := Event{State: Restarting, Reason: "restarting from the last checkpoint after a retryable error", Error: err.Error()}
		if r := p.stats.Restarting(); r != nil {
			e.Attempt, e.Next = r.Attempt, r.Next
		}
		p.transition(e)
	}
	res, err = engine.Supervise(stopCtx, policy, p.log, onRestart, func(ctx context.Context) (res *engine.Result, err error) {
		defer func() {
			if r := recover(); r != nil {
				res, err = nil, fault.AsFatal(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
			}
		}()
		if p.Status().State == Restarting {
			p.transition(Event{State: Starting, Reason: "next attempt"})
		}
		src, sink, err := OpenConnectors(ctx, p.o.Registry, sp, env)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		defer sink.Close()
		if d, ok := sink.(connector.Destination); ok {
			p.mu.Lock()
			p.output = d.Destination()
			p.mu.Unlock()
		}
		opts := engine.Options{Logger: p.log, Metrics: p.o.Metrics, Stats: p.stats, Abort: killCtx, HoldsClaim: true, Notify: p.o.OnNotice,
			OnPhase: func(ph engine.Phase) {
				if ph == engine.PhaseSnapshot || ph == engine.PhaseStream {
					p.transition(Event{State: Running, Phase: ph.String(), Reason: "in its " + ph.String()})
				}
			}}
		if tf != nil {
			opts.Transform = tf
		}
		return engine.New(cfg, src, sink, store, opts).Run(ctx)
	})
	if err != nil && !checkpointed() && p.o.Removal != "" {
		err = fmt.Errorf("%w%s", err, LeftBehind(p.o.Registry, sp, env, p.o.Removal))
	}
	if errors.Is(err, context.Canceled) && killCtx.Err() != nil {
		err = nil
	}
	if err == nil && res == nil {
		res = &engine.Result{}
	}
	return res, err
}
