package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/preview"
	"github.com/weir-data/weir/internal/sensitive"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/store"
)

// The catalog (the data map): per connection, the tables its last scan found — columns,
// types, keys — with descriptions, owners and security levels kept across scans. A scan
// (on demand) reads the tables as `weir discover` does and samples rows for the
// sensitive-data detector, which proposes a level for what looks personal; a person
// confirms or changes it. A table's preview shows its first rows with every column above
// the workspace's clearance masked.

// Levels are the security levels, from least to most.
var Levels = []string{"public", "internal", "confidential", "restricted"}

func levelRank(l string) int { return slices.Index(Levels, l) }

// ScanResult is what a scan found: the tables, and what changed since the last.
type ScanResult struct {
	Tables  int      `json:"tables"`
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"` // tables whose columns differ
}

// CatalogList is a page of the catalog.
type CatalogList struct {
	Tables []store.CatalogEntry `json:"tables"`
}

// CatalogUpdate documents a table: its description, owner, and its columns' descriptions
// and levels (a level set here is confirmed).
type CatalogUpdate struct {
	Description *string                 `json:"description"`
	Owner       *string                 `json:"owner"`
	Columns     map[string]ColumnUpdate `json:"columns"`
}

// ColumnUpdate documents a column.
type ColumnUpdate struct {
	Description *string `json:"description"`
	Level       string  `json:"level"`
}

// Preview is a table's first rows, masked where above the workspace's clearance.
type Preview struct {
	Columns []string   `json:"columns"`
	Masked  []string   `json:"masked"`
	Rows    [][]string `json:"rows"`
}

// visible is a connection a workspace may see: its type, and the grant it sees it by
// (nil: its own).
type visible struct {
	typ   string
	grant *store.Grant
}

// visibleConnections are the connections the workspace owns or was granted.
func (a *api) visibleConnections(ctx context.Context) (map[string]visible, error) {
	ws := workspaceOf(ctx)
	owned, err := a.c.st.Connections(ctx, "")
	if err != nil {
		return nil, err
	}
	out := map[string]visible{}
	for _, c := range owned {
		if c.Workspace == ws {
			out[c.Name] = visible{typ: c.Type}
			continue
		}
		if g, err := a.c.st.ActiveGrant(ctx, c.Name, ws, time.Now()); err == nil && g != nil {
			out[c.Name] = visible{typ: c.Type, grant: g}
		}
	}
	return out, nil
}

// narrow is catalogued table e as a workspace sees it by v: not at all outside its
// grant's tables, with the granted columns alone where the grant names some.
func narrow(e store.CatalogEntry, v visible) (store.CatalogEntry, bool) {
	g := v.grant
	if g == nil || g.Tables == "" {
		return e, true
	}
	pats, err := connector.ParseTables(g.Tables)
	if err != nil || !selects(pats, v.typ, e.Name) {
		return e, false
	}
	if cols := grantedColumns(g, v.typ, e.Name); cols != nil {
		e.Columns = slices.DeleteFunc(slices.Clone(e.Columns), func(c store.CatalogColumn) bool { return !cols[strings.ToLower(c.Name)] })
	}
	return e, true
}

// grantedColumns are the columns (lower case) grant g gives of catalogued table name of
// a connection of type typ (nil: all of them).
func grantedColumns(g *store.Grant, typ, name string) map[string]bool {
	for table, cols := range g.Columns {
		pats, err := connector.ParseTables(table)
		if err != nil || !selects(pats, typ, name) {
			continue
		}
		out := map[string]bool{}
		for _, c := range cols {
			out[strings.ToLower(c)] = true
		}
		return out
	}
	return nil
}

// openSource opens a connection's source connector, as `weir discover` does.
func (c *Controller) openSource(ctx context.Context, conn *store.Connection) (connector.Source, error) {
	typ, settings, err := c.connectionSettings(conn.Name)
	if err != nil {
		return nil, err
	}
	d := c.reg.Sources[typ]
	if d == nil {
		return nil, &BadRequest{fmt.Errorf("connection %s is of type %s, which is no source: there are no tables to catalog", conn.Name, typ)}
	}
	cfg, _, err := c.connectionConfig(conn.Name, typ, settings)
	if err != nil {
		return nil, err
	}
	src, err := d.Open(ctx, cfg, connector.Env{Pipeline: "catalog", SourceType: typ, Role: "discover", Parallelism: 1})
	if err != nil {
		return nil, fmt.Errorf("open connection %s: %s", conn.Name, c.redact(err.Error(), typ, settings))
	}
	return src, nil
}

func (a *api) scan(w http.ResponseWriter, r *http.Request) {
	conn, err := a.ownConnection(r.Context(), r.PathValue("conn"))
	if err != nil {
		fail(w, err)
		return
	}
	res, err := a.c.Scan(r.Context(), conn)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Scan reads the tables a connection reaches into the catalog (on demand, and every
// rescanEvery for the connections scanned before).
func (c *Controller) Scan(ctx context.Context, conn *store.Connection) (*ScanResult, error) {
	src, err := c.openSource(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	tables, err := src.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the tables of connection %s: %w", conn.Name, err)
	}
	before, err := c.st.Catalog(ctx, []string{conn.Name})
	if err != nil {
		return nil, err
	}
	old := map[string]store.CatalogEntry{}
	for _, e := range before {
		old[e.Name] = e
	}
	reader, canRead := src.(connector.ChunkReader)
	estimator, canEstimate := src.(connector.RowEstimator)
	res := &ScanResult{Added: []string{}, Removed: []string{}, Changed: []string{}}
	var entries []store.CatalogEntry
	now := time.Now().UTC()
	for _, s := range tables {
		name := s.ID.String()
		var sample []event.Row
		if canRead {
			sample, _ = preview.Sample(ctx, reader, s, 50) // what cannot be read is proposed by names alone
		}
		e := catalogEntry(conn.Name, name, s, sensitive.Detect(s, sample), old[name], now)
		if canEstimate {
			if n, err := estimator.EstimateRows(ctx, s); err == nil {
				e.RowEstimate = n
			}
		}
		prev, seen := old[name]
		switch {
		case !seen:
			res.Added = append(res.Added, name)
		case !sameColumns(prev.Columns, e.Columns):
			res.Changed = append(res.Changed, name)
		}
		delete(old, name)
		entries = append(entries, e)
	}
	for name := range old {
		res.Removed = append(res.Removed, name)
	}
	slices.Sort(res.Removed)
	if err := c.st.PutCatalog(ctx, conn.Name, entries); err != nil {
		return nil, err
	}
	if len(before) > 0 { // tables new since the last scan (the first finds every table new)
		c.noteOutsideGrants(ctx, conn.Name, conn.Type, res.Added)
	}
	res.Tables = len(entries)
	return res, nil
}

// rescanEvery is how often the connections in the catalog are scanned again.
const rescanEvery = time.Hour

// rescan scans again every source connection the catalog holds tables of, or that is
// granted for some of its tables (so that a table new there is told to the grantee's
// pipelines, noteOutsideGrants).
func (c *Controller) rescan(ctx context.Context) {
	conns, err := c.st.Connections(ctx, "")
	if err != nil {
		return
	}
	var names []string
	for _, conn := range conns {
		names = append(names, conn.Name)
	}
	granted := map[string]bool{}
	if gs, err := c.st.Grants(ctx, "", names); err == nil {
		for _, g := range gs {
			granted[g.Connection] = granted[g.Connection] || g.State == store.GrantApproved && g.Tables != ""
		}
	}
	for _, conn := range conns {
		if c.reg.Sources[conn.Type] == nil {
			continue
		}
		if es, err := c.st.Catalog(ctx, []string{conn.Name}); err != nil || len(es) == 0 && !granted[conn.Name] {
			continue
		}
		if _, err := c.Scan(ctx, &conn); err != nil {
			c.log.Warn("could not scan a connection again for the catalog", "connection", conn.Name, "err", err)
		}
	}
}

// registerSinkTables puts in the catalog the tables pipelines write through a sink
// connection, each with where it comes from: its columns, levels and descriptions are its
// source table's where the catalog holds that, so a copy is as protected as its origin,
// until a scan of the sink connection reads the table itself (keeping its sources).
func (c *Controller) registerSinkTables(ctx context.Context) {
	recs, err := c.st.List(ctx)
	if err != nil {
		return
	}
	for _, rec := range recs {
		v, err := c.st.Version(ctx, rec.Name, 0)
		if err != nil {
			continue
		}
		p, err := c.Parse(v.File)
		if err != nil || p.Sink.Connection == "" {
			continue
		}
		origin := c.catalogByName(ctx, p.Source.Connection)
		have := c.catalogByName(ctx, p.Sink.Connection)
		for _, ed := range c.edgesOf(rec.Name, p) {
			name := ed.out.Name
			if strings.HasPrefix(ed.out.Namespace, "postgres://") { // scanned, it is db.schema.table
				name = path.Base(ed.out.Namespace) + "." + name
			}
			src := store.CatalogSource{Pipeline: rec.Name, Connection: p.Source.Connection, Namespace: ed.in.Namespace, Table: ed.in.Name}
			e, ok := have[name]
			var err error
			switch {
			case ok && slices.Contains(e.Sources, src): // registered already: the usual case, nothing written
			case ok:
				e.Sources = append(e.Sources, src)
				err = c.st.UpdateCatalog(ctx, e)
			default:
				from := origin[ed.table]
				e = store.CatalogEntry{Connection: p.Sink.Connection, Name: name, Columns: from.Columns, Description: from.Description, Owner: from.Owner,
					RowEstimate: -1, Sources: []store.CatalogSource{src}, Scanned: time.Now().UTC()}
				if e.Columns == nil {
					e.Columns = []store.CatalogColumn{}
				}
				_, err = c.st.AddCatalog(ctx, e)
			}
			if err != nil {
				c.log.Warn("could not register a sink table in the catalog", "pipeline", rec.Name, "table", name, "err", err)
			}
			have[name] = e
		}
	}
}

// catalogByName is connection conn's catalog by table name (empty for "").
func (c *Controller) catalogByName(ctx context.Context, conn string) map[string]store.CatalogEntry {
	out := map[string]store.CatalogEntry{}
	if conn == "" {
		return out
	}
	es, _ := c.st.Catalog(ctx, []string{conn})
	for _, e := range es {
		out[e.Name] = e
	}
	return out
}

// catalogEntry is table s as a scan finds it, keeping what people wrote of it before.
func catalogEntry(conn, name string, s *event.Schema, findings []sensitive.Finding, prev store.CatalogEntry, now time.Time) store.CatalogEntry {
	e := store.CatalogEntry{Connection: conn, Name: name, Description: prev.Description, Owner: prev.Owner, RowEstimate: -1, Sources: prev.Sources, Scanned: now}
	for i, col := range s.Columns {
		c := store.CatalogColumn{Name: col.Name, Type: col.Type.String(), Nullable: col.Nullable, Key: slices.Contains(s.Key, i), Level: "internal"}
		for _, f := range findings {
			if f.Column == col.Name {
				c.Proposed, c.Level = f.Kind, "confidential"
			}
		}
		for _, p := range prev.Columns {
			if p.Name == col.Name {
				c.Description = p.Description
				if p.Confirmed {
					c.Level, c.Confirmed = p.Level, true
				}
			}
		}
		e.Columns = append(e.Columns, c)
	}
	return e
}

func sameColumns(a, b []store.CatalogColumn) bool {
	return slices.EqualFunc(a, b, func(x, y store.CatalogColumn) bool {
		return x.Name == y.Name && x.Type == y.Type && x.Nullable == y.Nullable && x.Key == y.Key
	})
}

func (a *api) catalog(w http.ResponseWriter, r *http.Request) {
	conns, err := a.visibleConnections(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	es, err := a.c.st.Catalog(r.Context(), slices.Sorted(maps.Keys(conns)))
	if err != nil {
		fail(w, err)
		return
	}
	q := strings.ToLower(r.URL.Query().Get("q"))
	out := CatalogList{Tables: []store.CatalogEntry{}}
	for _, e := range es {
		if e, ok := narrow(e, conns[e.Connection]); ok && (q == "" || matches(e, q)) {
			out.Tables = append(out.Tables, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// matches reports whether q is in the table's name, description, or a column's name or
// description.
func matches(e store.CatalogEntry, q string) bool {
	if strings.Contains(strings.ToLower(e.Name), q) || strings.Contains(strings.ToLower(e.Description), q) {
		return true
	}
	return slices.ContainsFunc(e.Columns, func(c store.CatalogColumn) bool {
		return strings.Contains(strings.ToLower(c.Name), q) || strings.Contains(strings.ToLower(c.Description), q)
	})
}

// entry finds a table of a connection the workspace may see.
func (a *api) entry(ctx context.Context, conn, table string) (*store.CatalogEntry, error) {
	conns, err := a.visibleConnections(ctx)
	if err != nil {
		return nil, err
	}
	if v, ok := conns[conn]; ok {
		es, err := a.c.st.Catalog(ctx, []string{conn})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.Name == table {
				if e, ok := narrow(e, v); ok {
					return &e, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("table %s of connection %s: %w (scan the connection first)", table, conn, store.ErrNotFound)
}

func (a *api) catalogEntry(w http.ResponseWriter, r *http.Request) {
	e, err := a.entry(r.Context(), r.PathValue("conn"), r.PathValue("table"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (a *api) document(w http.ResponseWriter, r *http.Request) {
	var req CatalogUpdate
	if !decode(w, r, &req) {
		return
	}
	if _, err := a.ownConnection(r.Context(), r.PathValue("conn")); err != nil { // the owners document their tables
		fail(w, err)
		return
	}
	e, err := a.entry(r.Context(), r.PathValue("conn"), r.PathValue("table"))
	if err != nil {
		fail(w, err)
		return
	}
	if req.Description != nil {
		e.Description = *req.Description
	}
	if req.Owner != nil {
		e.Owner = *req.Owner
	}
	for name, u := range req.Columns {
		i := slices.IndexFunc(e.Columns, func(c store.CatalogColumn) bool { return c.Name == name })
		if i < 0 {
			fail(w, &BadRequest{fmt.Errorf("columns.%s: table %s has no such column", name, e.Name)})
			return
		}
		if u.Description != nil {
			e.Columns[i].Description = *u.Description
		}
		if u.Level != "" {
			if levelRank(u.Level) < 0 {
				fail(w, &BadRequest{fmt.Errorf("columns.%s.level %q: want one of %v", name, u.Level, Levels)})
				return
			}
			e.Columns[i].Level, e.Columns[i].Confirmed = u.Level, true
		}
	}
	if err := a.c.st.UpdateCatalog(r.Context(), *e); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (a *api) preview(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", 20, 1, 200)
	if err != nil {
		writeError(w, http.StatusBadRequest, Error{Error: err.Error()})
		return
	}
	e, err := a.entry(r.Context(), r.PathValue("conn"), r.PathValue("table"))
	if err != nil {
		fail(w, err)
		return
	}
	clearance, err := a.c.st.Clearance(r.Context(), workspaceOf(r.Context()))
	if err != nil {
		fail(w, err)
		return
	}
	conn, err := a.c.st.GetConnection(r.Context(), e.Connection)
	if err != nil {
		fail(w, err)
		return
	}
	src, err := a.c.openSource(r.Context(), conn)
	if err != nil {
		fail(w, err)
		return
	}
	defer src.Close()
	tables, err := src.Tables(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	i := slices.IndexFunc(tables, func(s *event.Schema) bool { return s.ID.String() == e.Name })
	reader, ok := src.(connector.ChunkReader)
	if i < 0 || !ok {
		fail(w, fmt.Errorf("table %s of connection %s: %w (gone since the scan)", e.Name, e.Connection, store.ErrNotFound))
		return
	}
	s := tables[i]
	rows, err := preview.Sample(r.Context(), reader, s, int(limit))
	if err != nil {
		fail(w, err)
		return
	}
	// The columns the catalog shows (a grant may narrow them), each masked above the
	// workspace's clearance; a column new since the scan is shown once a scan has it.
	out := Preview{Columns: []string{}, Masked: []string{}, Rows: [][]string{}}
	var shown []int
	hide := map[int]bool{}
	for k, col := range s.Columns {
		i := slices.IndexFunc(e.Columns, func(c store.CatalogColumn) bool { return c.Name == col.Name })
		if i < 0 {
			continue
		}
		shown = append(shown, k)
		out.Columns = append(out.Columns, col.Name)
		if levelRank(e.Columns[i].Level) > levelRank(clearance) {
			hide[k] = true
			out.Masked = append(out.Masked, col.Name)
		}
	}
	for _, row := range rows {
		vals := make([]string, 0, len(shown))
		for _, k := range shown {
			if v := row[k]; hide[k] && v.Rep() != event.RepNull {
				vals = append(vals, "****")
			} else {
				vals = append(vals, v.String())
			}
		}
		out.Rows = append(out.Rows, vals)
	}
	writeJSON(w, http.StatusOK, out)
}

var tableParam = param{name: "table", in: "path", doc: "the table's name (db.table)", required: true, typ: "string"}

var catalogRoutes = []route{
	{method: "POST", path: "/api/v1/connections/{conn}/scan", id: "scanConnection", summary: "Scan the tables a connection reaches into the catalog (columns, types, keys; levels proposed by the sensitive-data detector), saying what changed since the last scan",
		params: []param{connParam}, perm: auth.WriteConnections, out: ScanResult{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).scan},
	{method: "GET", path: "/api/v1/catalog", id: "catalog", summary: "The tables of the connections the workspace owns or was granted; q searches names, columns and descriptions",
		params: []param{{name: "q", in: "query", doc: "a word to look for", typ: "string"}}, perm: auth.ReadConnections, out: CatalogList{}, status: 200, errors: []int{401, 403, 404}, h: (*api).catalog},
	{method: "GET", path: "/api/v1/catalog/{conn}/{table}", id: "catalogTable", summary: "A table of the catalog",
		params: []param{connParam, tableParam}, perm: auth.ReadConnections, out: store.CatalogEntry{}, status: 200, errors: []int{401, 403, 404}, h: (*api).catalogEntry},
	{method: "PATCH", path: "/api/v1/catalog/{conn}/{table}", id: "documentTable", summary: "Document a table of the workspace's connection: description, owner, its columns' descriptions and confirmed security levels",
		params: []param{connParam, tableParam}, perm: auth.WriteConnections, in: CatalogUpdate{}, out: store.CatalogEntry{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).document},
	{method: "GET", path: "/api/v1/catalog/{conn}/{table}/preview", id: "previewTable", summary: "A table's first rows, each column above the workspace's clearance masked",
		params: []param{connParam, tableParam, {name: "limit", in: "query", doc: "at most this many rows (1-200, default 20)", typ: "integer"}},
		perm:   auth.ReadConnections, out: Preview{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).preview},
}

// aboveClearance refuses a pipeline of workspace ws that would copy, unmasked, a column
// the catalog holds above ws's clearance: each such column of a selected table needs a
// transform of its table that masks it, or a projection that leaves it out.
func (c *Controller) aboveClearance(ws string, p *spec.Pipeline) error {
	if p.Source.Connection == "" || p.Source.Config.Spec.Field("tables") == nil {
		return nil
	}
	ctx := context.Background()
	clearance, err := c.st.Clearance(ctx, ws)
	if err != nil {
		return err
	}
	entries, err := c.st.Catalog(ctx, []string{p.Source.Connection})
	if err != nil || len(entries) == 0 {
		return err
	}
	pats, err := connector.ParseTables(p.Source.Config.String("tables"))
	if err != nil {
		return nil // the file's own check says so
	}
	var probs spec.Problems
	for _, e := range entries {
		db, tbl := splitTable(p.Source.Type, e.Name)
		if !selects(pats, p.Source.Type, e.Name) {
			continue
		}
		for _, col := range e.Columns {
			if levelRank(col.Level) <= levelRank(clearance) || hidden(p, db, tbl, col.Name) {
				continue
			}
			probs = append(probs, spec.Problem{File: "pipeline.yaml", Line: p.Source.Line, Path: "source.tables",
				Msg: fmt.Sprintf("column %s of %s is %s, above workspace %s's clearance (%s): mask it (transform of %s with mask: %s = hash) or leave it out of a projection",
					col.Name, e.Name, col.Level, ws, clearance, e.Name, col.Name)})
		}
	}
	if len(probs) > 0 {
		return probs
	}
	return nil
}

// hidden reports whether a transform of db.tbl masks column col, or projects without it.
func hidden(p *spec.Pipeline, db, tbl, col string) bool {
	lc := strings.ToLower(col)
	for _, t := range transformsOf(p, db, tbl) {
		for _, m := range t.Masks {
			if slices.Contains(m.Columns, lc) || m.Regex != nil && m.Regex.MatchString(lc) {
				return true
			}
		}
	}
	return projectedOut(p, db, tbl, col)
}

// projectedOut reports whether a transform of db.tbl projects without column col, and
// its filter does not name it: the column is not read at all.
func projectedOut(p *spec.Pipeline, db, tbl, col string) bool {
	for _, t := range transformsOf(p, db, tbl) {
		if t.Projection != "" && !strings.Contains(t.Projection, "*") && !mentions(t.Projection, col) && !mentions(t.Filter, col) {
			return true
		}
	}
	return false
}

// mentions reports whether expression text names column col: the name, in any case, not
// inside a longer identifier (a letter, digit or _ of any script on either side).
func mentions(text, col string) bool {
	text, col = strings.ToLower(text), strings.ToLower(col)
	ident := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	for i := 0; col != ""; {
		j := strings.Index(text[i:], col)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(col)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if (start == 0 || !ident(before)) && (end == len(text) || !ident(after)) {
			return true
		}
		i = start + 1
	}
	return false
}

// transformsOf are the pipeline's transforms of db.tbl.
func transformsOf(p *spec.Pipeline, db, tbl string) []spec.Transform {
	var out []spec.Transform
	for _, t := range p.Transforms {
		if slices.ContainsFunc(t.SourceTables, func(pt connector.TablePattern) bool { return pt.Match(db, tbl) }) {
			out = append(out, t)
		}
	}
	return out
}

// ClearanceRequest sets a workspace's clearance.
type ClearanceRequest struct {
	Level string `json:"level"`
}

func (a *api) setClearance(w http.ResponseWriter, r *http.Request) {
	var req ClearanceRequest
	if !decode(w, r, &req) {
		return
	}
	if levelRank(req.Level) < 0 {
		fail(w, &BadRequest{fmt.Errorf("level %q: want one of %v", req.Level, Levels)})
		return
	}
	if err := a.c.st.SetClearance(r.Context(), r.PathValue("ws"), req.Level); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

func init() {
	catalogRoutes = append(catalogRoutes, route{method: "PUT", path: "/api/v1/workspaces/{ws}/clearance", id: "setClearance",
		summary: "Set a workspace's clearance: the highest security level its previews and pipelines see unmasked (server admins)",
		params:  []param{{name: "ws", in: "path", doc: "the workspace", required: true, typ: "string"}}, perm: auth.ServerAdmin,
		in: ClearanceRequest{}, out: ClearanceRequest{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).setClearance})
}
