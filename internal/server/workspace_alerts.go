package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/store"
)

// A workspace's alerts. Its own rules apply to its pipelines over the server's: a rule of
// the same name and pipeline (or for all of them) replaces the server's. Its channels are
// webhooks that get the notifications of its pipelines alone; the server's
// --alert-webhook get every workspace's. A channel's URL is a credential (chat tools put
// their tokens in its path or query): it is sealed with the keyring as a connection's
// credentials are, and no answer, log line or error carries it again — only its host.

// AlertRule is a rule as the API reads and writes it.
type AlertRule struct {
	Name      string  `json:"name"`
	Pipeline  string  `json:"pipeline,omitempty"` // "" every pipeline of the workspace
	Threshold float64 `json:"threshold,omitempty"`
	For       string  `json:"for,omitempty"` // a duration: 5m, 1h
	Severity  string  `json:"severity,omitempty"`
	Disabled  bool    `json:"disabled,omitempty"`
}

// AlertRules are the workspace's own rules (PUT), and with them, answered, the rules in
// force for its pipelines (the server's with the workspace's over them).
type AlertRules struct {
	Rules     []AlertRule `json:"rules"`
	Effective []AlertRule `json:"effective,omitempty"`
}

// AlertChannel is a webhook of a workspace. URL is write-only (a replacement that leaves
// it out keeps the channel's); answers carry Host alone.
type AlertChannel struct {
	Name   string `json:"name"`
	URL    string `json:"url,omitempty"`
	Host   string `json:"host,omitempty"`
	Format string `json:"format,omitempty"` // json (default), slack, dingtalk, wecom, feishu
}

// AlertChannels are a workspace's channels.
type AlertChannels struct {
	Channels []AlertChannel `json:"channels"`
}

// sealedChannel is a channel as the store keeps it.
type sealedChannel struct {
	Name   string `json:"name"`
	Host   string `json:"host"`
	Format string `json:"format"`
	URL    string `json:"url"` // sealed
}

var severities = []string{"info", "warning", "critical"}

// ruleOf and apiRule convert between a Rule and its API form.
func ruleOf(r AlertRule, i int) (Rule, error) {
	if !slices.Contains(ruleNames, r.Name) {
		return Rule{}, fmt.Errorf("rules[%d].name %q: want one of %s", i, r.Name, strings.Join(ruleNames, ", "))
	}
	out := Rule{Name: r.Name, Pipeline: r.Pipeline, Threshold: r.Threshold, Severity: r.Severity, Disabled: r.Disabled}
	if out.Severity == "" {
		out.Severity = "warning"
	}
	if !slices.Contains(severities, out.Severity) {
		return Rule{}, fmt.Errorf("rules[%d].severity %q: want one of %s", i, r.Severity, strings.Join(severities, ", "))
	}
	if r.For != "" {
		d, err := time.ParseDuration(r.For)
		if err != nil || d < 0 || d > 7*24*time.Hour {
			return Rule{}, fmt.Errorf("rules[%d].for %q: want a duration up to a week, e.g. 5m", i, r.For)
		}
		out.For = d
	}
	return out, nil
}

func apiRule(r Rule) AlertRule {
	out := AlertRule{Name: r.Name, Pipeline: r.Pipeline, Threshold: r.Threshold, Severity: r.Severity, Disabled: r.Disabled}
	if r.For > 0 {
		out.For = r.For.String()
	}
	return out
}

// mergeRules is base with over's rules replacing those of the same name and pipeline.
func mergeRules(base, over []Rule) []Rule {
	rules := slices.Clone(base)
	for _, r := range over {
		i := slices.IndexFunc(rules, func(b Rule) bool { return b.Name == r.Name && b.Pipeline == r.Pipeline })
		if i >= 0 {
			rules[i] = r
		} else {
			rules = append(rules, r)
		}
	}
	return rules
}

// workspaceAlerts are a workspace's rules and channels as the store keeps them.
func workspaceAlerts(a store.AlertSettings) ([]Rule, []sealedChannel, error) {
	var rules []AlertRule
	var chans []sealedChannel
	if err := json.Unmarshal([]byte(a.Rules), &rules); err != nil {
		return nil, nil, fmt.Errorf("the alert rules of workspace %s: %w", a.Workspace, err)
	}
	if err := json.Unmarshal([]byte(a.Channels), &chans); err != nil {
		return nil, nil, fmt.Errorf("the alert channels of workspace %s: %w", a.Workspace, err)
	}
	var out []Rule
	for i, r := range rules {
		rule, err := ruleOf(r, i)
		if err != nil {
			return nil, nil, fmt.Errorf("the alert rules of workspace %s: %w", a.Workspace, err)
		}
		out = append(out, rule)
	}
	return out, chans, nil
}

// serverRules are the rules the server's alerter evaluates (DefaultRules before it runs).
func (c *Controller) serverRules() []Rule {
	if c.alertRules != nil {
		return c.alertRules
	}
	return DefaultRules
}

func (a *api) alertRules(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r.Context())
	set, err := a.c.st.GetAlertSettings(r.Context(), ws)
	if err != nil {
		fail(w, err)
		return
	}
	own, _, err := workspaceAlerts(set)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a.rulesView(r.Context(), ws, own))
}

// rulesView answers a workspace's rules with those in force for its pipelines.
func (a *api) rulesView(ctx context.Context, ws string, own []Rule) AlertRules {
	out := AlertRules{Rules: []AlertRule{}, Effective: []AlertRule{}}
	for _, r := range own {
		out.Rules = append(out.Rules, apiRule(r))
	}
	mine := map[string]bool{}
	if recs, err := a.c.st.List(ctx); err == nil {
		for _, rec := range recs {
			mine[rec.Name] = rec.Workspace == ws
		}
	}
	for _, r := range mergeRules(a.c.serverRules(), own) {
		if r.Pipeline == "" || mine[r.Pipeline] { // another workspace's pipeline's rule is none of its business
			out.Effective = append(out.Effective, apiRule(r))
		}
	}
	return out
}

func (a *api) putAlertRules(w http.ResponseWriter, r *http.Request) {
	var req AlertRules
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	ws := workspaceOf(ctx)
	var own []Rule
	seen := map[string]bool{}
	for i, ar := range req.Rules {
		rule, err := ruleOf(ar, i)
		if err == nil && rule.Pipeline != "" {
			if rec, gerr := a.c.st.Get(ctx, rule.Pipeline); gerr != nil || rec.Workspace != ws {
				err = fmt.Errorf("rules[%d].pipeline %q: no such pipeline in workspace %s", i, rule.Pipeline, ws)
			}
		}
		if err == nil && seen[rule.Name+"/"+rule.Pipeline] {
			err = fmt.Errorf("rules[%d]: a second rule %s for %q; one per name and pipeline", i, rule.Name, rule.Pipeline)
		}
		if err != nil {
			fail(w, &BadRequest{err})
			return
		}
		seen[rule.Name+"/"+rule.Pipeline] = true
		own = append(own, rule)
	}
	set, err := a.c.st.GetAlertSettings(ctx, ws)
	if err != nil {
		fail(w, err)
		return
	}
	rules := []AlertRule{}
	for _, rule := range own {
		rules = append(rules, apiRule(rule))
	}
	b, _ := json.Marshal(rules)
	set.Rules = string(b)
	if err := a.c.st.PutAlertSettings(ctx, set); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a.rulesView(ctx, ws, own))
}

func (a *api) alertChannels(w http.ResponseWriter, r *http.Request) {
	set, err := a.c.st.GetAlertSettings(r.Context(), workspaceOf(r.Context()))
	if err != nil {
		fail(w, err)
		return
	}
	_, chans, err := workspaceAlerts(set)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, channelsView(chans))
}

func channelsView(chans []sealedChannel) AlertChannels {
	out := AlertChannels{Channels: []AlertChannel{}}
	for _, ch := range chans {
		out.Channels = append(out.Channels, AlertChannel{Name: ch.Name, Host: ch.Host, Format: ch.Format})
	}
	return out
}

// channelSealedFor is what a channel's URL is sealed for (bound to its workspace and name).
func channelSealedFor(ws, name string) string { return "alert channel " + ws + "/" + name }

func (a *api) putAlertChannels(w http.ResponseWriter, r *http.Request) {
	var req AlertChannels
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	ws := workspaceOf(ctx)
	set, err := a.c.st.GetAlertSettings(ctx, ws)
	if err != nil {
		fail(w, err)
		return
	}
	_, old, err := workspaceAlerts(set)
	if err != nil {
		fail(w, err)
		return
	}
	var chans []sealedChannel
	for i, ch := range req.Channels {
		sc, err := a.c.sealChannel(ws, i, ch, old)
		if err == nil && slices.ContainsFunc(chans, func(c sealedChannel) bool { return c.Name == sc.Name }) {
			err = fmt.Errorf("channels[%d].name %q: a second channel of that name", i, ch.Name)
		}
		if err != nil {
			fail(w, &BadRequest{err})
			return
		}
		chans = append(chans, sc)
	}
	if len(chans) > 20 {
		fail(w, &BadRequest{errors.New("channels: at most 20 per workspace")})
		return
	}
	b, _ := json.Marshal(append([]sealedChannel{}, chans...))
	set.Channels = string(b)
	if err := a.c.st.PutAlertSettings(ctx, set); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, channelsView(chans))
}

// sealChannel checks channel i of a request and seals its URL (keeping the sealed URL of
// the old channel of its name where it gives none). Its errors never hold the URL.
func (c *Controller) sealChannel(ws string, i int, ch AlertChannel, old []sealedChannel) (sealedChannel, error) {
	if !namePattern.MatchString(ch.Name) {
		return sealedChannel{}, fmt.Errorf("channels[%d].name %q: lower-case letters, digits, '.', '_' and '-', from a letter or digit", i, ch.Name)
	}
	sc := sealedChannel{Name: ch.Name, Format: ch.Format}
	if sc.Format == "" {
		sc.Format = "json"
	}
	if _, ok := bodyTemplates[sc.Format]; !ok {
		return sealedChannel{}, fmt.Errorf("channels[%d].format %q: want one of %s", i, ch.Format, strings.Join(AlertFormats, ", "))
	}
	if ch.URL == "" {
		j := slices.IndexFunc(old, func(o sealedChannel) bool { return o.Name == ch.Name })
		if j < 0 {
			return sealedChannel{}, fmt.Errorf("channels[%d].url: a new channel needs its webhook's URL", i)
		}
		sc.Host, sc.URL = old[j].Host, old[j].URL
		return sc, nil
	}
	u, err := url.Parse(ch.URL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return sealedChannel{}, fmt.Errorf("channels[%d].url: want an http or https URL (the URL is not repeated here)", i)
	}
	if c.keys == nil {
		return sealedChannel{}, errors.New("this server has no keyring to seal a channel's URL with: start it with --key-file or $WEIR_KEYS")
	}
	sc.Host = u.Hostname()
	sc.URL, err = c.keys.Seal([]byte(ch.URL), channelSealedFor(ws, ch.Name))
	return sc, err
}

// channelTarget is a channel to deliver to: its URL, and how logs name it.
type channelTarget struct {
	url, label, format string
}

// channelsOf opens a workspace's channels (those it cannot open are logged, not
// delivered to).
func (c *Controller) channelsOf(ws string, chans []sealedChannel) []channelTarget {
	var out []channelTarget
	for _, ch := range chans {
		if c.keys == nil {
			continue
		}
		plain, err := c.keys.Open(ch.URL, channelSealedFor(ws, ch.Name))
		if err != nil {
			c.log.Error("could not open an alert channel's URL", "workspace", ws, "channel", ch.Name, "err", err)
			continue
		}
		out = append(out, channelTarget{url: string(plain), label: "channel " + ws + "/" + ch.Name, format: ch.Format})
	}
	return out
}

// rotateChannels seals every channel's URL again with the keyring's primary key.
func rotateChannels(ctx context.Context, st *store.Store, keys *auth.Keyring) (int, error) {
	all, err := st.AllAlertSettings(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, set := range all {
		var chans []sealedChannel
		if err := json.Unmarshal([]byte(set.Channels), &chans); err != nil {
			return n, fmt.Errorf("the alert channels of workspace %s: %w", set.Workspace, err)
		}
		changed := false
		for i, ch := range chans {
			if auth.KeyOf(ch.URL) == keys.Primary() {
				continue
			}
			plain, err := keys.Open(ch.URL, channelSealedFor(set.Workspace, ch.Name))
			if err != nil {
				return n, fmt.Errorf("alert channel %s/%s: %w", set.Workspace, ch.Name, err)
			}
			if chans[i].URL, err = keys.Seal(plain, channelSealedFor(set.Workspace, ch.Name)); err != nil {
				return n, err
			}
			changed = true
			n++
		}
		if changed {
			b, _ := json.Marshal(chans)
			set.Channels = string(b)
			if err := st.PutAlertSettings(ctx, set); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// alertRoutes are the routes of a workspace's alert rules and channels.
var alertRoutes = []route{
	{method: "GET", path: "/api/v1/alert-rules", id: "listAlertRules", summary: "The workspace's own alert rules, and the rules in force for its pipelines",
		perm: auth.ReadAlerts, out: AlertRules{}, status: 200, errors: []int{401, 403, 404}, h: (*api).alertRules},
	{method: "PUT", path: "/api/v1/alert-rules", id: "putAlertRules", summary: "Replace the workspace's own alert rules (each over the server's rule of its name and pipeline)",
		perm: auth.WriteAlerts, in: AlertRules{}, out: AlertRules{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).putAlertRules},
	{method: "GET", path: "/api/v1/alert-channels", id: "listAlertChannels", summary: "The workspace's alert channels (their URLs never: their hosts)",
		perm: auth.ReadAlerts, out: AlertChannels{}, status: 200, errors: []int{401, 403, 404}, h: (*api).alertChannels},
	{method: "PUT", path: "/api/v1/alert-channels", id: "putAlertChannels", summary: "Replace the workspace's alert channels: webhooks for its pipelines' alerts (URLs write-only, sealed)",
		perm: auth.ManageWorkspace, in: AlertChannels{}, out: AlertChannels{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).putAlertChannels},
}
