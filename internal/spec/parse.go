// Package spec reads pipeline files (DESIGN §1.2): YAML with source, sink, route,
// transform and pipeline blocks, in Flink CDC's shape. It expands ${ENV}, applies
// defaults, and checks every key against the declarations of the pipeline block and of
// the connectors, reporting every problem at once with its line, column and what to
// write instead. A secret's value is never printed.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/transform"
)

// Pipeline is a valid pipeline file.
type Pipeline struct {
	File string
	// Name identifies the pipeline in state paths, slots, server-ids and metric labels:
	// pipeline.name where it is already such an identifier, else derived from it (PipelineID);
	// by default the file's base name, sanitized. Title is pipeline.name as written.
	Name       string
	Title      string
	Source     Endpoint
	Sink       Endpoint
	Routes     []Route
	Transforms []Transform
	Settings   *connector.Config // the pipeline block, declared by PipelineSpec

	// Typed shortcuts of Settings.
	Parallelism                              int
	CheckpointInterval                       time.Duration
	SchemaChangeBehavior                     string
	BatchMaxRows                             int
	BatchMaxBytes                            int64
	BatchMaxDelay                            time.Duration
	QueueMaxBytes                            int64
	RestartBackoffInitial, RestartBackoffMax time.Duration
	RestartMaxAttempts                       int
	RollbackWithin                           time.Duration // upgrade.rollback-within
	LocalTimeZone                            *time.Location
	FilterPushdown                           bool
	Batch                                    bool // execution.runtime-mode: batch
	RouteFirstMatch                          bool // route-mode: first_match
	// Notes are settings weir accepts and has no use for, each with the reason (validate
	// prints them).
	Notes []string
	// Functions are the pipeline's user-defined functions (pipeline.user-defined-function).
	Functions transform.Functions
}

// Endpoint is the source or the sink block.
type Endpoint struct {
	Type        string
	Name        string // optional, as in Flink CDC
	Description string // optional
	// IncludeSchemaChanges and ExcludeSchemaChanges (sink only) name the schema changes
	// the sink takes, as Flink CDC's include/exclude.schema.changes
	// (event.SchemaChangeTypes); empty: all, none.
	IncludeSchemaChanges, ExcludeSchemaChanges []string
	Config                                     *connector.Config
	Line, Col                                  int // of the block's key
	// Connection is the named connection the block takes its server and credentials
	// from (a server's; "" none): its settings are the block's, and the file may not
	// set them.
	Connection string
}

// Connections resolves a block's connection: its connector type and its settings (the
// secret ones in the clear, for the connector only).
type Connections func(name string) (typ string, settings map[string]string, err error)

// Route sends the source tables it matches to one sink table.
type Route struct {
	SourceTable   string         // as written (after ${ENV})
	SourceTables  []TablePattern // its items
	SourceRegex   *regexp.Regexp // matches a whole "db.table" name, anchored ^…$
	SinkTable     string
	ReplaceSymbol string
	// SourceTableColumn names a column added to the sink table (and its key) that holds
	// each row's source table; "" for none.
	SourceTableColumn string
	Description       string
	Line, Col         int // of the list item
}

// Transform projects and filters the source tables it matches. Parsed and checked for
// structure only; the expressions are compiled by the transform package.
type Transform struct {
	SourceTable   string
	SourceTables  []TablePattern
	SourceRegex   *regexp.Regexp
	Projection    string
	Filter        string
	PrimaryKeys   string
	PartitionKeys string
	Masks         []transform.Mask
	MaskKey       string // secret
	MaskKeyID     string
	Description   string
	SoftDelete    bool // converter-after-transform: SOFT_DELETE
	Line, Col     int
}

var topKeys = []string{"source", "sink", "route", "transform", "pipeline"}

// endpointKeys are keys every source and sink block has besides its connector's.
var endpointKeys = []string{"type", "name", "description"}

// Load reads and parses the pipeline file at path, expanding the process's environment.
func Load(path string, reg *connector.Registry) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	return Parse(path, data, reg, os.LookupEnv)
}

// Parse parses the pipeline file named file with contents data. ${NAME} is looked up
// with lookupEnv. A bad file gives Problems, every problem in line order.
func Parse(file string, data []byte, reg *connector.Registry, lookupEnv func(string) (string, bool)) (*Pipeline, error) {
	return parse(file, data, reg, lookupEnv, false)
}

// ParseWithConnections is Parse where a source or sink block may name a connection
// (connection: NAME, on a server): conns resolves it.
func ParseWithConnections(file string, data []byte, reg *connector.Registry, lookupEnv func(string) (string, bool), conns Connections) (*Pipeline, error) {
	p := &parser{file: file, lookupEnv: lookupEnv, conns: conns}
	return p.finish(p.pipeline(data, reg))
}

// LoadUnset is Load for `weir validate --offline`, where the secrets a file references
// need not be there (CI has none): a value that names an unset ${VARIABLE} is not checked
// — it stands as its field's example or default — and a note says so.
func LoadUnset(path string, reg *connector.Registry) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	return parse(path, data, reg, os.LookupEnv, true)
}

func parse(file string, data []byte, reg *connector.Registry, lookupEnv func(string) (string, bool), unsetOK bool) (*Pipeline, error) {
	p := &parser{file: file, lookupEnv: lookupEnv, unsetOK: unsetOK}
	return p.finish(p.pipeline(data, reg))
}

func (p *parser) finish(pl *Pipeline) (*Pipeline, error) {
	if len(p.problems) > 0 {
		p.problems.sort()
		return nil, p.problems
	}
	pl.Notes = p.notes
	pl.Functions = p.functions
	return pl, nil
}

// parser collects problems while it walks a file.
type parser struct {
	file      string
	lookupEnv func(string) (string, bool)
	problems  Problems
	notes     []string
	unsetOK   bool // LoadUnset
	// udfs are the names of Flink's Java/Python functions pipeline.user-defined-function
	// declares (userFunctions): a transform's call of one is reported there, once, not as
	// an unknown function. functions are weir's own (expression).
	udfs      []string
	functions transform.Functions
	// conns resolves connections (nil: a file may name none); literal are the values a
	// connection gave, taken as they are (no ${…} expansion).
	conns   Connections
	literal map[*yaml.Node]bool
}

// add reports a problem at node n (nil: the file as a whole).
func (p *parser) add(n *yaml.Node, path, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	p.addAt(line, col, path, format, args...)
}

// addAt reports a problem at a line and column.
func (p *parser) addAt(line, col int, path, format string, args ...any) {
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) pipeline(data []byte, reg *connector.Registry) *Pipeline {
	root := p.document(data)
	if root == nil {
		return nil
	}
	top, ok := p.mapping(root, "", "a mapping with the keys source, sink, route, transform and pipeline")
	if !ok {
		return nil
	}
	for _, k := range top.keys {
		if !slices.Contains(topKeys, k.Value) {
			p.add(k, "", "%s", unknownKey(k.Value, topKeys))
		}
	}
	pl := &Pipeline{File: p.file}
	p.userFunctions(top)
	pl.Source = p.endpoint(top, "source", reg.SourceTypes(), func(t string) *connector.Spec {
		if d := reg.Sources[t]; d != nil {
			return &d.Spec
		}
		return nil
	})
	pl.Sink = p.endpoint(top, "sink", reg.SinkTypes(), func(t string) *connector.Spec {
		if d := reg.Sinks[t]; d != nil {
			return &d.Spec
		}
		return nil
	})
	p.list(top, "route", &RouteSpec, func(cfg *connector.Config, item *yaml.Node, path string) {
		r := Route{SourceTable: cfg.String("source-table"), SinkTable: cfg.String("sink-table"),
			ReplaceSymbol: cfg.String("replace-symbol"), SourceTableColumn: cfg.String("source-table-column"),
			Description: cfg.String("description"), Line: item.Line, Col: item.Column}
		r.SourceTables, _ = ParseTables(r.SourceTable) // checked by the field type
		r.SourceRegex = cfg.Values["source-table"].Re
		if r.ReplaceSymbol != "" && !strings.Contains(r.SinkTable, r.ReplaceSymbol) {
			v := cfg.Values["replace-symbol"]
			p.addAt(v.Line, v.Col, path+".replace-symbol", "sink-table %s does not contain %s, so nothing would be replaced; write it where the source table's name goes, e.g. sink-table: dw.ods_%s", quote(r.SinkTable), quote(r.ReplaceSymbol), r.ReplaceSymbol)
		}
		pl.Routes = append(pl.Routes, r)
	})
	p.list(top, "transform", &TransformSpec, func(cfg *connector.Config, item *yaml.Node, path string) {
		t := Transform{SourceTable: cfg.String("source-table"), Projection: cfg.String("projection"),
			Filter: cfg.String("filter"), PrimaryKeys: cfg.String("primary-keys"),
			PartitionKeys: cfg.String("partition-keys"), Description: cfg.String("description"),
			MaskKey: cfg.String("mask.key"), MaskKeyID: cfg.String("mask.key-id"), SoftDelete: cfg.String("converter-after-transform") == "soft_delete",
			Line: item.Line, Col: item.Column}
		for _, m := range cfg.List("mask") {
			mask, err := transform.ParseMask(m)
			if err != nil {
				v := cfg.Values["mask"]
				p.addAt(v.Line, v.Col, path+".mask", "%v", err)
				continue
			}
			if (mask.Method == "hash" || mask.Method == "encrypt") && t.MaskKey == "" {
				v := cfg.Values["mask"]
				p.addAt(v.Line, v.Col, path+".mask", "mask %q needs a key: set mask.key beside it, e.g. mask.key: ${WEIR_MASK_KEY}", m)
			}
			t.Masks = append(t.Masks, mask)
		}
		projErr, filterErr, notes := transform.Lint(t.Projection, t.Filter, p.functions)
		for _, n := range notes {
			p.notes = append(p.notes, path+": "+n)
		}
		for _, e := range []struct {
			field string
			err   error
		}{{"projection", projErr}, {"filter", filterErr}} {
			if e.err != nil && !p.isUDFError(e.err) {
				v := cfg.Values[e.field]
				p.addAt(v.Line, v.Col, path+"."+e.field, "%v", e.err)
			}
		}
		t.SourceTables, _ = ParseTables(t.SourceTable)
		t.SourceRegex = cfg.Values["source-table"].Re
		pl.Transforms = append(pl.Transforms, t)
	})
	p.settings(pl, top)
	if cfg := pl.Source.Config; pl.Batch && cfg != nil && cfg.Spec.Field("scan.startup.mode") != nil {
		if mode := cfg.String("scan.startup.mode"); mode != "initial" && mode != "snapshot" {
			v := cfg.Values["scan.startup.mode"]
			p.addAt(v.Line, v.Col, "source.scan.startup.mode", "%s reads only changes, but execution.runtime-mode is batch, which copies a snapshot and finishes: "+
				"set scan.startup.mode: snapshot, or execution.runtime-mode: streaming", mode)
		}
	}
	return pl
}

// document parses data as one YAML document and returns its root node, or nil when
// there is none (reported).
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(nil, "", "the file is empty; a pipeline needs at least a source and a sink")
		} else {
			p.problems = append(p.problems, p.syntaxProblem(err))
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.add(&next, "", "a second YAML document (after ---); a pipeline file holds one")
	case !errors.Is(err, io.EOF):
		p.problems = append(p.problems, p.syntaxProblem(err))
	}
	if len(doc.Content) == 0 {
		p.add(nil, "", "the file is empty; a pipeline needs at least a source and a sink")
		return nil
	}
	return doc.Content[0]
}

// yamlParserErrors are the messages of yaml.v3's parser (not its scanner). yaml.v3
// reports their line 0-based, one line early, and line 1 not at all; this package says
// where they are.
var yamlParserErrors = map[string]bool{
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected <document start>": true,
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a YAML syntax error into a problem at its line. yaml.v3 gives no
// column.
func (p *parser) syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscan(m[1], &line)
		msg = m[2]
	}
	if yamlParserErrors[msg] {
		line++
	}
	return Problem{File: p.file, Line: line, Msg: "not valid YAML: " + msg}
}

// endpoint parses the source or the sink block, named key, of the top mapping.
func (p *parser) endpoint(top mapping, key string, types []string, lookup func(string) *connector.Spec) Endpoint {
	keyNode, n := top.entry(key)
	if n == nil {
		eg := "…"
		if len(types) > 0 {
			eg = types[0]
		}
		p.add(top.node, "", "missing required key %s (e.g. %s: {type: %s})", quote(key), key, eg)
		return Endpoint{}
	}
	e := Endpoint{Line: keyNode.Line, Col: keyNode.Column}
	m, ok := p.mapping(n, key, fmt.Sprintf("a mapping (keys indented under %s:, starting with type:)", key))
	if !ok {
		return e
	}
	if cn := m.get("connection"); cn != nil {
		if !p.connection(&m, cn, key, &e, lookup) && m.get("type") == nil {
			return e // its problem is said: no second one of a missing type
		}
	}
	typeNode := m.get("type")
	if typeNode == nil {
		p.add(keyNode, key, "missing required key \"type\" (one of %s)", strings.Join(types, ", "))
		return e
	}
	if typeNode.Kind != yaml.ScalarNode || typeNode.Tag == "!!null" {
		p.add(typeNode, key+".type", "want a connector type (one of %s), got %s", strings.Join(types, ", "), kindName(typeNode))
		return e
	}
	typ, ok := p.expand(typeNode, key+".type", nil)
	if !ok {
		return e
	}
	for _, extra := range []struct {
		key string
		to  *string
	}{{"name", &e.Name}, {"description", &e.Description}} {
		if n := m.get(extra.key); n != nil {
			if n.Kind != yaml.ScalarNode {
				p.add(n, key+"."+extra.key, "want a string, got %s", kindName(n))
			} else {
				*extra.to, _ = p.expand(n, key+"."+extra.key, nil)
			}
		}
	}
	spec := lookup(typ)
	if spec == nil {
		p.add(typeNode, key+".type", "unknown %s type %s; known types: %s%s", key, quote(typ), strings.Join(types, ", "), didYouMean(typ, types))
		return e
	}
	e.Type = typ
	extras := endpointKeys
	if key == "sink" {
		extras = append(slices.Clone(endpointKeys), "include.schema.changes", "exclude.schema.changes")
		e.IncludeSchemaChanges = p.schemaChangeTypes(m, "sink.include.schema.changes")
		e.ExcludeSchemaChanges = p.schemaChangeTypes(m, "sink.exclude.schema.changes")
	}
	if e.Connection != "" {
		extras = append(slices.Clone(extras), "connection")
	}
	e.Config = p.fields(m, keyNode, key, spec, extras...)
	return e
}

// connection takes a block's settings from its named connection: those its connector has
// join the block's keys (at the connection key's place), taken as they are (a connection
// to PostgreSQL may hold a source's settings and a sink's); a key the file sets too is a
// problem (a file may not point a connection's credentials at another server), and so is
// a type that is not the connection's.
func (p *parser) connection(m *mapping, cn *yaml.Node, key string, e *Endpoint, lookup func(string) *connector.Spec) bool {
	path := key + ".connection"
	if cn.Kind != yaml.ScalarNode || cn.Value == "" {
		p.add(cn, path, "want the name of a connection, got %s", kindName(cn))
		return false
	}
	if p.conns == nil {
		p.add(cn, path, "connections are a server's: on `weir run` write the block's settings (host, user, password) instead")
		return false
	}
	typ, settings, err := p.conns(cn.Value)
	if err != nil {
		p.add(cn, path, "%v", err)
		return false
	}
	e.Connection = cn.Value
	if tn := m.get("type"); tn != nil && tn.Value != typ {
		p.add(tn, key+".type", "%s, but connection %s is of type %s: leave type out, or write %s", quote(tn.Value), cn.Value, typ, typ)
	} else if tn == nil {
		m.keys = append(m.keys, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "type", Line: cn.Line, Column: cn.Column})
		m.values = append(m.values, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: typ, Line: cn.Line, Column: cn.Column})
	}
	if p.literal == nil {
		p.literal = map[*yaml.Node]bool{}
	}
	sp := lookup(typ)
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if sp == nil || sp.Field(k) == nil {
			continue // a setting of the type's other side (a source's, where this is a sink)
		}
		if n := m.get(k); n != nil {
			p.add(n, key+"."+k, "set by connection %s: leave it out of the file", cn.Value)
			continue
		}
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: settings[k], Line: cn.Line, Column: cn.Column}
		p.literal[v] = true
		m.keys = append(m.keys, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k, Line: cn.Line, Column: cn.Column})
		m.values = append(m.values, v)
	}
	return true
}

// schemaChangeField is how include/exclude.schema.changes are checked.
var schemaChangeField = connector.Field{Name: "schema.changes", Type: connector.TypeList, Example: "[add.column, alter.column.type]"}

// schemaChangeTypes parses the list of schema change types at path in m (nil: none).
func (p *parser) schemaChangeTypes(m mapping, path string) []string {
	key := path[strings.IndexByte(path, '.')+1:]
	n := m.get(key)
	if n == nil {
		return nil
	}
	v := p.value(n, path, &schemaChangeField)
	if v == nil {
		return nil
	}
	valid := event.SchemaChangeTypes()
	var out []string
	for _, item := range v.List {
		item = strings.ToLower(strings.TrimSpace(item))
		if !slices.Contains(valid, item) {
			p.add(n, path, "%s is not a schema change type; use %s", quote(item), strings.Join(valid, ", "))
			continue
		}
		out = append(out, item)
	}
	return out
}

// list parses the route or the transform list, named key; each is called with every
// item that has no problem, and the item's path.
func (p *parser) list(top mapping, key string, spec *connector.Spec, each func(cfg *connector.Config, item *yaml.Node, path string)) {
	_, n := top.entry(key)
	n = resolve(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.add(n, key, "want a list of items, each starting with \"- \" (e.g. - source-table: %s), got %s", spec.Field("source-table").Example, kindName(n))
		return
	}
	for i, item := range n.Content {
		path := fmt.Sprintf("%s[%d]", key, i)
		before := len(p.problems)
		m, ok := p.mapping(item, path, "a mapping of keys (source-table: …)")
		if !ok {
			continue
		}
		cfg := p.fields(m, resolve(item), path, spec)
		if len(p.problems) == before {
			each(cfg, resolve(item), path)
		}
	}
}

// hasProblemsUnder reports whether a problem was found at path or under it: a block whose
// fields are wrong is not linted as a whole.
func (p *parser) hasProblemsUnder(path string) bool {
	for _, pr := range p.problems {
		if pr.Path == path || strings.HasPrefix(pr.Path, path+".") {
			return true
		}
	}
	return false
}

// userFunctions reads pipeline.user-defined-function. An item with an expression is a
// function of weir's (transform.UDF: name, parameters, expression). An item with a
// classpath is one of Flink's — a Java or Python class Flink loads, which weir cannot
// run: reported once, naming what to do instead, and its name kept so that the
// transforms' calls of it are not reported again.
func (p *parser) userFunctions(top mapping) {
	_, pn := top.entry("pipeline")
	if pn = resolve(pn); pn == nil || pn.Kind != yaml.MappingNode {
		return
	}
	var key, n *yaml.Node
	for i := 0; i+1 < len(pn.Content); i += 2 {
		if pn.Content[i].Value == "user-defined-function" {
			key, n = pn.Content[i], pn.Content[i+1]
		}
	}
	if n = resolve(n); n == nil {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.add(n, "pipeline.user-defined-function", "want a list of functions, each with name, parameters and expression")
		return
	}
	var classes []string
	var defs []transform.UDF
	for _, item := range n.Content {
		if item = resolve(item); item.Kind != yaml.MappingNode {
			p.add(item, "pipeline.user-defined-function", "want a function: name, parameters and expression")
			continue
		}
		var u transform.UDF
		class, python := "", false
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i].Value, resolve(item.Content[i+1])
			switch k {
			case "name":
				u.Name = v.Value
			case "classpath":
				class = v.Value
			case "python-code", "python-executable", "python-files": // Flink's Python function
				python = true
			case "expression":
				u.Body = v.Value
			case "parameters":
				if v.Kind == yaml.SequenceNode {
					for _, x := range v.Content {
						u.Params = append(u.Params, strings.TrimSpace(x.Value))
					}
				} else if strings.TrimSpace(v.Value) != "" {
					for _, x := range strings.Split(v.Value, ",") {
						u.Params = append(u.Params, strings.TrimSpace(x))
					}
				}
			default:
				p.add(item.Content[i], "pipeline.user-defined-function", "%s", unknownKey(k, []string{"name", "parameters", "expression", "classpath"}))
			}
		}
		if python && class == "" {
			class = "Python function " + u.Name
		}
		switch {
		case class != "":
			classes = append(classes, class)
			p.udfs = append(p.udfs, strings.ToLower(u.Name))
		case u.Body == "":
			p.add(item, "pipeline.user-defined-function", "function %q has no expression: write expression: (an expression of its parameters), e.g. expression: x + 1", u.Name)
		default:
			defs = append(defs, u)
		}
	}
	if len(classes) > 0 {
		p.add(key, "pipeline.user-defined-function", "Flink's user-defined functions are Java or Python classes (%s) that Flink loads; "+
			"weir runs as one binary without a JVM or Python and cannot load them: write each as a function of weir's "+
			"(name, parameters, expression: an expression of its parameters; docs/transform.md)", strings.Join(classes, ", "))
	}
	fns, err := transform.NewFunctions(defs)
	if err != nil {
		p.add(key, "pipeline.user-defined-function", "%v", err)
		return
	}
	p.functions = fns
}

// isUDFError reports whether err is a transform's call of a function the file declares
// as a user-defined function (reported once, by userFunctions).
func (p *parser) isUDFError(err error) bool {
	for _, name := range p.udfs {
		if strings.Contains(err.Error(), "function "+strings.ToUpper(name)+" is not known") {
			return true
		}
	}
	return false
}
