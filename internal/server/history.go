package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/preview"
	"github.com/weir-data/weir/internal/runtime"
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
	{method: "POST", path: "/api/v1/preview", id: "previewPipeline", perm: auth.WritePipelines,
		summary: "What a pipeline file would write, writing nothing: each sink table's schema and first rows through the transforms and routes (the file checked as a create would check it)",
		in:      PreviewRequest{}, out: PipelinePreview{}, status: 200, errors: []int{400, 401, 403, 404, 422}, h: (*api).pipelinePreview},
}

// PreviewRequest asks what a pipeline file would write: the first rows of each sink
// table (at most 20), through its transforms and routes.
type PreviewRequest struct {
	File  string `json:"file"`
	Limit int    `json:"limit"`
}

// PipelinePreview is what each sink table would receive, as `weir preview` prints it:
// its schema (merged shards' widened; each column with the type the sink gives it) and
// its first rows as JSON objects.
type PipelinePreview struct {
	Text string `json:"text"`
}

// previewTimeout bounds a preview's reading of its source.
const previewTimeout = 30 * time.Second

// pipelinePreview runs a file's source and transforms on a sample, writing nothing; the
// file is checked as a create would check it (its connections, grants, clearance), so a
// preview shows no more than the pipeline would copy.
func (a *api) pipelinePreview(w http.ResponseWriter, r *http.Request) {
	var req PreviewRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Limit <= 0 || req.Limit > 20 {
		req.Limit = 5
	}
	p, err := a.c.ParseIn(workspaceOf(r.Context()), req.File)
	if err != nil {
		fail(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewTimeout)
	defer cancel()
	tf, err := runtime.Transformer(p, a.c.log)
	if err != nil {
		fail(w, &BadRequest{err})
		return
	}
	d := a.c.reg.Sources[p.Source.Type]
	if d == nil {
		fail(w, &BadRequest{fmt.Errorf("source type %s: no such source", p.Source.Type)})
		return
	}
	src, err := d.Open(ctx, p.Source.Config, connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: a.c.log, Parallelism: 1, Role: "preview"})
	if err != nil {
		fail(w, &BadRequest{fmt.Errorf("open source %s: %s", p.Source.Type, a.c.redactEndpoint(err.Error(), &p.Source))})
		return
	}
	defer src.Close()
	o := preview.Options{Limit: req.Limit}
	if sd := a.c.reg.Sinks[p.Sink.Type]; sd != nil && sd.ColumnTypes != nil {
		o.ColumnTypes = func(s *event.Schema) []string { return sd.ColumnTypes(s, p.Source.Type) }
	}
	var b bytes.Buffer
	if err := preview.Run(ctx, src, tf, o, &b); err != nil {
		fail(w, &BadRequest{fmt.Errorf("preview: %s", a.c.redactEndpoint(err.Error(), &p.Source))})
		return
	}
	writeJSON(w, http.StatusOK, PipelinePreview{Text: b.String()})
}

// redactEndpoint leaves out of msg the secret settings of a source or sink: its
// connection's, and those its file sets.
func (c *Controller) redactEndpoint(msg string, ep *spec.Endpoint) string {
	if ep.Connection != "" {
		if typ, settings, err := c.connectionSettings(ep.Connection); err == nil {
			msg = c.redact(msg, typ, settings)
		}
	}
	for _, f := range ep.Config.Spec.Fields {
		if !f.Secret {
			continue
		}
		if v := ep.Config.String(f.Name); len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "****")
		}
	}
	return msg
}
