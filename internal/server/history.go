package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/spec"
)

// History: the server keeps, for each pipeline that runs here, a sample of its counters
// every historyEvery for the last historyKeep (360 samples, a few KB each), so that a
// chart of its last hour — rows per second, lag — needs no Prometheus. A server that
// restarts starts its history again.

const (
	historyEvery = 10 * time.Second
	historyKeep  = time.Hour
)

// Sample is a pipeline's counters at a time.
type Sample struct {
	Time       time.Time `json:"time"`
	RowsIn     int64     `json:"rows_in"`
	RowsOut    int64     `json:"rows_out"`
	LagSeconds float64   `json:"lag_seconds"`
}

// History is a pipeline's samples, oldest first.
type History struct {
	Every   string   `json:"every"`
	Samples []Sample `json:"samples"`
}

// history holds the samples of every pipeline.
type history struct {
	mu sync.Mutex
	by map[string][]Sample
}

// add appends a sample, dropping what is older than historyKeep.
func (h *history) add(name string, s Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.by == nil {
		h.by = map[string][]Sample{}
	}
	ss := append(h.by[name], s)
	cut := 0
	for cut < len(ss) && s.Time.Sub(ss[cut].Time) > historyKeep {
		cut++
	}
	h.by[name] = ss[cut:]
}

func (h *history) of(name string) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Sample{}, h.by[name]...)
}

// sample takes a sample of every pipeline that runs here.
func (c *Controller) sample(now time.Time) {
	c.mu.Lock()
	samples := make(map[string]Sample, len(c.runs))
	for name, pl := range c.runs {
		if pl != nil {
			st := pl.Status().Stats
			samples[name] = Sample{Time: now, RowsIn: st.RowsIn.Load(), RowsOut: st.RowsOut.Load()}
		}
	}
	c.mu.Unlock()
	for name, s := range samples {
		s.LagSeconds = c.lag(name)
		c.hist.add(name, s)
	}
}

// historyLoop samples every historyEvery while the server lives.
func (c *Controller) historyLoop(ctx context.Context) {
	t := time.NewTicker(historyEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.sample(now)
		}
	}
}

func (a *api) history(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := a.c.st.Get(r.Context(), name); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, History{Every: historyEvery.String(), Samples: a.c.hist.of(name)})
}

// ValidateRequest is a pipeline file to check.
type ValidateRequest struct {
	File string `json:"file"`
}

// Validation is what a check of a pipeline file found: its problems (none: valid), the
// pipeline's name and, valid, its tables.
type Validation struct {
	Valid    bool      `json:"valid"`
	Name     string    `json:"name,omitempty"`
	Problems []Problem `json:"problems"`
}

// validate checks a file as a create in the workspace would (its connections, grants,
// clearance), creating nothing.
func (a *api) validate(w http.ResponseWriter, r *http.Request) {
	var req ValidateRequest
	if !decode(w, r, &req) {
		return
	}
	out := Validation{Problems: []Problem{}}
	p, err := a.c.ParseIn(workspaceOf(r.Context()), req.File)
	var probs spec.Problems
	switch {
	case err == nil:
		out.Valid, out.Name = true, p.Name
	case errors.As(err, &probs):
		for _, p := range probs {
			out.Problems = append(out.Problems, Problem{Line: p.Line, Column: p.Col, Path: p.Path, Message: p.Msg})
		}
	default:
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

var historyRoutes = []route{
	{method: "GET", path: "/api/v1/pipelines/{name}/history", id: "pipelineHistory", perm: auth.ReadPipelines,
		summary: "A pipeline's counters sampled every 10 s over the last hour (while it runs on this server), oldest first",
		params:  []param{nameParam}, out: History{}, status: 200, errors: []int{401, 403, 404}, h: (*api).history},
	{method: "POST", path: "/api/v1/validate", id: "validatePipeline", perm: auth.ReadPipelines,
		summary: "Check a pipeline file as a create in this workspace would (connections, grants, clearance), creating nothing: its problems with line and column",
		in:      ValidateRequest{}, out: Validation{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).validate},
}
