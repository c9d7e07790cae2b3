package server

import (
	"context"
	"fmt"
	"maps"
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

// Grants (as the seed platforms built them): a workspace asks to use another workspace's
// connection — narrowed to tables, with a reason — and the connection's owners (its
// workspace's admins) approve or deny. Its pipelines may then name the connection, as a
// source, for those tables only: a file whose tables reach outside the grant is refused,
// at create, at every upgrade and at every start, so a table added later that the grant
// does not name is never read. A grant expires, or is revoked: the grantee's pipelines
// that use the connection are suspended then, with the reason in their events, and do not
// start again without a new grant.
//
//	requested ──approve──▶ approved ──revoke──▶ revoked
//	    │                      └──(time)──▶ expired
//	    └──deny──▶ denied

// GrantRequest asks for a connection of another workspace.
type GrantRequest struct {
	Connection string `json:"connection"`
	Tables     string `json:"tables"` // the tables, as a source's tables setting lists them ("": all the connection reaches)
	// Columns narrows some of those tables (named as in Tables) to some of their columns.
	Columns   map[string][]string `json:"columns,omitempty"`
	Reason    string              `json:"reason"`
	ExpiresIn string              `json:"expires_in"` // a Go duration, at most a year (default 30 days)
}

// Decision approves, denies or revokes a grant, with why.
type Decision struct {
	Why string `json:"why"`
}

// GrantList is the grants the workspace asked for, and those asked of its connections.
type GrantList struct {
	Grants []store.Grant `json:"grants"`
}

func (a *api) grants(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r.Context())
	owned, err := a.c.st.Connections(r.Context(), ws)
	if err != nil {
		fail(w, err)
		return
	}
	var names []string
	for _, c := range owned {
		names = append(names, c.Name)
	}
	gs, err := a.c.st.Grants(r.Context(), ws, names)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, GrantList{Grants: append([]store.Grant{}, gs...)})
}

func (a *api) requestGrant(w http.ResponseWriter, r *http.Request) {
	var req GrantRequest
	if !decode(w, r, &req) {
		return
	}
	p := PrincipalOf(r.Context())
	conn, err := a.c.st.GetConnection(r.Context(), req.Connection)
	if err != nil {
		fail(w, err)
		return
	}
	if conn.Workspace == p.Workspace {
		fail(w, &BadRequest{fmt.Errorf("connection %s is this workspace's own: no grant is needed", conn.Name)})
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		fail(w, &BadRequest{fmt.Errorf("reason: say what the connection is wanted for")})
		return
	}
	ttl, err := expiresIn(req.ExpiresIn, 30*24*time.Hour)
	if err != nil {
		fail(w, err)
		return
	}
	g := store.Grant{Connection: conn.Name, Workspace: p.Workspace, Tables: normalTables(req.Tables), Reason: req.Reason,
		RequestedBy: p.Name, Expires: time.Now().Add(ttl).UTC().Truncate(time.Microsecond)}
	if g.Columns, err = grantColumns(g.Tables, req.Columns); err != nil {
		fail(w, err)
		return
	}
	id, err := a.c.st.RequestGrant(r.Context(), g)
	if err != nil {
		fail(w, err)
		return
	}
	saved, err := a.c.st.GetGrant(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, saved)
}

// grantColumns checks a request's columns: each table one of its tables' items, each with
// some columns.
func grantColumns(tables string, cols map[string][]string) (map[string][]string, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	items := strings.Split(tables, ", ")
	out := map[string][]string{}
	for table, names := range cols {
		table = strings.TrimSpace(table)
		if tables == "" || !slices.Contains(items, table) {
			return nil, &BadRequest{fmt.Errorf("columns.%s: not one of the tables asked for (%s); name the table in tables too", table, tables)}
		}
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" {
				out[table] = append(out[table], n)
			}
		}
		if len(out[table]) == 0 {
			return nil, &BadRequest{fmt.Errorf("columns.%s: name at least one column, or leave the table out of columns for all of them", table)}
		}
	}
	return out, nil
}

// normalTables is a tables list with its items trimmed and joined by ", ".
func normalTables(s string) string {
	var items []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	return strings.Join(items, ", ")
}

// decide moves a grant of one of this workspace's connections.
func (a *api) decide(w http.ResponseWriter, r *http.Request, from []string, to string) {
	var d Decision
	if r.ContentLength != 0 && !decode(w, r, &d) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("grant"), 10, 64)
	if err != nil {
		fail(w, &BadRequest{fmt.Errorf("grant %q: not a grant's id", r.PathValue("grant"))})
		return
	}
	g, err := a.c.st.GetGrant(r.Context(), id)
	if err == nil {
		var conn *store.Connection
		if conn, err = a.c.st.GetConnection(r.Context(), g.Connection); err == nil && conn.Workspace != workspaceOf(r.Context()) {
			err = fmt.Errorf("grant %d: %w", id, store.ErrNotFound) // only the owners decide; to others it is none
		}
	}
	if err != nil {
		fail(w, err)
		return
	}
	if err := a.c.st.DecideGrant(r.Context(), id, from, to, PrincipalOf(r.Context()).Name, d.Why); err != nil {
		if store.IsNotFound(err) {
			err = &ConflictError{State: runtime.State(strings.ToUpper(g.State)), Action: to, Why: "the grant is " + g.State}
		}
		fail(w, err)
		return
	}
	if to == store.GrantApproved && len(g.Columns) > 0 { // the catalog tells a pipeline's columns (outsideColumns)
		if conn, err := a.c.st.GetConnection(r.Context(), g.Connection); err == nil {
			if _, err := a.c.Scan(r.Context(), conn); err != nil {
				a.c.log.Warn("could not scan the connection of a grant of some columns", "connection", g.Connection, "err", err)
			}
		}
	}
	if to == store.GrantRevoked {
		a.c.endGrant(r.Context(), *g, fmt.Sprintf("the grant of connection %s was revoked by %s: %s", g.Connection, PrincipalOf(r.Context()).Name, d.Why))
	}
	saved, err := a.c.st.GetGrant(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, saved)
}

// endGrant suspends the grantee's pipelines that use the connection, saying why.
func (c *Controller) endGrant(ctx context.Context, g store.Grant, why string) {
	for _, u := range c.pipelinesUsing(ctx, g.Workspace, g.Connection) {
		c.st.AddNote(ctx, store.Event{Pipeline: u.rec.Name, Time: time.Now(), State: "SUSPENDED", Reason: why})
		if err := c.Act(ctx, u.rec.Name, "suspend"); err != nil {
			c.log.Warn("could not suspend a pipeline whose grant ended", "pipeline", u.rec.Name, "err", err)
		}
	}
}

// userOf is a pipeline with its file in force.
type userOf struct {
	rec store.Pipeline
	p   *spec.Pipeline
}

// pipelinesUsing are the pipelines of workspace ws whose source or sink is connection
// conn (every workspace's where ws is "").
func (c *Controller) pipelinesUsing(ctx context.Context, ws, conn string) []userOf {
	recs, err := c.st.List(ctx)
	if err != nil {
		return nil
	}
	var out []userOf
	for _, rec := range recs {
		if ws != "" && rec.Workspace != ws {
			continue
		}
		v, err := c.st.Version(ctx, rec.Name, 0)
		if err != nil {
			continue
		}
		p, err := c.Parse(v.File) // as the file says (its grant may have ended)
		if err != nil || p.Source.Connection != conn && p.Sink.Connection != conn {
			continue
		}
		out = append(out, userOf{*rec, p})
	}
	return out
}

// noteOutsideGrants tells each pipeline that reads connection conn under a grant of some
// of its tables which of the tables a scan found new there the grant does not name: they
// are not read (its selection stays within the grant, withinGrants).
func (c *Controller) noteOutsideGrants(ctx context.Context, conn, typ string, added []string) {
	if len(added) == 0 {
		return
	}
	gs, err := c.st.Grants(ctx, "", []string{conn})
	if err != nil {
		return
	}
	now := time.Now()
	for _, g := range gs {
		if g.Connection != conn || g.State != store.GrantApproved || !now.Before(g.Expires) || g.Tables == "" {
			continue
		}
		pats, err := connector.ParseTables(g.Tables)
		if err != nil {
			continue
		}
		var outside []string
		for _, t := range added {
			if !selects(pats, typ, t) {
				outside = append(outside, t)
			}
		}
		if len(outside) == 0 {
			continue
		}
		for _, u := range c.pipelinesUsing(ctx, g.Workspace, conn) {
			if u.p.Source.Connection != conn {
				continue
			}
			c.st.AddNote(ctx, store.Event{Pipeline: u.rec.Name, Time: now, State: u.rec.Observed,
				Reason: fmt.Sprintf("table %s appeared on connection %s outside this workspace's grant %d (%s): it is not read; ask for a wider grant to copy it",
					strings.Join(outside, ", "), conn, g.ID, g.Tables)})
		}
	}
}

// splitTable splits a catalogued table's name as a pipeline's tables patterns and
// transforms match it: db and table, or — a PostgreSQL server's db.schema.table — schema
// and table (a MySQL table's name may itself hold dots: only its database is cut off).
func splitTable(sourceType, name string) (db, tbl string) {
	if sourceType == "postgres" && strings.Count(name, ".") >= 2 {
		_, name, _ = strings.Cut(name, ".")
	}
	db, tbl, _ = strings.Cut(name, ".")
	return db, tbl
}

// selects reports whether a pattern of pats selects catalogued table name of a
// connection of type sourceType.
func selects(pats []connector.TablePattern, sourceType, name string) bool {
	db, tbl := splitTable(sourceType, name)
	return slices.ContainsFunc(pats, func(p connector.TablePattern) bool { return p.Match(db, tbl) })
}

// SweepGrants ends the grants whose time has passed at now.
func (c *Controller) SweepGrants(ctx context.Context, now time.Time) {
	gs, err := c.st.ExpiredGrants(ctx, now)
	if err != nil {
		return
	}
	for _, g := range gs {
		if c.st.DecideGrant(ctx, g.ID, []string{store.GrantApproved}, store.GrantExpired, "server", "its time passed") == nil {
			c.endGrant(ctx, g, fmt.Sprintf("the grant of connection %s expired at %s", g.Connection, g.Expires.Format(time.RFC3339)))
		}
	}
}

// sweepLoop ends expired grants every sweepEvery, and rescans the catalog every
// rescanEvery, while the server lives.
func (c *Controller) sweepLoop(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	lastScan := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.SweepGrants(ctx, now)
			c.registerSinkTables(ctx)
			if now.Sub(lastScan) >= rescanEvery { // the catalog's scheduled rescans (catalog.go)
				lastScan = now
				c.rescan(ctx)
			}
		}
	}
}

// sweepEvery is how often expired grants are looked for.
const sweepEvery = 15 * time.Second

// withinGrants checks that the pipeline uses granted connections as a source, within the
// grants' tables and, where a grant names some columns of a table, reading no other
// column of it (the catalog says which it has): a transform of the table must project
// them out, and its filter not name them. A column added to the table later is outside
// such a projection too.
func (c *Controller) withinGrants(p *spec.Pipeline, granted map[string]*store.Grant) error {
	var probs spec.Problems
	if g := granted[p.Sink.Connection]; g != nil {
		probs = append(probs, spec.Problem{File: "pipeline.yaml", Line: p.Sink.Line, Path: "sink.connection",
			Msg: fmt.Sprintf("connection %s is granted to this workspace to read from, not to write to", g.Connection)})
	}
	if g := granted[p.Source.Connection]; g != nil && g.Tables != "" {
		allowed := strings.Split(g.Tables, ", ")
		var outside []string
		for _, it := range strings.Split(normalTables(p.Source.Config.String("tables")), ", ") {
			if !slices.Contains(allowed, it) {
				outside = append(outside, it)
			}
		}
		if len(outside) > 0 {
			probs = append(probs, spec.Problem{File: "pipeline.yaml", Line: p.Source.Line, Path: "source.tables",
				Msg: fmt.Sprintf("%s: outside the grant of connection %s, which names %s; list those only, or ask for a wider grant",
					strings.Join(outside, ", "), g.Connection, g.Tables)})
		}
		probs = append(probs, c.outsideColumns(p, g)...)
	}
	if len(probs) > 0 {
		return probs
	}
	return nil
}

// outsideColumns are the problems of a pipeline that would read columns grant g does not
// give.
func (c *Controller) outsideColumns(p *spec.Pipeline, g *store.Grant) spec.Problems {
	if len(g.Columns) == 0 {
		return nil
	}
	entries, err := c.st.Catalog(context.Background(), []string{g.Connection})
	if err != nil {
		return spec.Problems{{File: "pipeline.yaml", Line: p.Source.Line, Path: "source.tables", Msg: "the catalog: " + err.Error()}}
	}
	var probs spec.Problems
	for _, table := range slices.Sorted(maps.Keys(g.Columns)) {
		pats, _ := connector.ParseTables(table)
		found := false
		for _, e := range entries {
			if !selects(pats, p.Source.Type, e.Name) {
				continue
			}
			found = true
			cols := grantedColumns(g, p.Source.Type, e.Name)
			db, tbl := splitTable(p.Source.Type, e.Name)
			var read []string
			for _, col := range e.Columns {
				if !cols[strings.ToLower(col.Name)] && !projectedOut(p, db, tbl, col.Name) {
					read = append(read, col.Name)
				}
			}
			if len(read) > 0 {
				probs = append(probs, spec.Problem{File: "pipeline.yaml", Line: p.Source.Line, Path: "source.tables",
					Msg: fmt.Sprintf("%s: column(s) %s outside the grant of connection %s, which gives %s; add a transform of %s with projection: %s (and no filter on other columns)",
						e.Name, strings.Join(read, ", "), g.Connection, strings.Join(g.Columns[table], ", "), table, strings.Join(g.Columns[table], ", "))})
			}
		}
		if !found {
			probs = append(probs, spec.Problem{File: "pipeline.yaml", Line: p.Source.Line, Path: "source.tables",
				Msg: fmt.Sprintf("%s: the grant of connection %s gives some of its columns, but the catalog does not hold the table to check them; its owners scan the connection (weir catalog scan %s)",
					table, g.Connection, g.Connection)})
		}
	}
	return probs
}

var grantParam = param{name: "grant", in: "path", doc: "the grant's id", required: true, typ: "integer"}

// grantRoutes are the routes of grants.
var grantRoutes = []route{
	{method: "GET", path: "/api/v1/grants", id: "listGrants", summary: "The grants this workspace asked for, and those asked of its connections (the approvals inbox), newest first",
		perm: auth.ReadConnections, out: GrantList{}, status: 200, errors: []int{401, 403, 404}, h: (*api).grants},
	{method: "POST", path: "/api/v1/grants", id: "requestGrant", summary: "Ask to use another workspace's connection, for some tables, with a reason",
		perm: auth.WritePipelines, in: GrantRequest{}, out: store.Grant{}, status: 201, errors: []int{400, 401, 403, 404}, h: (*api).requestGrant},
	{method: "POST", path: "/api/v1/grants/{grant}/approve", id: "approveGrant", summary: "Approve a grant asked of this workspace's connection",
		params: []param{grantParam}, perm: auth.WriteConnections, in: Decision{}, out: store.Grant{}, status: 200, errors: []int{400, 401, 403, 404, 409},
		h: func(a *api, w http.ResponseWriter, r *http.Request) {
			a.decide(w, r, []string{store.GrantRequested}, store.GrantApproved)
		}},
	{method: "POST", path: "/api/v1/grants/{grant}/deny", id: "denyGrant", summary: "Deny a grant asked of this workspace's connection",
		params: []param{grantParam}, perm: auth.WriteConnections, in: Decision{}, out: store.Grant{}, status: 200, errors: []int{400, 401, 403, 404, 409},
		h: func(a *api, w http.ResponseWriter, r *http.Request) {
			a.decide(w, r, []string{store.GrantRequested}, store.GrantDenied)
		}},
	{method: "POST", path: "/api/v1/grants/{grant}/revoke", id: "revokeGrant", summary: "Revoke a grant: the pipelines that use it are suspended, with the reason",
		params: []param{grantParam}, perm: auth.WriteConnections, in: Decision{}, out: store.Grant{}, status: 200, errors: []int{400, 401, 403, 404, 409},
		h: func(a *api, w http.ResponseWriter, r *http.Request) {
			a.decide(w, r, []string{store.GrantApproved}, store.GrantRevoked)
		}},
}
