package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/store"
)

// Who may do what (DESIGN §4, Access). Every request carries a principal:
//
//	a user         logged in (POST /api/v1/login) with a session token; acts in the
//	               workspace the Weir-Workspace header names (default "default"), with
//	               their role there
//	a service      an API token made for a workspace with a role (POST /api/v1/tokens)
//	the local      a server with no user yet, asked over loopback without a token: the
//	administrator  first user is made so (weir server user add, or the API)
//
// A token is sent as "Authorization: Bearer weir_…". Each route names the permission it
// needs (routes); auth's matrix says which roles have it. What the principal may not see
// is answered as if it did not exist: a pipeline of another workspace is 404, as is a
// workspace one is no member of, and lists hold only the workspace's own.

// Principal is who makes a request, and in which workspace.
type Principal struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"` // user, service or local
	ServerAdmin bool      `json:"server_admin"`
	Workspace   string    `json:"workspace"`
	Role        auth.Role `json:"role,omitempty"` // in Workspace ("" none)
	tokenID     string
}

type principalKey struct{}

// PrincipalOf returns the request's principal.
func PrincipalOf(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// workspaceOf is the workspace a request acts in.
func workspaceOf(ctx context.Context) string {
	if w := PrincipalOf(ctx).Workspace; w != "" {
		return w
	}
	return store.DefaultWorkspace
}

// WorkspaceHeader names the workspace a user's request acts in.
const WorkspaceHeader = "Weir-Workspace"

// sessionTTL is how long a login lasts.
const sessionTTL = 12 * time.Hour

var errNeedAuth = errors.New("authentication required: log in (weir login) or send an API token (Authorization: Bearer weir_…)")

// authError is an answer of the authentication: its status and message.
type authError struct {
	status int
	msg    string
}

func (e *authError) Error() string { return e.msg }

// authenticate finds the request's principal.
func (a *api) authenticate(r *http.Request) (Principal, error) {
	ctx := r.Context()
	h := r.Header.Get("Authorization")
	if h == "" {
		n, err := a.c.st.CountUsers(ctx)
		if err != nil {
			return Principal{}, err
		}
		if n == 0 && a.loopback {
			return Principal{Name: "local-admin", Kind: "local", ServerAdmin: true, Workspace: headerWorkspace(r), Role: auth.Admin}, nil
		}
		return Principal{}, &authError{http.StatusUnauthorized, errNeedAuth.Error()}
	}
	plain, ok := strings.CutPrefix(h, "Bearer ")
	id, secret, ok2 := auth.ParseToken(strings.TrimSpace(plain))
	var rec *store.TokenRecord
	if ok && ok2 {
		var err error
		if rec, err = a.c.st.Token(ctx, id); err != nil {
			return Principal{}, err
		}
	}
	hash := ""
	if rec != nil {
		hash = rec.Hash
	}
	// Checked in the same time whether the id exists or not; every failure is one answer.
	if !auth.CheckSecret(hash, secret) || !rec.Revoked.IsZero() || time.Now().After(rec.Expires) {
		return Principal{}, &authError{http.StatusUnauthorized, auth.ErrBadToken.Error()}
	}
	if rec.Kind == "service" {
		if w := r.Header.Get(WorkspaceHeader); w != "" && w != rec.Workspace {
			return Principal{}, &authError{http.StatusNotFound, fmt.Sprintf("workspace %q: not found, or not this token's", w)}
		}
		return Principal{Name: rec.Name, Kind: "service", Workspace: rec.Workspace, Role: auth.Role(rec.Role), tokenID: rec.ID}, nil
	}
	u, err := a.c.st.GetUser(ctx, rec.User)
	if store.IsNotFound(err) {
		return Principal{}, &authError{http.StatusUnauthorized, auth.ErrBadToken.Error()}
	}
	if err != nil {
		return Principal{}, err
	}
	p := Principal{Name: u.Name, Kind: "user", ServerAdmin: u.ServerAdmin, Workspace: headerWorkspace(r), tokenID: rec.ID}
	role, err := a.c.st.RoleOf(ctx, p.Workspace, u.Name)
	p.Role = auth.Role(role)
	return p, err
}

func headerWorkspace(r *http.Request) string {
	if w := r.Header.Get(WorkspaceHeader); w != "" {
		return w
	}
	return store.DefaultWorkspace
}

// authorize checks that p may use route rt on this request; the error's status is the
// answer (404 where p may not know the thing exists).
func (a *api) authorize(r *http.Request, rt route, p Principal) error {
	ctx := r.Context()
	if rt.perm != auth.Self && rt.perm != auth.ServerAdmin {
		if p.Role == "" && !p.ServerAdmin {
			return &authError{http.StatusNotFound, fmt.Sprintf("workspace %q: not found, or you are no member of it", p.Workspace)}
		}
		if p.ServerAdmin {
			ok, err := a.c.st.WorkspaceExists(ctx, p.Workspace)
			if err != nil {
				return err
			}
			if !ok {
				return &authError{http.StatusNotFound, fmt.Sprintf("workspace %q: not found", p.Workspace)}
			}
		}
	}
	if !auth.Allows(p.Role, p.ServerAdmin, rt.perm) {
		who := fmt.Sprintf("role %s in workspace %s", p.Role, p.Workspace)
		if rt.perm == auth.ServerAdmin {
			who = "a non-admin"
		}
		return &authError{http.StatusForbidden, fmt.Sprintf("%s may not %s %s (it needs %s)", who, r.Method, rt.path, rt.perm)}
	}
	if name := r.PathValue("name"); name != "" && strings.HasPrefix(rt.path, "/api/v1/pipelines/") {
		rec, err := a.c.st.Get(ctx, name)
		if err == nil && rec.Workspace != p.Workspace {
			return fmt.Errorf("pipeline %q: %w", name, store.ErrNotFound) // the same answer as none
		}
	}
	return nil
}

// audit records what a request did (any request that changes something, any that was
// refused, every login).
func (a *api) audit(r *http.Request, p Principal, action, target, outcome, detail string) {
	who := p.Name
	if p.Kind == "service" {
		who = "service:" + p.Name
	}
	if err := a.c.st.Audit(context.WithoutCancel(r.Context()), store.AuditEntry{Who: who, Workspace: p.Workspace, Action: action,
		Target: target, Outcome: outcome, From: remoteIP(r), Detail: detail}); err != nil && a.c.log != nil {
		a.c.log.Error("could not write the audit log", "err", err)
	}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// statusWriter keeps the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logins limits failed logins: at most loginFailures per user and address in
// loginWindow; then 429 until the window has passed.
type logins struct {
	mu     sync.Mutex
	failed map[string][]time.Time
}

const (
	loginFailures = 5
	loginWindow   = 5 * time.Minute
)

func (l *logins) blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed == nil {
		l.failed = map[string][]time.Time{}
	}
	recent := l.failed[key][:0]
	for _, t := range l.failed[key] {
		if now.Sub(t) < loginWindow {
			recent = append(recent, t)
		}
	}
	l.failed[key] = recent
	return len(recent) >= loginFailures
}

func (l *logins) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed == nil {
		l.failed = map[string][]time.Time{}
	}
	if len(l.failed) > 100_000 { // bounded: a flood of names forgets the oldest
		clear(l.failed)
	}
	l.failed[key] = append(l.failed[key], now)
}

// LoginRequest logs a user in.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// LoginResult is a session token, shown once.
type LoginResult struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if !decode(w, r, &req) {
		return
	}
	key := req.User + "\x00" + remoteIP(r)
	now := time.Now()
	p := Principal{Name: req.User, Kind: "user"}
	if a.logins.blocked(key, now) {
		a.audit(r, p, "login", req.User, "denied", "too many failed logins")
		w.Header().Set("Retry-After", fmt.Sprint(int(loginWindow.Seconds())))
		writeError(w, http.StatusTooManyRequests, Error{Error: "too many failed logins for this user from this address: wait a few minutes"})
		return
	}
	u, err := a.c.st.GetUser(r.Context(), req.User)
	hash := ""
	if err == nil {
		hash = u.Password
	} else if !store.IsNotFound(err) {
		fail(w, err)
		return
	}
	if !auth.CheckPassword(hash, req.Password) { // an unknown user takes as long as a wrong password
		a.logins.fail(key, now)
		a.audit(r, p, "login", req.User, "denied", "wrong user or password")
		writeError(w, http.StatusUnauthorized, Error{Error: "wrong user or password"})
		return
	}
	a.session(w, r, Principal{Name: u.Name, Kind: "user"}, false)
}

// Whoami is the request's principal and its workspaces.
type Whoami struct {
	Principal
	Workspaces []store.Member `json:"workspaces"`
}

func (a *api) whoami(w http.ResponseWriter, r *http.Request) {
	p := PrincipalOf(r.Context())
	out := Whoami{Principal: p, Workspaces: []store.Member{}}
	if p.Kind == "user" {
		ms, err := a.c.st.Members(r.Context(), "", p.Name)
		if err != nil {
			fail(w, err)
			return
		}
		out.Workspaces = append(out.Workspaces, ms...)
	} else if p.Kind == "service" {
		out.Workspaces = append(out.Workspaces, store.Member{Workspace: p.Workspace, User: p.Name, Role: string(p.Role)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) logout(w http.ResponseWriter, r *http.Request) {
	p := PrincipalOf(r.Context())
	if p.tokenID != "" && p.Kind == "user" {
		if err := a.c.st.RevokeToken(r.Context(), "", p.tokenID); err != nil {
			fail(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// names of users, workspaces and service accounts.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func checkName(what, name string) error {
	if !namePattern.MatchString(name) {
		return &BadRequest{fmt.Errorf("%s %q: use 1-63 lower-case letters, digits, '_', '.' or '-', starting with a letter or digit", what, name)}
	}
	return nil
}

// UserRequest makes a user.
type UserRequest struct {
	Name        string `json:"name"`
	Password    string `json:"password"` // write-only
	ServerAdmin bool   `json:"server_admin"`
}

// Users lists the users.
type Users struct {
	Users []store.User `json:"users"`
}

func (a *api) users(w http.ResponseWriter, r *http.Request) {
	us, err := a.c.st.Users(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Users{Users: append([]store.User{}, us...)})
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) {
	var req UserRequest
	if !decode(w, r, &req) {
		return
	}
	if err := checkName("user", req.Name); err != nil {
		fail(w, err)
		return
	}
	if err := CreateUser(r.Context(), a.c.st, req.Name, req.Password, req.ServerAdmin); err != nil {
		fail(w, err)
		return
	}
	u, err := a.c.st.GetUser(r.Context(), req.Name)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

// CreateUser hashes password and adds the user (weir server user add, and the API).
func CreateUser(ctx context.Context, st *store.Store, name, password string, serverAdmin bool) error {
	if err := checkName("user", name); err != nil {
		return err
	}
	h, err := auth.HashPassword(password)
	if err != nil {
		return &BadRequest{fmt.Errorf("password: %w", err)}
	}
	return st.CreateUser(ctx, store.User{Name: name, Password: h, ServerAdmin: serverAdmin})
}

func (a *api) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := a.c.st.DeleteUser(r.Context(), r.PathValue("user")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// WorkspaceRequest makes a workspace.
type WorkspaceRequest struct {
	Name string `json:"name"`
}

// Workspaces lists workspaces: all to a server admin, one's own to others.
type Workspaces struct {
	Workspaces []string `json:"workspaces"`
}

func (a *api) workspaces(w http.ResponseWriter, r *http.Request) {
	p := PrincipalOf(r.Context())
	out := Workspaces{Workspaces: []string{}}
	switch {
	case p.ServerAdmin:
		ws, err := a.c.st.Workspaces(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		out.Workspaces = append(out.Workspaces, ws...)
	case p.Kind == "service":
		out.Workspaces = append(out.Workspaces, p.Workspace)
	default:
		ms, err := a.c.st.Members(r.Context(), "", p.Name)
		if err != nil {
			fail(w, err)
			return
		}
		for _, m := range ms {
			out.Workspaces = append(out.Workspaces, m.Workspace)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) createWorkspace(w http.ResponseWriter, r *http.Request) {
	var req WorkspaceRequest
	if !decode(w, r, &req) {
		return
	}
	if err := checkName("workspace", req.Name); err != nil {
		fail(w, err)
		return
	}
	if err := a.c.st.CreateWorkspace(r.Context(), req.Name); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, req)
}

// MemberRequest gives a user a role in the workspace.
type MemberRequest struct {
	Role string `json:"role"`
}

// Members lists the workspace's members.
type Members struct {
	Members []store.Member `json:"members"`
}

func (a *api) members(w http.ResponseWriter, r *http.Request) {
	ms, err := a.c.st.Members(r.Context(), workspaceOf(r.Context()), "")
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Members{Members: append([]store.Member{}, ms...)})
}

// grantable checks that p may hand out role: a known role, at most p's own.
func grantable(p Principal, role string) error {
	if !auth.ValidRole(auth.Role(role)) {
		return &BadRequest{fmt.Errorf("role %q: want one of %v", role, auth.Roles)}
	}
	if !p.ServerAdmin && !auth.AtMost(auth.Role(role), p.Role) {
		return &authError{http.StatusForbidden, fmt.Sprintf("role %s may not give role %s", p.Role, role)}
	}
	return nil
}

func (a *api) setMember(w http.ResponseWriter, r *http.Request) {
	var req MemberRequest
	if !decode(w, r, &req) {
		return
	}
	p := PrincipalOf(r.Context())
	user := r.PathValue("user")
	if err := grantable(p, req.Role); err != nil {
		fail(w, err)
		return
	}
	if _, err := a.c.st.GetUser(r.Context(), user); err != nil {
		fail(w, err)
		return
	}
	m := store.Member{Workspace: p.Workspace, User: user, Role: req.Role}
	if err := a.c.st.SetMember(r.Context(), m); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *api) removeMember(w http.ResponseWriter, r *http.Request) {
	if err := a.c.st.RemoveMember(r.Context(), workspaceOf(r.Context()), r.PathValue("user")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TokenRequest makes a service account's token for the workspace.
type TokenRequest struct {
	Name      string `json:"name"`       // the service account
	Role      string `json:"role"`       // its role in the workspace, at most the maker's
	ExpiresIn string `json:"expires_in"` // a Go duration, at most a year (default 90 days)
}

// TokenResult is a new token: Token is shown this once.
type TokenResult struct {
	Token string `json:"token"`
	store.TokenRecord
}

// TokenList lists the workspace's service tokens (never their secrets).
type TokenList struct {
	Tokens []store.TokenRecord `json:"tokens"`
}

func (a *api) tokens(w http.ResponseWriter, r *http.Request) {
	ts, err := a.c.st.Tokens(r.Context(), workspaceOf(r.Context()))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, TokenList{Tokens: append([]store.TokenRecord{}, ts...)})
}

func (a *api) createToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if !decode(w, r, &req) {
		return
	}
	p := PrincipalOf(r.Context())
	if err := checkName("service account", req.Name); err != nil {
		fail(w, err)
		return
	}
	if err := grantable(p, req.Role); err != nil {
		fail(w, err)
		return
	}
	ttl, err := expiresIn(req.ExpiresIn, 90*24*time.Hour)
	if err != nil {
		fail(w, err)
		return
	}
	if err := a.c.bounded(r.Context(), "tokens", p.Workspace); err != nil {
		fail(w, err)
		return
	}
	tok, err := auth.NewToken()
	if err != nil {
		fail(w, err)
		return
	}
	rec := store.TokenRecord{ID: tok.ID, Hash: tok.Hash, Kind: "service", Name: req.Name, Workspace: p.Workspace, Role: req.Role,
		Expires: time.Now().Add(ttl).UTC().Truncate(time.Microsecond), CreatedBy: p.Name}
	if err := a.c.st.AddToken(r.Context(), rec); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, TokenResult{Token: tok.Plain, TokenRecord: rec})
}

func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := a.c.st.RevokeToken(r.Context(), workspaceOf(r.Context()), r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// AuditLog is a page of the workspace's audit log, oldest first; Next is the after= of
// the next page.
type AuditLog struct {
	Entries []store.AuditEntry `json:"entries"`
	Next    int64              `json:"next"`
}

func (a *api) auditLog(w http.ResponseWriter, r *http.Request) {
	after, err := intQuery(r, "after", 0, 0, 1<<62)
	var limit int64
	if err == nil {
		limit, err = intQuery(r, "limit", 100, 1, 1000)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
		return
	}
	es, err := a.c.st.AuditLog(r.Context(), workspaceOf(r.Context()), after, int(limit))
	if err != nil {
		fail(w, err)
		return
	}
	out := AuditLog{Entries: append([]store.AuditEntry{}, es...), Next: after}
	if len(es) > 0 {
		out.Next = es[len(es)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// expiresIn reads a request's expires_in: a duration up to a year, def when empty.
func expiresIn(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > 366*24*time.Hour {
		return 0, &BadRequest{fmt.Errorf("expires_in %q: a duration up to a year, e.g. 720h", s)}
	}
	return d, nil
}

// metricsRoute is /metrics as authorize sees it: reading the workspace's pipelines.
var metricsRoute = route{method: "GET", path: "/metrics", perm: auth.ReadPipelines}

// metricsHandler serves /metrics. A server admin (and the local administrator) gets every
// series; a member of a workspace — a user naming it in Weir-Workspace, a service token of
// it, which is what a workspace's own Prometheus scrapes with — the series of the
// workspace's pipelines and those of no pipeline (the process's); anyone else what a
// refused API request gets. With public, anyone gets every series.
func (a *api) metricsHandler(g prometheus.Gatherer, public bool) http.Handler {
	all := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public {
			all.ServeHTTP(w, r)
			return
		}
		p, err := a.authenticate(r)
		if err == nil {
			err = a.authorize(r, metricsRoute, p)
		}
		if err != nil {
			if ae := new(authError); errors.As(err, &ae) && ae.status != http.StatusUnauthorized {
				a.audit(r, p, "GET /metrics", "/metrics", "denied", err.Error())
			}
			fail(w, err)
			return
		}
		if p.ServerAdmin {
			all.ServeHTTP(w, r)
			return
		}
		recs, err := a.c.st.List(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		own := map[string]bool{}
		for _, rec := range recs {
			if rec.Workspace == p.Workspace {
				own[rec.Name] = true
			}
		}
		mine := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			mfs, err := g.Gather()
			var out []*dto.MetricFamily
			for _, mf := range mfs {
				mf.Metric = slices.DeleteFunc(mf.Metric, func(m *dto.Metric) bool {
					i := slices.IndexFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == "pipeline" })
					return i >= 0 && !own[m.Label[i].GetValue()]
				})
				if len(mf.Metric) > 0 {
					out = append(out, mf)
				}
			}
			return out, err
		})
		promhttp.HandlerFor(mine, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	})
}
