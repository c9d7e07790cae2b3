package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/store"
)

// TestAlertBodies: each webhook format is the JSON its chat tool takes, from one message.
func TestAlertBodies(t *testing.T) {
	n := Notification{Status: "firing", Rule: "restarts", Pipeline: "orders", Severity: "warning", Summary: `3 restarts; the last after: dial "db"`, Fired: time.Unix(0, 0)}
	text := `[weir] FIRING warning restarts: pipeline orders: 3 restarts; the last after: dial "db"`
	for format, path := range map[string][]string{
		"slack": {"text"}, "dingtalk": {"text", "content"}, "wecom": {"text", "content"}, "feishu": {"content", "text"},
	} {
		b, err := body(format, n)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v: %s", format, err, b)
		}
		var v any = m
		for _, k := range path {
			v = v.(map[string]any)[k]
		}
		if v != text {
			t.Errorf("%s: %v, want %q", format, v, text)
		}
	}
	b, _ := body("json", n)
	var back Notification
	if err := json.Unmarshal(b, &back); err != nil || back.Rule != "restarts" || back.Status != "firing" {
		t.Errorf("json: %s", b)
	}
	if _, err := body("teams", n); err == nil {
		t.Error("an unknown format rendered")
	}
}

// TestAlertRules: the example rules file loads over the defaults; a rule for one pipeline
// applies to it instead of the default; mistakes are refused with the rule and the fix.
func TestAlertRules(t *testing.T) {
	rules, err := LoadRules("../../deploy/alert-rules.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	byName := func(rs []Rule) map[string]Rule {
		m := map[string]Rule{}
		for _, r := range rs {
			m[r.Name] = r
		}
		return m
	}
	other, orders := byName(rulesFor(rules, "other")), byName(rulesFor(rules, "orders-to-dw"))
	if other["restarts"].Threshold != 5 || other["lag"].Threshold != 300 || orders["lag"].Threshold != 60 || orders["lag"].Severity != "critical" {
		t.Errorf("rules: other %+v, orders %+v", other, orders)
	}
	if _, ok := other["checkpoint_age"]; ok {
		t.Error("a disabled rule applies")
	}
	if _, ok := other["failed"]; !ok {
		t.Error("a default rule the file does not name is gone")
	}
	dir := t.TempDir()
	for body, says := range map[string]string{
		"rules:\n  - name: lagg\n":              `name "lagg": want one of`,
		"rules:\n  - name: lag\n    tresh: 1\n": "field tresh not found",
	} {
		f := filepath.Join(dir, "r.yml")
		os.WriteFile(f, []byte(body), 0o644)
		if _, err := LoadRules(f); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want it to say %q", body, err, says)
		}
	}
}

// TestPrometheusRules: the rules shipped for Prometheus pass promtool (Debian's
// prometheus package; scripts/test installs it).
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: apt-get install prometheus (scripts/test does)")
	}
	out, err := exec.Command(promtool, "check", "rules", "../../deploy/prometheus-rules.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS: 7 rules found") {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
}

// TestAlertFiresOnceAndResolves: a rule that holds fires once however often it is
// evaluated, is recorded and delivered (a webhook that fails at first is tried again),
// and resolves, delivered likewise, when it stops holding: here a table the sink paused.
func TestAlertFiresOnceAndResolves(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Create(ctx, "p", "file", store.Stop); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []Notification
	calls := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusBadGateway) // the first attempt fails
			return
		}
		var n Notification
		json.NewDecoder(r.Body).Decode(&n)
		got = append(got, n)
	}))
	defer hook.Close()
	c := NewController(ctx, Options{Store: st, DataDir: t.TempDir()})
	a := newAlerter(c, AlertConfig{Webhooks: []string{hook.URL}, Rules: []Rule{{Name: "table_paused", Severity: "warning"}}}, c.log)
	c.paused["p"] = map[string]string{"shop.t": "table shop.t is paused: the sink cannot take it"}
	for range 3 {
		a.evaluate(ctx, time.Now())
	}
	delete(c.paused["p"], "shop.t")
	a.evaluate(ctx, time.Now())
	a.close()
	if len(got) != 2 || got[0].Status != "firing" || got[0].Rule != "table_paused" || !strings.Contains(got[0].Summary, "shop.t") ||
		got[1].Status != "resolved" || got[1].Resolved.IsZero() {
		t.Fatalf("notifications %+v", got)
	}
	as, _ := st.Alerts(ctx, 10)
	if len(as) != 1 || as[0].Resolved.IsZero() {
		t.Fatalf("recorded %+v", as)
	}
}

// TestConsumerLagRule: consumer_lag adds up a pipeline's Kafka partitions' lag (and only
// its own) and holds while it is RUNNING over the threshold.
func TestConsumerLagRule(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := metrics.New(prometheus.NewRegistry())
	m.SourceLagRecords.WithLabelValues("p", "orders", "0").Set(60000)
	m.SourceLagRecords.WithLabelValues("p", "orders", "1").Set(50000)
	m.SourceLagRecords.WithLabelValues("q", "orders", "0").Set(1e6)
	c := NewController(ctx, Options{Store: st, DataDir: t.TempDir(), Metrics: m})
	if got := c.consumerLag("p"); got != 110000 {
		t.Fatalf("consumer lag of p: %v, want 110000", got)
	}
	a := newAlerter(c, AlertConfig{}, c.log)
	r := Rule{Name: "consumer_lag", Threshold: 100000, Severity: "warning"}
	p := &store.Pipeline{Name: "p"}
	if holds, why := a.holds(ctx, r, p, runtime.Running, nil, time.Now()); !holds || !strings.Contains(why, "110000 records") {
		t.Fatalf("RUNNING 110000 records behind: holds %v (%s)", holds, why)
	}
	if holds, _ := a.holds(ctx, r, p, runtime.Stopped, nil, time.Now()); holds {
		t.Fatal("a stopped pipeline's lag fired")
	}
	r.Threshold = 200000
	if holds, _ := a.holds(ctx, r, p, runtime.Running, nil, time.Now()); holds {
		t.Fatal("under the threshold, the rule held")
	}
}
