package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/store"
)

func (c *Console) dataRoutes() {
	m := c.mux
	m.HandleFunc("GET /ui/catalog", c.catalog)
	m.HandleFunc("GET /ui/catalog/{conn}/{table}", c.catalogTable)
	m.HandleFunc("GET /ui/lineage", c.lineage)
	m.HandleFunc("GET /ui/alerts", c.alerts)
}

func (c *Console) catalog(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	q := r.URL.Query().Get("q")
	var list server.CatalogList
	err := s.call("GET", "/api/v1/catalog?q="+url.QueryEscape(q), nil, &list)
	data := map[string]any{"Q": q, "Tables": list.Tables}
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") == "results" {
		c.renderBlock(w, "catalog", "results", data)
		return
	}
	p := s.page("catalog", "Data map", data)
	if err != nil {
		p.Error = err.Error()
	}
	c.render(w, "catalog", p)
}

// TableData is a table's page of the data map.
type TableData struct {
	Entry      store.CatalogEntry
	Preview    *server.Preview
	PreviewErr string
	Lineage    template.HTML
}

func (c *Console) catalogTable(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	base := "/api/v1/catalog/" + url.PathEscape(r.PathValue("conn")) + "/" + url.PathEscape(r.PathValue("table"))
	var d TableData
	if err := s.call("GET", base, nil, &d.Entry); err != nil {
		c.fail(w, r, err)
		return
	}
	var pv server.Preview
	if err := s.call("GET", base+"/preview?limit=10", nil, &pv); err != nil {
		d.PreviewErr = err.Error()
	} else {
		d.Preview = &pv
	}
	c.render(w, "table", s.page("catalog", d.Entry.Name, d))
}

func (c *Console) lineage(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	ns, table := r.URL.Query().Get("namespace"), r.URL.Query().Get("table")
	path := "/api/v1/lineage"
	if ns != "" && table != "" {
		path += "?namespace=" + url.QueryEscape(ns) + "&table=" + url.QueryEscape(table)
	}
	var l server.Lineage
	err := s.call("GET", path, nil, &l)
	p := s.page("lineage", "Lineage", map[string]any{"Graph": graph(l.Jobs, server.Dataset{Namespace: ns, Name: table}), "Jobs": l.Jobs, "Here": table})
	if err != nil {
		p.Error = err.Error()
	}
	c.render(w, "lineage", p)
}

// graph draws the jobs' lineage as SVG: tables and pipelines in columns by their depth
// from the first sources, edges from each table to the pipelines that read it and from
// each pipeline to the tables it writes. A table is a link to its own lineage (click to
// move there), a pipeline to its page; here is drawn marked.
func graph(jobs []server.LineageJob, here server.Dataset) template.HTML {
	if len(jobs) == 0 {
		return template.HTML(`<p class="muted">No pipeline reads or writes a table here yet.</p>`)
	}
	type node struct {
		id, label, sub, href, class string
		depth, row                  int
	}
	nodes := map[string]*node{}
	var order []string
	add := func(id, label, sub, href, class string) *node {
		if n := nodes[id]; n != nil {
			return n
		}
		n := &node{id: id, label: label, sub: sub, href: href, class: class}
		nodes[id] = n
		order = append(order, id)
		return n
	}
	dsID := func(d server.Dataset) string { return "d " + d.Namespace + " " + d.Name }
	type edge struct{ from, to string }
	var edges []edge
	for _, j := range jobs {
		jid := "j " + j.Pipeline
		add(jid, j.Pipeline, "pipeline", "/ui/pipelines/"+url.PathEscape(j.Pipeline), "job")
		for _, d := range j.Inputs {
			class := ""
			if d == here {
				class = "here"
			}
			add(dsID(d), d.Name, d.Namespace, "/ui/lineage?namespace="+url.QueryEscape(d.Namespace)+"&table="+url.QueryEscape(d.Name), class)
			edges = append(edges, edge{dsID(d), jid})
		}
		for _, d := range j.Outputs {
			class := ""
			if d == here {
				class = "here"
			}
			add(dsID(d), d.Name, d.Namespace, "/ui/lineage?namespace="+url.QueryEscape(d.Namespace)+"&table="+url.QueryEscape(d.Name), class)
			edges = append(edges, edge{jid, dsID(d)})
		}
	}
	// Depth: one more than the deepest node upstream (bounded, should a cycle exist).
	for range len(nodes) + 1 {
		changed := false
		for _, e := range edges {
			if d := nodes[e.from].depth + 1; d > nodes[e.to].depth && d <= 2*len(nodes) {
				nodes[e.to].depth, changed = d, true
			}
		}
		if !changed {
			break
		}
	}
	rows := map[int]int{}
	maxDepth, maxRow := 0, 0
	for _, id := range order {
		n := nodes[id]
		n.row = rows[n.depth]
		rows[n.depth]++
		maxDepth, maxRow = max(maxDepth, n.depth), max(maxRow, n.row)
	}
	const colW, boxW, boxH, rowH, pad = 230, 190, 44, 62, 12
	width, height := pad*2+(maxDepth+1)*colW-(colW-boxW), pad*2+(maxRow+1)*rowH-(rowH-boxH)
	xy := func(n *node) (int, int) { return pad + n.depth*colW, pad + n.row*rowH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="lineage" width="%d" height="%d" viewBox="0 0 %d %d" role="group" aria-label="lineage graph: %d pipeline(s)">`, width, height, width, height, len(jobs))
	for _, e := range edges {
		x1, y1 := xy(nodes[e.from])
		x2, y2 := xy(nodes[e.to])
		x1, y1, y2 = x1+boxW, y1+boxH/2, y2+boxH/2
		mid := (x1 + x2) / 2
		fmt.Fprintf(&b, `<path d="M%d %d C%d %d, %d %d, %d %d" data-from="%s" data-to="%s"/>`, x1, y1, mid, y1, mid, y2, x2, y2,
			template.HTMLEscapeString(e.from), template.HTMLEscapeString(e.to))
	}
	for _, id := range order {
		n := nodes[id]
		x, y := xy(n)
		fmt.Fprintf(&b, `<a href="%s" aria-label="%s %s"><rect class="%s" x="%d" y="%d" width="%d" height="%d" rx="6"/><text><tspan x="%d" y="%d">%s</tspan> <tspan class="sub" x="%d" y="%d">%s</tspan></text></a>`,
			template.HTMLEscapeString(n.href), template.HTMLEscapeString(n.label), template.HTMLEscapeString(n.sub),
			n.class, x, y, boxW, boxH, x+8, y+18, template.HTMLEscapeString(n.label), x+8, y+35, template.HTMLEscapeString(n.sub))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// AlertsData is the alerts page.
type AlertsData struct {
	Firing, Resolved []store.Alert
	Rules            server.AlertRules
	Channels         server.AlertChannels
}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	var as server.Alerts
	err := s.call("GET", "/api/v1/alerts?limit=200", nil, &as)
	var d AlertsData
	for _, a := range as.Alerts {
		if a.Resolved.IsZero() {
			d.Firing = append(d.Firing, a)
		} else {
			d.Resolved = append(d.Resolved, a)
		}
	}
	s.call("GET", "/api/v1/alert-rules", nil, &d.Rules)
	s.call("GET", "/api/v1/alert-channels", nil, &d.Channels)
	slices.SortFunc(d.Rules.Effective, func(a, b server.AlertRule) int { return strings.Compare(a.Name+a.Pipeline, b.Name+b.Pipeline) })
	p := s.page("alerts", "Alerts", d)
	if err != nil {
		p.Error = err.Error()
	}
	c.render(w, "alerts", p)
}
