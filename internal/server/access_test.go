package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connectors"
	"github.com/weir-data/weir/internal/store"
	"github.com/weir-data/weir/internal/testenv"
)

// accessEnv is a server with users: root (server admin); in workspace a, one user of
// each role; in workspace b, bob its admin.
type accessEnv struct {
	t      *testing.T
	srv    *httptest.Server
	st     *store.Store
	c      *Controller
	keys   *auth.Keyring
	tokens map[string]string // user → session token
}

var roleUsers = map[string]auth.Role{"va": auth.Viewer, "op": auth.Operator, "ed": auth.Editor, "ad": auth.Admin}

func newAccessEnv(t *testing.T) *accessEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cps, _ := checkpoint.OpenLocal(filepath.Join(dir, "state"))
	t.Cleanup(func() { cps.Close() })
	keys, _ := auth.ParseKeyring("k1="+strings.Repeat("Q", 43)+"=", "test")
	c := NewController(ctx, Options{Store: st, Registry: connectors.Registry(), Checkpoints: cps, DataDir: dir, Keys: keys})
	t.Cleanup(func() { c.Shutdown(0) })
	e := &accessEnv{t: t, st: st, c: c, tokens: map[string]string{}, keys: keys}
	e.srv = httptest.NewServer((&api{c: c, loopback: true}).handler())
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		e.srv.Close()
	})
	if err := CreateUser(ctx, st, "root", "root password 1", true); err != nil {
		t.Fatal(err)
	}
	for _, ws := range []string{"a", "b"} {
		st.CreateWorkspace(ctx, ws)
	}
	for u, role := range roleUsers {
		CreateUser(ctx, st, u, u+" password 1", false)
		st.SetMember(ctx, store.Member{Workspace: "a", User: u, Role: string(role)})
	}
	CreateUser(ctx, st, "bob", "bob password 1", false)
	st.SetMember(ctx, store.Member{Workspace: "b", User: "bob", Role: string(auth.Admin)})
	for _, u := range []string{"root", "va", "op", "ed", "ad", "bob"} {
		status, body := e.do("", "", "POST", "/api/v1/login", fmt.Sprintf(`{"user":%q,"password":%q}`, u, u+" password 1"))
		var res LoginResult
		if status != 200 || json.Unmarshal(body, &res) != nil || !strings.HasPrefix(res.Token, "weir_") {
			t.Fatalf("login %s: %d %s", u, status, body)
		}
		e.tokens[u] = res.Token
	}
	return e
}

// do sends a request as token (none: "") in workspace ws ("": the default).
func (e *accessEnv) do(token, ws, method, path, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ws != "" {
		req.Header.Set(WorkspaceHeader, ws)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

const accessPipeline = "source:\n  type: datagen\n  tables: demo.orders\n  rows: 10\nsink:\n  type: discard\npipeline:\n  name: %s\n"

// TestRoleMatrix walks every route of the API with a principal of every role of
// workspace a, a member of another workspace only, and a server admin: each may do
// exactly what the matrix says (any other answer than 401/403/404 is taken as let
// through: the handler then judges the request itself), and nothing else.
func TestRoleMatrix(t *testing.T) {
	e := newAccessEnv(t)
	type who struct {
		user  string
		role  auth.Role
		admin bool
		stray bool // no member of workspace a
	}
	principals := []who{{"root", "", true, false}, {"bob", "", false, true}}
	for u, r := range roleUsers {
		principals = append(principals, who{user: u, role: r})
	}
	walked := 0
	for _, rt := range routes {
		if rt.perm == "" || rt.id == "logout" { // logging in and out: TestTokensAndLogins
			continue
		}
		path := strings.NewReplacer("{name}", "nope", "{user}", "nobody", "{id}", "000000000000", "{conn}", "nope", "{grant}", "999", "{table}", "nope", "{ws}", "a").Replace(rt.path)
		for _, p := range principals {
			status, body := e.do(e.tokens[p.user], "a", rt.method, path, "{}")
			allowed := auth.Allows(p.role, p.admin, rt.perm)
			hidden := p.stray && rt.perm != auth.Self && rt.perm != auth.ServerAdmin
			switch {
			case status == http.StatusUnauthorized:
				t.Errorf("%s %s as %s: 401 %s", rt.method, path, p.user, body)
			case hidden && status != http.StatusNotFound:
				t.Errorf("%s %s as %s, no member of a: %d %s, want 404", rt.method, path, p.user, status, body)
			case hidden:
			case allowed && status == http.StatusForbidden:
				t.Errorf("%s %s as %s (%s): refused, and the matrix allows %s: %s", rt.method, path, p.user, p.role, rt.perm, body)
			case !allowed && status != http.StatusForbidden:
				t.Errorf("%s %s as %s (%s): %d %s, want 403 (%s is not the role's)", rt.method, path, p.user, p.role, status, body, rt.perm)
			}
			walked++
		}
		// Without a token, every route but logging in asks for one.
		if status, _ := e.do("", "a", rt.method, path, "{}"); status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", rt.method, path, status)
		}
	}
	if walked < 6*25 {
		t.Fatalf("walked %d route × principal pairs: the routes are missing", walked)
	}
}

// TestWorkspacesIsolate: a workspace's members see its pipelines only, and another's
// pipeline answers as one that does not exist.
func TestWorkspacesIsolate(t *testing.T) {
	e := newAccessEnv(t)
	for _, c := range []struct{ user, ws, name string }{{"ed", "a", "pa"}, {"bob", "b", "pb"}} {
		body, _ := json.Marshal(CreateRequest{File: fmt.Sprintf(accessPipeline, c.name), Start: new(bool)})
		if status, b := e.do(e.tokens[c.user], c.ws, "POST", "/api/v1/pipelines", string(body)); status != 201 {
			t.Fatalf("create %s: %d %s", c.name, status, b)
		}
	}
	names := func(user, ws string) string {
		_, b := e.do(e.tokens[user], ws, "GET", "/api/v1/pipelines", "")
		var l PipelineList
		json.Unmarshal(b, &l)
		var out []string
		for _, p := range l.Pipelines {
			out = append(out, p.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names("va", "a"); got != "pa" {
		t.Errorf("a viewer of a lists %q", got)
	}
	if got := names("bob", "b"); got != "pb" {
		t.Errorf("bob in b lists %q", got)
	}
	if got := names("root", "b"); got != "pb" {
		t.Errorf("a server admin in b lists %q", got)
	}
	_, other := e.do(e.tokens["bob"], "b", "GET", "/api/v1/pipelines/pa", "")
	_, none := e.do(e.tokens["bob"], "b", "GET", "/api/v1/pipelines/zz", "")
	if !strings.Contains(string(other), "not found") || strings.ReplaceAll(string(other), "pa", "zz") != string(none) {
		t.Errorf("another workspace's pipeline: %s; one that does not exist: %s", other, none)
	}
	if status, _ := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines/pa/stop", ""); status != 404 {
		t.Errorf("bob stops a's pipeline: %d", status)
	}
	if status, b := e.do(e.tokens["bob"], "a", "GET", "/api/v1/pipelines", ""); status != 404 || strings.Contains(string(b), `"pa"`) {
		t.Errorf("bob lists workspace a: %d %s", status, b)
	}
	// The audit log of a holds what a's members did, and bob's refused attempt on a.
	_, b := e.do(e.tokens["ad"], "a", "GET", "/api/v1/audit", "")
	var log AuditLog
	json.Unmarshal(b, &log)
	var saw []string
	for _, en := range log.Entries {
		saw = append(saw, en.Who+" "+en.Action+" "+en.Outcome)
	}
	all := strings.Join(saw, "\n")
	if !strings.Contains(all, "ed POST /api/v1/pipelines ok") || !strings.Contains(all, "bob GET /api/v1/pipelines denied") || strings.Contains(all, "pb") {
		t.Errorf("the audit log of a:\n%s", all)
	}
}

// TestTokensAndLogins: service tokens carry their workspace and role (at most their
// maker's), are shown once and refused at once when revoked or expired, with the same
// answer as an unknown or wrong one; failed logins are limited; logging out ends the
// session.
func TestTokensAndLogins(t *testing.T) {
	e := newAccessEnv(t)
	status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/tokens", `{"name":"ci","role":"operator","expires_in":"1h"}`)
	var tok TokenResult
	if status != 201 || json.Unmarshal(b, &tok) != nil || !strings.HasPrefix(tok.Token, "weir_") {
		t.Fatalf("make a token: %d %s", status, b)
	}
	if status, _ := e.do(tok.Token, "", "POST", "/api/v1/pipelines/nope/start", ""); status != 404 {
		t.Errorf("an operator token starts: %d, want 404 (allowed; no such pipeline)", status)
	}
	if status, _ := e.do(tok.Token, "", "POST", "/api/v1/pipelines", "{}"); status != 403 {
		t.Errorf("an operator token creates: %d, want 403", status)
	}
	if status, _ := e.do(tok.Token, "b", "GET", "/api/v1/pipelines", ""); status != 404 {
		t.Errorf("a token of a in workspace b: %d, want 404", status)
	}
	_, list := e.do(e.tokens["ad"], "a", "GET", "/api/v1/tokens", "")
	if strings.Contains(string(list), tok.Token[len(tok.Token)-20:]) || !strings.Contains(string(list), tok.ID) {
		t.Errorf("the token list shows the secret, or not the token: %s", list)
	}
	if status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/tokens", `{"name":"x","role":"root"}`); status != 400 {
		t.Errorf("a token of an unknown role: %d %s", status, b)
	}
	e.st.SetMember(context.Background(), store.Member{Workspace: "a", User: "op", Role: "operator"})
	// Revoked: refused at once, as a wrong token is.
	if status, _ := e.do(e.tokens["ad"], "a", "DELETE", "/api/v1/tokens/"+tok.ID, ""); status != 204 {
		t.Fatalf("revoke: %d", status)
	}
	_, revoked := e.do(tok.Token, "", "GET", "/api/v1/pipelines", "")
	_, wrong := e.do(tok.Token[:len(tok.Token)-2]+"xx", "", "GET", "/api/v1/pipelines", "")
	_, unknown := e.do("weir_0123456789ab_"+strings.Repeat("A", 43), "", "GET", "/api/v1/pipelines", "")
	if string(revoked) != string(wrong) || string(wrong) != string(unknown) || !strings.Contains(string(wrong), "not valid") {
		t.Errorf("revoked %s, wrong %s, unknown %s: want one answer", revoked, wrong, unknown)
	}
	// Expired.
	ex, _ := auth.NewToken()
	e.st.AddToken(context.Background(), store.TokenRecord{ID: ex.ID, Hash: ex.Hash, Kind: "service", Name: "old", Workspace: "a", Role: "viewer",
		Expires: time.Now().Add(-time.Second), CreatedBy: "ad"})
	if _, b := e.do(ex.Plain, "", "GET", "/api/v1/pipelines", ""); string(b) != string(wrong) {
		t.Errorf("an expired token: %s", b)
	}
	// Failed logins are limited per user and address.
	for i := range loginFailures {
		if status, _ := e.do("", "", "POST", "/api/v1/login", `{"user":"va","password":"wrong password!"}`); status != 401 {
			t.Fatalf("failed login %d: %d", i, status)
		}
	}
	if status, _ := e.do("", "", "POST", "/api/v1/login", `{"user":"va","password":"va password 1"}`); status != 429 {
		t.Errorf("a login after %d failures: %d, want 429", loginFailures, status)
	}
	// Logging out ends the session at once.
	if status, _ := e.do(e.tokens["ed"], "", "POST", "/api/v1/logout", ""); status != 204 {
		t.Fatalf("logout: %d", status)
	}
	if status, _ := e.do(e.tokens["ed"], "a", "GET", "/api/v1/pipelines", ""); status != 401 {
		t.Errorf("after logout: %d", status)
	}
	// A user's password is never in an answer.
	_, users := e.do(e.tokens["root"], "", "GET", "/api/v1/users", "")
	if bytes.Contains(users, []byte("argon2")) || bytes.Contains(users, []byte("password 1")) || !bytes.Contains(users, []byte(`"va"`)) {
		t.Errorf("the users: %s", users)
	}
}

// TestLocalAdministrator: a server with no user takes requests without a token over
// loopback (as before there were users); once one exists, it asks for a token.
func TestLocalAdministrator(t *testing.T) {
	h := newTestAPI(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	get := func() int {
		resp, err := http.Get(srv.URL + "/api/v1/whoami")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 200 {
		t.Fatalf("no user yet: %d", got)
	}
	resp, err := http.Post(srv.URL+"/api/v1/users", "application/json", strings.NewReader(`{"name":"first","password":"a long password","server_admin":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("make the first user: %d", resp.StatusCode)
	}
	if got := get(); got != 401 {
		t.Fatalf("with a user: %d, want 401", got)
	}
}

// TestConnections: a connection's credentials are sealed in the store and never come
// back — not in its view, its list, a pipeline that uses it, a test's problems, the audit
// log; a pipeline of its workspace uses it by name, another workspace's cannot know it;
// rotating the key seals them again and the old key can go.
func TestConnections(t *testing.T) {
	e := newAccessEnv(t)
	const secret = "s3cret-Pa55w0rd"
	url := "postgres://weir:" + secret + "@127.0.0.1:1/dw"
	status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/connections", `{"name":"dw","type":"postgres","settings":{"url":"`+url+`"}}`)
	if status != 201 || !strings.Contains(string(b), `"secrets":["url"]`) {
		t.Fatalf("create: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/connections", `{"name":"x","type":"postgres","settings":{}}`); status != 403 {
		t.Fatalf("an editor makes a connection: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/connections", `{"name":"y","type":"postgres","settings":{"nope":"1"}}`); status != 400 || !strings.Contains(string(b), "settings.nope") {
		t.Fatalf("an unknown setting: %d %s", status, b)
	}
	conn, _ := e.st.GetConnection(context.Background(), "dw")
	if strings.Contains(conn.Secrets, secret) || len(conn.Settings) != 0 || auth.KeyOf(conn.Secrets) != "k1" {
		t.Fatalf("stored: %+v", conn)
	}
	file := "source:\n  type: datagen\n  tables: demo.orders\n  rows: 10\nsink:\n  connection: dw\npipeline:\n  name: %s\n"
	body, _ := json.Marshal(CreateRequest{File: fmt.Sprintf(file, "uses-dw"), Start: new(bool)})
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/pipelines", string(body)); status != 201 {
		t.Fatalf("a pipeline of a that names dw: %d %s", status, b)
	}
	body, _ = json.Marshal(CreateRequest{File: fmt.Sprintf(file, "steals-dw"), Start: new(bool)})
	_, other := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", string(body))
	body, _ = json.Marshal(CreateRequest{File: strings.Replace(fmt.Sprintf(file, "steals-zz"), "dw", "zz", 1), Start: new(bool)})
	_, none := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", string(body))
	if !strings.Contains(string(other), `no connection \"dw\"`) || strings.ReplaceAll(string(other), "dw", "zz") != string(none) {
		t.Fatalf("b names a's connection: %s; one that does not exist: %s", other, none)
	}
	status, b = e.do(e.tokens["va"], "a", "POST", "/api/v1/connections/dw/test", "")
	var test ConnectionTest
	if status != 200 || json.Unmarshal(b, &test) != nil || test.OK || len(test.Problems) == 0 {
		t.Fatalf("test an unreachable connection: %d %s", status, b)
	}
	// A replacement that leaves the url out keeps it.
	if status, b := e.do(e.tokens["ad"], "a", "PUT", "/api/v1/connections/dw", `{"settings":{"sink.mode":"upsert"}}`); status != 200 || !strings.Contains(string(b), `"secrets":["url"]`) {
		t.Fatalf("replace: %d %s", status, b)
	}
	// Rotation: a new primary key seals again; then the old key can go.
	k2, _ := auth.ParseKeyring("k2="+strings.Repeat("R", 43)+"=\nk1="+strings.Repeat("Q", 43)+"=", "test")
	if n, _, err := RotateKeys(context.Background(), e.st, k2); err != nil || n != 1 {
		t.Fatalf("rotate: %d %v", n, err)
	}
	conn, _ = e.st.GetConnection(context.Background(), "dw")
	newOnly, _ := auth.ParseKeyring("k2="+strings.Repeat("R", 43)+"=", "test")
	if plain, err := newOnly.Open(conn.Secrets, "connection dw"); err != nil || !strings.Contains(string(plain), secret) {
		t.Fatalf("after rotation, the new key alone: %v", err)
	}
	// Nothing an API answers holds the credentials.
	var all []byte
	for _, path := range []string{"/api/v1/connections", "/api/v1/connections/dw", "/api/v1/pipelines", "/api/v1/pipelines/uses-dw",
		"/api/v1/pipelines/uses-dw/versions", "/api/v1/pipelines/uses-dw/events", "/api/v1/audit"} {
		_, b := e.do(e.tokens["ad"], "a", "GET", path, "")
		all = append(all, b...)
	}
	all = append(all, b...)
	for _, s := range test.Problems {
		all = append(all, s...)
	}
	if bytes.Contains(all, []byte(secret)) {
		t.Fatalf("an answer holds the connection's password:\n%s", all)
	}
}

// TestGrants: workspace b asks for a's connection for one table; until a's admin
// approves, b's pipelines cannot name it; then only within the grant's tables and only
// as a source; revoked, b's pipeline is suspended with the reason and does not start
// again; an expired grant ends the same way.
func TestGrants(t *testing.T) {
	e := newAccessEnv(t)
	if status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/connections",
		`{"name":"shopdb","type":"mariadb","settings":{"hostname":"127.0.0.1","port":"1","username":"cdc","password":"pw-1234"}}`); status != 201 {
		t.Fatalf("connection: %d %s", status, b)
	}
	file := func(name, tables string) string {
		b, _ := json.Marshal(CreateRequest{File: fmt.Sprintf("source:\n  connection: shopdb\n  tables: %s\nsink:\n  type: discard\npipeline:\n  name: %s\n", tables, name), Start: new(bool)})
		return string(b)
	}
	status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/grants", `{"connection":"shopdb","tables":"shop.orders","reason":"monthly reports"}`)
	var g store.Grant
	if status != 201 || json.Unmarshal(b, &g) != nil || g.State != store.GrantRequested {
		t.Fatalf("request: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", file("reports", "shop.orders")); status != 422 || !strings.Contains(string(b), `no connection \"shopdb\"`) {
		t.Fatalf("before approval: %d %s", status, b)
	}
	if status, _ := e.do(e.tokens["bob"], "b", "POST", fmt.Sprintf("/api/v1/grants/%d/approve", g.ID), ""); status != 404 {
		t.Fatalf("the asker approves its own grant: %d", status)
	}
	_, inbox := e.do(e.tokens["ad"], "a", "GET", "/api/v1/grants", "")
	if !strings.Contains(string(inbox), "monthly reports") {
		t.Fatalf("a's inbox: %s", inbox)
	}
	if status, b := e.do(e.tokens["ad"], "a", "POST", fmt.Sprintf("/api/v1/grants/%d/approve", g.ID), `{"why":"ok for reports"}`); status != 200 || !strings.Contains(string(b), `"approved"`) {
		t.Fatalf("approve: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", file("wide", `shop.\.*`)); status != 422 || !strings.Contains(string(b), "outside the grant") {
		t.Fatalf("tables outside the grant: %d %s", status, b)
	}
	sink, _ := json.Marshal(CreateRequest{File: "source:\n  type: datagen\n  tables: a.b\nsink:\n  connection: shopdb\npipeline:\n  name: into\n", Start: new(bool)})
	if status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", string(sink)); status != 422 { // refused: as a sink it lacks settings, and is granted to read only
		t.Fatalf("a granted connection as a sink: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", file("reports", "shop.orders")); status != 201 {
		t.Fatalf("within the grant: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ad"], "a", "POST", fmt.Sprintf("/api/v1/grants/%d/revoke", g.ID), `{"why":"audit finding"}`); status != 200 {
		t.Fatalf("revoke: %d %s", status, b)
	}
	_, evs := e.do(e.tokens["bob"], "b", "GET", "/api/v1/pipelines/reports/events", "")
	if !strings.Contains(string(evs), "revoked by ad: audit finding") {
		t.Fatalf("the pipeline's events after the revocation: %s", evs)
	}
	if status, _ := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines/reports/start", ""); status == 200 {
		_, v := e.do(e.tokens["bob"], "b", "GET", "/api/v1/pipelines/reports", "")
		if strings.Contains(string(v), `"state":"RUNNING"`) {
			t.Fatalf("the pipeline runs without its grant: %s", v)
		}
	}
	// Expiry.
	_, b = e.do(e.tokens["bob"], "b", "POST", "/api/v1/grants", `{"connection":"shopdb","tables":"shop.orders","reason":"again","expires_in":"1h"}`)
	json.Unmarshal(b, &g)
	e.do(e.tokens["ad"], "a", "POST", fmt.Sprintf("/api/v1/grants/%d/approve", g.ID), "")
	e.c.SweepGrants(context.Background(), time.Now())
	if got, _ := e.st.GetGrant(context.Background(), g.ID); got.State != store.GrantApproved {
		t.Fatalf("swept before its time: %s", got.State)
	}
	e.c.SweepGrants(context.Background(), time.Now().Add(2*time.Hour))
	if got, _ := e.st.GetGrant(context.Background(), g.ID); got.State != store.GrantExpired {
		t.Fatalf("after its time: %s", got.State)
	}
}

// TestAllowedEnv: a pipeline file on the server reads only the environment variables an
// admin allowed (--allow-env); any other ${NAME} is as unset.
func TestAllowedEnv(t *testing.T) {
	t.Setenv("WEIR_TEST_TABLES", "demo.orders")
	c := NewController(context.Background(), Options{Registry: connectors.Registry(), DataDir: t.TempDir(), AllowEnv: []string{"WEIR_TEST_TABLES"}})
	file := "source:\n  type: datagen\n  tables: ${%s}\nsink:\n  type: discard\npipeline:\n  name: p\n"
	p, err := c.Parse(fmt.Sprintf(file, "WEIR_TEST_TABLES"))
	if err != nil || p.Source.Config.String("tables") != "demo.orders" {
		t.Fatalf("an allowed variable: %v", err)
	}
	if _, err := c.Parse(fmt.Sprintf(file, "HOME")); err == nil || !strings.Contains(err.Error(), "HOME") {
		t.Fatalf("a variable not allowed: %v", err)
	}
}

// TestLineage: a two-hop chain — MariaDB → pipeline 1 → a PostgreSQL table → pipeline 2
// → files — is one graph: pipeline 1's output is pipeline 2's input, named alike, and the
// lineage of that table holds both pipelines and not an unrelated one.
func TestLineage(t *testing.T) {
	e := newAccessEnv(t)
	files := map[string]string{
		"p1": "source:\n  type: mariadb\n  hostname: 10.0.0.1\n  port: 3306\n  username: cdc\n  tables: shop.orders\nsink:\n  type: postgres\n  url: postgres://w:pw@10.0.0.2:5432/dw\npipeline:\n  name: p1\n",
		"p2": "source:\n  type: postgres\n  hostname: 10.0.0.2\n  port: 5432\n  username: cdc\n  database-name: dw\n  tables: dw.shop.orders\nsink:\n  type: file\n  path: out\npipeline:\n  name: p2\n",
		"p3": "source:\n  type: datagen\n  tables: demo.users\nsink:\n  type: discard\npipeline:\n  name: p3\n",
	}
	for name, f := range files {
		body, _ := json.Marshal(CreateRequest{File: f, Start: new(bool)})
		if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/pipelines", string(body)); status != 201 {
			t.Fatalf("create %s: %d %s", name, status, b)
		}
	}
	get := func(q string) Lineage {
		status, b := e.do(e.tokens["va"], "a", "GET", "/api/v1/lineage"+q, "")
		var l Lineage
		if status != 200 || json.Unmarshal(b, &l) != nil {
			t.Fatalf("lineage%s: %d %s", q, status, b)
		}
		return l
	}
	all := get("")
	byName := map[string]LineageJob{}
	for _, j := range all.Jobs {
		byName[j.Pipeline] = j
	}
	p1, p2 := byName["p1"], byName["p2"]
	want := Dataset{Namespace: "postgres://10.0.0.2:5432/dw", Name: "shop.orders"}
	if len(all.Jobs) != 3 || len(p1.Outputs) != 1 || p1.Outputs[0] != want || len(p2.Inputs) != 1 || p2.Inputs[0] != want ||
		p1.Inputs[0] != (Dataset{Namespace: "mysql://10.0.0.1:3306", Name: "shop.orders"}) {
		t.Fatalf("the graph: %+v", all.Jobs)
	}
	around := get("?namespace=postgres://10.0.0.2:5432/dw&table=shop.orders")
	var names []string
	for _, j := range around.Jobs {
		names = append(names, j.Pipeline)
	}
	if strings.Join(names, ",") != "p1,p2" {
		t.Fatalf("around the PostgreSQL table: %v", names)
	}
	if _, b := e.do(e.tokens["bob"], "b", "GET", "/api/v1/lineage", ""); strings.Contains(string(b), "p1") {
		t.Fatalf("another workspace sees the lineage: %s", b)
	}
}

// TestOIDCLogin: a login through an OpenID Connect provider (in-test) ends with a session
// token for the user the ID token names, made on first login with no workspace; a callback
// with a state this server did not give is refused.
func TestOIDCLogin(t *testing.T) {
	prov, err := testenv.StartOIDCProvider("weir", "client-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Stop()
	ctx := context.Background()
	dir := t.TempDir()
	st, _ := store.OpenSQLite(ctx, dir)
	defer st.Close()
	c := NewController(ctx, Options{Store: st, Registry: connectors.Registry(), DataDir: dir})
	defer c.Shutdown(0)
	a := &api{c: c, oidc: &oidcLogin{pending: map[string]oidcState{}}}
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	a.oidc.cfg = OIDCConfig{Issuer: prov.URL, ClientID: "weir", ClientSecret: "client-secret-1", RedirectURL: srv.URL + "/api/v1/oidc/callback"}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer noFollow.CloseIdleConnections()
	defer http.DefaultClient.CloseIdleConnections()
	prov.Login(map[string]string{"sub": "u-42", "preferred_username": "Dana.Smith", "email": "dana@example.com"})
	resp, err := noFollow.Get(srv.URL + "/api/v1/oidc/login")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = noFollow.Get(resp.Header.Get("Location")) // the provider signs her in and sends her back
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %v %v", resp, err)
	}
	resp.Body.Close()
	back := resp.Header.Get("Location")
	resp, err = noFollow.Get(back)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var res LoginResult
	if resp.StatusCode != 200 || json.Unmarshal(b, &res) != nil || !strings.HasPrefix(res.Token, "weir_") {
		t.Fatalf("callback: %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+res.Token)
	resp, _ = http.DefaultClient.Do(req)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var who Whoami
	if json.Unmarshal(b, &who) != nil || who.Name != "dana.smith" || who.Kind != "user" || len(who.Workspaces) != 0 {
		t.Fatalf("whoami: %s", b)
	}
	if u, err := st.GetUser(ctx, "dana.smith"); err != nil || u.Password != "" {
		t.Fatalf("the user made on first login: %+v %v", u, err)
	}
	// The same callback again (its state is spent), and a made-up one: refused.
	for _, u := range []string{back, srv.URL + "/api/v1/oidc/callback?code=x&state=forged"} {
		resp, _ := noFollow.Get(u)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("callback %s: %d", u, resp.StatusCode)
		}
	}
	// Started from the web console, the login ends in its cookie and back at the console.
	prov.Login(map[string]string{"sub": "u-42", "preferred_username": "Dana.Smith"})
	resp, _ = noFollow.Get(srv.URL + "/api/v1/oidc/login?console=1")
	resp.Body.Close()
	resp, _ = noFollow.Get(resp.Header.Get("Location"))
	resp.Body.Close()
	resp, _ = noFollow.Get(resp.Header.Get("Location"))
	resp.Body.Close()
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			ck = c
		}
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/pipelines" || ck == nil || !strings.HasPrefix(ck.Value, "weir_") ||
		!ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("the console's callback: %d %s %+v", resp.StatusCode, resp.Header.Get("Location"), ck)
	}
}

// TestCatalogRescan: the scheduled rescan scans again the connections the catalog holds
// tables of (here a datagen connection), keeping what people wrote.
func TestCatalogRescan(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	if status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/connections", `{"name":"gen","type":"datagen","settings":{"tables":"demo.orders","rows":"10"}}`); status != 201 {
		t.Fatalf("connection: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/connections/gen/scan", ""); status != 200 || !strings.Contains(string(b), `"added":["demo.orders"]`) {
		t.Fatalf("scan: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ad"], "a", "PATCH", "/api/v1/catalog/gen/demo.orders", `{"description":"the orders"}`); status != 200 {
		t.Fatalf("document: %d %s", status, b)
	}
	// A table the source no longer has, as a stale catalog would hold it: the rescan drops it.
	entries, _ := e.st.Catalog(ctx, []string{"gen"})
	e.st.PutCatalog(ctx, "gen", append(entries, store.CatalogEntry{Connection: "gen", Name: "demo.gone", Scanned: time.Now()}))
	e.c.rescan(ctx)
	after, _ := e.st.Catalog(ctx, []string{"gen"})
	if len(after) != 1 || after[0].Name != "demo.orders" || after[0].Description != "the orders" {
		t.Fatalf("after the rescan: %+v", after)
	}
}

// TestRequireConnectionsAndBounds: with --require-connections a file that holds a
// server's host and credentials is refused (datagen, files and the console need none);
// and a workspace holds a bounded number of pipelines, connections and tokens.
func TestRequireConnectionsAndBounds(t *testing.T) {
	e := newAccessEnv(t)
	e.c.requireConnections = true
	inline, _ := json.Marshal(CreateRequest{File: "source:\n  type: mariadb\n  hostname: db\n  username: u\n  password: p\n  tables: a.b\nsink:\n  type: discard\npipeline:\n  name: inline\n", Start: new(bool)})
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/pipelines", string(inline)); status != 422 || !strings.Contains(string(b), "only through a connection") {
		t.Fatalf("inline credentials: %d %s", status, b)
	}
	saved := maxPerWorkspace
	maxPerWorkspace = 1
	defer func() { maxPerWorkspace = saved }()
	gen := func(name string) string {
		b, _ := json.Marshal(CreateRequest{File: "source:\n  type: datagen\n  tables: demo.orders\nsink:\n  type: discard\npipeline:\n  name: " + name + "\n", Start: new(bool)})
		return string(b)
	}
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/pipelines", gen("one")); status != 201 {
		t.Fatalf("the first: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/pipelines", gen("two")); status != 409 || !strings.Contains(string(b), "the most a workspace may") {
		t.Fatalf("one too many: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", gen("three")); status != 201 {
		t.Fatalf("another workspace's first: %d %s", status, b)
	}
	e.do(e.tokens["ad"], "a", "POST", "/api/v1/tokens", `{"name":"t1","role":"viewer"}`)
	if status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/tokens", `{"name":"t2","role":"viewer"}`); status != 409 {
		t.Fatalf("one token too many: %d %s", status, b)
	}
}

// TestMetricsPerWorkspace: /metrics gives a workspace's member the series of its own
// pipelines (and the process's), a server admin all of them, no one without a token
// anything; --metrics-public gives everyone all.
func TestMetricsPerWorkspace(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	e.st.CreateIn(ctx, "a", "alpha-secret-name", "x", store.Stop)
	e.st.CreateIn(ctx, "b", "bravo-secret-name", "x", store.Stop)
	reg := prometheus.NewRegistry()
	rows := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_rows_in_total", Help: "h"}, []string{"pipeline", "table"})
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "process_up", Help: "h"})
	reg.MustRegister(rows, up)
	rows.WithLabelValues("alpha-secret-name", "t").Add(3)
	rows.WithLabelValues("bravo-secret-name", "t").Add(4)
	up.Set(1)
	scrape := func(public bool, token, ws string) (int, string) {
		srv := httptest.NewServer((&api{c: e.c, loopback: true}).metricsHandler(reg, public))
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ws != "" {
			req.Header.Set(WorkspaceHeader, ws)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		who, token, ws string
		public         bool
		status         int
		sees, not      []string
	}{
		{who: "a viewer of a", token: e.tokens["va"], ws: "a", status: 200, sees: []string{"alpha-secret-name", "process_up"}, not: []string{"bravo"}},
		{who: "b's admin", token: e.tokens["bob"], ws: "b", status: 200, sees: []string{"bravo-secret-name", "process_up"}, not: []string{"alpha"}},
		{who: "b's admin in a", token: e.tokens["bob"], ws: "a", status: 404, not: []string{"alpha", "bravo"}},
		{who: "a server admin", token: e.tokens["root"], status: 200, sees: []string{"alpha-secret-name", "bravo-secret-name"}},
		{who: "no one", status: 401, not: []string{"alpha", "bravo"}},
		{who: "no one, public", public: true, status: 200, sees: []string{"alpha-secret-name", "bravo-secret-name"}},
	} {
		status, body := scrape(c.public, c.token, c.ws)
		if status != c.status {
			t.Errorf("%s: %d %s", c.who, status, body)
		}
		for _, s := range c.sees {
			if !strings.Contains(body, s) {
				t.Errorf("%s does not see %s:\n%s", c.who, s, body)
			}
		}
		for _, s := range c.not {
			if strings.Contains(body, s) {
				t.Errorf("%s sees %s:\n%s", c.who, s, body)
			}
		}
	}
}

// TestGrantColumns: a grant narrowed to some columns of a table. The grantee's catalog
// and preview show those alone (the owner's, every column); a pipeline that would read
// another column — no projection, `*`, a filter on one — is refused, naming them; one
// that projects the granted columns is taken.
func TestGrantColumns(t *testing.T) {
	e := newAccessEnv(t)
	if status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/connections", `{"name":"gen","type":"datagen","settings":{"tables":"demo.orders","rows":"10"}}`); status != 201 {
		t.Fatalf("connection: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/grants", `{"connection":"gen","tables":"demo.orders","columns":{"demo.users":["id"]},"reason":"r"}`); status != 400 ||
		!strings.Contains(string(b), "columns.demo.users: not one of the tables asked for") {
		t.Fatalf("columns of a table not asked for: %d %s", status, b)
	}
	status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/grants", `{"connection":"gen","tables":"demo.orders","columns":{"demo.orders":["id","amount","status"]},"reason":"revenue"}`)
	var g store.Grant
	if status != 201 || json.Unmarshal(b, &g) != nil || len(g.Columns["demo.orders"]) != 3 {
		t.Fatalf("request: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ad"], "a", "POST", fmt.Sprintf("/api/v1/grants/%d/approve", g.ID), ""); status != 200 {
		t.Fatalf("approve: %d %s", status, b)
	}
	columns := func(entry store.CatalogEntry) string {
		var names []string
		for _, c := range entry.Columns {
			names = append(names, c.Name)
		}
		return strings.Join(names, ",")
	}
	var cat CatalogList
	_, b = e.do(e.tokens["bob"], "b", "GET", "/api/v1/catalog", "")
	if json.Unmarshal(b, &cat) != nil || len(cat.Tables) != 1 || columns(cat.Tables[0]) != "id,amount,status" {
		t.Fatalf("the grantee's catalog: %s", b)
	}
	var own store.CatalogEntry
	_, b = e.do(e.tokens["ad"], "a", "GET", "/api/v1/catalog/gen/demo.orders", "")
	if json.Unmarshal(b, &own) != nil || len(own.Columns) != 7 {
		t.Fatalf("the owner's entry: %s", b)
	}
	var pv Preview
	_, b = e.do(e.tokens["bob"], "b", "GET", "/api/v1/catalog/gen/demo.orders/preview", "")
	if json.Unmarshal(b, &pv) != nil || strings.Join(pv.Columns, ",") != "id,amount,status" || len(pv.Rows) != 10 || len(pv.Rows[0]) != 3 {
		t.Fatalf("the grantee's preview: %s", b)
	}
	file := func(name, transform string) string {
		b, _ := json.Marshal(CreateRequest{File: fmt.Sprintf("source:\n  connection: gen\nsink:\n  type: discard\n%spipeline:\n  name: %s\n", transform, name), Start: new(bool)})
		return string(b)
	}
	rule := "transform:\n  - source-table: demo.orders\n    projection: %s\n    filter: %s\n"
	for _, c := range []struct{ transform, refused string }{
		{"", "column(s) name, qty, updated_at, note outside the grant of connection gen, which gives id, amount, status"},
		{fmt.Sprintf(rule, "'*'", "amount > 1"), "column(s) name, qty, updated_at, note outside"},
		{fmt.Sprintf(rule, "id, amount, status", "qty > 1"), "column(s) qty outside"},
		{fmt.Sprintf(rule, "id, amount, UPPER(status) AS s, name", "amount > 1"), "column(s) name outside"},
	} {
		if status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", file("wide", c.transform)); status != 422 || !strings.Contains(string(b), c.refused) {
			t.Errorf("%q: %d %s", c.transform, status, b)
		}
	}
	if status, b := e.do(e.tokens["bob"], "b", "POST", "/api/v1/pipelines", file("narrow", fmt.Sprintf(rule, "id, amount, UPPER(status) AS s", "amount > 1"))); status != 201 {
		t.Fatalf("the granted columns: %d %s", status, b)
	}
}

// TestWorkspaceAlerts: a workspace's own rules apply to its pipelines over the server's,
// and its channels get its pipelines' alerts alone, while the server's webhooks get
// every workspace's. A channel's URL (its token in the path) is sealed, answered as its
// host only, and sealed again by a key rotation.
func TestWorkspaceAlerts(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	type got struct {
		mu sync.Mutex
		ns []Notification
	}
	hook := func(g *got) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var n Notification
			json.NewDecoder(r.Body).Decode(&n)
			g.mu.Lock()
			g.ns = append(g.ns, n)
			g.mu.Unlock()
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	var atA, atB, atServer got
	hookA, hookB, hookServer := hook(&atA), hook(&atB), hook(&atServer)
	e.st.CreateIn(ctx, "a", "pa", "x", store.Stop)
	e.st.CreateIn(ctx, "b", "pb", "x", store.Stop)

	if status, b := e.do(e.tokens["ed"], "a", "PUT", "/api/v1/alert-rules", `{"rules":[{"name":"table_paused","pipeline":"pb"}]}`); status != 400 ||
		!strings.Contains(string(b), `no such pipeline in workspace a`) {
		t.Fatalf("a rule for another workspace's pipeline: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ed"], "a", "PUT", "/api/v1/alert-rules", `{"rules":[{"name":"table_paused","severity":"critical"},{"name":"lag","threshold":60,"for":"1m"}]}`); status != 200 ||
		!strings.Contains(string(b), `"effective"`) {
		t.Fatalf("a's rules: %d %s", status, b)
	}
	var view AlertRules
	_, b := e.do(e.tokens["va"], "a", "GET", "/api/v1/alert-rules", "")
	if json.Unmarshal(b, &view) != nil || len(view.Rules) != 2 || !slices.ContainsFunc(view.Effective, func(r AlertRule) bool {
		return r.Name == "lag" && r.Threshold == 60 && r.For == "1m0s"
	}) {
		t.Fatalf("a's rules as a viewer reads them: %s", b)
	}
	const token = "T0001/B0002/xoxb-channel-token"
	if status, b := e.do(e.tokens["ed"], "a", "PUT", "/api/v1/alert-channels", `{"channels":[]}`); status != 403 {
		t.Fatalf("an editor sets the channels: %d %s", status, b)
	}
	status, b := e.do(e.tokens["ad"], "a", "PUT", "/api/v1/alert-channels", fmt.Sprintf(`{"channels":[{"name":"ops","url":%q}]}`, hookA.URL+"/"+token))
	if status != 200 || strings.Contains(string(b), token) || !strings.Contains(string(b), `"host":"127.0.0.1"`) {
		t.Fatalf("a's channel: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["bob"], "b", "PUT", "/api/v1/alert-channels", fmt.Sprintf(`{"channels":[{"name":"ops","url":%q}]}`, hookB.URL)); status != 200 {
		t.Fatalf("b's channel: %d %s", status, b)
	}
	// Renamed format, URL left out: kept.
	if status, b := e.do(e.tokens["ad"], "a", "PUT", "/api/v1/alert-channels", `{"channels":[{"name":"ops","format":"json"}]}`); status != 200 {
		t.Fatalf("a's channel, URL kept: %d %s", status, b)
	}
	if _, b := e.do(e.tokens["va"], "a", "GET", "/api/v1/alert-channels", ""); strings.Contains(string(b), token) || !strings.Contains(string(b), `"ops"`) {
		t.Fatalf("a's channels as read: %s", b)
	}
	if set, _ := e.st.GetAlertSettings(ctx, "a"); strings.Contains(set.Channels, token) {
		t.Fatal("the store holds the channel's URL in the clear")
	}

	al := newAlerter(e.c, AlertConfig{Webhooks: []string{hookServer.URL}}, e.c.log)
	e.c.paused["pa"] = map[string]string{"t.a": "paused"}
	e.c.paused["pb"] = map[string]string{"t.b": "paused"}
	al.evaluate(ctx, time.Now())
	al.close()
	pipelines := func(g *got) string {
		g.mu.Lock()
		defer g.mu.Unlock()
		var out []string
		for _, n := range g.ns {
			out = append(out, n.Pipeline+":"+n.Severity)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	if a, b, s := pipelines(&atA), pipelines(&atB), pipelines(&atServer); a != "pa:critical" || b != "pb:warning" || s != "pa:critical,pb:warning" {
		t.Fatalf("delivered: a's channel %q, b's %q, the server's webhook %q", a, b, s)
	}

	// A key rotation seals the channel again; the new key alone opens it.
	k2, _ := auth.ParseKeyring("k2="+strings.Repeat("R", 43)+"=,k1="+strings.Repeat("Q", 43)+"=", "test")
	if _, n, err := RotateKeys(ctx, e.st, k2); err != nil || n != 2 {
		t.Fatalf("rotate: %d channel(s), %v", n, err)
	}
	only, _ := auth.ParseKeyring("k2="+strings.Repeat("R", 43)+"=", "test")
	e.c.keys = only
	if ts := e.c.channelsOf("a", func() []sealedChannel {
		set, _ := e.st.GetAlertSettings(ctx, "a")
		_, ch, _ := workspaceAlerts(set)
		return ch
	}()); len(ts) != 1 || !strings.HasSuffix(ts[0].url, token) {
		t.Fatalf("the channel after the rotation: %+v", ts)
	}
}

// TestValidateAndHistory: POST /api/v1/validate answers a file's problems with their
// lines (creating nothing), or that it is valid; a running pipeline's samples are its
// history.
func TestValidateAndHistory(t *testing.T) {
	e := newAccessEnv(t)
	status, b := e.do(e.tokens["va"], "a", "POST", "/api/v1/validate", `{"file":"source:\n  type: datagen\n  tables: demo.orders\n  rows: nope\nsink:\n  type: discard\npipeline:\n  name: v\n"}`)
	var v Validation
	if status != 200 || json.Unmarshal(b, &v) != nil || v.Valid || len(v.Problems) != 1 || v.Problems[0].Line != 4 || v.Problems[0].Path != "source.rows" {
		t.Fatalf("a bad file: %d %s", status, b)
	}
	file := "source:\n  type: datagen\n  tables: demo.orders\n  rows: 5\nsink:\n  type: discard\npipeline:\n  name: hist\n"
	body, _ := json.Marshal(ValidateRequest{File: file})
	if status, b := e.do(e.tokens["va"], "a", "POST", "/api/v1/validate", string(body)); status != 200 || json.Unmarshal(b, &v) != nil || !v.Valid || v.Name != "hist" {
		t.Fatalf("a valid file: %d %s", status, b)
	}
	if _, err := e.st.Get(context.Background(), "hist"); err == nil {
		t.Fatal("validate created the pipeline")
	}
	create, _ := json.Marshal(CreateRequest{File: file})
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/pipelines", string(create)); status != 201 {
		t.Fatalf("create: %d %s", status, b)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		e.c.sample(time.Now())
		var h History
		_, b := e.do(e.tokens["va"], "a", "GET", "/api/v1/pipelines/hist/history", "")
		if json.Unmarshal(b, &h) == nil && len(h.Samples) > 0 && h.Samples[len(h.Samples)-1].RowsOut >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sample of the pipeline's rows: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, _ := e.do(e.tokens["bob"], "b", "GET", "/api/v1/pipelines/hist/history", ""); status != 404 {
		t.Fatalf("another workspace's history: %d", status)
	}
}

// TestPipelinePreview: POST /api/v1/preview shows each sink table's schema (with the
// PostgreSQL sink's type of each column) and first rows through the file's transforms and
// routes (two tables merged into one), writing, creating and connecting to the sink
// nothing; a viewer may not, and a bad file answers its problems.
func TestPipelinePreview(t *testing.T) {
	e := newAccessEnv(t)
	file := "source:\n  type: datagen\n  tables: demo.a, demo.b\n  rows: 50\ntransform:\n  - source-table: demo.\\.*\n    projection: id, UPPER(status) AS status\n    filter: id > 10\nroute:\n  - source-table: demo.\\.*\n    sink-table: dw.all\nsink:\n  type: postgres\n  url: postgres://nobody@127.0.0.1:1/dw\npipeline:\n  name: pv\n"
	body, _ := json.Marshal(PreviewRequest{File: file, Limit: 3})
	status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/preview", string(body))
	var pv PipelinePreview
	if status != 200 || json.Unmarshal(b, &pv) != nil || !strings.Contains(pv.Text, "dw.all  (from demo.a; 3 rows shown)") || strings.Contains(pv.Text, `"id":1,`) ||
		!strings.Contains(pv.Text, "id int64 (sink: bigint) key not null") {
		t.Fatalf("preview: %d %s\n%s", status, b, pv.Text)
	}
	if _, err := e.st.Get(context.Background(), "pv"); err == nil {
		t.Fatal("the preview created the pipeline")
	}
	if status, _ := e.do(e.tokens["va"], "a", "POST", "/api/v1/preview", string(body)); status != 403 {
		t.Fatalf("a viewer's preview: %d", status)
	}
	bad, _ := json.Marshal(PreviewRequest{File: strings.Replace(file, "rows: 50", "rows: x", 1)})
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/preview", string(bad)); status != 422 || !strings.Contains(string(b), "source.rows") {
		t.Fatalf("a bad file: %d %s", status, b)
	}
}

// TestClearanceOfPostgresTables: a PostgreSQL connection's tables are catalogued as
// db.schema.table and selected as schema.table; its confidential column must be masked
// all the same (they were matched as db and schema.table, and the check let it through).
func TestClearanceOfPostgresTables(t *testing.T) {
	e := newAccessEnv(t)
	if status, b := e.do(e.tokens["ad"], "a", "POST", "/api/v1/connections",
		`{"name":"pgc","type":"postgres","settings":{"hostname":"127.0.0.1","port":"1","username":"cdc","database-name":"dw"}}`); status != 201 {
		t.Fatalf("connection: %d %s", status, b)
	}
	e.st.PutCatalog(context.Background(), "pgc", []store.CatalogEntry{{Connection: "pgc", Name: "dw.public.customers", RowEstimate: -1, Scanned: time.Now(),
		Columns: []store.CatalogColumn{{Name: "id", Type: "int32", Key: true, Level: "internal"}, {Name: "email", Type: "string", Level: "confidential", Proposed: "email"}}}})
	file := func(name, transform string) string {
		b, _ := json.Marshal(CreateRequest{Start: new(bool), File: fmt.Sprintf("source:\n  connection: pgc\n  tables: public.customers\nsink:\n  type: discard\n%spipeline:\n  name: %s\n", transform, name)})
		return string(b)
	}
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/pipelines", file("plain", "")); status != 422 ||
		!strings.Contains(string(b), "column email of dw.public.customers is confidential") {
		t.Fatalf("the confidential column unmasked: %d %s", status, b)
	}
	if status, b := e.do(e.tokens["ed"], "a", "POST", "/api/v1/pipelines", file("masked", "transform:\n  - source-table: public.customers\n    mask:\n      - email = null\n")); status != 201 {
		t.Fatalf("masked: %d %s", status, b)
	}
}
