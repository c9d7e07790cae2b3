package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/store"
)

// maxBody bounds a request's body.
const maxBody = 1 << 20

// route is one endpoint of the API: the handler and what the OpenAPI document says of it.
type route struct {
	method, path, id, summary string
	params                    []param
	in                        any // the request body's type (nil: none)
	out                       any // the success body's type (nil: none)
	status                    int // the success status
	errors                    []int
	perm                      auth.Perm // what the principal must be allowed ("": none, logging in)
	h                         func(a *api, w http.ResponseWriter, r *http.Request)
}

type param struct {
	name, in, doc string
	required      bool
	typ           string // string, integer, boolean
}

var nameParam = param{name: "name", in: "path", doc: "the pipeline's name", required: true, typ: "string"}

// routes is the API, declared once: it drives the mux and the OpenAPI document.
var routes = []route{
	{method: "GET", path: "/api/v1/pipelines", id: "listPipelines", perm: auth.ReadPipelines, summary: "List the pipelines",
		params: []param{{name: "state", in: "query", doc: "only those in this state", typ: "string"}, {name: "table", in: "query", doc: "only those whose source selects this table (db.table)", typ: "string"}},
		out:    PipelineList{}, status: 200, errors: []int{400}, h: (*api).list},
	{method: "POST", path: "/api/v1/pipelines", id: "createPipeline", perm: auth.WritePipelines, summary: "Create a pipeline from its file (and start it); the same create again answers 200 with the pipeline, another file under the name 409",
		in: CreateRequest{}, out: Pipeline{}, status: 201, errors: []int{400, 409, 413, 422}, h: (*api).create},
	{method: "GET", path: "/api/v1/pipelines/{name}", id: "getPipeline", perm: auth.ReadPipelines, summary: "A pipeline: its file, state, phase, counters, last error",
		params: []param{nameParam}, out: Pipeline{}, status: 200, errors: []int{404}, h: (*api).get},
	{method: "DELETE", path: "/api/v1/pipelines/{name}", id: "deletePipeline", perm: auth.WritePipelines, summary: "Stop and delete a pipeline; drop_state=true drops its checkpoint too",
		params: []param{nameParam, {name: "drop_state", in: "query", doc: "drop its checkpoint too", typ: "boolean"}}, status: 204, errors: []int{404}, h: (*api).delete},
	{method: "PUT", path: "/api/v1/pipelines/{name}", id: "applyPipeline", perm: auth.WritePipelines, summary: "Make a file the pipeline's next version: a pipeline that runs resumes with it from a checkpoint; refused (409) where the change cannot keep its state, unless reset",
		params: []param{nameParam}, in: ApplyRequest{}, out: ApplyResult{}, status: 200, errors: []int{400, 404, 409, 413, 422}, h: (*api).apply},
	{method: "GET", path: "/api/v1/pipelines/{name}/versions", id: "pipelineVersions", perm: auth.ReadPipelines, summary: "A pipeline's versions, oldest first, with their files",
		params: []param{nameParam}, out: VersionList{}, status: 200, errors: []int{404}, h: (*api).versions},
	{method: "POST", path: "/api/v1/pipelines/{name}/rollback", id: "rollbackPipeline", perm: auth.WritePipelines, summary: "Put an earlier version in force (by default the one before)",
		params: []param{nameParam}, in: RollbackRequest{}, out: Pipeline{}, status: 200, errors: []int{400, 404, 409}, h: (*api).rollback},
	{method: "POST", path: "/api/v1/pipelines/{name}/reset", id: "resetPipeline", perm: auth.WritePipelines, summary: "Remove everything a pipeline that does not run keeps (checkpoint, replication slot and publication, the sink's checkpoint row): started again, it starts over",
		params: []param{nameParam}, out: ResetResult{}, status: 200, errors: []int{404, 409}, h: (*api).reset},
	{method: "POST", path: "/api/v1/pipelines/{name}/resnapshot", id: "resnapshotTables", perm: auth.WritePipelines, summary: "Copy tables again beside the stream: a running pipeline takes the request at its next checkpoint, a stopped one when it next starts",
		params: []param{nameParam}, in: ResnapshotRequest{}, status: 202, errors: []int{400, 404, 409}, h: (*api).resnapshot},
	{method: "POST", path: "/api/v1/pipelines/{name}/pause-tables", id: "pauseTables", perm: auth.WritePipelines, summary: "Pause tables while the others go on: their rows are not written from the next checkpoint on (a stopped pipeline: from its next start); resnapshot resumes a table by copying it again",
		params: []param{nameParam}, in: ResnapshotRequest{}, status: 202, errors: []int{400, 404, 409}, h: (*api).pauseTables},
	{method: "GET", path: "/api/v1/pipelines/{name}/logs", id: "pipelineLogs", perm: auth.ReadPipelines, summary: "The tail of a pipeline's log; follow=true streams it as server-sent events (text/event-stream), each a LogLine",
		params: []param{nameParam, {name: "tail", in: "query", doc: "at most this many lines (1-2000, default 100)", typ: "integer"},
			{name: "level", in: "query", doc: "debug, info, warn or error: that level and above (default info)", typ: "string"},
			{name: "follow", in: "query", doc: "stream new lines as they come", typ: "boolean"}},
		out: Logs{}, status: 200, errors: []int{400, 404}, h: (*api).logs},
	{method: "GET", path: "/api/v1/alerts", id: "listAlerts", perm: auth.ReadAlerts, summary: "The alerts that fire, then the last resolved ones, newest first",
		params: []param{{name: "limit", in: "query", doc: "at most this many resolved ones (0-1000, default 100)", typ: "integer"}},
		out:    Alerts{}, status: 200, errors: []int{400}, h: (*api).alerts},
	{method: "GET", path: "/api/v1/pipelines/{name}/runs", id: "pipelineRuns", perm: auth.ReadPipelines, summary: "A pipeline's runs, newest first: each start with its version, its end, end state and error",
		params: []param{nameParam, {name: "limit", in: "query", doc: "at most this many (1-1000, default 100)", typ: "integer"}},
		out:    Runs{}, status: 200, errors: []int{400, 404}, h: (*api).runs},
	{method: "GET", path: "/api/v1/pipelines/{name}/events", id: "pipelineEvents", perm: auth.ReadPipelines, summary: "A page of a pipeline's events, oldest first",
		params: []param{nameParam, {name: "after", in: "query", doc: "the events after this id", typ: "integer"}, {name: "limit", in: "query", doc: "at most this many (1-1000, default 100)", typ: "integer"}},
		out:    Events{}, status: 200, errors: []int{400, 404}, h: (*api).events},
}

// accessRoutes are the routes of access: login, users, workspaces, members, tokens, audit.
var accessRoutes = []route{
	{method: "POST", path: "/api/v1/login", id: "login", summary: "Log a user in: a session token, shown once (at most 5 failures per user and address in 5 minutes)",
		in: LoginRequest{}, out: LoginResult{}, status: 200, errors: []int{400, 401, 429}, h: (*api).login},
	{method: "POST", path: "/api/v1/logout", id: "logout", summary: "End this session (revoke its token)", perm: auth.Self, status: 204, errors: []int{401}, h: (*api).logout},
	{method: "GET", path: "/api/v1/whoami", id: "whoami", summary: "Who the request is made as, in which workspace with which role, and the workspaces of a user",
		perm: auth.Self, out: Whoami{}, status: 200, errors: []int{401}, h: (*api).whoami},
	{method: "GET", path: "/api/v1/users", id: "listUsers", summary: "The users (server admins)", perm: auth.ServerAdmin, out: Users{}, status: 200, errors: []int{401, 403}, h: (*api).users},
	{method: "POST", path: "/api/v1/users", id: "createUser", summary: "Make a user (server admins); the password is write-only",
		perm: auth.ServerAdmin, in: UserRequest{}, out: store.User{}, status: 201, errors: []int{400, 401, 403, 409}, h: (*api).createUser},
	{method: "DELETE", path: "/api/v1/users/{user}", id: "deleteUser", summary: "Remove a user, their memberships and sessions (server admins)",
		params: []param{userParam}, perm: auth.ServerAdmin, status: 204, errors: []int{401, 403, 404}, h: (*api).deleteUser},
	{method: "GET", path: "/api/v1/workspaces", id: "listWorkspaces", summary: "The workspaces: all to a server admin, one's own to others",
		perm: auth.Self, out: Workspaces{}, status: 200, errors: []int{401}, h: (*api).workspaces},
	{method: "POST", path: "/api/v1/workspaces", id: "createWorkspace", summary: "Make a workspace (server admins)",
		perm: auth.ServerAdmin, in: WorkspaceRequest{}, out: WorkspaceRequest{}, status: 201, errors: []int{400, 401, 403, 409}, h: (*api).createWorkspace},
	{method: "GET", path: "/api/v1/members", id: "listMembers", summary: "The workspace's members and their roles",
		perm: auth.ManageWorkspace, out: Members{}, status: 200, errors: []int{401, 403, 404}, h: (*api).members},
	{method: "PUT", path: "/api/v1/members/{user}", id: "setMember", summary: "Give a user a role in the workspace (at most one's own)",
		params: []param{userParam}, perm: auth.ManageWorkspace, in: MemberRequest{}, out: store.Member{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).setMember},
	{method: "DELETE", path: "/api/v1/members/{user}", id: "removeMember", summary: "Take a user out of the workspace",
		params: []param{userParam}, perm: auth.ManageWorkspace, status: 204, errors: []int{401, 403, 404}, h: (*api).removeMember},
	{method: "GET", path: "/api/v1/tokens", id: "listTokens", summary: "The workspace's service tokens (never their secrets)",
		perm: auth.ManageWorkspace, out: TokenList{}, status: 200, errors: []int{401, 403, 404}, h: (*api).tokens},
	{method: "POST", path: "/api/v1/tokens", id: "createToken", summary: "Make a service account's token for the workspace, with a role at most one's own: shown once",
		perm: auth.ManageWorkspace, in: TokenRequest{}, out: TokenResult{}, status: 201, errors: []int{400, 401, 403, 404}, h: (*api).createToken},
	{method: "DELETE", path: "/api/v1/tokens/{id}", id: "revokeToken", summary: "Revoke a token of the workspace, at once",
		params: []param{{name: "id", in: "path", doc: "the token's id", required: true, typ: "string"}}, perm: auth.ManageWorkspace, status: 204, errors: []int{401, 403, 404}, h: (*api).revokeToken},
	{method: "GET", path: "/api/v1/audit", id: "auditLog", summary: "A page of the workspace's audit log, oldest first: logins, refusals, and every change, who, when, from where",
		params: []param{{name: "after", in: "query", doc: "the entries after this id", typ: "integer"}, {name: "limit", in: "query", doc: "at most this many (1-1000, default 100)", typ: "integer"}},
		perm:   auth.ManageWorkspace, out: AuditLog{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).auditLog},
}

var userParam = param{name: "user", in: "path", doc: "the user's name", required: true, typ: "string"}

func init() {
	routes = append(routes, accessRoutes...)
	routes = append(routes, connectionRoutes...)
	routes = append(routes, grantRoutes...)
	routes = append(routes, lineageRoutes...)
	routes = append(routes, catalogRoutes...)
	routes = append(routes, oidcRoutes...)
	routes = append(routes, alertRoutes...)
	routes = append(routes, historyRoutes...)
	for _, a := range []string{"start", "stop", "suspend", "resume", "restart"} {
		routes = append(routes, route{method: "POST", path: "/api/v1/pipelines/{name}/" + a, id: a + "Pipeline", perm: auth.OperatePipelines,
			summary: strings.ToUpper(a[:1]) + a[1:] + " a pipeline (idempotent; 409 with the current state where not legal)",
			params:  []param{nameParam}, out: Pipeline{}, status: 200, errors: []int{404, 409},
			h: func(api *api, w http.ResponseWriter, r *http.Request) { api.act(w, r, a) }})
	}
}

type api struct {
	c        *Controller
	loopback bool // the server listens on loopback only: with no user yet, it takes the local administrator
	logins   logins
	oidc     *oidcLogin // nil: OIDC login is off
	// closing is closed when the server shuts down: streams end then, so that the
	// shutdown does not wait for their clients.
	closing <-chan struct{}
}

func (a *api) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if err := checkQuery(r, rt.params); err != nil {
				writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
				return
			}
			if rt.perm == "" { // logging in
				rt.h(a, w, r)
				return
			}
			p, err := a.authenticate(r)
			if err == nil {
				r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
				err = a.authorize(r, rt, p)
			}
			if err != nil {
				if ae := new(authError); errors.As(err, &ae) && ae.status != http.StatusUnauthorized || store.IsNotFound(err) {
					a.audit(r, p, r.Method+" "+rt.path, r.URL.Path, "denied", err.Error())
				}
				fail(w, err)
				return
			}
			if r.Method == http.MethodGet {
				rt.h(a, w, r)
				return
			}
			sw := &statusWriter{ResponseWriter: w}
			rt.h(a, sw, r)
			outcome := "ok"
			if sw.status >= 400 {
				outcome = strconv.Itoa(sw.status)
			}
			a.audit(r, p, r.Method+" "+rt.path, r.URL.Path, outcome, "")
		})
	}
	return mux
}

// checkQuery refuses query parameters the route does not take.
func checkQuery(r *http.Request, params []param) error {
	for k := range r.URL.Query() {
		if !slices.ContainsFunc(params, func(p param) bool { return p.in == "query" && p.name == k }) {
			return fmt.Errorf("unknown query parameter %q", k)
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

func writeError(w http.ResponseWriter, status int, e Error) { writeJSON(w, status, e) }

// fail answers err with its status: 404, 409 (with the state), 422 (with the problems).
func fail(w http.ResponseWriter, err error) {
	var conflict *ConflictError
	var probs spec.Problems
	switch {
	case store.IsNotFound(err):
		writeError(w, http.StatusNotFound, Error{Error: err.Error()})
	case errors.As(err, new(*authError)):
		var ae *authError
		errors.As(err, &ae)
		writeError(w, ae.status, Error{Error: ae.msg})
	case errors.As(err, &conflict):
		writeError(w, http.StatusConflict, Error{Error: err.Error(), State: string(conflict.State)})
	case errors.As(err, new(*BadRequest)):
		writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
	case errors.Is(err, store.ErrExists), errors.Is(err, ErrUpgradeRefused):
		writeError(w, http.StatusConflict, Error{Error: err.Error()})
	case errors.As(err, &probs):
		e := Error{Error: fmt.Sprintf("the pipeline file has %d problem(s)", len(probs))}
		for _, p := range probs {
			e.Problems = append(e.Problems, Problem{Line: p.Line, Column: p.Col, Path: p.Path, Message: p.Msg})
		}
		writeError(w, http.StatusUnprocessableEntity, e)
	default:
		writeError(w, http.StatusInternalServerError, Error{Error: err.Error()})
	}
}

// hasFile refuses a request whose pipeline file is empty.
func hasFile(w http.ResponseWriter, file string) bool {
	if strings.TrimSpace(file) == "" {
		writeError(w, http.StatusBadRequest, Error{Error: "file: the pipeline file is empty"})
		return false
	}
	return true
}

// decode reads a JSON body into v: bounded, unknown fields refused, one value only.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	d := json.NewDecoder(body)
	d.DisallowUnknownFields()
	err := d.Decode(v)
	if err == nil && d.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, Error{Error: fmt.Sprintf("the body is over %d bytes", maxBody)})
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, Error{Error: "the body: " + err.Error()})
		return false
	}
	return true
}

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if !decode(w, r, &req) || !hasFile(w, req.File) {
		return
	}
	start := req.Start == nil || *req.Start
	rec, created, err := a.c.Create(r.Context(), req.File, start)
	if err != nil {
		fail(w, err)
		return
	}
	v, err := a.view(r.Context(), rec, false)
	if err != nil {
		fail(w, err)
		return
	}
	status := http.StatusCreated
	if !created { // the same create again: nothing new
		status = http.StatusOK
	}
	writeJSON(w, status, v)
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	v, err := a.pipelineView(r.Context(), r.PathValue("name"), true)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := strings.ToUpper(q.Get("state"))
	if state != "" && !slices.Contains(runtime.States, runtime.State(state)) {
		writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("state %q: want one of %v", q.Get("state"), runtime.States)})
		return
	}
	recs, err := a.c.st.List(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	out := PipelineList{Pipelines: []Pipeline{}}
	ws := workspaceOf(r.Context())
	for _, rec := range recs {
		if rec.Workspace != ws {
			continue
		}
		v, err := a.view(r.Context(), rec, false)
		if err != nil {
			fail(w, err)
			return
		}
		if state != "" && v.State != state {
			continue
		}
		if t := q.Get("table"); t != "" && !a.selects(r.Context(), rec.Name, t) {
			continue
		}
		out.Pipelines = append(out.Pipelines, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// selects reports whether the pipeline's source selects table (db.table).
func (a *api) selects(ctx context.Context, name, table string) bool {
	v, err := a.c.st.Version(ctx, name, 0)
	if err != nil {
		return false
	}
	p, err := a.c.Parse(v.File)
	if err != nil || p.Source.Config.Spec.Field("tables") == nil {
		return false
	}
	pats, err := connector.ParseTables(p.Source.Config.String("tables"))
	db, tbl, ok := strings.Cut(table, ".")
	if err != nil || !ok {
		return false
	}
	return slices.ContainsFunc(pats, func(pt connector.TablePattern) bool { return pt.Match(db, tbl) })
}

func (a *api) act(w http.ResponseWriter, r *http.Request, action string) {
	name := r.PathValue("name")
	if err := a.c.Act(r.Context(), name, action); err != nil {
		fail(w, err)
		return
	}
	a.answer(w, r, name)
}

func (a *api) apply(w http.ResponseWriter, r *http.Request) {
	var req ApplyRequest
	if !decode(w, r, &req) || !hasFile(w, req.File) {
		return
	}
	name := r.PathValue("name")
	v, changed, err := a.c.Apply(r.Context(), name, req.File, req.Reset)
	if err != nil {
		fail(w, err)
		return
	}
	view, err := a.pipelineView(r.Context(), name, false)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ApplyResult{Version: v, Changed: changed, Pipeline: view})
}

func (a *api) versions(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rec, err := a.c.st.Get(r.Context(), name)
	if err != nil {
		fail(w, err)
		return
	}
	vs, err := a.c.st.Versions(r.Context(), name)
	if err != nil {
		fail(w, err)
		return
	}
	out := VersionList{Versions: []VersionFile{}}
	for _, v := range vs {
		out.Versions = append(out.Versions, VersionFile{Version: v.Version, Created: v.Created, InForce: v.Version == rec.Version, File: v.File})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) rollback(w http.ResponseWriter, r *http.Request) {
	var req RollbackRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Version < 0 {
		writeError(w, http.StatusBadRequest, Error{Error: "version: want a version number, or 0 for the one before"})
		return
	}
	name := r.PathValue("name")
	if _, err := a.c.Rollback(r.Context(), name, req.Version); err != nil {
		fail(w, err)
		return
	}
	a.answer(w, r, name)
}

func (a *api) reset(w http.ResponseWriter, r *http.Request) {
	removed, err := a.c.Reset(r.Context(), r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	if removed == nil {
		removed = []string{}
	}
	writeJSON(w, http.StatusOK, ResetResult{Removed: removed})
}

func (a *api) resnapshot(w http.ResponseWriter, r *http.Request) {
	a.tablesRequest(w, r, a.c.Resnapshot)
}

func (a *api) pauseTables(w http.ResponseWriter, r *http.Request) {
	a.tablesRequest(w, r, a.c.PauseTables)
}

// tablesRequest hands the tables a request names to do.
func (a *api) tablesRequest(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, name string, tables []string) error) {
	var req ResnapshotRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Tables) == 0 {
		writeError(w, http.StatusBadRequest, Error{Error: "tables: name at least one table"})
		return
	}
	if err := do(r.Context(), r.PathValue("name"), req.Tables); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (a *api) delete(w http.ResponseWriter, r *http.Request) {
	drop, err := boolQuery(r, "drop_state")
	if err != nil {
		writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
		return
	}
	if err := a.c.Delete(r.Context(), r.PathValue("name"), drop); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) events(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := a.c.st.Get(r.Context(), name); err != nil {
		fail(w, err)
		return
	}
	after, err := intQuery(r, "after", 0, 0, 1<<62)
	if err == nil {
		var limit int64
		if limit, err = intQuery(r, "limit", 100, 1, 1000); err == nil {
			evs, err := a.c.st.Events(r.Context(), name, after, int(limit))
			if err != nil {
				fail(w, err)
				return
			}
			out := Events{Events: evs, Next: after}
			if len(evs) > 0 {
				out.Next = evs[len(evs)-1].ID
			} else {
				out.Events = []store.Event{}
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
}

func (a *api) logs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := a.c.st.Get(r.Context(), name); err != nil {
		fail(w, err)
		return
	}
	tail, err := intQuery(r, "tail", 100, 1, logRing)
	if err != nil {
		writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
		return
	}
	follow, err := boolQuery(r, "follow")
	if err != nil {
		writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
		return
	}
	level := slog.LevelInfo
	if s := r.URL.Query().Get("level"); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("level=%q: want debug, info, warn or error", s)})
			return
		}
	}
	l := a.c.logFor(name)
	if !follow {
		writeJSON(w, http.StatusOK, Logs{Lines: l.tail(int(tail), level)})
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, Error{Error: "this connection cannot stream"})
		return
	}
	ch, unsubscribe := l.subscribe()
	defer unsubscribe()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(line LogLine) {
		b, _ := json.Marshal(line)
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	for _, line := range l.tail(int(tail), level) {
		send(line)
	}
	flusher.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.c.ctx.Done():
			return
		case <-a.closing:
			return
		case line := <-ch:
			if levelOf(line.Level) >= level {
				send(line)
				flusher.Flush()
			}
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			flusher.Flush()
		}
	}
}

func (a *api) runs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := a.c.st.Get(r.Context(), name); err != nil {
		fail(w, err)
		return
	}
	limit, err := intQuery(r, "limit", 100, 1, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
		return
	}
	runs, err := a.c.st.Runs(r.Context(), name, int(limit))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Runs{Runs: runs})
}

func (a *api) alerts(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", 100, 0, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
		return
	}
	as, err := a.c.st.Alerts(r.Context(), int(limit))
	if err != nil {
		fail(w, err)
		return
	}
	recs, err := a.c.st.List(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	ws, mine := workspaceOf(r.Context()), map[string]bool{}
	for _, rec := range recs {
		mine[rec.Name] = rec.Workspace == ws
	}
	as = slices.DeleteFunc(as, func(al store.Alert) bool { return !mine[al.Pipeline] }) // the workspace's pipelines' only
	writeJSON(w, http.StatusOK, Alerts{Alerts: as})
}

func intQuery(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want an integer from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

func boolQuery(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, s)
	}
	return b, nil
}

// answer answers the request with the pipeline named name as it is now.
func (a *api) answer(w http.ResponseWriter, r *http.Request, name string) {
	v, err := a.pipelineView(r.Context(), name, false)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// pipelineView is the API's view of the pipeline named name.
func (a *api) pipelineView(ctx context.Context, name string, detail bool) (Pipeline, error) {
	rec, err := a.c.st.Get(ctx, name)
	if err != nil {
		return Pipeline{}, err
	}
	return a.view(ctx, rec, detail)
}

// view is the API's view of a pipeline: the store's record and, when it runs here, its
// runtime's state and counters.
func (a *api) view(ctx context.Context, rec *store.Pipeline, detail bool) (Pipeline, error) {
	v := Pipeline{Name: rec.Name, Version: rec.Version, Desired: string(rec.Desired), LastError: rec.LastError,
		Created: rec.Created, Updated: rec.Updated}
	state, pl := a.c.StateOf(rec)
	v.State = string(state)
	if pl != nil {
		s := pl.Status()
		v.Phase, v.Output = s.Phase, s.Output
		if s.Error != "" {
			v.LastError = s.Error
		}
		if r := s.Restart; r != nil && state == runtime.Restarting {
			v.Restart = &Restart{Error: r.Err, Attempt: r.Attempt, Next: r.Next}
		}
		if s.Phase == "stream" {
			v.LagSeconds = a.c.lag(rec.Name)
		}
		st := s.Stats
		v.RowsIn, v.RowsOut, v.Durable, v.Checkpoints = st.RowsIn.Load(), st.RowsOut.Load(), st.Durable.Load(), st.Checkpoints.Load()
		if t := st.LastCheckpoint(); !t.IsZero() {
			v.LastCheckpoint = &t
		}
		if st.ChunksSplit.Load() > 0 {
			v.Snapshot = &Snapshot{RowsRead: st.SnapshotRows.Load(), RowsEstimated: st.SnapshotEstimate.Load(),
				ChunksDone: st.ChunksDone.Load(), ChunksSplit: st.ChunksSplit.Load()}
		}
	}
	if detail {
		ver, err := a.c.st.Version(ctx, rec.Name, 0)
		if err != nil {
			return v, err
		}
		v.File = ver.File
		vs, err := a.c.st.Versions(ctx, rec.Name)
		if err != nil {
			return v, err
		}
		for _, x := range vs {
			v.Versions = append(v.Versions, VersionRef{Version: x.Version, Created: x.Created, InForce: x.Version == rec.Version})
		}
		if p, err := a.c.Parse(ver.File); err == nil {
			v.Title = p.Title
		}
		if pl != nil {
			v.Tables = a.c.tables(rec.Name, pl.Stats())
		}
	}
	return v, nil
}
