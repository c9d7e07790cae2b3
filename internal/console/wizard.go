package console

import (
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/store"
)

// The zero-code wizard and the editor. The wizard asks, in one page that fills in as it
// is answered, for a source connection and its tables (ticked from the data map, or a
// pattern for shards, shown with what it matches), a sink, a filter and masks for the
// columns above the workspace's clearance, and the options; it writes the pipeline file
// from the answers and hands it to the editor — the same file `weir pipeline apply`
// takes — where it is checked by the server as a create would check it, line by line,
// and created.

func (c *Console) wizardRoutes() {
	m := c.mux
	m.HandleFunc("GET /ui/new", c.wizard)
	m.HandleFunc("GET /ui/new/tables", c.wizardTables)
	m.HandleFunc("GET /ui/new/match", c.wizardMatch)
	m.HandleFunc("POST /ui/new/review", c.wizardReview)
	m.HandleFunc("GET /ui/editor", c.editor)
	m.HandleFunc("POST /ui/editor/check", c.editorCheck)
	m.HandleFunc("POST /ui/editor/create", c.editorCreate)
	m.HandleFunc("POST /ui/editor/preview", c.editorPreview)
}

// sourceTypes and sinkTypes are the connection types the wizard offers on each side.
var (
	sourceTypes = []string{"mariadb", "mysql", "postgres", "kafka"}
	sinkTypes   = []string{"mariadb", "mysql", "postgres", "kafka"}
)

// WizardData is the wizard's page.
type WizardData struct {
	Sources, Sinks []server.ConnectionView
	Modes          []string
	Behaviors      []string
}

func (c *Console) wizard(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	var list server.ConnectionList
	err := s.call("GET", "/api/v1/connections", nil, &list)
	d := WizardData{Modes: []string{"initial", "latest-offset", "snapshot"}, Behaviors: []string{"lenient", "evolve", "try_evolve", "ignore", "exception"}}
	for _, cv := range list.Connections {
		if slices.Contains(sourceTypes, cv.Type) {
			d.Sources = append(d.Sources, cv)
		}
		if slices.Contains(sinkTypes, cv.Type) && cv.Workspace == workspaceOf(r) {
			d.Sinks = append(d.Sinks, cv)
		}
	}
	p := s.page("new", "New pipeline", d)
	if err != nil {
		p.Error = err.Error()
	}
	c.render(w, "wizard", p)
}

// tablesOf are the data map's tables of connection conn.
func (s *session) tablesOf(conn string) ([]store.CatalogEntry, error) {
	var list server.CatalogList
	if err := s.call("GET", "/api/v1/catalog", nil, &list); err != nil {
		return nil, err
	}
	var out []store.CatalogEntry
	for _, e := range list.Tables {
		if e.Connection == conn {
			out = append(out, e)
		}
	}
	return out, nil
}

// Masked is a column the wizard proposes to mask: above the workspace's clearance, or
// proposed by the sensitive-data detector.
type Masked struct {
	Table, Column, Level, Kind string
}

func (c *Console) wizardTables(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	conn := r.URL.Query().Get("source")
	tables, err := s.tablesOf(conn)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var masks []Masked
	for _, e := range tables {
		for _, col := range e.Columns {
			if col.Level == "confidential" || col.Level == "restricted" {
				masks = append(masks, Masked{Table: e.Name, Column: col.Name, Level: col.Level, Kind: col.Proposed})
			}
		}
	}
	c.renderBlock(w, "wizard", "tables", map[string]any{"Source": conn, "Tables": tables, "Masks": masks, "CanScan": s.can("connections:write")})
}

// matching is the tables of the catalog a pattern selects (db.table items, as a source's
// tables setting has them).
func matching(tables []store.CatalogEntry, pattern string) ([]string, error) {
	pats, err := connector.ParseTables(pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range tables {
		name := e.Name
		db, tbl, _ := strings.Cut(name, ".")
		if strings.Count(name, ".") == 2 { // PostgreSQL: db.schema.table, selected as schema.table
			db, tbl, _ = strings.Cut(tbl, ".")
		}
		if slices.ContainsFunc(pats, func(p connector.TablePattern) bool { return p.Match(db, tbl) }) {
			out = append(out, name)
		}
	}
	return out, nil
}

func (c *Console) wizardMatch(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	pattern := strings.TrimSpace(r.URL.Query().Get("pattern"))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if pattern == "" {
		return
	}
	tables, err := s.tablesOf(r.URL.Query().Get("source"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	names, err := matching(tables, pattern)
	c.renderBlock(w, "wizard", "matches", map[string]any{"Names": names, "Err": err})
}

// Answers are the wizard's answers.
type Answers struct {
	Name, Source, Sink, FilePath string
	Tables                       []string // db.table (PostgreSQL: schema.table)
	Pattern                      string
	Merge                        string // one sink table for every table ("": each its own)
	Filter, Projection           string
	Masks                        []string // table|column
	Mode, Behavior               string
	Parallelism                  string
	RateRows                     string // most rows per second read from the source ("": no limit)
	// Casts are the types chosen for columns, by table (as Tables names it) and column;
	// Columns are each table's columns in order, to write its projection out.
	Casts   map[string]map[string]string
	Columns map[string][]string
}

// castType is what a chosen column type may be: a type name of a few words with its
// length, or precision and scale (VARCHAR(100), DECIMAL(20,4), DOUBLE PRECISION).
var castType = regexp.MustCompile(`^[A-Za-z][A-Za-z_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?$`)

// answersOf reads the wizard's form.
func answersOf(r *http.Request) Answers {
	r.ParseForm()
	f := r.Form
	a := Answers{Name: strings.TrimSpace(f.Get("name")), Source: f.Get("source"), Sink: f.Get("sink"), FilePath: strings.TrimSpace(f.Get("path")),
		Pattern: strings.TrimSpace(f.Get("pattern")), Merge: strings.TrimSpace(f.Get("merge")), Filter: strings.TrimSpace(f.Get("filter")),
		Projection: strings.TrimSpace(f.Get("projection")), Masks: f["mask"], Mode: f.Get("mode"), Behavior: f.Get("behavior"),
		Parallelism: strings.TrimSpace(f.Get("parallelism")), RateRows: strings.TrimSpace(f.Get("rate"))}
	selected := func(t string) string {
		if strings.Count(t, ".") == 2 { // a PostgreSQL table as the data map names it: db.schema.table
			_, t, _ = strings.Cut(t, ".")
		}
		return t
	}
	for _, t := range f["table"] {
		a.Tables = append(a.Tables, selected(t))
	}
	for k, v := range f { // cast|TABLE|COLUMN = TYPE, col|TABLE = COLUMN…
		kind, rest, _ := strings.Cut(k, "|")
		switch kind {
		case "cast":
			t, col, ok := strings.Cut(rest, "|")
			if typ := strings.TrimSpace(v[0]); ok && typ != "" {
				if a.Casts == nil {
					a.Casts = map[string]map[string]string{}
				}
				if a.Casts[selected(t)] == nil {
					a.Casts[selected(t)] = map[string]string{}
				}
				a.Casts[selected(t)][col] = typ
			}
		case "col":
			if a.Columns == nil {
				a.Columns = map[string][]string{}
			}
			a.Columns[selected(rest)] = v
		}
	}
	return a
}

// problems are what the wizard cannot write of the answers.
func (a Answers) problems() []string {
	var out []string
	for _, t := range slices.Sorted(maps.Keys(a.Casts)) {
		for _, col := range slices.Sorted(maps.Keys(a.Casts[t])) {
			if typ := a.Casts[t][col]; !castType.MatchString(typ) {
				out = append(out, fmt.Sprintf("the type for %s.%s, %q, is not a type: write one as VARCHAR(100), BIGINT or DECIMAL(20,4)", t, col, typ))
			}
		}
	}
	return out
}

var plainWord = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ident is a column name as an expression names it: backquoted unless it is a plain word.
func ident(name string) string {
	if plainWord.MatchString(name) {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// splitItems splits a projection at its top-level commas (not those inside parentheses
// or quotes).
func splitItems(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"' || r == '`':
			quote = r
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// castProjection is the projection of a table whose columns casts gives types: the
// projection as written (every column where it is empty), with * written out as the
// table's columns and each cast column, where it stands bare, as CAST(c AS type) AS c.
func castProjection(projection string, columns []string, casts map[string]string) string {
	items := []string{"*"}
	if projection != "" {
		items = splitItems(projection)
	}
	cast := func(col string) string {
		if typ, ok := casts[col]; ok {
			return "CAST(" + ident(col) + " AS " + strings.ToUpper(typ) + ") AS " + ident(col)
		}
		return ident(col)
	}
	var out []string
	for _, it := range items {
		if it == "*" {
			for _, col := range columns {
				out = append(out, cast(col))
			}
			continue
		}
		bare, quoted := it, len(it) > 1 && it[0] == '`' && it[len(it)-1] == '`'
		if quoted {
			bare = strings.ReplaceAll(it[1:len(it)-1], "``", "`")
		}
		if i := slices.IndexFunc(columns, func(c string) bool { return strings.EqualFold(c, bare) }); i >= 0 && (quoted || plainWord.MatchString(it)) {
			out = append(out, cast(columns[i]))
			continue
		}
		out = append(out, it)
	}
	return strings.Join(out, ", ")
}

// quoteYAML writes s as a YAML scalar: plain where that reads back the same string, else
// single-quoted.
func quoteYAML(s string) string {
	plain := s != "" && strings.TrimSpace(s) == s && !strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@`") &&
		!strings.Contains(s, ": ") && !strings.Contains(s, " #") && !strings.ContainsAny(s, "\n\t") && !strings.HasSuffix(s, ":")
	if plain {
		switch strings.ToLower(s) {
		case "true", "false", "yes", "no", "on", "off", "null", "~":
			plain = false
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// tableItem is a table ticked in the data map as a tables list names it: each part a
// regular expression that matches the name alone — its characters quoted, its dots as
// [.] (an escaped dot would match any character), its commas as \x2c (a comma splits
// items).
func tableItem(t string) string {
	db, tbl, ok := strings.Cut(t, ".")
	if !ok {
		return t
	}
	lit := func(s string) string {
		s = regexp.QuoteMeta(s)
		return strings.NewReplacer(`\.`, "[.]", ",", `\x2c`).Replace(s)
	}
	return lit(db) + "." + lit(tbl)
}

// file writes the pipeline file of the answers.
func (a Answers) file() string {
	var b strings.Builder
	var items []string
	for _, t := range a.Tables {
		items = append(items, tableItem(t))
	}
	if a.Pattern != "" {
		items = append(items, a.Pattern)
	}
	tables := strings.Join(items, ", ")
	b.WriteString("source:\n")
	fmt.Fprintf(&b, "  connection: %s\n  tables: %s\n", quoteYAML(a.Source), quoteYAML(tables))
	if a.Mode != "" && a.Mode != "initial" {
		fmt.Fprintf(&b, "  scan.startup.mode: %s\n", quoteYAML(a.Mode))
	}
	if a.RateRows != "" && a.RateRows != "0" {
		fmt.Fprintf(&b, "  scan.rate-limit.rows-per-second: %s\n", quoteYAML(a.RateRows))
	}
	b.WriteString("sink:\n")
	if a.Sink == "" || a.Sink == "-file" {
		path := a.FilePath
		if path == "" {
			path = a.Name
		}
		fmt.Fprintf(&b, "  type: file\n  path: %s\n", quoteYAML(path))
	} else {
		fmt.Fprintf(&b, "  connection: %s\n", quoteYAML(a.Sink))
	}
	// Transform rules: the first rule that matches a table applies, so each ticked table
	// gets its own (filter, projection, its masks) before the pattern's.
	masks := map[string][]string{} // by the table's own name
	for _, m := range a.Masks {
		t, col, ok := strings.Cut(m, "|")
		if !ok {
			continue
		}
		if strings.Count(t, ".") == 2 { // PostgreSQL's db.schema.table, selected as schema.table
			_, t, _ = strings.Cut(t, ".")
		}
		masks[t] = append(masks[t], col)
	}
	type rule struct{ item, table string } // table: the ticked table's name ("" for the pattern)
	var rules []rule
	for _, t := range a.Tables {
		if a.Filter != "" || a.Projection != "" || len(masks[t]) > 0 || len(a.Casts[t]) > 0 {
			rules = append(rules, rule{tableItem(t), t})
		}
	}
	for _, t := range slices.Sorted(maps.Keys(masks)) { // masked tables the pattern brings
		if !slices.Contains(a.Tables, t) {
			rules = append(rules, rule{tableItem(t), t})
		}
	}
	if a.Pattern != "" && (a.Filter != "" || a.Projection != "") {
		rules = append(rules, rule{a.Pattern, ""})
	}
	if len(rules) > 0 {
		b.WriteString("transform:\n")
	}
	for _, r := range rules {
		fmt.Fprintf(&b, "  - source-table: %s\n", quoteYAML(r.item))
		projection := a.Projection
		if casts := a.Casts[r.table]; r.table != "" && len(casts) > 0 {
			projection = castProjection(a.Projection, a.Columns[r.table], casts)
		}
		if projection != "" {
			fmt.Fprintf(&b, "    projection: %s\n", quoteYAML(projection))
		}
		if a.Filter != "" {
			fmt.Fprintf(&b, "    filter: %s\n", quoteYAML(a.Filter))
		}
		if cols := masks[r.table]; r.table != "" && len(cols) > 0 {
			fmt.Fprintf(&b, "    mask:\n      - %s\n", quoteYAML(strings.Join(cols, ", ")+" = null"))
		}
	}
	if a.Merge != "" {
		fmt.Fprintf(&b, "route:\n  - source-table: %s\n    sink-table: %s\n", quoteYAML(tables), quoteYAML(a.Merge))
	}
	b.WriteString("pipeline:\n")
	fmt.Fprintf(&b, "  name: %s\n", quoteYAML(a.Name))
	if a.Parallelism != "" {
		fmt.Fprintf(&b, "  parallelism: %s\n", quoteYAML(a.Parallelism))
	}
	if a.Behavior != "" && a.Behavior != "lenient" {
		fmt.Fprintf(&b, "  schema.change.behavior: %s\n", quoteYAML(a.Behavior))
	}
	return b.String()
}

func (c *Console) wizardReview(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	a := answersOf(r)
	if p := a.problems(); len(p) > 0 {
		c.fail(w, r, errors.New(strings.Join(p, "; ")))
		return
	}
	file := a.file()
	c.renderBlock(w, "editor", "form", s.checked(file))
}

// Checked is a file with what the server found of it.
type Checked struct {
	File   string
	Result server.Validation
	Err    string
	Lines  []CodeLine
	Docs   string
}

// CodeLine is a line of a file, highlighted, with its problems.
type CodeLine struct {
	HTML     template.HTML
	Problems []string
}

// checked checks file with the server.
func (s *session) checked(file string) Checked {
	out := Checked{File: file}
	if err := s.call("POST", "/api/v1/validate", server.ValidateRequest{File: file}, &out.Result); err != nil {
		out.Err = err.Error()
	}
	byLine := map[int][]string{}
	for _, p := range out.Result.Problems {
		where := p.Path
		if p.Column > 0 {
			where = fmt.Sprintf("column %d, %s", p.Column, p.Path)
		}
		byLine[p.Line] = append(byLine[p.Line], fmt.Sprintf("%s: %s", where, p.Message))
	}
	for i, line := range strings.Split(strings.TrimRight(file, "\n"), "\n") {
		out.Lines = append(out.Lines, CodeLine{HTML: highlight(line), Problems: byLine[i+1]})
	}
	return out
}

// highlight colors a line of YAML: its comment, its key, its value.
func highlight(line string) template.HTML {
	esc := template.HTMLEscapeString
	code, comment := line, ""
	if i := strings.Index(line, "#"); i >= 0 && (i == 0 || line[i-1] == ' ') {
		code, comment = line[:i], line[i:]
	}
	var b strings.Builder
	if k, v, ok := strings.Cut(code, ":"); ok && !strings.ContainsAny(k, "'\"") {
		fmt.Fprintf(&b, `<span class="k">%s</span>:`, esc(k))
		if v != "" {
			fmt.Fprintf(&b, `<span class="s">%s</span>`, esc(v))
		}
	} else {
		b.WriteString(esc(code))
	}
	if comment != "" {
		fmt.Fprintf(&b, `<span class="c">%s</span>`, esc(comment))
	}
	return template.HTML(b.String())
}

func (c *Console) editor(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	file := "source:\n  connection: \n  tables: \nsink:\n  connection: \npipeline:\n  name: \n"
	if name := r.URL.Query().Get("from"); name != "" { // edit a pipeline's file in force
		var p server.Pipeline
		if err := s.call("GET", "/api/v1/pipelines/"+url.PathEscape(name), nil, &p); err == nil {
			file = p.File
		}
	}
	d := s.checked(file)
	d.Docs = c.docs
	c.render(w, "editor", s.page("editor", "Pipeline file", d))
}

func (c *Console) editorCheck(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	c.renderBlock(w, "editor", "check", s.checked(r.FormValue("file")))
}

func (c *Console) editorCreate(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	file := r.FormValue("file")
	var p server.Pipeline
	err := s.call("POST", "/api/v1/pipelines", server.CreateRequest{File: file}, &p)
	if err != nil {
		var ae *apiError
		if isAPI(err, &ae) && ae.Status == http.StatusConflict && strings.Contains(ae.Msg, "already exists") { // an upgrade of an existing pipeline
			var res server.ApplyResult
			name := nameOf(s, file)
			if aerr := s.call("PUT", "/api/v1/pipelines/"+url.PathEscape(name), server.ApplyRequest{File: file}, &res); aerr == nil {
				w.Header().Set("HX-Redirect", "/ui/pipelines/"+url.PathEscape(name))
				return
			} else {
				err = aerr
			}
		}
		c.fail(w, r, err)
		return
	}
	w.Header().Set("HX-Redirect", "/ui/pipelines/"+url.PathEscape(p.Name))
}

// nameOf is the pipeline name the server reads from file ("" where it cannot).
func nameOf(s *session, file string) string {
	var v server.Validation
	if s.call("POST", "/api/v1/validate", server.ValidateRequest{File: file}, &v) != nil {
		return ""
	}
	return v.Name
}

// docsOf is the reference of the pipeline file and of every connector (weir docs).
func docsOf(reg *connector.Registry) string {
	if reg == nil {
		return ""
	}
	return spec.Docs(reg)
}

// editorPreview shows what the file would write: each sink table's schema (merged shards'
// widened) and first rows through the transforms, writing nothing.
func (c *Console) editorPreview(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	var out server.PipelinePreview
	if err := s.call("POST", "/api/v1/preview", server.PreviewRequest{File: r.FormValue("file"), Limit: 5}, &out); err != nil {
		c.fail(w, r, err)
		return
	}
	c.renderBlock(w, "editor", "preview", out)
}
