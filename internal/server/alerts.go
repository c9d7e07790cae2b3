package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/store"
)

// Alerts: rules the server evaluates over its pipelines, on by default with the
// thresholds of DefaultRules (a rules file changes them, per pipeline or for all). A rule
// that starts to hold fires once, is recorded in the store and delivered to each webhook
// (with retries); when it stops holding it resolves, delivered likewise. The same rules,
// written for Prometheus over weir's metrics, ship as deploy/prometheus-rules.yml.
//
//	failed          the pipeline is FAILED
//	restarts        it restarted Threshold times or more within For
//	no_progress     it should run but has not been RUNNING for For (its source or sink
//	                is down: it is STARTING or RESTARTING all that time)
//	lag             its source lag is over Threshold seconds for For
//	consumer_lag    its Kafka source's partitions' ends are, together, over Threshold
//	                records ahead of what it has read, for For (weir_source_lag_records)
//	checkpoint_age  it is RUNNING and its last checkpoint is over Threshold seconds old
//	retained        its source keeps over Threshold bytes of change log for it (WAL or
//	                binlog a slot or position holds)
//	table_paused    its sink paused a table it could not follow (a schema change it
//	                cannot take), until the table is copied again (resnapshot)

// Rule is an alert rule.
type Rule struct {
	Name      string        `yaml:"name"`
	Pipeline  string        `yaml:"pipeline"` // "" for every pipeline
	Threshold float64       `yaml:"threshold"`
	For       time.Duration `yaml:"for"`
	Severity  string        `yaml:"severity"`
	Disabled  bool          `yaml:"disabled"`
}

// DefaultRules are the rules of a server without a rules file.
var DefaultRules = []Rule{
	{Name: "failed", Severity: "critical"},
	{Name: "restarts", Threshold: 3, For: 10 * time.Minute, Severity: "warning"},
	{Name: "no_progress", For: 5 * time.Minute, Severity: "critical"},
	{Name: "lag", Threshold: 300, For: 5 * time.Minute, Severity: "warning"},
	{Name: "consumer_lag", Threshold: 100_000, For: 10 * time.Minute, Severity: "warning"},
	{Name: "checkpoint_age", Threshold: 600, Severity: "warning"},
	{Name: "retained", Threshold: 10 << 30, Severity: "warning"},
	{Name: "table_paused", Severity: "warning"},
}

var ruleNames = []string{"failed", "restarts", "no_progress", "lag", "consumer_lag", "checkpoint_age", "retained", "table_paused"}

// LoadRules reads a rules file (`rules:` a list of Rule) over the defaults: a rule named
// as a default without a pipeline replaces it; one with a pipeline applies to that
// pipeline instead of the default.
func LoadRules(path string) ([]Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	var f struct {
		Rules []Rule `yaml:"rules"`
	}
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("alert rules %s: %w", path, err)
	}
	rules := append([]Rule(nil), DefaultRules...)
	for i, r := range f.Rules {
		known := false
		for _, n := range ruleNames {
			known = known || n == r.Name
		}
		if !known {
			return nil, fmt.Errorf("alert rules %s: rule %d: name %q: want one of %s", path, i+1, r.Name, strings.Join(ruleNames, ", "))
		}
		if r.Severity == "" {
			r.Severity = "warning"
		}
		replaced := false
		for j := range rules {
			if rules[j].Name == r.Name && rules[j].Pipeline == r.Pipeline {
				rules[j], replaced = r, true
			}
		}
		if !replaced {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

// rulesFor returns the rules that apply to pipeline: its own, else those for all.
func rulesFor(rules []Rule, pipeline string) []Rule {
	var out []Rule
	for _, r := range rules {
		if r.Pipeline != "" && r.Pipeline != pipeline {
			continue
		}
		if r.Pipeline == "" && hasOwn(rules, r.Name, pipeline) {
			continue
		}
		if !r.Disabled {
			out = append(out, r)
		}
	}
	return out
}

func hasOwn(rules []Rule, name, pipeline string) bool {
	for _, r := range rules {
		if r.Name == name && r.Pipeline == pipeline {
			return true
		}
	}
	return false
}

// AlertConfig configures the alerts of a server.
type AlertConfig struct {
	Rules    []Rule
	Webhooks []string
	// Format is the webhooks' body: json (default), slack, dingtalk, wecom or feishu.
	Format   string
	Interval time.Duration // how often the rules are evaluated
}

// Notification is what a webhook is told: an alert that fires or resolves.
type Notification struct {
	Status   string    `json:"status"` // firing or resolved
	Rule     string    `json:"rule"`
	Pipeline string    `json:"pipeline"`
	Severity string    `json:"severity"`
	Summary  string    `json:"summary"`
	Fired    time.Time `json:"fired"`
	Resolved time.Time `json:"resolved,omitzero"`
}

// The webhook bodies, from one message template: the generic JSON and the chat tools
// the seed platforms used.
var (
	messageTemplate = template.Must(template.New("msg").Parse(
		`[weir] {{if eq .Status "firing"}}FIRING{{else}}RESOLVED{{end}} {{.Severity}} {{.Rule}}: pipeline {{.Pipeline}}: {{.Summary}}`))
	bodyTemplates = map[string]*template.Template{
		"json":     nil, // the Notification itself
		"slack":    template.Must(template.New("slack").Funcs(jsonFuncs).Parse(`{"text":{{json .Text}}}`)),
		"dingtalk": template.Must(template.New("dingtalk").Funcs(jsonFuncs).Parse(`{"msgtype":"text","text":{"content":{{json .Text}}}}`)),
		"wecom":    template.Must(template.New("wecom").Funcs(jsonFuncs).Parse(`{"msgtype":"text","text":{"content":{{json .Text}}}}`)),
		"feishu":   template.Must(template.New("feishu").Funcs(jsonFuncs).Parse(`{"msg_type":"text","content":{"text":{{json .Text}}}}`)),
	}
	jsonFuncs = template.FuncMap{"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err }}
)

// AlertFormats lists the webhook body formats.
var AlertFormats = []string{"json", "slack", "dingtalk", "wecom", "feishu"}

// body renders n in format.
func body(format string, n Notification) ([]byte, error) {
	t, ok := bodyTemplates[format]
	if !ok {
		return nil, fmt.Errorf("alert format %q: want one of %s", format, strings.Join(AlertFormats, ", "))
	}
	if t == nil {
		return json.Marshal(n)
	}
	var text bytes.Buffer
	if err := messageTemplate.Execute(&text, n); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err := t.Execute(&out, struct {
		Notification
		Text string
	}{n, text.String()})
	return out.Bytes(), err
}

// alerter evaluates the rules and delivers what fires and resolves.
type alerter struct {
	c    *Controller
	cfg  AlertConfig
	log  *slog.Logger
	http *http.Client

	mu       sync.Mutex
	open     map[string]store.Alert // rule/pipeline → the firing
	since    map[string]time.Time   // rule/pipeline → since when its condition holds
	queues   map[string]chan delivery
	delivery sync.WaitGroup // notifications queued and not yet posted
}

func newAlerter(c *Controller, cfg AlertConfig, log *slog.Logger) *alerter {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Format == "" {
		cfg.Format = "json"
	}
	if cfg.Rules == nil {
		cfg.Rules = DefaultRules
	}
	c.alertRules = cfg.Rules
	return &alerter{c: c, cfg: cfg, log: log, http: &http.Client{Timeout: 10 * time.Second},
		open: map[string]store.Alert{}, since: map[string]time.Time{}}
}

// run evaluates the rules every interval until ctx ends.
func (a *alerter) run(ctx context.Context) {
	if as, err := a.c.st.Alerts(ctx, 0); err == nil { // firings of the server's last life stay open
		for _, al := range as {
			if al.Resolved.IsZero() {
				a.open[al.Rule+"/"+al.Pipeline] = al
			}
		}
	}
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			a.close()
			return
		case <-t.C:
			a.evaluate(ctx, time.Now())
		}
	}
}

// evaluate checks every rule of every pipeline once.
func (a *alerter) evaluate(ctx context.Context, now time.Time) {
	ps, err := a.c.st.List(ctx)
	if err != nil {
		return
	}
	// The workspaces' own rules (over the server's) and channels.
	rules, channels := map[string][]Rule{}, map[string][]channelTarget{}
	if all, err := a.c.st.AllAlertSettings(ctx); err == nil {
		for _, set := range all {
			own, chans, err := workspaceAlerts(set)
			if err != nil {
				a.log.Error("could not read a workspace's alert settings", "workspace", set.Workspace, "err", err)
				continue
			}
			rules[set.Workspace], channels[set.Workspace] = mergeRules(a.cfg.Rules, own), a.c.channelsOf(set.Workspace, chans)
		}
	}
	seen := map[string]bool{}
	for _, p := range ps {
		state, pl := a.c.StateOf(p)
		if pl == nil && a.c.st.Shared() { // another server runs it, and alerts for it
			continue
		}
		rs, ok := rules[p.Workspace]
		if !ok {
			rs = a.cfg.Rules
		}
		for _, r := range rulesFor(rs, p.Name) {
			key := r.Name + "/" + p.Name
			seen[key] = true
			holds, summary := a.holds(ctx, r, p, state, pl, now)
			a.settle(ctx, key, r, p.Name, holds, summary, now, channels[p.Workspace])
		}
	}
	a.mu.Lock()
	var gone []string
	for key := range a.open {
		if !seen[key] { // its pipeline or its rule is gone
			gone = append(gone, key)
		}
	}
	a.mu.Unlock()
	for _, key := range gone {
		rule, pipeline, _ := strings.Cut(key, "/")
		a.settle(ctx, key, Rule{Name: rule}, pipeline, false, "", now, nil)
	}
}

// holds reports whether rule r holds for pipeline p now, with a summary of why.
func (a *alerter) holds(ctx context.Context, r Rule, p *store.Pipeline, state runtime.State, pl *runtime.Pipeline, now time.Time) (bool, string) {
	switch r.Name {
	case "failed":
		return state == runtime.Failed, "it failed: " + p.LastError
	case "restarts":
		n, err := a.c.st.CountEvents(ctx, p.Name, string(runtime.Restarting), now.Add(-r.For))
		if err != nil {
			return false, ""
		}
		why := fmt.Sprintf("%d restarts in the last %s", n, r.For)
		if pl != nil && pl.Status().Error != "" {
			why += "; the last after: " + pl.Status().Error
		}
		return float64(n) >= r.Threshold, why
	case "no_progress":
		down := p.Desired == store.Run && state != runtime.Running
		return a.sustained(r, p.Name, down, now), fmt.Sprintf("it should run but has not been RUNNING for %s (it is %s)", r.For, state)
	case "lag":
		lag := a.lag(p.Name)
		over := state == runtime.Running && lag > r.Threshold
		return a.sustained(r, p.Name, over, now), fmt.Sprintf("its source lag is %.0f s, over %.0f s for %s", lag, r.Threshold, r.For)
	case "consumer_lag":
		behind := a.c.consumerLag(p.Name)
		over := state == runtime.Running && behind > r.Threshold
		return a.sustained(r, p.Name, over, now), fmt.Sprintf("its Kafka partitions hold %.0f records it has not read, over %.0f for %s", behind, r.Threshold, r.For)
	case "checkpoint_age":
		if state != runtime.Running || pl == nil {
			return false, ""
		}
		last := pl.Stats().LastCheckpoint()
		age := now.Sub(last).Seconds()
		return !last.IsZero() && age > r.Threshold, fmt.Sprintf("its last checkpoint is %.0f s old (over %.0f s)", age, r.Threshold)
	case "table_paused":
		paused := a.c.Paused(p.Name)
		var tables []string
		for t, why := range paused {
			if why != checkpoint.PausedOnRequest { // a person paused it: nothing to alert of
				tables = append(tables, t)
			}
		}
		if len(tables) == 0 {
			return false, ""
		}
		slices.Sort(tables)
		return true, fmt.Sprintf("its sink paused %s: %s", strings.Join(tables, ", "), paused[tables[0]])
	case "retained":
		if a.c.metrics == nil {
			return false, ""
		}
		b := a.gauge(a.c.metrics.SourceRetained, p.Name)
		return b > r.Threshold, fmt.Sprintf("its source keeps %.0f MiB of change log for it (over %.0f MiB)", b/(1<<20), r.Threshold/(1<<20))
	}
	return false, ""
}

// sustained reports whether cond has held for r.For, tracking since when it holds.
func (a *alerter) sustained(r Rule, pipeline string, cond bool, now time.Time) bool {
	key := r.Name + "/" + pipeline
	a.mu.Lock()
	defer a.mu.Unlock()
	if !cond {
		delete(a.since, key)
		return false
	}
	if _, ok := a.since[key]; !ok {
		a.since[key] = now
	}
	return now.Sub(a.since[key]) >= r.For
}

// lag reads the pipeline's source lag gauge (seconds).
func (a *alerter) lag(pipeline string) float64 { return a.c.lag(pipeline) }

func (a *alerter) gauge(v *prometheus.GaugeVec, pipeline string) float64 {
	return a.c.gauge(v, pipeline)
}

// lag reads the pipeline's source lag gauge (seconds).
func (c *Controller) lag(pipeline string) float64 {
	if c.metrics == nil {
		return 0
	}
	return c.gauge(c.metrics.SourceLag, pipeline)
}

// consumerLag adds up the pipeline's Kafka partitions' lag in records.
func (c *Controller) consumerLag(pipeline string) float64 {
	if c.metrics == nil {
		return 0
	}
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.metrics.SourceLagRecords.Collect(ch)
		close(ch)
	}()
	sum := 0.0
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) != nil || d.Gauge == nil {
			continue
		}
		for _, l := range d.Label {
			if l.GetName() == "pipeline" && l.GetValue() == pipeline {
				sum += d.Gauge.GetValue()
			}
		}
	}
	return sum
}

// gauge reads a pipeline's gauge (0 when it has none).
func (c *Controller) gauge(v *prometheus.GaugeVec, pipeline string) float64 {
	if c.metrics == nil {
		return 0
	}
	var m dto.Metric
	if err := v.WithLabelValues(pipeline).Write(&m); err != nil || m.Gauge == nil {
		return 0
	}
	return m.Gauge.GetValue()
}

// settle fires or resolves the alert of key as the rule holds or not, delivered to the
// server's webhooks and to chans (the pipeline's workspace's channels).
func (a *alerter) settle(ctx context.Context, key string, r Rule, pipeline string, holds bool, summary string, now time.Time, chans []channelTarget) {
	a.mu.Lock()
	open, firing := a.open[key]
	a.mu.Unlock()
	switch {
	case holds && !firing:
		al := store.Alert{Rule: r.Name, Pipeline: pipeline, Severity: r.Severity, Summary: summary, Fired: now}
		id, err := a.c.st.Fire(ctx, al)
		if err != nil {
			a.log.Error("could not record an alert", "rule", r.Name, "pipeline", pipeline, "err", err)
			return
		}
		al.ID = id
		a.mu.Lock()
		a.open[key] = al
		a.mu.Unlock()
		a.log.Warn("alert firing", "rule", r.Name, "pipeline", pipeline, "summary", summary)
		a.deliver(Notification{Status: "firing", Rule: r.Name, Pipeline: pipeline, Severity: r.Severity, Summary: summary, Fired: now}, chans)
	case !holds && firing:
		if err := a.c.st.Resolve(ctx, open.ID, now); err != nil {
			a.log.Error("could not record an alert's resolution", "rule", r.Name, "pipeline", pipeline, "err", err)
			return
		}
		a.mu.Lock()
		delete(a.open, key)
		a.mu.Unlock()
		a.log.Info("alert resolved", "rule", open.Rule, "pipeline", pipeline)
		a.deliver(Notification{Status: "resolved", Rule: open.Rule, Pipeline: pipeline, Severity: open.Severity, Summary: open.Summary,
			Fired: open.Fired, Resolved: now}, chans)
	}
}

// deliver queues n for every webhook of the server and every channel of chans. Each
// webhook has one queue, posted in order (a resolution never arrives before its firing),
// each body with up to 5 attempts (backing off from 250 ms).
func (a *alerter) deliver(n Notification, chans []channelTarget) {
	targets := slices.Clone(chans)
	for _, url := range a.cfg.Webhooks {
		targets = append(targets, channelTarget{url: url, label: "webhook " + redactURL(url), format: a.cfg.Format})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.queues == nil {
		a.queues = map[string]chan delivery{}
	}
	for _, t := range targets {
		b, err := body(t.format, n)
		if err != nil {
			a.log.Error("could not render an alert", "err", err)
			continue
		}
		q := a.queues[t.url]
		if q == nil {
			q = make(chan delivery, 1024)
			a.queues[t.url] = q
			go a.post(t.url, t.label, q)
		}
		a.delivery.Add(1)
		select {
		case q <- delivery{n, b}:
		default:
			a.delivery.Done()
			a.log.Error("an alert webhook does not keep up: an alert was dropped", "to", t.label, "rule", n.Rule, "pipeline", n.Pipeline)
		}
	}
}

type delivery struct {
	n    Notification
	body []byte
}

// post posts what comes on q to url (label: how the log names it), in order.
func (a *alerter) post(url, label string, q chan delivery) {
	for d := range q {
		wait := 250 * time.Millisecond
		for attempt := 1; ; attempt++ {
			resp, err := a.http.Post(url, "application/json", bytes.NewReader(d.body))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode < 300 {
					break
				}
				err = fmt.Errorf("answered %s", resp.Status)
			}
			if attempt == 5 {
				a.log.Error("could not deliver an alert", "to", label, "rule", d.n.Rule, "pipeline", d.n.Pipeline, "err", redactErr(err))
				break
			}
			time.Sleep(wait)
			wait *= 2
		}
		a.delivery.Done()
	}
}

// close ends the webhooks' queues once what they hold is delivered.
func (a *alerter) close() {
	a.delivery.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	for url, q := range a.queues {
		close(q)
		delete(a.queues, url)
	}
}

// redactURL leaves a webhook's query (chat tools put their tokens there) and user out.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i] + "?…"
	}
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		if at := strings.Index(rest, "@"); at >= 0 && at < strings.Index(rest+"/", "/") {
			rest = "…@" + rest[at+1:]
		}
		u = scheme + "://" + rest
	}
	return u
}

// redactErr is err without the URL it failed on (a channel's URL is a credential, and
// an HTTP client's error names it).
func redactErr(err error) string {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
