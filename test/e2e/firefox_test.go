package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// bidi is a headless Firefox (Debian's firefox-esr, which scripts/test installs) driven
// over WebDriver BiDi, the W3C protocol Firefox speaks (it no longer speaks Chromium's):
// commands and their answers are JSON messages on one websocket. The page's errors — a
// script's, a console.error, a Content-Security-Policy violation — are gathered as they
// happen (problems).
type bidi struct {
	t    *testing.T
	conn *websocket.Conn
	ctx  string // the browsing context (the tab) every command acts on

	mu       sync.Mutex
	next     int
	pending  map[int]chan bidiAnswer
	problems []string
}

type bidiAnswer struct {
	Type    string          `json:"type"` // success, error
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

// newFirefox starts Firefox headless with its own profile and opens a session in it.
func newFirefox(t *testing.T) *bidi {
	t.Helper()
	path, err := exec.LookPath("firefox-esr")
	if err != nil {
		if path, err = exec.LookPath("firefox"); err != nil {
			t.Fatal("firefox is not installed (scripts/test installs it: apt-get install firefox-esr)")
		}
	}
	_, port, _ := strings.Cut(freeAddr(t), ":")
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", t.TempDir(), "--remote-debugging-port", port, "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start firefox: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	listening := make(chan string, 1)
	go func() { // Firefox says where BiDi listens once it is ready
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				listening <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-listening:
	case <-time.After(time.Minute):
		t.Fatal("firefox did not start its WebDriver BiDi server within a minute")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url+"/session", nil)
	if err != nil {
		t.Fatalf("connect to firefox: %v", err)
	}
	conn.SetReadLimit(64 << 20) // screenshots and long pages
	f := &bidi{t: t, conn: conn, pending: map[int]chan bidiAnswer{}}
	t.Cleanup(func() { conn.CloseNow() })
	go f.read()
	f.call("session.new", map[string]any{"capabilities": map[string]any{}}, nil)
	f.call("session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}, nil)
	// Each page, before its own scripts, records what a browser reports only to the page:
	// a blocked resource (CSP) and an uncaught error.
	f.call("script.addPreloadScript", map[string]any{"functionDeclaration": `() => {
		window.__problems = [];
		addEventListener("securitypolicyviolation", e => __problems.push("CSP blocked " + e.blockedURI + " (" + e.violatedDirective + ")"));
		addEventListener("error", e => __problems.push("error: " + e.message));
	}`}, nil)
	var tree struct {
		Contexts []struct{ Context string } `json:"contexts"`
	}
	f.call("browsingContext.getTree", map[string]any{}, &tree)
	if len(tree.Contexts) == 0 {
		t.Fatal("firefox has no tab")
	}
	f.ctx = tree.Contexts[0].Context
	f.viewport(1280, 900)
	return f
}

// read hands each answer to the command waiting for it, and keeps the errors the page logs.
func (f *bidi) read() {
	for {
		_, b, err := f.conn.Read(context.Background())
		if err != nil {
			f.mu.Lock()
			for id, ch := range f.pending {
				ch <- bidiAnswer{Type: "error", Error: "connection", Message: err.Error()}
				delete(f.pending, id)
			}
			f.mu.Unlock()
			return
		}
		var m struct {
			ID     *int   `json:"id"`
			Method string `json:"method"`
			Params struct {
				Level, Text, Type string
			} `json:"params"`
			bidiAnswer
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		f.mu.Lock()
		switch {
		case m.ID != nil:
			if ch, ok := f.pending[*m.ID]; ok {
				ch <- m.bidiAnswer
				delete(f.pending, *m.ID)
			}
		case m.Method == "log.entryAdded" && m.Params.Level == "error":
			f.problems = append(f.problems, m.Params.Type+": "+m.Params.Text)
		}
		f.mu.Unlock()
	}
}

// call sends a command and decodes its result into out (if not nil).
func (f *bidi) call(method string, params any, out any) {
	f.t.Helper()
	f.mu.Lock()
	f.next++
	id, ch := f.next, make(chan bidiAnswer, 1)
	f.pending[id] = ch
	f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.conn.Write(ctx, websocket.MessageText, b); err != nil {
		f.t.Fatalf("firefox: %s: %v", method, err)
	}
	var a bidiAnswer
	select {
	case a = <-ch:
	case <-ctx.Done():
		f.t.Fatalf("firefox: %s: no answer within a minute", method)
	}
	if a.Type == "error" {
		f.t.Fatalf("firefox: %s: %s: %s", method, a.Error, a.Message)
	}
	if out != nil {
		if err := json.Unmarshal(a.Result, out); err != nil {
			f.t.Fatalf("firefox: %s: %v in %s", method, err, a.Result)
		}
	}
}

// viewport sizes the tab.
func (f *bidi) viewport(width, height int) {
	f.call("browsingContext.setViewport", map[string]any{"context": f.ctx, "viewport": map[string]int{"width": width, "height": height}}, nil)
}

// navigate loads url and waits for the page to be complete.
func (f *bidi) navigate(url string) {
	f.call("browsingContext.navigate", map[string]any{"context": f.ctx, "url": url, "wait": "complete"}, nil)
}

// eval runs script in the page (awaiting a promise) and returns its value as JSON.
func (f *bidi) eval(script string) (json.RawMessage, error) {
	var res struct {
		Type   string `json:"type"` // success, exception
		Result struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	f.call("script.evaluate", map[string]any{"expression": "Promise.resolve(" + script + ").then(v => JSON.stringify(v === undefined ? null : v))",
		"target": map[string]string{"context": f.ctx}, "awaitPromise": true}, &res)
	if res.Type != "success" {
		return nil, errors.New(res.ExceptionDetails.Text)
	}
	s, ok := res.Result.Value.(string)
	if !ok {
		return nil, fmt.Errorf("the script gave %s, not a value JSON can carry", res.Result.Type)
	}
	return json.RawMessage(s), nil
}

// pageProblems are the errors the browser and the page reported so far, and takes them.
func (f *bidi) pageProblems() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.problems
	f.problems = nil
	return out
}

// TestConsoleFirefox walks the console in headless Firefox, as TestConsole does in
// Chromium, over what a browser of another engine may do differently: the sign-in form,
// the wizard's parts that htmx brings (the tables of a source, the review), validation as
// the file is typed, the live parts over server-sent events (the rows written rising, the
// status after suspend and resume), the lineage drawn in SVG, every page at a phone's
// width; and no page reports an error — a script's, the console's, or a resource the
// Content-Security-Policy blocked.
func TestConsoleFirefox(t *testing.T) {
	e := startConsole(t)
	b := newFirefoxBrowser(t, e.s.url)
	checked := func(page string) {
		t.Helper()
		problems := append(b.ff.pageProblems(), eval[[]string](b, `window.__problems || []`)...)
		if len(problems) > 0 {
			t.Errorf("page %s reports: %s", page, strings.Join(problems, "; "))
		}
	}

	b.open("/ui/pipelines")
	b.set("#user", "ada")
	b.set("#password", "ada's long password")
	eval[bool](b, `(() => { document.querySelector("#password").form.requestSubmit(); return true })()`)
	b.waitVisible("#rows")
	checked("pipelines")
	// The check itself: a script put into the page is blocked, and that is reported.
	eval[bool](b, `(() => { const s = document.createElement("script"); s.textContent = "window.__ran = true"; document.body.append(s); return true })()`)
	b.waitFor("the blocked script reported", func() bool { return len(eval[[]string](b, `window.__problems`)) > 0 })
	if eval[bool](b, `!!window.__ran`) {
		t.Fatal("a script put into the page ran: the Content-Security-Policy does not hold in Firefox")
	}
	b.ff.pageProblems()
	eval[bool](b, `(() => { window.__problems = []; return true })()`)

	b.open("/ui/new")
	b.set("#w-source", "shop")
	b.waitVisible(`input[value="shop.orders"]`)
	b.click(`input[value="shop.orders"]`)
	b.set("#w-sink", "dw")
	b.set("#w-name", "ff-to-dw")
	b.click(`#wizard button[type="submit"]`)
	b.waitFor("the reviewed file valid", func() bool { return strings.Contains(b.text("#check"), "Valid: pipeline ff-to-dw") })
	checked("wizard")
	file := eval[string](b, `document.querySelector("#file").value`)
	b.set("#file", strings.Replace(file, "connection: dw", "connection: nowhere", 1)) // typed: checked as it changes
	b.waitFor("the problem marked", func() bool { return strings.Contains(b.text("#check"), "nowhere") })
	b.set("#file", file)
	b.waitFor("valid again", func() bool { return strings.Contains(b.text("#check"), "Valid: pipeline ff-to-dw") })
	b.click(`#editor button[type="submit"]`)
	b.waitFor("the pipeline's page", func() bool { return strings.HasSuffix(b.location(), "/ui/pipelines/ff-to-dw") })

	rows := func() int {
		var n int
		fmt.Sscan(strings.TrimSuffix(b.text("#rows-out"), "k"), &n)
		return n
	}
	b.waitFor("the snapshot's rows, live", func() bool { return rows() >= 200 })
	if err := e.maria.Exec("shop", "INSERT INTO shop.orders SELECT seq, 4, 'x@example.com' FROM seq_201_to_230"); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the new rows, live", func() bool { return rows() >= 230 })
	eval[bool](b, `(() => { window.confirm = () => true; return true })()`)
	b.click(`button[hx-post$="/suspend"]`)
	b.waitFor("SUSPENDED", func() bool { return strings.Contains(b.text("#status"), "SUSPENDED") })
	b.click(`button[hx-post$="/resume"]`)
	b.waitFor("RUNNING again", func() bool { return strings.Contains(b.text("#status"), "RUNNING") })
	checked("pipeline")

	b.open("/ui/lineage")
	b.waitFor("the lineage graph", func() bool {
		return eval[bool](b, `!!document.querySelector('svg.lineage path[data-to="j ff-to-dw"]')`)
	})
	checked("lineage")
	b.ff.viewport(390, 844)
	for _, page := range []string{"pipelines", "dashboard", "pipelines/ff-to-dw", "new", "editor", "connections", "grants", "catalog", "catalog/shop/shop.orders", "lineage", "alerts"} {
		b.open("/ui/" + page)
		if over := eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
			t.Errorf("page %s is %d px wider than a phone's screen in Firefox", page, over)
		}
		checked(page)
	}
}
