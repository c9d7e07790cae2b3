package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/store"
)

// Controller makes each pipeline's observed state follow its desired state, as the store
// keeps it (desired versus observed, as the Flink Kubernetes Operator has it). It runs the
// pipelines of this server in this process through internal/runtime.
//
// Lifecycle actions and the states they are legal from (others answer ErrConflict, with
// the current state; an action asked again in the state it leads to does nothing):
//
//	start    CREATED, STOPPED, SUSPENDED, FAILED, FINISHED     → STARTING …
//	stop     STARTING, RUNNING, RESTARTING, SUSPENDED           → STOPPED (final checkpoint)
//	suspend  STARTING, RUNNING, RESTARTING                      → SUSPENDED (final checkpoint)
//	resume   SUSPENDED                                          → STARTING …
//	restart  any                                                → stopped, then STARTING …
type Controller struct {
	st         *store.Store
	reg        *connector.Registry
	cps        checkpoint.Store
	dataDir    string
	log        *slog.Logger
	metrics    *metrics.Set
	mem        *runtime.Memory
	keys       *auth.Keyring
	allowEnv   []string
	lineageURL string
	alertRules []Rule           // the server's alert rules (its alerter's), under the workspaces' own
	lineageQ   chan lineagePost // OpenLineage events to post, in order (openlineage.go)
	lineageEnd context.CancelFunc

	requireConnections bool

	ctx context.Context // the server's life: pipelines run under it

	mu   sync.Mutex
	runs map[string]*runtime.Pipeline // the latest runtime of each pipeline started here
	hist history                      // their counters over the last hour (history.go)

	logMu sync.Mutex
	logs  map[string]*pipelineLog

	// With a shared store (lease.go): who this server is, how long its leases last, and
	// the generation of each lease it holds.
	holder string
	ttl    time.Duration
	leases map[string]int64

	upgrades map[string]upgrade // upgrades to roll back if they fail soon (upgrade.go)

	pausedMu sync.Mutex
	paused   map[string]map[string]string // pipeline → table → why: tables its sink paused, until copied again

	relaunchAfter time.Duration // the first wait before a FAILED pipeline that should run is started again; 0: never
	relaunchMu    sync.Mutex
	relaunches    map[string]int // pipeline → relaunches since it last reached RUNNING
}

// relaunchLater starts a pipeline that failed (pl) again after a backoff, if it still
// should run and nothing started it meanwhile: the last layer of recovery, after the
// runtime's restarts from the checkpoint gave up. The wait doubles at each relaunch that
// does not reach RUNNING, up to an hour.
func (c *Controller) relaunchLater(name string, pl *runtime.Pipeline) {
	if c.relaunchAfter <= 0 {
		return
	}
	c.relaunchMu.Lock()
	n := c.relaunches[name]
	c.relaunches[name] = n + 1
	c.relaunchMu.Unlock()
	wait := min(c.relaunchAfter<<min(n, 10), time.Hour)
	c.log.Warn("a pipeline failed: starting it again later", "pipeline", name, "in", wait, "relaunch", n+1)
	time.AfterFunc(wait, func() {
		if c.ctx.Err() != nil {
			return
		}
		ctx := context.WithoutCancel(c.ctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		rec, err := c.st.Get(ctx, name)
		if err != nil || rec.Desired != store.Run || c.runs[name] != pl {
			return // deleted, stopped, or started since
		}
		c.st.AddNote(ctx, store.Event{Pipeline: name, Time: time.Now(), State: "RELAUNCHED",
			Reason: fmt.Sprintf("started again %s after it failed (relaunch %d)", wait, n+1)})
		if err := c.launch(ctx, name); err != nil {
			c.log.Error("could not start a failed pipeline again", "pipeline", name, "err", err)
		}
	})
}

// Paused returns the tables the pipeline's sink has paused (since this server started),
// with why.
func (c *Controller) Paused(name string) map[string]string {
	c.pausedMu.Lock()
	defer c.pausedMu.Unlock()
	out := map[string]string{}
	for t, why := range c.paused[name] {
		out[t] = why
	}
	return out
}

// ErrConflict: the action is not legal in the pipeline's current state.
var ErrConflict = errors.New("not legal in the pipeline's state")

// ConflictError is an illegal transition, with the state the pipeline is in.
type ConflictError struct {
	Action string
	State  runtime.State
	Why    string // "" for the default hint
}

// BadRequest is a request whose content is wrong (400).
type BadRequest struct{ Err error }

func (e *BadRequest) Error() string { return e.Err.Error() }
func (e *BadRequest) Unwrap() error { return e.Err }

func (e *ConflictError) Error() string {
	hint := ""
	switch {
	case e.Why != "":
		hint = ": " + e.Why
	case e.Action == "resume":
		hint = ": only a SUSPENDED pipeline resumes; use start"
	case e.State == runtime.Finished || e.State == runtime.Failed || e.State == runtime.Created:
		hint = ": it does not run; use start"
	}
	return fmt.Sprintf("cannot %s a pipeline that is %s%s", e.Action, e.State, hint)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// Options configure a controller.
type Options struct {
	Store       *store.Store
	Registry    *connector.Registry
	Checkpoints checkpoint.Store
	DataDir     string
	Logger      *slog.Logger
	Metrics     *metrics.Set
	Memory      *runtime.Memory
	// LeaseTTL is how long a lease lasts without renewal (a shared store); 0: 15 s.
	LeaseTTL time.Duration
	// RelaunchAfter is the first wait before a FAILED pipeline that should run is started
	// again (doubling to an hour); 0: never.
	RelaunchAfter time.Duration
	// Keys seal and open connections' credentials (nil: connections hold none).
	Keys *auth.Keyring
	// LineageURL receives OpenLineage run events ("": none; openlineage.go).
	LineageURL string
	// RequireConnections: a pipeline's source and sink reach their servers only through
	// connections (--require-connections); else a file may also hold them inline.
	RequireConnections bool
	// AllowEnv names the environment variables a pipeline file may read with ${NAME}
	// (--allow-env); none by default: ${…} would read the server's own secrets.
	AllowEnv []string
}

// NewController returns a controller; Boot starts what should run.
func NewController(ctx context.Context, o Options) *Controller {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Memory == nil {
		o.Memory = &runtime.Memory{}
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 15 * time.Second
	}
	c := &Controller{st: o.Store, reg: o.Registry, cps: o.Checkpoints, dataDir: o.DataDir, log: o.Logger, metrics: o.Metrics,
		mem: o.Memory, ctx: ctx, runs: map[string]*runtime.Pipeline{}, logs: map[string]*pipelineLog{},
		holder: holderID(), ttl: o.LeaseTTL, leases: map[string]int64{}, upgrades: map[string]upgrade{}, paused: map[string]map[string]string{},
		relaunchAfter: o.RelaunchAfter, relaunches: map[string]int{}, keys: o.Keys, allowEnv: o.AllowEnv, lineageURL: o.LineageURL, requireConnections: o.RequireConnections}
	c.lineageEnd = func() {}
	if c.lineageURL != "" {
		c.lineageQ = make(chan lineagePost, 1000)
		lctx, end := context.WithCancel(ctx)
		c.lineageEnd = end
		go c.postLineage(lctx)
	}
	return c
}

// Boot starts every pipeline whose desired state is RUNNING: after a restart of the
// server (or a crash), each resumes from its checkpoint.
func (c *Controller) Boot(ctx context.Context) error {
	go c.sweepLoop(c.ctx)
	go c.historyLoop(c.ctx)
	if c.st.Shared() { // the lease loop claims what should run
		go c.leaseLoop(c.ctx)
		return nil
	}
	if err := c.st.EndLostRuns(ctx, string(runtime.Stopped), "the server ended without ending the run (killed or crashed); the next run resumed from the last checkpoint"); err != nil {
		return fmt.Errorf("end the runs of the server's last life: %w", err)
	}
	ps, err := c.st.List(ctx)
	if err != nil {
		return fmt.Errorf("list the pipelines to resume: %w", err)
	}
	for _, p := range ps {
		if p.Desired != store.Run {
			continue
		}
		c.mu.Lock()
		err := c.launch(ctx, p.Name)
		c.mu.Unlock()
		if err != nil {
			c.log.Error("could not resume a pipeline", "pipeline", p.Name, "err", err)
		}
	}
	return nil
}

// Parse reads a pipeline file as the server takes it: untrusted, so no ${ENV} and no path
// outside the data directory (a connector's path is relative, under DATA/files).
func (c *Controller) Parse(file string) (*spec.Pipeline, error) { return c.ParseIn("", file) }

// maxPerWorkspace bounds what a workspace holds of each kind (pipelines, connections,
// tokens): a server's requests are untrusted, and its store and lists are not endless.
var maxPerWorkspace = 1000

// bounded refuses one more of kind in workspace ws when it holds maxPerWorkspace.
func (c *Controller) bounded(ctx context.Context, kind, ws string) error {
	n := 0
	switch kind {
	case "pipelines":
		recs, err := c.st.List(ctx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Workspace == ws {
				n++
			}
		}
	case "connections":
		cs, err := c.st.Connections(ctx, ws)
		if err != nil {
			return err
		}
		n = len(cs)
	case "tokens":
		ts, err := c.st.Tokens(ctx, ws)
		if err != nil {
			return err
		}
		n = len(ts)
	}
	if n >= maxPerWorkspace {
		return &ConflictError{Action: "create", Why: fmt.Sprintf("workspace %s holds %d %s, the most a workspace may: remove some first", ws, n, kind)}
	}
	return nil
}

// reachesOut reports whether an endpoint's connector reaches a server of its own (it has a
// host, a URL or brokers to set), as opposed to datagen, files or the console.
func reachesOut(ep *spec.Endpoint) bool {
	for _, f := range []string{"hostname", "url", "properties.bootstrap.servers"} {
		if ep.Config.Spec.Field(f) != nil {
			return true
		}
	}
	return false
}

// lookupEnv is ${NAME} in a pipeline file on the server: only the variables an admin
// allowed (--allow-env), else unset, as though the server had none.
func (c *Controller) lookupEnv(name string) (string, bool) {
	if !slices.Contains(c.allowEnv, name) {
		return "", false
	}
	return os.LookupEnv(name)
}

// ParseIn is Parse for a pipeline of workspace ws: a connection it names must be ws's, or
// granted to ws (and then its tables within the grant's); else it is as unknown as one
// that is not ("": any, for a file read for what it says, not to run).
func (c *Controller) ParseIn(ws, file string) (*spec.Pipeline, error) {
	conns := c.connectionSettings
	granted := map[string]*store.Grant{}
	if ws != "" {
		conns = func(name string) (string, map[string]string, error) {
			conn, err := c.st.GetConnection(context.Background(), name)
			if err == nil && conn.Workspace != ws {
				g, err := c.st.ActiveGrant(context.Background(), name, ws, time.Now())
				if err != nil {
					return "", nil, err
				}
				if g == nil {
					return "", nil, errNoConnection(name)
				}
				granted[name] = g
			}
			return c.connectionSettings(name)
		}
	}
	p, err := spec.ParseWithConnections("pipeline.yaml", []byte(file), c.reg, c.lookupEnv, conns)
	if err != nil {
		return nil, err
	}
	if err := c.withinGrants(p, granted); err != nil {
		return nil, err
	}
	if ws != "" {
		if err := c.aboveClearance(ws, p); err != nil {
			return nil, err
		}
	}
	var probs spec.Problems
	if p.Settings == nil || !p.Settings.IsSet("name") {
		probs = append(probs, spec.Problem{File: "pipeline.yaml", Path: "pipeline.name", Msg: "a pipeline on a server needs a name: set pipeline.name"})
	}
	if c.requireConnections && ws != "" {
		for i, ep := range []*spec.Endpoint{&p.Source, &p.Sink} {
			kind := [...]string{"source", "sink"}[i]
			if ep.Connection == "" && reachesOut(ep) {
				probs = append(probs, spec.Problem{File: "pipeline.yaml", Line: ep.Line, Path: kind,
					Msg: fmt.Sprintf("on this server a %s reaches its server only through a connection: name one (connection: NAME; weir connection list) instead of its host and credentials", kind)})
			}
		}
	}
	for i, ep := range []*spec.Endpoint{&p.Source, &p.Sink} {
		kind := [...]string{"source", "sink"}[i]
		v := ep.Config.Values["path"]
		if ep.Config.Spec.Field("path") == nil || v == nil || !v.Set {
			continue
		}
		clean := filepath.Clean(v.Str)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			probs = append(probs, spec.Problem{File: "pipeline.yaml", Path: kind + ".path",
				Msg: fmt.Sprintf("%q is outside the server's data directory: on a server a path is relative, under DATA/files", v.Str)})
			continue
		}
		v.Str = filepath.Join(c.dataDir, "files", clean)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return p, nil
}

// Create stores a new pipeline from file, started unless start is false. Created again
// with the same file (a client's retry), it answers the pipeline as it is (created is
// false); with another file, store.ErrExists.
func (c *Controller) Create(ctx context.Context, file string, start bool) (rec *store.Pipeline, created bool, err error) {
	p, err := c.ParseIn(workspaceOf(ctx), file)
	if err != nil {
		return nil, false, err
	}
	if err := c.bounded(ctx, "pipelines", workspaceOf(ctx)); err != nil {
		return nil, false, err
	}
	desired := store.Stop
	if start {
		desired = store.Run
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, err = c.st.CreateIn(ctx, workspaceOf(ctx), p.Name, file, desired)
	if errors.Is(err, store.ErrExists) {
		if v, verr := c.st.Version(ctx, p.Name, 0); verr == nil && v.File == file {
			existing, gerr := c.st.Get(ctx, p.Name)
			return existing, false, gerr
		}
		return nil, false, fmt.Errorf("%w with another file; to change it, apply the file (PUT, weir pipeline apply)", err)
	}
	if err != nil {
		return nil, false, err
	}
	c.st.AddNote(ctx, store.Event{Pipeline: p.Name, Time: time.Now(), State: "SUBMITTED", Reason: submitted(1, p)})
	if start {
		if err := c.launch(ctx, p.Name); err != nil {
			return nil, false, err
		}
	}
	return rec, true, nil
}

// StateOf returns the observed state of the pipeline rec is the record of: its runtime's
// in this process, else the last the store knows.
func (c *Controller) StateOf(rec *store.Pipeline) (runtime.State, *runtime.Pipeline) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stateOfLocked(rec)
}

func (c *Controller) stateOfLocked(rec *store.Pipeline) (runtime.State, *runtime.Pipeline) {
	pl := c.runs[rec.Name]
	if pl != nil {
		return pl.Status().State, pl
	}
	s := runtime.State(rec.Observed)
	if !s.Terminal() && s != runtime.Created && !c.st.Shared() { // it ran in a process that is gone
		s = runtime.Stopped
	}
	return s, nil
}

func active(s runtime.State) bool {
	return s == runtime.Starting || s == runtime.Running || s == runtime.Restarting
}

// Act performs a lifecycle action on the pipeline (see Controller).
func (c *Controller) Act(ctx context.Context, name, action string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, err := c.st.Get(ctx, name)
	if err != nil {
		return err
	}
	pl := c.runs[name]
	s := runtime.State(rec.Observed)
	if pl != nil {
		s = pl.Status().State
	} else if active(s) {
		s = runtime.Stopped
	}
	conflict := &ConflictError{Action: action, State: s}
	switch action {
	case "start":
		if active(s) {
			return nil
		}
		return c.startDesired(ctx, name)
	case "resume":
		switch {
		case active(s):
			return nil
		case s != runtime.Suspended:
			return conflict
		}
		return c.startDesired(ctx, name)
	case "stop", "suspend":
		end, desired := runtime.Stopped, store.Stop
		if action == "suspend" {
			end, desired = runtime.Suspended, store.Suspend
		}
		switch {
		case s == end:
			return nil
		case !active(s) && !(action == "stop" && s == runtime.Suspended):
			return conflict
		}
		if err := c.st.SetDesired(ctx, name, desired); err != nil {
			return err
		}
		if pl == nil && active(s) && c.st.Shared() { // another server runs it: its lease loop stops it
			return nil
		}
		if pl != nil && active(s) {
			if action == "suspend" {
				pl.Suspend()
			} else {
				pl.Stop()
			}
			c.mu.Unlock()
			<-pl.Done()
			c.mu.Lock()
		}
		if pl == nil || !active(s) { // nothing runs: record the end
			return c.st.AddEvent(ctx, store.Event{Pipeline: name, Time: time.Now(), State: string(end), Reason: action + " asked while it did not run"})
		}
		return nil
	case "restart":
		if pl != nil && active(s) {
			pl.Stop()
			c.mu.Unlock()
			<-pl.Done()
			c.mu.Lock()
		}
		return c.startDesired(ctx, name)
	}
	return fmt.Errorf("unknown action %q", action)
}

func (c *Controller) startDesired(ctx context.Context, name string) error {
	if err := c.st.SetDesired(ctx, name, store.Run); err != nil {
		return err
	}
	return c.launch(ctx, name)
}

// launch starts the pipeline's version in force in a new runtime. c.mu is held.
func (c *Controller) launch(ctx context.Context, name string) error {
	if pl := c.runs[name]; pl != nil && !pl.Status().State.Terminal() && pl.Status().State != runtime.Created {
		return nil
	}
	if ok, err := c.claim(ctx, name); err != nil || !ok { // another server runs it
		return err
	}
	v, err := c.st.Version(ctx, name, 0)
	if err != nil {
		return err
	}
	ws := store.DefaultWorkspace
	if rec, err := c.st.Get(ctx, name); err == nil {
		ws = rec.Workspace
	}
	p, err := c.ParseIn(ws, v.File) // a grant it relied on may have ended since
	if err != nil {
		return fmt.Errorf("version %d of pipeline %q no longer parses: %w", v.Version, name, err)
	}
	c.auditConnections(ctx, name, p)
	run, err := c.st.StartRun(ctx, name, v.Version)
	if err != nil {
		return fmt.Errorf("record the run of pipeline %q: %w", name, err)
	}
	var pl *runtime.Pipeline
	sent := map[string]bool{} // the OpenLineage events of this run posted
	pl = runtime.New(p, runtime.Options{Registry: c.reg, Store: c.cps, StateDir: filepath.Join(c.dataDir, "state"), Logger: c.loggerFor(name),
		Metrics: c.metrics, Memory: c.mem, OnEvent: func(e runtime.Event) {
			c.emitLineage(name, run, p, e.State, sent)
			bg := context.WithoutCancel(c.ctx)
			se := store.Event{Pipeline: name, Time: e.Time, State: string(e.State), Phase: e.Phase, Reason: e.Reason, Error: e.Error}
			if err := c.st.AddEvent(bg, se); err != nil {
				c.log.Error("could not record an event", "pipeline", name, "err", err)
			}
			if e.State.Terminal() {
				if err := c.st.EndRun(bg, run, string(e.State), e.Error); err != nil {
					c.log.Error("could not record the end of a run", "pipeline", name, "err", err)
				}
			}
			switch e.State {
			case runtime.Failed:
				if !c.failed(name, v.Version, e.Error) {
					c.relaunchLater(name, pl)
				}
			case runtime.Running:
				c.relaunchMu.Lock()
				delete(c.relaunches, name)
				c.relaunchMu.Unlock()
			}
		},
		OnNotice: func(kind, table, detail string) {
			reason := detail
			if table != "" {
				reason = table + ": " + detail
			}
			if err := c.st.AddNote(context.WithoutCancel(c.ctx), store.Event{Pipeline: name, Time: time.Now(), State: strings.ToUpper(kind), Reason: reason}); err != nil {
				c.log.Error("could not record an event", "pipeline", name, "err", err)
			}
			if kind == "table_paused" {
				c.pausedMu.Lock()
				if c.paused[name] == nil {
					c.paused[name] = map[string]string{}
				}
				c.paused[name][table] = detail
				c.pausedMu.Unlock()
			}
		}})
	c.runs[name] = pl
	return pl.Start(c.ctx)
}

// Delete stops the pipeline (at a checkpoint) and removes it; with dropState its
// checkpoint goes too, so a pipeline created again under the name starts over.
func (c *Controller) Delete(ctx context.Context, name string, dropState bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.st.Get(ctx, name); err != nil {
		return err
	}
	if pl := c.runs[name]; pl != nil {
		pl.Stop()
		c.mu.Unlock()
		<-pl.Done()
		c.mu.Lock()
		delete(c.runs, name)
	}
	if dropState {
		if _, err := c.dropState(ctx, name); err != nil {
			return err
		}
	}
	c.closeLog(name)
	return c.st.Delete(ctx, name)
}

// Shutdown stops every pipeline at a checkpoint, waiting up to bound, then kills those
// still running.
func (c *Controller) Shutdown(bound time.Duration) {
	defer c.lineageStop()
	c.mu.Lock()
	pls := make([]*runtime.Pipeline, 0, len(c.runs))
	for _, pl := range c.runs {
		pls = append(pls, pl)
	}
	c.mu.Unlock()
	for _, pl := range pls {
		pl.Stop()
	}
	defer c.yieldAll(context.Background())
	deadline := time.After(bound)
	for _, pl := range pls {
		select {
		case <-pl.Done():
		case <-deadline:
			for _, p := range pls {
				p.Kill()
			}
			for _, p := range pls {
				<-p.Done()
			}
			return
		}
	}
}
