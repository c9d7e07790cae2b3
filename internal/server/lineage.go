package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/spec"
)

// Lineage: the graph table → pipeline → table, across pipelines (the sink table of one is
// the source table of another when both name the same server and table: a PostgreSQL
// database, a Kafka cluster's topic…). Tables are named as OpenLineage names datasets: a
// namespace for the server (mysql://host:port, postgres://host:port/database,
// kafka://broker, file://path) and a name within it (db.table, schema.table, topic).
// A pipeline's tables are those it has read (its per-table series) where it runs here,
// else those its selection names literally or, read through a connection, those of the
// connection's catalogued tables its patterns select; its sink tables follow its routes.

// Dataset is a table, named as OpenLineage names datasets.
type Dataset struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// LineageJob is a pipeline with the tables it reads and writes, and what it does on the
// way: its transforms and routes, as its file writes them.
type LineageJob struct {
	Pipeline   string      `json:"pipeline"`
	Inputs     []Dataset   `json:"inputs"`
	Outputs    []Dataset   `json:"outputs"`
	Transforms []Transform `json:"transforms,omitempty"`
	Routes     []RouteStep `json:"routes,omitempty"`
}

// Transform is a transform rule of a pipeline, as lineage shows it.
type Transform struct {
	SourceTable string   `json:"source_table"`
	Projection  string   `json:"projection,omitempty"`
	Filter      string   `json:"filter,omitempty"`
	Masks       []string `json:"masks,omitempty"`
	Description string   `json:"description,omitempty"`
}

// RouteStep is a route of a pipeline, as lineage shows it.
type RouteStep struct {
	SourceTable string `json:"source_table"`
	SinkTable   string `json:"sink_table"`
	Description string `json:"description,omitempty"`
}

// Lineage is the graph of the workspace's pipelines, or the part of it upstream and
// downstream of one table.
type Lineage struct {
	Jobs []LineageJob `json:"jobs"`
}

// namespaceOf names the server of an endpoint.
func namespaceOf(ep *spec.Endpoint) string {
	cfg := ep.Config
	str := func(k string) string {
		if cfg.Spec.Field(k) == nil {
			return ""
		}
		return cfg.String(k)
	}
	switch ep.Type {
	case "mysql", "mariadb", "postgres":
		scheme := "mysql"
		if ep.Type == "postgres" {
			scheme = "postgres"
		}
		if u := str("url"); u != "" { // a sink: user and password left out
			if pu, err := url.Parse(u); err == nil {
				ns := scheme + "://" + pu.Host
				if scheme == "postgres" {
					ns += pu.Path
				}
				return ns
			}
		}
		port := int64(3306)
		if cfg.Spec.Field("port") != nil {
			port = cfg.Int("port")
		}
		return scheme + "://" + str("hostname") + ":" + strconv.FormatInt(port, 10)
	case "kafka":
		return "kafka://" + strings.Split(str("properties.bootstrap.servers"), ",")[0]
	case "file":
		return "file://" + str("path")
	}
	return ep.Type + "://"
}

// regexMeta finds a pattern's regex characters (a dot is PostgreSQL's schema.table
// separator in the table part, not one).
var regexMeta = regexp.MustCompile(`[\\^$*+?()\[\]{}|]`)

// selectedTables are the tables a pipeline that has not run yet selects: those its tables
// setting names literally, and where it reads a connection the catalog holds, those of
// its tables its patterns select.
func (c *Controller) selectedTables(p *spec.Pipeline) []string {
	pats, err := connector.ParseTables(p.Source.Config.String("tables"))
	if err != nil {
		return nil
	}
	var out []string
	var patterns []connector.TablePattern
	for _, pt := range pats {
		db, tbl := pt.DB, pt.Table
		if regexMeta.MatchString(db) || strings.Contains(db, ".") || regexMeta.MatchString(tbl) || len(pt.Except) > 0 {
			patterns = append(patterns, pt)
			continue
		}
		out = append(out, db+"."+tbl)
	}
	if len(patterns) > 0 && p.Source.Connection != "" {
		es, _ := c.st.Catalog(context.Background(), []string{p.Source.Connection})
		for _, e := range es {
			if selects(patterns, p.Source.Type, e.Name) && !slices.Contains(out, e.Name) {
				out = append(out, e.Name)
			}
		}
	}
	return out
}

// edge is a source table and the sink table the pipeline writes it to.
type edge struct {
	table   string // as the source names it
	in, out Dataset
}

// edgesOf are the pipeline's edges, by source table.
func (c *Controller) edgesOf(name string, p *spec.Pipeline) []edge {
	var tables []string
	for _, t := range c.tables(name, nil) {
		tables = append(tables, t.Table)
	}
	if len(tables) == 0 {
		switch {
		case p.Source.Config.Spec.Field("tables") != nil:
			tables = c.selectedTables(p)
		case p.Source.Config.Spec.Field("topic") != nil:
			for _, t := range strings.FieldsFunc(p.Source.Config.String("topic"), func(r rune) bool { return r == ';' || r == ',' }) {
				tables = append(tables, strings.TrimSpace(t))
			}
		}
	}
	slices.Sort(tables)
	in, out := namespaceOf(&p.Source), namespaceOf(&p.Sink)
	var edges []edge
	for _, t := range tables {
		src := Dataset{Namespace: in, Name: t}
		if p.Source.Type == "postgres" { // db.schema.table, or schema.table of database-name: the database is the namespace's
			if db, rest, ok := strings.Cut(t, "."); ok && strings.Count(t, ".") == 2 {
				src = Dataset{Namespace: in + "/" + db, Name: rest}
			} else if db := p.Source.Config.String("database-name"); db != "" {
				src.Namespace = in + "/" + db
			}
		}
		edges = append(edges, edge{table: t, in: src, out: Dataset{Namespace: out, Name: sinkTable(p, t)}})
	}
	return edges
}

// lineageOf is the job of one pipeline.
func (c *Controller) lineageOf(name string, p *spec.Pipeline) LineageJob {
	job := LineageJob{Pipeline: name, Inputs: []Dataset{}, Outputs: []Dataset{}}
	for _, t := range p.Transforms {
		tr := Transform{SourceTable: t.SourceTable, Projection: t.Projection, Filter: t.Filter, Description: t.Description}
		for _, m := range t.Masks {
			tr.Masks = append(tr.Masks, m.Written)
		}
		job.Transforms = append(job.Transforms, tr)
	}
	for _, r := range p.Routes {
		job.Routes = append(job.Routes, RouteStep{SourceTable: r.SourceTable, SinkTable: r.SinkTable, Description: r.Description})
	}
	for _, e := range c.edgesOf(name, p) {
		job.Inputs = append(job.Inputs, e.in)
		if !slices.Contains(job.Outputs, e.out) {
			job.Outputs = append(job.Outputs, e.out)
		}
	}
	return job
}

// sinkTable is the table the sink writes source table t to: its route's, else its own
// name (a PostgreSQL source's db.schema.table as schema.table).
func sinkTable(p *spec.Pipeline, t string) string {
	db, tbl, _ := strings.Cut(t, ".")
	if strings.Count(t, ".") == 2 {
		_, rest, _ := strings.Cut(t, ".")
		db, tbl, _ = strings.Cut(rest, ".")
	}
	for _, r := range p.Routes {
		if slices.ContainsFunc(r.SourceTables, func(pt connector.TablePattern) bool { return pt.Match(db, tbl) }) {
			if r.ReplaceSymbol != "" {
				return strings.ReplaceAll(r.SinkTable, r.ReplaceSymbol, tbl)
			}
			return r.SinkTable
		}
	}
	if p.Sink.Type == "kafka" {
		if m := p.Sink.Config.String("sink.tableId-to-topic.mapping"); m != "" {
			for _, pair := range strings.Split(m, ";") {
				if k, v, ok := strings.Cut(pair, ":"); ok && strings.TrimSpace(k) == db+"."+tbl {
					return strings.TrimSpace(v)
				}
			}
		}
		if topic := p.Sink.Config.String("topic"); topic != "" {
			return topic
		}
	}
	return db + "." + tbl
}

// lineageGraph is the workspace's jobs.
func (c *Controller) lineageGraph(ctx context.Context, ws string) ([]LineageJob, error) {
	recs, err := c.st.List(ctx)
	if err != nil {
		return nil, err
	}
	jobs := []LineageJob{}
	for _, rec := range recs {
		if rec.Workspace != ws {
			continue
		}
		v, err := c.st.Version(ctx, rec.Name, 0)
		if err != nil {
			continue
		}
		p, err := c.Parse(v.File)
		if err != nil {
			continue
		}
		jobs = append(jobs, c.lineageOf(rec.Name, p))
	}
	return jobs, nil
}

// around keeps the jobs upstream and downstream of dataset d.
func around(jobs []LineageJob, d Dataset) []LineageJob {
	keep := map[string]bool{}
	// Downstream: the jobs that read d, then those that read what they wrote, …
	for frontier := []Dataset{d}; len(frontier) > 0; {
		var next []Dataset
		for _, j := range jobs {
			if !keep[j.Pipeline] && slices.ContainsFunc(j.Inputs, func(x Dataset) bool { return slices.Contains(frontier, x) }) {
				keep[j.Pipeline] = true
				next = append(next, j.Outputs...)
			}
		}
		frontier = next
	}
	up := map[string]bool{}
	for frontier := []Dataset{d}; len(frontier) > 0; {
		var next []Dataset
		for _, j := range jobs {
			if !up[j.Pipeline] && slices.ContainsFunc(j.Outputs, func(x Dataset) bool { return slices.Contains(frontier, x) }) {
				up[j.Pipeline] = true
				next = append(next, j.Inputs...)
			}
		}
		frontier = next
	}
	var out []LineageJob
	for _, j := range jobs {
		if keep[j.Pipeline] || up[j.Pipeline] {
			out = append(out, j)
		}
	}
	return out
}

func (a *api) lineage(w http.ResponseWriter, r *http.Request) {
	jobs, err := a.c.lineageGraph(r.Context(), workspaceOf(r.Context()))
	if err != nil {
		fail(w, err)
		return
	}
	q := r.URL.Query()
	if q.Get("namespace") != "" || q.Get("table") != "" {
		jobs = around(jobs, Dataset{Namespace: q.Get("namespace"), Name: q.Get("table")})
	}
	writeJSON(w, http.StatusOK, Lineage{Jobs: append([]LineageJob{}, jobs...)})
}

var lineageRoutes = []route{
	{method: "GET", path: "/api/v1/lineage", id: "lineage", summary: "The lineage of the workspace's pipelines: each with the tables it reads and writes, named as OpenLineage datasets; with namespace and table, only what is upstream and downstream of that table",
		params: []param{{name: "namespace", in: "query", doc: "a table's namespace (mysql://host:port, postgres://host:port/db, kafka://broker, file://path)", typ: "string"},
			{name: "table", in: "query", doc: "a table's name in its namespace", typ: "string"}},
		perm: auth.ReadPipelines, out: Lineage{}, status: 200, errors: []int{400, 401, 403, 404}, h: (*api).lineage},
}
