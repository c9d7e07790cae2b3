// Package console is weir's web console: pages rendered on the server from html/template,
// made live by a small pinned script (htmx 2.0 and its server-sent-events extension,
// embedded) — no Node step, no separate process, a few hundred KB in the binary.
//
// The console is a client of the server's API, in process: each page asks the API what
// it shows, with the signed-in user's token and workspace, and each button posts to the
// API the same way. It holds no state and has no way around the API's authorization: it
// hides the controls a role may not use, and the API refuses them anyway.
//
// Sessions: signing in (POST /ui/login) logs in through the API and keeps the session
// token in an HttpOnly, SameSite=Strict cookie; the workspace is a cookie too. A request
// that changes something must come from the console's own pages (its Origin, or
// Sec-Fetch-Site, says so), so another site cannot post on the user's behalf.
package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/server"
)

//go:embed assets templates
var files embed.FS

// Options configure the console.
type Options struct {
	// OIDC: the server has an OpenID Connect login (a "sign in with" link).
	OIDC bool
	// Closing is closed when the server stops: live streams end then.
	Closing <-chan struct{}
	// Registry is the server's connectors (the editor's reference).
	Registry *connector.Registry
}

// Console serves the pages.
type Console struct {
	api  http.Handler
	opts Options
	tmpl map[string]*template.Template
	mux  *http.ServeMux
	docs string // the reference of the pipeline file and its connectors
}

const (
	sessionCookie   = server.SessionCookie
	workspaceCookie = "weir_ws"
)

// New is the console over api (the server's API handler).
func New(api http.Handler, opts Options) (*Console, error) {
	c := &Console{api: api, opts: opts, tmpl: map[string]*template.Template{}, mux: http.NewServeMux(), docs: docsOf(opts.Registry)}
	pages, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html", p)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		c.tmpl[name] = t
	}
	c.routes()
	return c, nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
		http.Error(w, "refused: a request that changes something must come from the console's own pages", http.StatusForbidden)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin reports whether a request comes from the console's own pages.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return r.Header.Get("Sec-Fetch-Site") != "" // a browser that says where it comes from
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func (c *Console) routes() {
	m := c.mux
	sub, _ := fs.Sub(files, "assets")
	assets := http.StripPrefix("/ui/assets/", http.FileServerFS(sub))
	m.Handle("GET /ui/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		assets.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/pipelines", http.StatusFound) })
	m.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/pipelines", http.StatusFound) })
	m.HandleFunc("GET /ui/login", c.loginPage)
	m.HandleFunc("POST /ui/login", c.login)
	m.HandleFunc("POST /ui/logout", c.logout)
	m.HandleFunc("POST /ui/workspace", c.switchWorkspace)
	c.pipelineRoutes()
	c.wizardRoutes()
	c.accessRoutes()
	c.dataRoutes()
}

// session is one request of a signed-in browser: it calls the API as its user.
type session struct {
	c   *Console
	r   *http.Request
	who server.Whoami
}

// errSignIn: the API wants a token the browser does not have (or has one no longer good).
var errSignIn = errors.New("sign in")

// apiError is an answer of the API that is not a success.
type apiError struct {
	Status   int
	Msg      string
	Problems []server.Problem
}

func (e *apiError) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\nline %d: %s: %s", p.Line, p.Path, p.Message)
	}
	return b.String()
}

// call asks the API: method path with in as its JSON body; the answer decoded into out.
func (s *session) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(s.r.Context(), method, path, body)
	if err != nil {
		return err
	}
	req.RemoteAddr = s.r.RemoteAddr
	req.Host = s.r.Host
	if ck, err := s.r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		req.Header.Set("Authorization", "Bearer "+ck.Value)
	}
	req.Header.Set(server.WorkspaceHeader, workspaceOf(s.r))
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	s.c.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 300 {
		var se server.Error
		json.Unmarshal(rec.body.Bytes(), &se)
		e := &apiError{Status: rec.status, Msg: se.Error, Problems: se.Problems}
		if e.Msg == "" {
			e.Msg = http.StatusText(rec.status)
		}
		if rec.status == http.StatusUnauthorized {
			return errSignIn
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(rec.body.Bytes(), out)
	}
	return nil
}

// recorder keeps an API answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func workspaceOf(r *http.Request) string {
	if ck, err := r.Cookie(workspaceCookie); err == nil && ck.Value != "" {
		return ck.Value
	}
	return "default"
}

// open starts a session of a page request; where the browser must sign in first, it is
// sent there (false).
func (c *Console) open(w http.ResponseWriter, r *http.Request) (*session, bool) {
	s := &session{c: c, r: r}
	err := s.call("GET", "/api/v1/whoami", nil, &s.who)
	if errors.Is(err, errSignIn) {
		if r.Header.Get("HX-Request") != "" {
			w.Header().Set("HX-Redirect", "/ui/login")
			w.WriteHeader(http.StatusUnauthorized)
			return nil, false
		}
		http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return nil, false
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return nil, false
	}
	return s, true
}

// can reports whether the session's role in its workspace may do perm.
func (s *session) can(perm auth.Perm) bool {
	return auth.Allows(s.who.Role, s.who.ServerAdmin, perm)
}

// Page is what every page's template gets.
type Page struct {
	Title      string
	Nav        string
	Who        server.Whoami
	Workspace  string
	Workspaces []string
	Can        map[string]bool
	Flash      string
	Error      string
	Data       any
}

func (s *session) page(nav, title string, data any) *Page {
	p := &Page{Title: title, Nav: nav, Who: s.who, Workspace: workspaceOf(s.r), Data: data, Can: map[string]bool{}}
	for _, perm := range []auth.Perm{auth.ReadPipelines, auth.WritePipelines, auth.OperatePipelines, auth.ReadAlerts, auth.WriteAlerts,
		auth.ReadConnections, auth.WriteConnections, auth.ManageWorkspace} {
		p.Can[string(perm)] = s.can(perm)
	}
	var ws server.Workspaces
	if s.call("GET", "/api/v1/workspaces", nil, &ws) == nil {
		p.Workspaces = ws.Workspaces
	}
	if len(p.Workspaces) == 0 {
		p.Workspaces = []string{p.Workspace}
	}
	return p
}

// render writes page name (or, for an htmx request, the block named part of it).
func (c *Console) render(w http.ResponseWriter, name string, p any) {
	c.renderBlock(w, name, "layout", p)
}

func (c *Console) renderBlock(w http.ResponseWriter, name, block string, data any) {
	t := c.tmpl[name]
	if t == nil {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, block, data); err != nil {
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// fail answers an error of an action: for htmx, a fragment in the page's message area.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errSignIn) {
		w.Header().Set("HX-Redirect", "/ui/login")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	status := http.StatusBadRequest
	var ae *apiError
	if errors.As(err, &ae) {
		status = ae.Status
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Retarget", "#message")
		w.Header().Set("HX-Reswap", "innerHTML")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		template.Must(template.New("e").Parse(`<p class="error" role="alert">{{.}}</p>`)).Execute(w, err.Error())
		return
	}
	http.Error(w, err.Error(), status)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.renderBlock(w, "login", "layout", &Page{Title: "Sign in", Data: map[string]any{"Next": safeNext(r.URL.Query().Get("next")), "OIDC": c.opts.OIDC}})
}

// safeNext keeps a redirect after sign-in on this console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/pipelines"
	}
	return next
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	var res server.LoginResult
	err := s.call("POST", "/api/v1/login", server.LoginRequest{User: r.FormValue("user"), Password: r.FormValue("password")}, &res)
	if err != nil {
		msg := "wrong user or password"
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
			msg = ae.Msg
		}
		w.WriteHeader(http.StatusUnauthorized)
		c.renderBlock(w, "login", "layout", &Page{Title: "Sign in", Error: msg, Data: map[string]any{"Next": safeNext(r.FormValue("next")), "OIDC": c.opts.OIDC}})
		return
	}
	server.SetSessionCookie(w, r, res.Token, res.Expires)
	http.Redirect(w, r, safeNext(r.FormValue("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	s.call("POST", "/api/v1/logout", nil, nil)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

func (c *Console) switchWorkspace(w http.ResponseWriter, r *http.Request) {
	ws := r.FormValue("workspace")
	http.SetCookie(w, &http.Cookie{Name: workspaceCookie, Value: ws, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/ui/pipelines", http.StatusSeeOther)
}

// isAPI reports whether err is an answer of the API, setting ae.
func isAPI(err error, ae **apiError) bool { return errors.As(err, ae) }
