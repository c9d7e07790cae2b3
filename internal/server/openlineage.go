package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/spec"
)

// OpenLineage run events: with --openlineage-url, each run of a pipeline is posted there
// as it starts (START, when it is RUNNING) and as it ends (COMPLETE, FAIL, or ABORT when it
// was stopped or suspended), with the tables it reads and writes (lineage.go), so that
// Marquez or DataHub draw the graph. The job is the pipeline, in namespace "weir"; the
// run id is derived from the store's run, the same for its start and its end. Posting is
// best effort: a collector that is down loses events, and is logged, never holds the
// pipeline.

// OpenLineageProducer is what the events name as their producer.
const OpenLineageProducer = "https://github.com/weir-data/weir"

const openLineageSchema = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

// runEvent is an OpenLineage RunEvent.
type runEvent struct {
	EventType string    `json:"eventType"`
	EventTime string    `json:"eventTime"`
	Run       olRun     `json:"run"`
	Job       olJob     `json:"job"`
	Inputs    []Dataset `json:"inputs"`
	Outputs   []Dataset `json:"outputs"`
	Producer  string    `json:"producer"`
	SchemaURL string    `json:"schemaURL"`
}

type olRun struct {
	RunID string `json:"runId"`
}

type olJob struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// lineageEventType is the event of a state a run reaches ("": none).
func lineageEventType(s runtime.State) string {
	switch s {
	case runtime.Running:
		return "START"
	case runtime.Finished:
		return "COMPLETE"
	case runtime.Failed:
		return "FAIL"
	case runtime.Stopped, runtime.Suspended:
		return "ABORT"
	}
	return ""
}

// emitLineage posts the event of pipeline name's run reaching state s (once per kind).
func (c *Controller) emitLineage(name string, run int64, p *spec.Pipeline, s runtime.State, sent map[string]bool) {
	typ := lineageEventType(s)
	if c.lineageURL == "" || typ == "" || sent[typ] || typ != "START" && !sent["START"] && s != runtime.Failed {
		return
	}
	sent[typ] = true
	job := c.lineageOf(name, p)
	ev := runEvent{EventType: typ, EventTime: time.Now().UTC().Format(time.RFC3339Nano),
		Run:    olRun{RunID: uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "weir:%s:run:%d", name, run)).String()},
		Job:    olJob{Namespace: "weir", Name: name},
		Inputs: job.Inputs, Outputs: job.Outputs, Producer: OpenLineageProducer, SchemaURL: openLineageSchema}
	body, _ := json.Marshal(ev)
	select {
	case c.lineageQ <- lineagePost{name, typ, body}:
	default:
		c.log.Warn("OpenLineage events are piling up (is the collector slow?): one dropped", "pipeline", name, "event", typ)
	}
}

// lineagePost is an event to post.
type lineagePost struct {
	pipeline, typ string
	body          []byte
}

// postLineage posts the events, one at a time and in order, until the server ends.
func (c *Controller) postLineage(life context.Context) {
	for {
		var p lineagePost
		select {
		case <-life.Done():
			return
		case p = <-c.lineageQ:
		}
		ctx, cancel := context.WithTimeout(life, 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.lineageURL, bytes.NewReader(p.body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					err = fmt.Errorf("status %s", resp.Status)
				}
			}
		}
		cancel()
		if err != nil {
			c.log.Warn("could not post an OpenLineage event", "pipeline", p.pipeline, "event", p.typ, "err", err)
		}
	}
}

// lineageStop ends the posting of OpenLineage events (the server's shutdown); what was
// not posted yet is posted first, for a moment.
func (c *Controller) lineageStop() {
	if c.lineageQ != nil {
		for deadline := time.Now().Add(2 * time.Second); len(c.lineageQ) > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	c.lineageEnd()
}
