package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/testenv"
)

// TestConsole walks the web console in headless Chromium against the built server, a
// MariaDB and a PostgreSQL: an admin signs in, makes a MariaDB → PostgreSQL pipeline
// through the wizard (two tables ticked, one filter, the proposed mask of an e-mail
// column), watches its rows rise live, suspends and resumes it, sees an alert fire when
// the source stops, and finds the pipeline's edge in the lineage graph; a viewer sees no
// action button, and the requests it forges are refused. Every page is checked with
// axe-core and taken at 1280 px and 390 px ($WEIR_SCREENSHOTS names where; docs/console
// holds the ones looked at).
// consoleEnv is what the console's browser tests run against: the built server with an
// admin (ada) and a viewer (vic), a MariaDB with two tables (shop.orders, its e-mail
// column proposed as confidential, and shop.items) catalogued as connection shop, and a
// PostgreSQL as connection dw.
type consoleEnv struct {
	maria *testenv.MariaDB
	pg    *testenv.Postgres
	s     *weirServer
	admin string // ada's token
	api   func(token, method, path string, body any) []byte
}

func startConsole(t *testing.T) *consoleEnv {
	maria, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { maria.Stop() })
	if err := maria.Exec("", `CREATE DATABASE shop; USE shop;
		CREATE TABLE orders (id INT PRIMARY KEY, qty INT, email VARCHAR(80));
		CREATE TABLE items (id INT PRIMARY KEY, qty INT, sku VARCHAR(20));
		INSERT INTO orders SELECT seq, seq % 5, CONCAT('buyer', seq, '@example.com') FROM seq_1_to_200;
		INSERT INTO items SELECT seq, seq % 3, CONCAT('SKU-', seq) FROM seq_1_to_90;
		CREATE USER cdc IDENTIFIED BY 'console-pw-1'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cdc; GRANT SELECT ON shop.* TO cdc`); err != nil {
		t.Fatal(err)
	}
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE dw"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keys"), "k1="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))+"\n")
	writeFile(t, filepath.Join(dir, "rules.yml"), "rules:\n  - name: no_progress\n    for: 2s\n    severity: critical\n")
	s := startServer(t, dir, freeAddr(t), "--key-file", filepath.Join(dir, "keys"), "--alert-rules", "rules.yml", "--alert-interval", "500ms")
	t.Cleanup(s.stop)

	api := func(token, method, path string, body any) []byte {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(b))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, out)
		}
		return out
	}
	api("", "POST", "/api/v1/users", server.UserRequest{Name: "ada", Password: "ada's long password", ServerAdmin: true})
	var res server.LoginResult
	json.Unmarshal(api("", "POST", "/api/v1/login", server.LoginRequest{User: "ada", Password: "ada's long password"}), &res)
	admin := res.Token
	api(admin, "POST", "/api/v1/users", server.UserRequest{Name: "vic", Password: "vic's long password"})
	api(admin, "PUT", "/api/v1/members/vic", server.MemberRequest{Role: "viewer"})
	api(admin, "POST", "/api/v1/connections", server.ConnectionRequest{Name: "shop", Type: "mariadb", Settings: map[string]string{
		"hostname": "127.0.0.1", "port": strconv.Itoa(maria.Port), "username": "cdc", "password": "console-pw-1"}})
	api(admin, "POST", "/api/v1/connections", server.ConnectionRequest{Name: "dw", Type: "postgres", Settings: map[string]string{
		"url": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/dw?sslmode=disable", pg.Port)}})
	api(admin, "POST", "/api/v1/connections/shop/scan", nil)

	return &consoleEnv{maria: maria, pg: pg, s: s, admin: admin, api: api}
}

func TestConsole(t *testing.T) {
	e := startConsole(t)
	maria, pg, s, admin, api := e.maria, e.pg, e.s, e.admin, e.api
	ctx := context.Background()
	shots := os.Getenv("WEIR_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	// Sign in.
	b := newBrowser(t, s.url)
	b.do(chromedp.Navigate(s.url+"/ui/pipelines"), chromedp.WaitVisible("#user"))
	b.accessible("login")
	b.shots(shots, "login")
	b.do(chromedp.SendKeys("#user", "ada"), chromedp.SendKeys("#password", "ada's long password"), chromedp.Submit("#password"),
		chromedp.WaitVisible("#rows"))

	// The wizard: the source, two tables ticked, the sink, a filter, review, create.
	b.open("/ui/new")
	b.set("#w-source", "shop")
	b.do(chromedp.WaitVisible(`input[value="shop.orders"]`), chromedp.Click(`input[value="shop.orders"]`), chromedp.Click(`input[value="shop.items"]`))
	if !eval[bool](b, `document.querySelector('input[name="mask"][value="shop.orders|email"]').checked`) {
		t.Fatal("the wizard does not propose to mask shop.orders.email")
	}
	b.do(chromedp.SendKeys("#w-pattern", `shop.ord\w+`))
	b.waitFor("what the pattern matches", func() bool { return strings.Contains(b.text("#matches"), "Matches 1 table(s): shop.orders") })
	b.set("#w-pattern", "")
	b.set("#w-sink", "dw")
	// The type of a column, chosen: shop.orders.qty written as a BIGINT.
	b.click(`details.types:has(input[name="cast|shop.orders|qty"]) summary`)
	b.do(chromedp.WaitVisible(`input[name="cast|shop.orders|qty"]`), chromedp.SendKeys(`input[name="cast|shop.orders|qty"]`, "BIGINT"))
	if eval[bool](b, `!!document.querySelector('input[name="cast|shop.orders|id"]')`) {
		t.Fatal("the wizard offers to change the type of a key column")
	}
	b.do(chromedp.SendKeys("#w-filter", "qty > 1"), chromedp.SendKeys("#w-name", "shop-to-dw"), chromedp.SendKeys("#w-rate", "100000"))
	b.accessible("wizard")
	b.do(chromedp.Click(`#wizard button[type="submit"]`), chromedp.WaitVisible("#check"))
	b.waitFor("the reviewed file valid", func() bool { return strings.Contains(b.text("#check"), "Valid: pipeline shop-to-dw") })
	file := eval[string](b, `document.querySelector("#file").value`)
	for _, want := range []string{"connection: shop", "tables: shop.items, shop.orders", "connection: dw", "filter: qty > 1", "email = null", "projection: id, CAST(qty AS BIGINT) AS qty, email", "scan.rate-limit.rows-per-second: 100000"} {
		if !strings.Contains(file, want) {
			t.Fatalf("the generated file lacks %q:\n%s", want, file)
		}
	}
	b.click(`button[hx-post="/ui/editor/preview"]`)
	b.waitFor("the preview through the transforms", func() bool {
		out := b.text("#preview-out")
		return strings.Contains(out, "shop.items") || strings.Contains(out, "shop.orders")
	})
	b.waitFor("both tables in the preview", func() bool {
		out := b.text("#preview-out")
		return strings.Contains(out, "shop.items") && strings.Contains(out, "shop.orders")
	})
	if out := b.text("#preview-out"); strings.Contains(out, "@example.com") || strings.Contains(out, `"qty":1,`) || !strings.Contains(out, "id int32 (sink: integer) key not null") ||
		!strings.Contains(out, "qty int64 (sink: bigint)") {
		t.Fatalf("the preview shows what the transforms leave out:\n%s", out)
	}
	b.shots(shots, "wizard")
	b.click(`#editor button[type="submit"]`)
	b.waitFor("the pipeline's page", func() bool { return strings.HasSuffix(b.location(), "/ui/pipelines/shop-to-dw") })
	b.do(chromedp.WaitVisible("#rows-out"))

	// The rows written rise live (the filter keeps qty > 1: 120 orders, 30 items).
	rows := func() int {
		var n int
		fmt.Sscan(strings.TrimSuffix(b.text("#rows-out"), "k"), &n)
		return n
	}
	b.waitFor("the snapshot's rows", func() bool { return rows() >= 150 })
	b.waitFor("both tables ready", func() bool { return strings.Count(b.text("#tables"), "ready") == 2 })
	if typ := pgColumnType(t, pg.URL("dw"), "shop", "orders", "qty"); typ != "bigint" {
		t.Fatalf("shop.orders.qty in PostgreSQL is %s, not the bigint chosen in the wizard", typ)
	}
	if err := maria.Exec("shop", "INSERT INTO shop.orders SELECT seq, 4, 'x@example.com' FROM seq_201_to_260"); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the new rows, live", func() bool { return rows() >= 210 })
	b.waitFor("the chart", func() bool { return eval[bool](b, `!!document.querySelector("#chart svg, #chart p")`) })
	b.accessible("pipeline")
	b.shots(shots, "pipeline")

	// Suspend and resume.
	eval[bool](b, `window.confirm = () => true; true`)
	b.click(`button[hx-post$="/suspend"]`)
	b.waitFor("SUSPENDED", func() bool { return strings.Contains(b.text("#status"), "SUSPENDED") })
	b.click(`button[hx-post$="/resume"]`)
	b.waitFor("RUNNING again", func() bool { return strings.Contains(b.text("#status"), "RUNNING") })

	// Pause one table while the other goes on, then resume it: it is copied again.
	itemQty := func(id int) (qty int) {
		t.Helper()
		c, err := pgx.Connect(ctx, pg.URL("dw"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		switch err := c.QueryRow(ctx, "SELECT qty FROM shop.items WHERE id = $1", id).Scan(&qty); {
		case errors.Is(err, pgx.ErrNoRows): // emptied to be copied again
			return -1
		case err != nil:
			t.Fatal(err)
		}
		return qty
	}
	b.waitFor("the tables", func() bool {
		return eval[bool](b, `!!document.querySelector('#tables button[hx-post$="/pause-tables"][hx-vals*="shop.items"]')`)
	})
	b.click(`#tables button[hx-post$="/pause-tables"][hx-vals*="shop.items"]`)
	b.waitFor("shop.items paused", func() bool { return strings.Contains(b.text("#tables"), "paused on request") })
	before := rows()
	if err := maria.Exec("shop", "UPDATE shop.items SET qty = 7 WHERE id = 5; INSERT INTO shop.orders SELECT seq, 4, 'y@example.com' FROM seq_261_to_270"); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the other table's rows", func() bool { return rows() >= before+10 })
	if q := itemQty(5); q != 2 {
		t.Fatalf("a paused table was written: items 5 has qty %d", q)
	}
	b.accessible("pipeline, a table paused")
	b.click(`#tables button[hx-post$="/resnapshot"][hx-vals*="shop.items"]`)
	b.waitFor("shop.items copied again", func() bool { return !strings.Contains(b.text("#tables"), "paused") && itemQty(5) == 7 })

	// The list, the dashboard, the data map, the lineage graph.
	b.open("/ui/pipelines")
	b.waitFor("the live list", func() bool {
		return strings.Contains(b.text("#rows"), "shop-to-dw") && strings.Contains(b.text("#rows"), "/s")
	})
	b.accessible("pipelines")
	b.shots(shots, "pipelines")
	b.open("/ui/dashboard")
	b.waitFor("the tiles", func() bool { return strings.Contains(b.text("#tiles"), "shop-to-dw") })
	b.accessible("dashboard")
	b.shots(shots, "dashboard")
	b.open("/ui/catalog")
	b.do(chromedp.SendKeys("#q", "email"))
	b.waitFor("the search", func() bool {
		t := b.text("#results")
		return strings.Contains(t, "shop.orders") && !strings.Contains(t, "shop.items")
	})
	b.accessible("catalog")
	b.shots(shots, "catalog")
	b.open("/ui/catalog/shop/shop.orders")
	if masked := b.text("#preview"); strings.Contains(masked, "@example.com") || !strings.Contains(masked, "****") {
		t.Fatalf("the preview of shop.orders does not mask the e-mail:\n%s", masked)
	}
	b.accessible("table")
	b.shots(shots, "table")
	b.open("/ui/lineage")
	from := fmt.Sprintf("d mysql://127.0.0.1:%d shop.orders", maria.Port)
	if !eval[bool](b, fmt.Sprintf(`!!document.querySelector('svg.lineage path[data-from=%q][data-to="j shop-to-dw"]')`, from)) {
		t.Fatalf("the lineage graph has no edge from shop.orders to the pipeline:\n%s", eval[string](b, `document.querySelector("svg.lineage").outerHTML`))
	}
	b.do(chromedp.Click(fmt.Sprintf(`svg.lineage a[aria-label="shop.orders mysql://127.0.0.1:%d"]`, maria.Port)))
	b.waitFor("the table's own lineage", func() bool { return strings.Contains(b.text("main h1"), "Lineage of shop.orders") })
	b.accessible("lineage")
	b.shots(shots, "lineage")
	for _, page := range []string{"connections", "grants", "editor"} {
		b.open("/ui/" + page)
		b.accessible(page)
		b.shots(shots, page)
	}

	// An alert fires when the source stops.
	maria.Pause()
	b.open("/ui/alerts")
	b.waitFor("no_progress firing", func() bool {
		b.open("/ui/alerts")
		return strings.Contains(b.text("#firing"), "no_progress")
	})
	b.accessible("alerts")
	b.shots(shots, "alerts")
	if err := maria.Resume(); err != nil {
		t.Fatal(err)
	}

	// A viewer: no action button, and what it forges is refused.
	v := newBrowser(t, s.url)
	v.do(chromedp.Navigate(s.url+"/ui/login"), chromedp.WaitVisible("#user"), chromedp.SendKeys("#user", "vic"),
		chromedp.SendKeys("#password", "vic's long password"), chromedp.Submit("#password"), chromedp.WaitVisible("#rows"))
	if v.text("nav.main") == "" || strings.Contains(v.text("nav.main"), "New pipeline") {
		t.Fatalf("the viewer's menu: %q", v.text("nav.main"))
	}
	v.open("/ui/pipelines/shop-to-dw")
	v.waitFor("the status", func() bool { return strings.Contains(v.text("#status"), "RUNNING") })
	if n := eval[int](v, `document.querySelectorAll("main button").length`); n != 1 { // "What it changed" of the one version
		t.Fatalf("the viewer sees %d buttons on the pipeline's page:\n%s", n, eval[string](v, `[...document.querySelectorAll("main button")].map(b => b.innerText).join(", ")`))
	}
	if status := eval[int](v, `fetch("/ui/pipelines/shop-to-dw/suspend", {method: "POST", headers: {"HX-Request": "true"}}).then(r => r.status)`); status != 403 {
		t.Fatalf("the viewer's forged suspend: %d", status)
	}
	// A page of another site cannot post on a signed-in user's behalf either.
	req, _ := http.NewRequest("POST", s.url+"/ui/pipelines/shop-to-dw/stop", nil)
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("a cross-site post: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	var p server.Pipeline
	json.Unmarshal(api(admin, "GET", "/api/v1/pipelines/shop-to-dw", nil), &p)
	if p.Desired != "RUNNING" {
		t.Fatalf("a refused request acted: the pipeline should be %s", p.Desired)
	}

	// 200 pipelines: how long the list takes to render, and its weight (reported).
	for i := range 200 {
		api(admin, "POST", "/api/v1/pipelines", server.CreateRequest{Start: new(bool),
			File: fmt.Sprintf("source:\n  type: datagen\n  tables: demo.t%d\nsink:\n  type: discard\npipeline:\n  name: many-%03d\n", i, i)})
	}
	b.open("/ui/pipelines")
	b.waitFor("200 rows", func() bool { return eval[int](b, `document.querySelectorAll("#rows tr").length`) >= 201 })
	b.open("/ui/pipelines")
	took := eval[float64](b, `(() => { const n = performance.getEntriesByType("navigation")[0]; return n.domContentLoadedEventEnd - n.startTime })()`)
	weight := eval[float64](b, `performance.getEntriesByType("navigation")[0].encodedBodySize + performance.getEntriesByType("resource").reduce((s, r) => s + r.encodedBodySize, 0)`)
	t.Logf("the pipelines list with 201 pipelines: DOM ready in %.0f ms; page, scripts and styles weigh %.0f KB", took, weight/1024)
}

// pgColumnType is the type PostgreSQL gives a column.
func pgColumnType(t *testing.T, url, schema, table, column string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var typ string
	if err := c.QueryRow(ctx, `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3`,
		schema, table, column).Scan(&typ); err != nil {
		t.Fatalf("the type of %s.%s.%s: %v", schema, table, column, err)
	}
	return typ
}
