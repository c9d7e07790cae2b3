package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/store"
)

// Connections: a source or sink server as a named object of a workspace (its connector
// type, settings, credentials). The settings its connector marks secret (a password, a
// URL that holds one) are sealed with the server's keyring before they reach the store,
// and no answer, log line, event or error carries them: the API takes them write-only. A
// pipeline file names the connection (connection: NAME) instead of holding credentials;
// its workspace must own the connection.

// ConnectionRequest makes or replaces a connection. Secret settings are write-only: a
// replacement that leaves one out keeps the one stored.
type ConnectionRequest struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"` // a source or sink type (mariadb, mysql, postgres, kafka…)
	Settings map[string]string `json:"settings"`
}

// ConnectionView is a connection as the API shows it: its secret settings only named.
type ConnectionView struct {
	store.Connection
	Secrets []string `json:"secrets"` // the secret settings it holds (their names, never their values)
}

// ConnectionList lists the workspace's connections.
type ConnectionList struct {
	Connections []ConnectionView `json:"connections"`
}

// ConnectionTest is what testing a connection found: each problem the connector's own
// checks report (reachability, credentials, privileges), or none.
type ConnectionTest struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
}

// settingOf finds a connection type's setting: in its source's spec, else its sink's
// (a connection to a server serves either side). known is false for an unknown type.
func (c *Controller) settingOf(typ, name string) (f *connector.Field, known bool) {
	for _, sp := range c.specsOf(typ) {
		known = true
		if f := sp.Field(name); f != nil && !f.Wildcard() {
			return f, true
		}
	}
	return nil, known
}

func (c *Controller) specsOf(typ string) []*connector.Spec {
	var out []*connector.Spec
	if d := c.reg.Sources[typ]; d != nil {
		out = append(out, &d.Spec)
	}
	if d := c.reg.Sinks[typ]; d != nil {
		out = append(out, &d.Spec)
	}
	return out
}

// connectionSettings resolves a connection for a pipeline file (spec.Connections): its
// type and settings, the secret ones opened.
func (c *Controller) connectionSettings(name string) (string, map[string]string, error) {
	conn, err := c.st.GetConnection(context.Background(), name)
	if store.IsNotFound(err) {
		return "", nil, errNoConnection(name)
	}
	if err != nil {
		return "", nil, err
	}
	settings := cloneSettings(conn.Settings)
	if conn.Secrets != "" {
		if c.keys == nil {
			return "", nil, fmt.Errorf("connection %s holds credentials and this server has no keyring to open them: start it with --key-file or $WEIR_KEYS", name)
		}
		plain, err := c.keys.Open(conn.Secrets, "connection "+name)
		if err != nil {
			return "", nil, fmt.Errorf("connection %s: %w", name, err)
		}
		var secrets map[string]string
		if err := json.Unmarshal(plain, &secrets); err != nil {
			return "", nil, fmt.Errorf("connection %s: its sealed credentials do not read", name)
		}
		for k, v := range secrets {
			settings[k] = v
		}
	}
	return conn.Type, settings, nil
}

func cloneSettings(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// errNoConnection is the answer to a connection that does not exist, or is another
// workspace's: the same, so that those are not to be known.
func errNoConnection(name string) error {
	return fmt.Errorf("no connection %q: make it first (POST /api/v1/connections)", name)
}

// sealSettings splits settings into the plain and the secret ones, checking them against
// the connector's spec, and seals the secret ones (keep: the sealed secrets to keep for
// those not given again).
func (c *Controller) sealSettings(req ConnectionRequest, keep string) (plain map[string]string, sealed string, err error) {
	if len(c.specsOf(req.Type)) == 0 {
		return nil, "", &BadRequest{fmt.Errorf("type %q: want a source or sink type (%s)", req.Type, strings.Join(append(c.reg.SourceTypes(), c.reg.SinkTypes()...), ", "))}
	}
	plain, secrets := map[string]string{}, map[string]string{}
	if keep != "" && c.keys != nil {
		if b, err := c.keys.Open(keep, "connection "+req.Name); err == nil {
			json.Unmarshal(b, &secrets)
		}
	}
	for k, v := range req.Settings {
		f, _ := c.settingOf(req.Type, k)
		if f == nil {
			return nil, "", &BadRequest{fmt.Errorf("settings.%s: %s has no such setting", k, req.Type)}
		}
		if f.Secret {
			secrets[k] = v
		} else {
			plain[k] = v
		}
	}
	if len(secrets) == 0 {
		return plain, "", nil
	}
	if c.keys == nil {
		return nil, "", &BadRequest{errors.New("this server has no keyring to seal credentials with: start it with --key-file or $WEIR_KEYS")}
	}
	b, _ := json.Marshal(secrets)
	sealed, err = c.keys.Seal(b, "connection "+req.Name)
	return plain, sealed, err
}

// secretNames are the secret settings a connection holds.
func (c *Controller) secretNames(conn store.Connection) []string {
	if conn.Secrets == "" || c.keys == nil {
		return []string{}
	}
	b, err := c.keys.Open(conn.Secrets, "connection "+conn.Name)
	if err != nil {
		return []string{}
	}
	var secrets map[string]string
	json.Unmarshal(b, &secrets)
	names := make([]string, 0, len(secrets))
	for k := range secrets {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func (a *api) connections(w http.ResponseWriter, r *http.Request) {
	cs, err := a.c.st.Connections(r.Context(), workspaceOf(r.Context()))
	if err != nil {
		fail(w, err)
		return
	}
	out := ConnectionList{Connections: []ConnectionView{}}
	for _, conn := range cs {
		out.Connections = append(out.Connections, ConnectionView{Connection: conn, Secrets: a.c.secretNames(conn)})
	}
	writeJSON(w, http.StatusOK, out)
}

// ownConnection returns the workspace's connection name (another's: not found).
func (a *api) ownConnection(ctx context.Context, name string) (*store.Connection, error) {
	conn, err := a.c.st.GetConnection(ctx, name)
	if err == nil && conn.Workspace != workspaceOf(ctx) {
		return nil, fmt.Errorf("connection %q: %w", name, store.ErrNotFound)
	}
	return conn, err
}

func (a *api) getConnection(w http.ResponseWriter, r *http.Request) {
	conn, err := a.ownConnection(r.Context(), r.PathValue("conn"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ConnectionView{Connection: *conn, Secrets: a.c.secretNames(*conn)})
}

func (a *api) putConnection(w http.ResponseWriter, r *http.Request) {
	var req ConnectionRequest
	if !decode(w, r, &req) {
		return
	}
	create := r.Method == http.MethodPost
	var keep string
	if !create {
		req.Name = r.PathValue("conn")
		cur, err := a.ownConnection(r.Context(), req.Name)
		if err != nil {
			fail(w, err)
			return
		}
		if req.Type == "" {
			req.Type = cur.Type
		}
		if req.Type == cur.Type {
			keep = cur.Secrets
		}
	}
	if err := checkName("connection", req.Name); err != nil {
		fail(w, err)
		return
	}
	if create {
		if err := a.c.bounded(r.Context(), "connections", workspaceOf(r.Context())); err != nil {
			fail(w, err)
			return
		}
	}
	plain, sealed, err := a.c.sealSettings(req, keep)
	if err != nil {
		fail(w, err)
		return
	}
	p := PrincipalOf(r.Context())
	conn := store.Connection{Name: req.Name, Workspace: p.Workspace, Type: req.Type, Settings: plain, Secrets: sealed, CreatedBy: p.Name}
	if err := a.c.st.PutConnection(r.Context(), conn, create); err != nil {
		fail(w, err)
		return
	}
	saved, err := a.c.st.GetConnection(r.Context(), req.Name)
	if err != nil {
		fail(w, err)
		return
	}
	status := http.StatusOK
	if create {
		status = http.StatusCreated
	}
	writeJSON(w, status, ConnectionView{Connection: *saved, Secrets: a.c.secretNames(*saved)})
}

func (a *api) deleteConnection(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("conn")
	if _, err := a.ownConnection(r.Context(), name); err != nil {
		fail(w, err)
		return
	}
	if err := a.c.st.DeleteConnection(r.Context(), name); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// testConnection runs the connector's own checks (those of weir validate: reachability,
// credentials, privileges) with the connection's settings.
func (a *api) testConnection(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("conn")
	conn, err := a.ownConnection(r.Context(), name)
	if err != nil {
		fail(w, err)
		return
	}
	typ, settings, err := a.c.connectionSettings(name)
	if err != nil {
		fail(w, err)
		return
	}
	cfg, check, err := a.c.connectionConfig(conn.Name, typ, settings)
	if err != nil {
		fail(w, err)
		return
	}
	out := ConnectionTest{OK: true, Problems: []string{}}
	if check != nil {
		for _, e := range check(r.Context(), cfg, connector.Env{Pipeline: "connection-test", SourceType: typ, Role: "validate"}) {
			out.OK = false
			out.Problems = append(out.Problems, a.c.redact(e.Error(), typ, settings))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// connectionConfig builds a connector config from a connection, as a pipeline would.
func (c *Controller) connectionConfig(name, typ string, settings map[string]string) (*connector.Config, func(context.Context, *connector.Config, connector.Env) []error, error) {
	asSink := c.reg.Sinks[typ] != nil
	if d := c.reg.Sources[typ]; d != nil { // the side whose settings it holds (PostgreSQL: a source's host and user, or a sink's url)
		for k := range settings {
			if d.Spec.Field(k) == nil {
				continue
			}
			asSink = false
			break
		}
	}
	if d := c.reg.Sources[typ]; d != nil && !asSink {
		file := "source:\n  connection: " + name + "\n"
		if d.Spec.Field("tables") != nil && settings["tables"] == "" {
			file += "  tables: '\\.*.\\.*'\n" // every table the user may see
		}
		if d.Spec.Field("topic") != nil && settings["topic"] == "" && settings["topic-pattern"] == "" {
			file += "  topic-pattern: \".*\"\n"
		}
		p, err := spec.ParseWithConnections("connection", []byte(file+"sink:\n  type: discard\n"), c.reg, func(string) (string, bool) { return "", false }, c.connectionSettings)
		if err != nil {
			return nil, nil, err
		}
		return p.Source.Config, d.Check, nil
	}
	d := c.reg.Sinks[typ]
	p, err := spec.ParseWithConnections("connection", []byte("source:\n  type: datagen\n  tables: a.b\nsink:\n  connection: "+name+"\n"), c.reg,
		func(string) (string, bool) { return "", false }, c.connectionSettings)
	if err != nil {
		return nil, nil, err
	}
	return p.Sink.Config, d.Check, nil
}

// redact takes a connection's secret values out of a message.
func (c *Controller) redact(msg, typ string, settings map[string]string) string {
	for k, v := range settings {
		if f, _ := c.settingOf(typ, k); f != nil && f.Secret && len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "****")
		}
	}
	return msg
}

// connectionRoutes are the routes of connections.
var connectionRoutes = []route{
	{method: "GET", path: "/api/v1/connections", id: "listConnections", summary: "The workspace's connections (their credentials never: only the names of the secret settings held)",
		perm: auth.ReadConnections, out: ConnectionList{}, status: 200, errors: []int{401, 403, 404}, h: (*api).connections},
	{method: "POST", path: "/api/v1/connections", id: "createConnection", summary: "Make a connection of the workspace; secret settings (password, url) are sealed and write-only",
		perm: auth.WriteConnections, in: ConnectionRequest{}, out: ConnectionView{}, status: 201, errors: []int{400, 401, 403, 404, 409}, h: (*api).putConnection},
	{method: "GET", path: "/api/v1/connections/{conn}", id: "getConnection", summary: "A connection (without its credentials)",
		params: []param{connParam}, perm: auth.ReadConnections, out: ConnectionView{}, status: 200, errors: []int{401, 403, 404}, h: (*api).getConnection},
	{method: "PUT", path: "/api/v1/connections/{conn}", id: "replaceConnection", summary: "Replace a connection's settings; a secret setting left out keeps its stored value",
		params: []param{connParam}, perm: auth.WriteConnections, in: ConnectionRequest{}, out: ConnectionView{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).putConnection},
	{method: "DELETE", path: "/api/v1/connections/{conn}", id: "deleteConnection", summary: "Remove a connection",
		params: []param{connParam}, perm: auth.WriteConnections, status: 204, errors: []int{401, 403, 404}, h: (*api).deleteConnection},
	{method: "POST", path: "/api/v1/connections/{conn}/test", id: "testConnection", summary: "Check that the connection reaches its server with its credentials and the privileges weir needs (the connector's own checks, as weir validate's)",
		params: []param{connParam}, perm: auth.ReadConnections, out: ConnectionTest{}, status: 200, errors: []int{401, 403, 404, 422}, h: (*api).testConnection},
}

var connParam = param{name: "conn", in: "path", doc: "the connection's name", required: true, typ: "string"}

// RotateKeys seals every connection's credentials and every alert channel's URL again
// with the keyring's primary key (weir server rotate-key): after it, keys other than the
// primary may leave the ring. It returns how many connections and channels it sealed
// again.
func RotateKeys(ctx context.Context, st *store.Store, keys *auth.Keyring) (conns, channels int, err error) {
	if conns, err = rotateConnections(ctx, st, keys); err != nil {
		return conns, 0, err
	}
	channels, err = rotateChannels(ctx, st, keys)
	return conns, channels, err
}

func rotateConnections(ctx context.Context, st *store.Store, keys *auth.Keyring) (int, error) {
	cs, err := st.Connections(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, conn := range cs {
		if conn.Secrets == "" || auth.KeyOf(conn.Secrets) == keys.Primary() {
			continue
		}
		plain, err := keys.Open(conn.Secrets, "connection "+conn.Name)
		if err != nil {
			return n, fmt.Errorf("connection %s: %w", conn.Name, err)
		}
		if conn.Secrets, err = keys.Seal(plain, "connection "+conn.Name); err != nil {
			return n, err
		}
		if err := st.PutConnection(ctx, conn, false); err != nil {
			return n, fmt.Errorf("connection %s: %w", conn.Name, err)
		}
		n++
	}
	return n, nil
}

// auditConnections records that pipeline name is about to use the credentials of the
// connections it names.
func (c *Controller) auditConnections(ctx context.Context, name string, p *spec.Pipeline) {
	ws := store.DefaultWorkspace
	if rec, err := c.st.Get(ctx, name); err == nil {
		ws = rec.Workspace
	}
	for _, ep := range []*spec.Endpoint{&p.Source, &p.Sink} {
		if ep.Connection != "" {
			c.st.Audit(context.WithoutCancel(ctx), store.AuditEntry{Who: "pipeline:" + name, Workspace: ws, Action: "use connection",
				Target: ep.Connection, Outcome: "ok", Detail: "its credentials, to start the pipeline"})
		}
	}
}
