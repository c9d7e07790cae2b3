package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/store"
)

func (c *Console) accessRoutes() {
	m := c.mux
	m.HandleFunc("GET /ui/connections", c.connections)
	m.HandleFunc("POST /ui/connections", c.createConnection)
	m.HandleFunc("POST /ui/connections/{conn}/{action}", c.connectionAction)
	m.HandleFunc("GET /ui/grants", c.grants)
	m.HandleFunc("POST /ui/grants", c.requestGrant)
	m.HandleFunc("POST /ui/grants/{id}/{action}", c.decideGrant)
}

// ConnectionsData is the connections page.
type ConnectionsData struct {
	Connections []server.ConnectionView
	Types       []string
}

// connectionTypes are the types a connection may have (the server's sources and sinks
// that reach a server).
var connectionTypes = []string{"mariadb", "mysql", "postgres", "kafka"}

func (c *Console) connections(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	var list server.ConnectionList
	err := s.call("GET", "/api/v1/connections", nil, &list)
	p := s.page("connections", "Connections", ConnectionsData{Connections: list.Connections, Types: connectionTypes})
	if err != nil {
		p.Error = err.Error()
	}
	c.render(w, "connections", p)
}

// settingsOf reads "key=value" lines.
func settingsOf(text string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("settings, line %d: write key=value (e.g. hostname=db.internal)", i+1)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func (c *Console) createConnection(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	settings, err := settingsOf(r.FormValue("settings"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if pw := r.FormValue("password"); pw != "" { // write-only: sent to the API, sealed there, never shown
		settings["password"] = pw
	}
	var out server.ConnectionView
	if err := s.call("POST", "/api/v1/connections", server.ConnectionRequest{Name: r.FormValue("name"), Type: r.FormValue("type"), Settings: settings}, &out); err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("HX-Redirect", "/ui/connections")
}

func (c *Console) connectionAction(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	conn := url.PathEscape(r.PathValue("conn"))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch r.PathValue("action") {
	case "test":
		var t server.ConnectionTest
		if err := s.call("POST", "/api/v1/connections/"+conn+"/test", nil, &t); err != nil {
			c.fail(w, r, err)
			return
		}
		c.renderBlock(w, "connections", "tested", t)
	case "scan":
		var res server.ScanResult
		if err := s.call("POST", "/api/v1/connections/"+conn+"/scan", nil, &res); err != nil {
			c.fail(w, r, err)
			return
		}
		fmt.Fprintf(w, `<p class="ok" role="status">%d table(s) in the catalog; %d new, %d gone, %d changed. <a href="/ui/catalog">Data map</a></p>`,
			res.Tables, len(res.Added), len(res.Removed), len(res.Changed))
	case "delete":
		if err := s.call("DELETE", "/api/v1/connections/"+conn, nil, nil); err != nil {
			c.fail(w, r, err)
			return
		}
		w.Header().Set("HX-Redirect", "/ui/connections")
	default:
		http.NotFound(w, r)
	}
}

// GrantsData is the grants page: what the workspace asked for and its inbox.
type GrantsData struct {
	Mine, Inbox []store.Grant
	Workspace   string
}

func (c *Console) grants(w http.ResponseWriter, r *http.Request) {
	s, ok := c.open(w, r)
	if !ok {
		return
	}
	var list server.GrantList
	err := s.call("GET", "/api/v1/grants", nil, &list)
	d := GrantsData{Workspace: workspaceOf(r)}
	for _, g := range list.Grants {
		if g.Workspace == d.Workspace {
			d.Mine = append(d.Mine, g)
		} else {
			d.Inbox = append(d.Inbox, g)
		}
	}
	p := s.page("grants", "Grants", d)
	if err != nil {
		p.Error = err.Error()
	}
	c.render(w, "grants", p)
}

func (c *Console) requestGrant(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	req := server.GrantRequest{Connection: r.FormValue("connection"), Tables: r.FormValue("tables"), Reason: r.FormValue("reason"), ExpiresIn: r.FormValue("expires_in")}
	for _, line := range strings.Split(r.FormValue("columns"), "\n") {
		table, cols, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if req.Columns == nil {
			req.Columns = map[string][]string{}
		}
		req.Columns[strings.TrimSpace(table)] = strings.Split(cols, ",")
	}
	if err := s.call("POST", "/api/v1/grants", req, nil); err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("HX-Redirect", "/ui/grants")
}

func (c *Console) decideGrant(w http.ResponseWriter, r *http.Request) {
	s := &session{c: c, r: r}
	action := r.PathValue("action")
	if !slices.Contains([]string{"approve", "deny", "revoke"}, action) {
		http.NotFound(w, r)
		return
	}
	if err := s.call("POST", "/api/v1/grants/"+url.PathEscape(r.PathValue("id"))+"/"+action, server.Decision{Why: r.FormValue("why")}, nil); err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("HX-Redirect", "/ui/grants")
}
