package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/store"
)

// Upgrades (Flink Kubernetes Operator's model, adapted): every change of a pipeline's
// file is a new version. Applied to a pipeline that runs, the version suspends it at a
// checkpoint and resumes it from that checkpoint, when the change keeps the state
// meaningful: a transform, a route, a new table, a filter, parallelism, rate limits, batch
// and checkpoint settings. A change of what the checkpoint's positions and rows refer to
// (the source's or the sink's type or server, the data a generator makes) is refused with
// the reason, unless a reset is asked: then the pipeline starts over.

// ErrUpgradeRefused: the new version cannot resume from the pipeline's state.
var ErrUpgradeRefused = errors.New("the change cannot keep the pipeline's state")

// identity lists, per side, the settings that say which server or data a checkpoint's
// positions and rows are of.
var identity = []string{"hostname", "port", "database-name", "path", "url", "server-id", "slot.name", "seed", "rows", "tables.exclude"}

// keepsState says why the step from old to new cannot resume from old's state ("" if it
// can).
func keepsState(old, new *spec.Pipeline) string {
	if old.Name != new.Name {
		return fmt.Sprintf("pipeline.name changed (%s → %s): a new name is a new pipeline", old.Name, new.Name)
	}
	for i, pair := range [][2]*spec.Endpoint{{&old.Source, &new.Source}, {&old.Sink, &new.Sink}} {
		side := [...]string{"source", "sink"}[i]
		a, b := pair[0], pair[1]
		if a.Type != b.Type {
			return fmt.Sprintf("%s.type changed (%s → %s)", side, a.Type, b.Type)
		}
		for _, f := range identity {
			if a.Config.Spec.Field(f) == nil {
				continue
			}
			va, vb := a.Config.Values[f], b.Config.Values[f]
			sa, sb := "", ""
			if va != nil {
				sa = va.Raw
			}
			if vb != nil {
				sb = vb.Raw
			}
			if sa != sb {
				return fmt.Sprintf("%s.%s changed (%q → %q): the checkpoint's positions and rows are of the other", side, f, sa, sb)
			}
		}
	}
	return ""
}

// Apply makes file the pipeline's next version (see the package comment on upgrades)
// and returns it; unchanged, it returns the version in force and changed false. reset
// drops the pipeline's checkpoint, so that it starts over.
func (c *Controller) Apply(ctx context.Context, name, file string, reset bool) (version int, changed bool, err error) {
	ws := store.DefaultWorkspace
	if rec, gerr := c.st.Get(ctx, name); gerr == nil {
		ws = rec.Workspace
	}
	p, err := c.ParseIn(ws, file)
	if err != nil {
		if _, gerr := c.st.Get(ctx, name); gerr == nil { // a submission refused is part of the history
			c.st.AddNote(ctx, store.Event{Pipeline: name, Time: time.Now(), State: "REFUSED", Reason: "a new version was refused: the file has problems", Error: err.Error()})
		}
		return 0, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, err := c.st.Version(ctx, name, 0)
	if err != nil {
		return 0, false, err
	}
	if strings.TrimSpace(cur.File) == strings.TrimSpace(file) && !reset {
		return cur.Version, false, nil
	}
	old, err := c.Parse(cur.File)
	if err != nil {
		return 0, false, fmt.Errorf("version %d of pipeline %q no longer parses: %w", cur.Version, name, err)
	}
	if why := keepsState(old, p); why != "" && !reset {
		err := fmt.Errorf("%w: %s; apply with reset to start it over", ErrUpgradeRefused, why)
		c.st.AddNote(ctx, store.Event{Pipeline: name, Time: time.Now(), State: "REFUSED", Reason: "a new version was refused", Error: err.Error()})
		return 0, false, err
	}
	resume, err := c.halt(ctx, name)
	if err != nil {
		return 0, false, err
	}
	if reset {
		if _, err := c.dropState(ctx, name); err != nil {
			return 0, false, err
		}
	}
	if version, err = c.st.AddVersion(ctx, name, file); err != nil {
		return 0, false, err
	}
	c.st.AddNote(ctx, store.Event{Pipeline: name, Time: time.Now(), State: "SUBMITTED", Reason: submitted(version, p)})
	if resume {
		if p.RollbackWithin > 0 {
			c.upgrades[name] = upgrade{version: version, previous: cur.Version, at: time.Now(), within: p.RollbackWithin}
		}
		return version, true, c.launch(ctx, name)
	}
	return version, true, nil
}

// upgrade is an upgrade applied to a running pipeline whose file asks to be rolled back
// if it fails soon (upgrade.rollback-within).
type upgrade struct {
	version, previous int
	at                time.Time
	within            time.Duration
}

// failed rolls the pipeline back to the version before its upgrade if that upgrade asked
// for it and failed within its time (called as the pipeline of version fails), and
// reports whether it does.
func (c *Controller) failed(name string, version int, why string) bool {
	c.mu.Lock()
	u, ok := c.upgrades[name]
	if ok && u.version == version {
		delete(c.upgrades, name)
	}
	c.mu.Unlock()
	if !ok || u.version != version || time.Since(u.at) > u.within {
		return false
	}
	go func() {
		ctx := context.WithoutCancel(c.ctx)
		reason := fmt.Sprintf("version %d failed %s after its upgrade (within upgrade.rollback-within %s): rolled back to version %d", version,
			time.Since(u.at).Round(time.Second), u.within, u.previous)
		c.st.AddNote(ctx, store.Event{Pipeline: name, Time: time.Now(), State: "ROLLED_BACK", Reason: reason, Error: why})
		if _, err := c.Rollback(ctx, name, u.previous); err != nil {
			c.log.Error("could not roll a failed upgrade back", "pipeline", name, "version", version, "err", err)
			c.st.AddEvent(ctx, store.Event{Pipeline: name, Time: time.Now(), State: string(runtime.Failed), Reason: "the rollback failed", Error: err.Error()})
			return
		}
		c.log.Warn("rolled a failed upgrade back", "pipeline", name, "from", version, "to", u.previous, "err", why)
	}()
	return true
}

// Rollback puts an earlier version in force (0: the one before the version in force),
// with the checks of Apply; a pipeline that runs resumes with it from its checkpoint.
func (c *Controller) Rollback(ctx context.Context, name string, to int) (int, error) {
	c.mu.Lock()
	cur, err := c.st.Version(ctx, name, 0)
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if to == 0 {
		to = cur.Version - 1
	}
	if to < 1 || to == cur.Version {
		return 0, fmt.Errorf("pipeline %q: no version %d to roll back to from %d: %w", name, to, cur.Version, ErrUpgradeRefused)
	}
	target, err := c.st.Version(ctx, name, to)
	if err != nil {
		return 0, err
	}
	p, err := c.Parse(target.File)
	if err != nil {
		return 0, err
	}
	old, err := c.Parse(cur.File)
	if err != nil {
		return 0, err
	}
	if why := keepsState(old, p); why != "" {
		return 0, fmt.Errorf("%w: %s", ErrUpgradeRefused, why)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	resume, err := c.halt(ctx, name)
	if err != nil {
		return 0, err
	}
	if err := c.st.SetVersion(ctx, name, to); err != nil {
		return 0, err
	}
	if resume {
		return to, c.launch(ctx, name)
	}
	return to, nil
}

// halt suspends the pipeline at a checkpoint if it runs here, and reports whether it
// should run again afterwards. c.mu is held (and let go while it waits).
func (c *Controller) halt(ctx context.Context, name string) (bool, error) {
	rec, err := c.st.Get(ctx, name)
	if err != nil {
		return false, err
	}
	if pl := c.runs[name]; pl != nil && active(pl.Status().State) {
		pl.Suspend()
		c.mu.Unlock()
		<-pl.Done()
		c.mu.Lock()
		if s := pl.Status().State; s == runtime.Failed {
			return false, fmt.Errorf("pipeline %q failed while it was suspended for the change: %s", name, pl.Status().Error)
		}
	}
	return rec.Desired == "RUNNING", nil
}

// dropState removes everything the pipeline keeps (runtime.Traces): its checkpoint, its
// replication slot and publication, the sink's checkpoint row; its next start starts over.
// It must not run. It returns what it removed.
func (c *Controller) dropState(ctx context.Context, name string) ([]string, error) {
	v, err := c.st.Version(ctx, name, 0)
	if err != nil {
		return nil, err
	}
	p, err := c.Parse(v.File)
	if err != nil {
		return nil, err
	}
	gen, err := c.cps.Acquire(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("claim pipeline %q to drop its state: %w", name, err)
	}
	defer c.cps.Release(context.WithoutCancel(ctx), name)
	env := connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: c.log, StateDir: filepath.Join(c.dataDir, "state"),
		Parallelism: p.Parallelism, SchemaChangeBehavior: p.SchemaChangeBehavior, Role: "reset"}
	traces, closeTraces, err := runtime.Traces(ctx, c.reg, p, env, c.cps, gen, "in the server's state")
	if err != nil {
		return nil, fmt.Errorf("list what pipeline %q keeps: %w", name, err)
	}
	defer closeTraces()
	if err := runtime.DropTraces(ctx, traces); err != nil {
		return nil, fmt.Errorf("drop the state of pipeline %q: %w", name, err)
	}
	var what []string
	for _, t := range traces {
		what = append(what, t.What)
	}
	return what, nil
}

// Reset removes everything a pipeline that does not run keeps (dropState): started
// again, it starts over. It returns what it removed.
func (c *Controller) Reset(ctx context.Context, name string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, err := c.st.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	s, _ := c.stateOfLocked(rec)
	if active(s) {
		return nil, &ConflictError{Action: "reset", State: s}
	}
	return c.dropState(ctx, name)
}

// Resnapshot asks the pipeline to copy tables again beside its stream: a running
// pipeline takes the request at its next checkpoint, a stopped one when it next starts.
// A table paused (on request, or by its sink) is resumed so.
func (c *Controller) Resnapshot(ctx context.Context, name string, tables []string) error {
	if err := c.request(ctx, name, "resnapshot", checkpoint.NewRequest(tables)); err != nil {
		return err
	}
	c.pausedMu.Lock() // copied again, a table is out of pause
	for _, t := range tables {
		delete(c.paused[name], t)
	}
	c.pausedMu.Unlock()
	return nil
}

// PauseTables asks the pipeline to write no more rows of tables, while the others go on:
// a running pipeline takes the request at its next checkpoint, a stopped one when it
// next starts. Resnapshot resumes them.
func (c *Controller) PauseTables(ctx context.Context, name string, tables []string) error {
	return c.request(ctx, name, "pause tables", checkpoint.NewPauseRequest(tables))
}

// request leaves req for the pipeline, its table names checked against its checkpoint.
func (c *Controller) request(ctx context.Context, name, action string, req checkpoint.Request) error {
	if _, err := c.st.Get(ctx, name); err != nil {
		return err
	}
	rq, ok := c.cps.(checkpoint.Requester)
	if !ok {
		return fmt.Errorf("this checkpoint store cannot carry requests")
	}
	cp, err := c.cps.Load(ctx, name)
	if err != nil {
		return err
	}
	if cp == nil {
		return &ConflictError{Action: action, State: runtime.Created, Why: req.WithoutCheckpoint()}
	}
	if err := req.Mark(cp); err != nil { // only to check the names
		return &BadRequest{Err: err}
	}
	return rq.Request(ctx, name, req)
}

// submitted says what a version's validation said of it, for the pipeline's history.
func submitted(version int, p *spec.Pipeline) string {
	why := fmt.Sprintf("version %d submitted: valid", version)
	if len(p.Notes) > 0 {
		why += "; " + strings.Join(p.Notes, "; ")
	}
	return why
}
