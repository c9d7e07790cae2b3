package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium (Debian's, which scripts/test installs) driven by
// chromedp, with its own profile: two browsers are two people. With ff set it is a
// headless Firefox instead (firefox_test.go), which the helpers below drive through
// scripts in the page where chromedp has its own steps.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	ff   *bidi
}

// newFirefoxBrowser is a browser that is a headless Firefox.
func newFirefoxBrowser(t *testing.T, base string) *browser {
	return &browser{t: t, base: base, ff: newFirefox(t)}
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (scripts/test installs it: apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base}
	// The first action starts the browser, bound to the context it runs in: this one, not
	// one with a deadline.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// do runs steps, each bounded by a minute.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

func (b *browser) location() string {
	if b.ff != nil {
		raw, _ := b.ff.eval("location.href")
		var loc string
		json.Unmarshal(raw, &loc)
		return loc
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// open navigates to path and waits for the page's main heading.
func (b *browser) open(path string) {
	b.t.Helper()
	if b.ff != nil {
		b.ff.navigate(b.base + path)
		b.waitVisible("main h1")
		return
	}
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitVisible("main h1"))
}

// waitVisible waits until the element sel selects is shown.
func (b *browser) waitVisible(sel string) {
	b.t.Helper()
	if b.ff == nil {
		b.do(chromedp.WaitVisible(sel))
		return
	}
	b.waitFor(sel+" shown", func() bool {
		return eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length > 0 })()`, sel))
	})
}

// eval is the value of a script in the page.
func eval[T any](b *browser, script string) T {
	b.t.Helper()
	var v T
	if b.ff != nil {
		raw, err := b.ff.eval(script)
		if err == nil {
			err = json.Unmarshal(raw, &v)
		}
		if err != nil {
			b.t.Fatalf("firefox: %s: %v (at %s)", script, err, b.location())
		}
		return v
	}
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: %s: %v (at %s)", script, err, b.location())
	}
	return v
}

// set sets the value of a form field and tells the page, as typing or choosing would.
func (b *browser) set(sel, value string) {
	b.t.Helper()
	b.waitVisible(sel)
	eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return true })()`, sel, value))
}

// click clicks the element sel selects once htmx has taken it up (content an htmx
// request brings is taken up a moment after it arrives).
func (b *browser) click(sel string) {
	b.t.Helper()
	b.waitFor("htmx to take up "+sel, func() bool {
		return eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); const h = e && e.closest("[hx-post],[hx-get]"); return !!e && (!h || !!h["htmx-internal-data"]) })()`, sel))
	})
	if b.ff != nil {
		eval[bool](b, fmt.Sprintf(`(() => { document.querySelector(%q).click(); return true })()`, sel))
		return
	}
	b.do(chromedp.Click(sel))
}

// text is the text of the first element sel selects ("" where none does).
func (b *browser) text(sel string) string {
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel))
}

// waitFor waits until cond holds of the page.
func (b *browser) waitFor(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("the browser did not see %s (at %s); the page reads:\n%s", what, b.location(), b.text("main"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shots takes the page at 1280 px and at a phone's 390 px into dir as name-1280.png and
// name-390.png, and checks that at 390 px nothing overflows the page's width (tables
// scroll in their own box).
func (b *browser) shots(dir, name string) {
	b.t.Helper()
	for _, width := range []int64{1280, 390} {
		height := int64(900)
		if width == 390 {
			height = 844
		}
		b.do(chromedp.EmulateViewport(width, height))
		if width == 390 {
			if over := eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				b.t.Errorf("page %s is %d px wider than a phone's screen", name, over)
			}
		}
		ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 900))
}

// accessible runs axe-core in the page and fails on any serious or critical violation.
func (b *browser) accessible(page string) {
	b.t.Helper()
	if eval[bool](b, `typeof axe === "undefined"`) {
		eval[bool](b, axeScript(b.t)+";true")
	}
	type violation struct {
		ID, Impact, Help string
		Nodes            []struct{ Target []string }
	}
	vs := eval[[]violation](b, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => ({target: n.target.map(String)}))})))`)
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, strings.Join(n.Target, " "))
			}
			b.t.Errorf("page %s: %s accessibility violation %s: %s (at %s)", page, v.Impact, v.ID, v.Help, strings.Join(where, "; "))
		}
	}
}

// axeVersion is the axe-core the browser tests check pages with.
const axeVersion = "4.14.1"

// axeScript is axe-core's script, fetched once from npm into the user's cache
// ($WEIR_AXE_JS names a copy instead).
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("WEIR_AXE_JS")
	if path == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "weir-test", "axe-core-"+axeVersion)
		path = filepath.Join(dir, "axe.min.js")
		if _, err := os.Stat(path); err != nil {
			if err := fetchAxe(dir); err != nil {
				t.Fatalf("axe-core %s for the accessibility check: %v (npm must reach its registry, or set $WEIR_AXE_JS)", axeVersion, err)
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fetchAxe packs axe-core with npm into dir and takes axe.min.js out of the tarball.
func fetchAxe(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out, err := exec.Command("npm", "pack", "--silent", "--pack-destination", dir, "axe-core@"+axeVersion).CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm pack: %v: %s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, strings.TrimSpace(string(out))))
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			return fmt.Errorf("axe.min.js not in the package: %v", err)
		}
		if h.Name == "package/axe.min.js" {
			tmp := filepath.Join(dir, "axe.min.js.tmp")
			w, err := os.Create(tmp)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, tr); err != nil {
				w.Close()
				return err
			}
			w.Close()
			return os.Rename(tmp, filepath.Join(dir, "axe.min.js"))
		}
	}
}
