package console

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/store"
	"github.com/weir-data/weir/internal/textdiff"
)

func (c *Console) pipelineRoutes() {
	m := c.mux
	m.HandleFunc("GET /ui/pipelines", c.pipelines)
	m.HandleFunc("GET /ui/sse/pipelines", c.pipelinesLive)
	m.HandleFunc("GET /ui/dashboard", c.dashboard)
	m.HandleFunc("GET /ui/sse/dashboard", c.dashboardLive)
	m.HandleFunc("GET /ui/pipelines/{name}", c.pipeline)
	m.HandleFunc("GET /ui/sse/pipelines/{name}", c.pipelineLive)
	m.HandleFunc("GET /ui/pipelines/{name}/chart", c.pipelineChart)
	m.HandleFunc("GET /ui/pipelines/{name}/logs", c.pipelineLogs)
	m.HandleFunc("GET /ui/pipelines/{name}/events", c.pipelineEvents)
	m.HandleFunc("GET /ui/pipelines/{name}/diff", c.pipelineDiff)
	m.HandleFunc("POST /ui/pipelines/{name}/{action}", c.pipelineAction)
}

// Row is a pipeline as the list shows it.
type Row struct {
	server.Pipeline
	Rate   float64 // rows written per second since the last frame (-1: not known yet)
	Alerts []store.Alert
}

// rater turns a stream's successive counters into rates.
type rater struct {
	mu   sync.Mutex
	last map[string][2]float64 // name → rows_out, unix seconds
}

func (rt *rater) rate(name string, rows int64, now time.Time) float64 {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.last == nil {
		rt.last = map[string][2]float64{}
	}
	prev, ok := rt.last[name]
	t := float64(now.UnixMilli()) / 1000
	rt.last[name] = [2]float64{float64(rows), t}
	if !ok || t <= prev[1] || float64(rows) < prev[0] {
		return -1
	}
	return (float64(rows) - prev[0]) / (t - prev[1])
}

// rows is the workspace's pipelines with their firing alerts.
func (s *session) rows(rt *rater) ([]Row, error) {
	var list server.PipelineList
	if err := s.call("GET", "/api/v1/pipelines", nil, &list); err != nil {
		return nil, err
	}
	var alerts server.Alerts
	if s.can("alerts:read") {
		s.call("GET", "/api/v1/alerts?limit=0", nil, &alerts)
	}
	now := time.Now()
	out := make([]Row, 0, len(list.Pipelines))
	for _, p := range list.Pipelines {
		row := Row{Pipeline: p, Rate: -1}
		if rt != nil {
			row.Rate = rt.rate(p.Name, p.RowsOut, now)
		}
		for _, a := range alerts.Alerts {
			if a.Pipeline == p.Name && a.Resolved.IsZero() {
				row.Alerts = append(row.Alerts, a)
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func (c *Console) pipelines(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	rows, err := s.rows(nil)
	p := s.page("pipelines", "Pipelines", rows)
	if err != nil {
		p.Error = err.Error()
	}
	c.render(w, "pipelines", p)
}

// liveEvent is a server-sent event of a live page: block of page rendered from a frame's
// data, sent each frame — or, with key, only when key's value of the frame changes (so
// that buttons are not replaced under the pointer, nor focus lost, every second).
type liveEvent struct {
	name, page, block string
	key               func(map[string]any) string
}

// live streams events every interval as server-sent events, until the browser leaves or
// the server stops.
func (c *Console) live(w http.ResponseWriter, r *http.Request, interval time.Duration, frame func() (map[string]any, error), events ...liveEvent) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	t := time.NewTicker(interval)
	defer t.Stop()
	sent := map[string]string{}
	for first := true; ; first = false {
		data, err := frame()
		if err != nil {
			fmt.Fprintf(w, "event: error\ndata: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
			fl.Flush()
			return
		}
		for _, ev := range events {
			if ev.key != nil {
				k := ev.key(data)
				if first || sent[ev.name] == k { // the page came with this state
					sent[ev.name] = k
					continue
				}
				sent[ev.name] = k
			}
			var b bytes.Buffer
			if err := c.tmpl[ev.page].ExecuteTemplate(&b, ev.block, data); err != nil {
				return
			}
			fmt.Fprintf(w, "event: %s\n", ev.name)
			for _, line := range strings.Split(b.String(), "\n") {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-c.opts.Closing:
			return
		case <-t.C:
		}
	}
}

func (c *Console) pipelinesLive(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	rt := &rater{}
	p := s.page("pipelines", "", nil)
	c.live(w, r, time.Second, func() (map[string]any, error) {
		rows, err := s.rows(rt)
		return map[string]any{"Rows": rows, "Can": p.Can}, err
	}, liveEvent{name: "rows", page: "pipelines", block: "rows"})
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	rows, err := s.rows(nil)
	p := s.page("dashboard", "Dashboard", rows)
	if err != nil {
		p.Error = err.Error()
	}
	c.render(w, "dashboard", p)
}

func (c *Console) dashboardLive(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	rt := &rater{}
	c.live(w, r, time.Second, func() (map[string]any, error) {
		rows, err := s.rows(rt)
		return map[string]any{"Rows": rows}, err
	}, liveEvent{name: "tiles", page: "dashboard", block: "tiles"})
}

// PipelineData is what a pipeline's page shows.
type PipelineData struct {
	P        server.Pipeline
	Versions []server.VersionFile
	Alerts   []store.Alert
	Rate     float64
}

func (s *session) pipelineData(name string, rt *rater) (*PipelineData, error) {
	d := &PipelineData{Rate: -1}
	if err := s.call("GET", "/api/v1/pipelines/"+url.PathEscape(name), nil, &d.P); err != nil {
		return nil, err
	}
	if rt != nil {
		d.Rate = rt.rate(name, d.P.RowsOut, time.Now())
	}
	var as server.Alerts
	if s.can("alerts:read") && s.call("GET", "/api/v1/alerts?limit=50", nil, &as) == nil {
		for _, a := range as.Alerts {
			if a.Pipeline == name {
				d.Alerts = append(d.Alerts, a)
			}
		}
	}
	return d, nil
}

func (c *Console) pipeline(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	d, err := s.pipelineData(name, nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var vs server.VersionList
	s.call("GET", "/api/v1/pipelines/"+url.PathEscape(name)+"/versions", nil, &vs)
	d.Versions = vs.Versions
	slices.Reverse(d.Versions)
	c.render(w, "pipeline", s.page("pipelines", "Pipeline "+name, d))
}

func (c *Console) pipelineLive(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	rt := &rater{}
	p := s.page("pipelines", "", nil)
	name := r.PathValue("name")
	c.live(w, r, time.Second, func() (map[string]any, error) {
		d, err := s.pipelineData(name, rt)
		return map[string]any{"Data": d, "Can": p.Can}, err
	}, liveEvent{name: "status", page: "pipeline", block: "status"}, liveEvent{name: "tables", page: "pipeline", block: "tables"},
		liveEvent{name: "actions", page: "pipeline", block: "actions", key: func(d map[string]any) string { return d["Data"].(*PipelineData).P.State }})
}

func (c *Console) pipelineChart(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	var h server.History
	if err := s.call("GET", "/api/v1/pipelines/"+url.PathEscape(r.PathValue("name"))+"/history", nil, &h); err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, chart(h.Samples))
}

func (c *Console) pipelineLogs(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	level := r.URL.Query().Get("level")
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, level) {
		level = "info"
	}
	name := r.PathValue("name")
	var logs server.Logs
	if err := s.call("GET", "/api/v1/pipelines/"+url.PathEscape(name)+"/logs?tail=200&level="+level, nil, &logs); err != nil {
		c.fail(w, r, err)
		return
	}
	follow := r.URL.Query().Get("follow") == "1"
	c.renderBlock(w, "pipeline", "logs", map[string]any{"Lines": logs.Lines, "Follow": follow,
		"URL": "/ui/pipelines/" + url.PathEscape(name) + "/logs?follow=1&level=" + level})
}

func (c *Console) pipelineEvents(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	var evs server.Events
	if err := s.call("GET", "/api/v1/pipelines/"+url.PathEscape(r.PathValue("name"))+"/events?limit=1000", nil, &evs); err != nil {
		c.fail(w, r, err)
		return
	}
	slices.Reverse(evs.Events)
	if len(evs.Events) > 100 {
		evs.Events = evs.Events[:100]
	}
	c.renderBlock(w, "pipeline", "events", evs)
}

// pipelineDiff shows what version v changed from the one before it.
func (c *Console) pipelineDiff(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	var vs server.VersionList
	if err := s.call("GET", "/api/v1/pipelines/"+url.PathEscape(r.PathValue("name"))+"/versions", nil, &vs); err != nil {
		c.fail(w, r, err)
		return
	}
	v, _ := strconv.Atoi(r.URL.Query().Get("v"))
	var before, after string
	for i, ver := range vs.Versions {
		if ver.Version == v {
			after = ver.File
			if i > 0 {
				before = vs.Versions[i-1].File
			}
		}
	}
	c.renderBlock(w, "pipeline", "diff", textdiff.Lines(before, after))
}

// actions are the buttons of a pipeline's page, and the API paths they post to.
var actions = map[string]string{"start": "start", "stop": "stop", "suspend": "suspend", "resume": "resume", "restart": "restart",
	"rollback": "rollback", "resnapshot": "resnapshot", "pause-tables": "pause-tables", "delete": ""}

func (c *Console) pipelineAction(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	name, action := r.PathValue("name"), r.PathValue("action")
	if _, ok := actions[action]; !ok {
		http.NotFound(w, r)
		return
	}
	path := "/api/v1/pipelines/" + url.PathEscape(name)
	var err error
	switch action {
	case "delete":
		err = s.call("DELETE", path, nil, nil)
		if err == nil {
			w.Header().Set("HX-Redirect", "/ui/pipelines")
			return
		}
	case "rollback":
		v, _ := strconv.Atoi(r.FormValue("version"))
		err = s.call("POST", path+"/rollback", server.RollbackRequest{Version: v}, nil)
	case "resnapshot", "pause-tables":
		err = s.call("POST", path+"/"+action, server.ResnapshotRequest{Tables: []string{r.FormValue("table")}}, nil)
	default:
		err = s.call("POST", path+"/"+action, nil, nil)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<p class="ok" role="status">%s: done.</p>`, action)
}
