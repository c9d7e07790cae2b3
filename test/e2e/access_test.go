package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/store"
	"github.com/weir-data/weir/internal/testenv"
)

// TestServerLineageChain is the access issue's data map on the built server, with users:
// an admin connects a MariaDB and a PostgreSQL server; the catalog lists both servers'
// tables, with a row estimate, and proposes levels for the e-mail and phone columns,
// which a viewer's preview masks; pipeline 1 copies MariaDB into PostgreSQL, pipeline 2
// that PostgreSQL table into files. The lineage API returns the two-hop chain, the
// PostgreSQL table is registered in the catalog with its source, and the OpenLineage
// events posted validate against the OpenLineage schema. No answer, log line, event or
// metric of the scenario holds a password.
func TestServerLineageChain(t *testing.T) {
	const shopPW, dwPW, adminPW, viewerPW = "Mx7-shop-secret-pw", "Pq3-dw-secret-pw", "admin long password 1", "viewer long password 1"
	maria, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer maria.Stop()
	if err := maria.Exec("", `CREATE DATABASE shop; USE shop;
		CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(80), phone VARCHAR(20), city VARCHAR(40));
		INSERT INTO customers SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('+49151', LPAD(seq, 8, '0')), 'Berlin' FROM seq_1_to_20;
		ANALYZE TABLE customers;
		CREATE USER cdc IDENTIFIED BY '`+shopPW+`'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cdc; GRANT SELECT ON shop.* TO cdc`); err != nil {
		t.Fatal(err)
	}
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE dw"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "dw", "CREATE ROLE weir LOGIN SUPERUSER PASSWORD '"+dwPW+"'; CREATE TABLE public.inventory (sku text PRIMARY KEY, qty int)"); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var events [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		events = append(events, b)
		mu.Unlock()
	}))
	defer collector.Close()

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keys"), "k1="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))+"\n")
	s := startServer(t, dir, freeAddr(t), "--key-file", filepath.Join(dir, "keys"), "--openlineage-url", collector.URL)
	defer s.stop()

	var answers bytes.Buffer // every answer of the scenario, for the secrets grep
	call := func(token, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answers.Write(b)
		return resp.StatusCode, b
	}
	must := func(token, method, path, body string, status int, v any) {
		t.Helper()
		got, b := call(token, method, path, body)
		if got != status || v != nil && json.Unmarshal(b, v) != nil {
			t.Fatalf("%s %s: %d %s", method, path, got, b)
		}
	}
	login := func(user, pw string) string {
		var res server.LoginResult
		must("", "POST", "/api/v1/login", fmt.Sprintf(`{"user":%q,"password":%q}`, user, pw), 200, &res)
		return res.Token
	}
	// The first user, a server admin, made by the local administrator; then a viewer.
	must("", "POST", "/api/v1/users", `{"name":"admin","password":"`+adminPW+`","server_admin":true}`, 201, nil)
	admin := login("admin", adminPW)
	must(admin, "POST", "/api/v1/users", `{"name":"vic","password":"`+viewerPW+`"}`, 201, nil)
	must(admin, "PUT", "/api/v1/members/vic", `{"role":"viewer"}`, 200, nil)
	viewer := login("vic", viewerPW)

	env := []string{"WEIR_CONFIG_DIR=" + filepath.Join(dir, "config"), "WEIR_TOKEN=" + admin, "SHOP_PW=" + shopPW, "DW_PW=" + dwPW,
		"DW_URL=postgres://weir:" + dwPW + fmt.Sprintf("@127.0.0.1:%d/dw?sslmode=disable", pg.Port)}
	var outputs strings.Builder
	weir := func(args ...string) {
		t.Helper()
		code, out := runWeirEnv(t, dir, env, append(args, "--server", s.url)...)
		outputs.WriteString(out)
		if code != 0 {
			t.Fatalf("weir %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	weir("connection", "create", "shop", "--type", "mariadb", "--set", "hostname=127.0.0.1", "--set", fmt.Sprintf("port=%d", maria.Port),
		"--set", "username=cdc", "--secret", "password=SHOP_PW")
	weir("connection", "create", "dw", "--type", "postgres", "--set", "hostname=127.0.0.1", "--set", fmt.Sprintf("port=%d", pg.Port),
		"--set", "username=weir", "--set", "database-name=dw", "--secret", "password=DW_PW", "--secret", "url=DW_URL")
	weir("connection", "test", "shop")
	weir("connection", "test", "dw")
	weir("catalog", "scan", "shop")
	weir("catalog", "scan", "dw")

	// The catalog, as the viewer sees it: both servers' tables, the levels proposed.
	var cat server.CatalogList
	must(viewer, "GET", "/api/v1/catalog", "", 200, &cat)
	byName := map[string]store.CatalogEntry{}
	for _, e := range cat.Tables {
		byName[e.Connection+"/"+e.Name] = e
	}
	customers, inventory := byName["shop/shop.customers"], byName["dw/dw.public.inventory"]
	if len(customers.Columns) != 4 || len(inventory.Columns) != 2 {
		t.Fatalf("the catalog: %+v", cat.Tables)
	}
	if customers.RowEstimate != 20 || inventory.RowEstimate < 0 {
		t.Fatalf("row estimates: %d and %d", customers.RowEstimate, inventory.RowEstimate)
	}
	for _, c := range customers.Columns {
		want := map[string]string{"email": "email", "phone": "phone"}[c.Name]
		if c.Proposed != want || (want != "") != (c.Level == "confidential") {
			t.Fatalf("column %s: level %s, proposed %q", c.Name, c.Level, c.Proposed)
		}
	}
	var pv server.Preview
	must(viewer, "GET", "/api/v1/catalog/shop/shop.customers/preview", "", 200, &pv)
	if strings.Join(pv.Masked, ",") != "email,phone" || len(pv.Rows) != 20 || pv.Rows[0][1] != "****" || pv.Rows[0][2] != "****" || pv.Rows[0][3] != "Berlin" {
		t.Fatalf("the viewer's preview: %+v", pv)
	}
	// A viewer previews but does not scan or document.
	if status, _ := call(viewer, "POST", "/api/v1/connections/shop/scan", ""); status != 403 {
		t.Fatalf("a viewer's scan: %d", status)
	}

	// Pipeline 1: MariaDB → PostgreSQL; pipeline 2: that PostgreSQL table → files.
	pipeline := "source:\n  connection: %s\n  tables: %s\n%s\nsink:\n%s\ntransform:\n  - source-table: %s\n    mask:\n      - email, phone = null\npipeline:\n  name: %s\n  checkpoint.interval: 200ms\n"
	writeFile(t, filepath.Join(dir, "p1.yaml"), fmt.Sprintf(pipeline, "shop", "shop.customers", "", "  connection: dw", "shop.customers", "p1"))
	weir("pipeline", "create", "-f", "p1.yaml")
	waitFor(t, "pipeline 1 to copy the table into PostgreSQL", 2*time.Minute, func() bool {
		lines, err := pgLines(ctx, pg.URL("dw"), "SELECT count(*)::text FROM shop.customers")
		return err == nil && len(lines) == 1 && lines[0] == "20"
	})
	writeFile(t, filepath.Join(dir, "p2.yaml"), fmt.Sprintf(pipeline, "dw", "shop.customers", "  heartbeat.interval: 200ms", "  type: file\n  path: out", "dw.shop.customers", "p2"))
	weir("pipeline", "create", "-f", "p2.yaml")
	waitFor(t, "pipeline 2 to write the table to files", 2*time.Minute, func() bool {
		recs, _ := conformance.ReadFileSink(filepath.Join(dir, "data", "files", "out"))
		return len(recs) >= 20
	})

	// The lineage of the chain, whole and around the PostgreSQL table.
	mysqlNS, pgNS := fmt.Sprintf("mysql://127.0.0.1:%d", maria.Port), fmt.Sprintf("postgres://127.0.0.1:%d/dw", pg.Port)
	mid := server.Dataset{Namespace: pgNS, Name: "shop.customers"}
	var lin server.Lineage
	must(viewer, "GET", "/api/v1/lineage", "", 200, &lin)
	jobs := map[string]server.LineageJob{}
	for _, j := range lin.Jobs {
		jobs[j.Pipeline] = j
	}
	p1, p2 := jobs["p1"], jobs["p2"]
	if len(lin.Jobs) != 2 || !slices.Equal(p1.Inputs, []server.Dataset{{Namespace: mysqlNS, Name: "shop.customers"}}) ||
		!slices.Equal(p1.Outputs, []server.Dataset{mid}) || !slices.Equal(p2.Inputs, []server.Dataset{mid}) || len(p2.Outputs) != 1 ||
		!strings.HasPrefix(p2.Outputs[0].Namespace, "file://") {
		t.Fatalf("the lineage: %+v", lin.Jobs)
	}
	if len(p1.Transforms) != 1 || p1.Transforms[0].SourceTable != "shop.customers" || strings.Join(p1.Transforms[0].Masks, ";") != "email, phone = null" {
		t.Fatalf("pipeline 1's transforms in the lineage: %+v", p1.Transforms)
	}
	must(viewer, "GET", "/api/v1/lineage?namespace="+url.QueryEscape(mysqlNS)+"&table=shop.customers", "", 200, &lin)
	if len(lin.Jobs) != 2 {
		t.Fatalf("downstream of the MariaDB table: %+v", lin.Jobs)
	}
	// The PostgreSQL table pipeline 1 made is in the catalog with its source (registered
	// by the server's sweep, every 15 s), its levels those of its origin.
	var copyEntry store.CatalogEntry
	waitFor(t, "the sink table registered in the catalog", time.Minute, func() bool {
		status, b := call(viewer, "GET", "/api/v1/catalog/dw/"+url.PathEscape("dw.shop.customers"), "")
		return status == 200 && json.Unmarshal(b, &copyEntry) == nil && len(copyEntry.Sources) > 0
	})
	if src := copyEntry.Sources[0]; src.Pipeline != "p1" || src.Connection != "shop" || src.Table != "shop.customers" || src.Namespace != mysqlNS {
		t.Fatalf("the sink table's source: %+v", copyEntry.Sources)
	}

	// Pipeline 2 suspended ends its run: its events are START then ABORT.
	weir("pipeline", "suspend", "p2")
	waitFor(t, "the OpenLineage events of both runs", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) >= 3
	})
	mu.Lock()
	posted := slices.Clone(events)
	mu.Unlock()
	seen := map[string]map[string]any{}
	for _, raw := range posted {
		if err := testenv.ValidateOpenLineage(raw); err != nil {
			t.Fatalf("an event does not validate against the OpenLineage schema: %v\n%s", err, raw)
		}
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		job := ev["job"].(map[string]any)["name"].(string)
		seen[job+" "+ev["eventType"].(string)] = ev
	}
	for _, want := range []string{"p1 START", "p2 START", "p2 ABORT"} {
		if seen[want] == nil {
			t.Fatalf("no %s event among %d", want, len(posted))
		}
	}
	if out := seen["p1 START"]["outputs"].([]any)[0].(map[string]any); out["namespace"] != pgNS || out["name"] != "shop.customers" {
		t.Fatalf("p1's output in its event: %v", out)
	}
	if in := seen["p2 START"]["inputs"].([]any)[0].(map[string]any); in["namespace"] != pgNS || in["name"] != "shop.customers" {
		t.Fatalf("p2's input in its event: %v", in)
	}

	// The viewer's metrics: its workspace's pipelines.
	if status, b := call(viewer, "GET", "/metrics", ""); status != 200 || !bytes.Contains(b, []byte(`pipeline="p1"`)) {
		t.Fatalf("the viewer's /metrics: %d", status)
	}
	if status, _ := call("", "GET", "/metrics", ""); status != 401 {
		t.Fatalf("/metrics without a token: %d", status)
	}
	for _, path := range []string{"/api/v1/connections", "/api/v1/connections/shop", "/api/v1/connections/dw", "/api/v1/pipelines/p1",
		"/api/v1/pipelines/p1/versions", "/api/v1/pipelines/p1/events", "/api/v1/pipelines/p2/events", "/api/v1/pipelines/p1/logs?tail=5000",
		"/api/v1/pipelines/p2/logs?tail=5000", "/api/v1/audit?limit=1000", "/api/v1/catalog", "/api/v1/grants"} {
		call(admin, "GET", path, "")
	}
	everything := map[string][]byte{"an API answer": answers.Bytes(), "a CLI output": []byte(outputs.String()),
		"the server's log": []byte(s.p.stderr.String()), "an OpenLineage event": bytes.Join(posted, nil)}
	for what, text := range everything {
		for _, secret := range []string{shopPW, dwPW, adminPW, viewerPW} {
			if bytes.Contains(text, []byte(secret)) {
				t.Fatalf("%s holds a password", what)
			}
		}
	}
}
