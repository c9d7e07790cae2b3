// Package spec reads pipeline files (DESIGN §1.2): YAML with source, sink, route,
// transform and pipeline blocks. It expands ${ENV}, applies defaults, and validates every
// key against the declarations of the pipeline block and of the connectors, reporting
// every problem at once with its line, column and what to write instead.
package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weir-data/weir/internal/connector"
)

// Pipeline is a validated pipeline file.
type Pipeline struct {
	File       string
	Name       string
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
	LocalTimeZone                            *time.Location
}

// Endpoint is the source or the sink block.
type Endpoint struct {
	Type      string
	Config    *connector.Config
	Line, Col int
}

// Route maps source tables to a sink table.
type Route struct {
	SourceTable   string
	SourceTables  []TablePattern
	SinkTable     string
	ReplaceSymbol string
	Description   string
	Line, Col     int
}

// Transform is a projection and filter for the tables it matches.
type Transform struct {
	SourceTable   string
	SourceTables  []TablePattern
	Projection    string
	Filter        string
	PrimaryKeys   string
	PartitionKeys string
	Description   string
	Line, Col     int
}

// PipelineSpec declares the pipeline block.
var PipelineSpec = connector.Spec{
	Type:    "pipeline",
	Summary: "Settings of the pipeline as a whole.",
	Fields: []connector.Field{
		{Name: "name", Type: connector.TypeString, Example: "shop-to-dw",
			Description: "The pipeline's name: letters, digits, '.', '_' and '-'. Checkpoints are kept under it. Default: the file's name."},
		{Name: "parallelism", Type: connector.TypeInt, Default: "2", Min: connector.Int64(1), Max: connector.Int64(256),
			Description: "Snapshot chunks read at once, and sink writers (changes are partitioned over them by table and key)."},
		{Name: "checkpoint.interval", Type: connector.TypeDuration, Default: "5s",
			Description: "How often a checkpoint is taken."},
		{Name: "schema.change.behavior", Type: connector.TypeEnum, Default: "lenient",
			Enum:        []string{"ignore", "lenient", "try_evolve", "evolve", "exception"},
			Description: "What schema changes do to the sink."},
		{Name: "batch.max-rows", Type: connector.TypeInt, Default: "4096", Min: connector.Int64(1),
			Description: "A sink writer's batch is applied at this many changes…"},
		{Name: "batch.max-bytes", Type: connector.TypeBytes, Default: "4MiB",
			Description: "…or at this many bytes…"},
		{Name: "batch.max-delay", Type: connector.TypeDuration, Default: "100ms",
			Description: "…or after this long, whichever comes first."},
		{Name: "queue.max-bytes", Type: connector.TypeBytes, Default: "64MiB",
			Description: "Bytes of changes in flight between the source and the sink writers; the source waits beyond it."},
		{Name: "restart.backoff.initial", Type: connector.TypeDuration, Default: "1s",
			Description: "First wait before restarting after a retryable error; it doubles each time."},
		{Name: "restart.backoff.max", Type: connector.TypeDuration, Default: "1m",
			Description: "Longest wait between restarts."},
		{Name: "restart.max-attempts", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
			Description: "Consecutive failed restarts before the pipeline fails (0: never gives up)."},
		{Name: "local-time-zone", Type: connector.TypeString, Default: "UTC",
			Description: "Time zone for temporal functions and for wall-clock types without a zone, e.g. Asia/Shanghai."},
	},
}

// RouteSpec declares an item of the route list.
var RouteSpec = connector.Spec{
	Type:    "route",
	Summary: "Each item sends the tables it matches to one sink table.",
	Fields: []connector.Field{
		{Name: "source-table", Type: connector.TypeTables, Required: true, Example: `shop.orders_\d+`,
			Description: "Tables to route: db.table regexes, comma-separated."},
		{Name: "sink-table", Type: connector.TypeString, Required: true, Example: "dw.orders",
			Description: "The sink table they go to."},
		{Name: "replace-symbol", Type: connector.TypeString,
			Description: "A symbol in sink-table replaced by each source table's name, e.g. <>."},
		{Name: "description", Type: connector.TypeString, Description: "Free text."},
	},
}

// TransformSpec declares an item of the transform list.
var TransformSpec = connector.Spec{
	Type:    "transform",
	Summary: "Each item projects and filters the tables it matches (the first matching item wins).",
	Fields: []connector.Field{
		{Name: "source-table", Type: connector.TypeTables, Required: true, Example: `shop.orders_\d+`,
			Description: "Tables to transform: db.table regexes, comma-separated."},
		{Name: "projection", Type: connector.TypeString, Description: "SELECT-list expressions, e.g. *, UPPER(status) AS status_code."},
		{Name: "filter", Type: connector.TypeString, Description: "A WHERE condition, e.g. amount > 0."},
		{Name: "primary-keys", Type: connector.TypeString, Description: "Columns of the sink table's key, comma-separated."},
		{Name: "partition-keys", Type: connector.TypeString, Description: "Columns to partition by, comma-separated."},
		{Name: "description", Type: connector.TypeString, Description: "Free text."},
	},
}

var topKeys = []string{"source", "sink", "route", "transform", "pipeline"}

// endpointExtra are keys every source and sink block may have besides its connector's.
var endpointExtra = []string{"type", "name", "description"}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Load reads and parses the pipeline file at path, expanding the process's environment.
func Load(path string, reg *connector.Registry) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	return Parse(path, data, reg, os.LookupEnv)
}

// Parse parses a pipeline file. A bad file gives Problems listing every problem.
func Parse(file string, data []byte, reg *connector.Registry, lookupEnv func(string) (string, bool)) (*Pipeline, error) {
	p := &parser{file: file, lookupEnv: lookupEnv}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
		p.problems = append(p.problems, Problem{File: file, Line: line, Col: 1, Msg: "not valid YAML: " + msg})
		return nil, p.problems
	}
	if len(doc.Content) == 0 {
		p.problems = append(p.problems, Problem{File: file, Msg: "the file is empty; a pipeline needs at least a source and a sink"})
		return nil, p.problems
	}
	root := doc.Content[0]
	pl := &Pipeline{File: file}
	keys, values, ok := p.mappingPairs(root, "")
	if !ok {
		return nil, p.problems
	}
	blocks := map[string]*yaml.Node{}
	for i, k := range keys {
		if !contains(topKeys, k.Value) {
			p.add(k, k.Value, "unknown key%s", suggest(k.Value, topKeys, "valid keys"))
			continue
		}
		blocks[k.Value] = values[i]
	}
	pl.Source = p.endpoint(root, blocks["source"], "source", func(t string) (*connector.Spec, []string) {
		if d := reg.Sources[t]; d != nil {
			return &d.Spec, nil
		}
		return nil, reg.SourceTypes()
	})
	pl.Sink = p.endpoint(root, blocks["sink"], "sink", func(t string) (*connector.Spec, []string) {
		if d := reg.Sinks[t]; d != nil {
			return &d.Spec, nil
		}
		return nil, reg.SinkTypes()
	})
	p.list(blocks["route"], "route", &RouteSpec, func(cfg *connector.Config, n *yaml.Node) {
		r := Route{SourceTable: cfg.String("source-table"), SinkTable: cfg.String("sink-table"),
			ReplaceSymbol: cfg.String("replace-symbol"), Description: cfg.String("description"), Line: n.Line, Col: n.Column}
		r.SourceTables, _ = ParseTables(r.SourceTable)
		pl.Routes = append(pl.Routes, r)
	})
	p.list(blocks["transform"], "transform", &TransformSpec, func(cfg *connector.Config, n *yaml.Node) {
		t := Transform{SourceTable: cfg.String("source-table"), Projection: cfg.String("projection"),
			Filter: cfg.String("filter"), PrimaryKeys: cfg.String("primary-keys"),
			PartitionKeys: cfg.String("partition-keys"), Description: cfg.String("description"), Line: n.Line, Col: n.Column}
		t.SourceTables, _ = ParseTables(t.SourceTable)
		pl.Transforms = append(pl.Transforms, t)
	})
	settings := blocks["pipeline"]
	if settings == nil {
		settings = &yaml.Node{Kind: yaml.MappingNode, Line: root.Line, Column: root.Column}
	}
	pl.Settings = p.fields(settings, "pipeline", &PipelineSpec)
	p.settings(pl, settings)
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	return pl, nil
}

// endpoint parses the source or sink block.
func (p *parser) endpoint(root, n *yaml.Node, path string, lookup func(string) (*connector.Spec, []string)) Endpoint {
	if n == nil {
		p.add(root, "", "missing required key %q (e.g. %s: {type: …})", path, path)
		return Endpoint{}
	}
	e := Endpoint{Line: n.Line, Col: n.Column}
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "want a mapping of keys to values, got %s", kindName(n))
		return e
	}
	var typeNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" && typeNode == nil {
			typeNode = n.Content[i+1]
		}
	}
	if typeNode == nil {
		_, types := lookup("")
		p.add(n, path, "missing required key \"type\" (one of %s)", strings.Join(types, ", "))
		return e
	}
	if typeNode.Kind != yaml.ScalarNode {
		p.add(typeNode, path+".type", "want a connector name, got %s", kindName(typeNode))
		return e
	}
	spec, types := lookup(typeNode.Value)
	if spec == nil {
		msg := fmt.Sprintf("unknown %s type %q; known types: %s", path, typeNode.Value, strings.Join(types, ", "))
		if sg := suggest(typeNode.Value, types, ""); strings.HasPrefix(sg, "; did") {
			msg += sg
		}
		p.add(typeNode, path+".type", "%s", msg)
		return e
	}
	e.Type = typeNode.Value
	e.Config = p.fields(n, path, spec, endpointExtra...)
	return e
}

// list parses the route or transform list.
func (p *parser) list(n *yaml.Node, path string, spec *connector.Spec, each func(*connector.Config, *yaml.Node)) {
	if n == nil || n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.add(n, path, "want a list of items (each starting with '- '), got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		before := len(p.problems)
		cfg := p.fields(item, fmt.Sprintf("%s[%d]", path, i), spec)
		if len(p.problems) == before {
			each(cfg, item)
		}
	}
}

// settings fills the typed shortcuts of the pipeline block and checks what the field
// types cannot.
func (p *parser) settings(pl *Pipeline, n *yaml.Node) {
	s := pl.Settings
	pl.Name = s.String("name")
	if pl.Name == "" {
		base := strings.TrimSuffix(filepath.Base(pl.File), filepath.Ext(pl.File))
		pl.Name = regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(base, "-")
		pl.Name = strings.TrimLeft(pl.Name, "-._")
		if pl.Name == "" {
			pl.Name = "pipeline"
		}
	} else if !validName.MatchString(pl.Name) {
		p.add(valueNode(n, "name"), "pipeline.name", "%q is not a valid name: use letters, digits, '.', '_' and '-', starting with a letter or digit", pl.Name)
	}
	pl.Parallelism = int(s.Int("parallelism"))
	pl.CheckpointInterval = s.Duration("checkpoint.interval")
	pl.SchemaChangeBehavior = s.String("schema.change.behavior")
	pl.BatchMaxRows = int(s.Int("batch.max-rows"))
	pl.BatchMaxBytes = s.Int("batch.max-bytes")
	pl.BatchMaxDelay = s.Duration("batch.max-delay")
	pl.QueueMaxBytes = s.Int("queue.max-bytes")
	pl.RestartBackoffInitial = s.Duration("restart.backoff.initial")
	pl.RestartBackoffMax = s.Duration("restart.backoff.max")
	pl.RestartMaxAttempts = int(s.Int("restart.max-attempts"))
	if tz := s.String("local-time-zone"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			p.add(valueNode(n, "local-time-zone"), "pipeline.local-time-zone", "unknown time zone %q: write an IANA name such as UTC or Asia/Shanghai", tz)
		}
		pl.LocalTimeZone = loc
	}
	if pl.BatchMaxBytes > 0 && pl.QueueMaxBytes > 0 && pl.QueueMaxBytes < pl.BatchMaxBytes {
		p.add(valueNode(n, "queue.max-bytes"), "pipeline.queue.max-bytes", "%d is less than batch.max-bytes (%d): the queue must hold at least one batch", pl.QueueMaxBytes, pl.BatchMaxBytes)
	}
}

// valueNode returns the value node of key in mapping n, or n itself.
func valueNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}

// Redacted renders the effective configuration, defaults included, with every secret
// replaced by ******.
func (pl *Pipeline) Redacted() string {
	var b strings.Builder
	block := func(name, typ string, cfg *connector.Config) {
		fmt.Fprintf(&b, "%s:\n", name)
		if typ != "" {
			fmt.Fprintf(&b, "  type: %s\n", typ)
		}
		red := cfg.Redacted()
		for _, f := range cfg.Spec.Fields {
			v, ok := cfg.Values[f.Name]
			if !ok {
				continue
			}
			note := ""
			if !v.Set {
				note = "  # default"
			}
			text := red[f.Name]
			switch f.Type {
			case connector.TypeString, connector.TypeRegex, connector.TypeTables, connector.TypeList:
				text = yamlScalar(text)
			}
			if f.Secret {
				text = yamlScalar(red[f.Name])
			}
			fmt.Fprintf(&b, "  %s: %s%s\n", f.Name, text, note)
		}
	}
	block("source", pl.Source.Type, pl.Source.Config)
	block("sink", pl.Sink.Type, pl.Sink.Config)
	for i, r := range pl.Routes {
		if i == 0 {
			b.WriteString("route:\n")
		}
		fmt.Fprintf(&b, "  - source-table: %s\n    sink-table: %s\n", yamlScalar(r.SourceTable), yamlScalar(r.SinkTable))
	}
	for i, t := range pl.Transforms {
		if i == 0 {
			b.WriteString("transform:\n")
		}
		fmt.Fprintf(&b, "  - source-table: %s\n", yamlScalar(t.SourceTable))
	}
	block("pipeline", "", pl.Settings)
	return b.String()
}

func yamlScalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return s
	}
	return strings.TrimSpace(string(out))
}

// Docs renders the reference of the pipeline file and of every connector as Markdown,
// from their declarations.
func Docs(reg *connector.Registry) string {
	var b strings.Builder
	b.WriteString("# Pipeline file reference\n\n")
	b.WriteString("Generated by `weir docs` from the declarations in the code; do not edit by hand.\n")
	b.WriteString("Values may use `${NAME}` for an environment variable (`$${` for a literal `${`).\n\n")
	b.WriteString("## Blocks\n\n")
	for _, s := range []*connector.Spec{&PipelineSpec, &RouteSpec, &TransformSpec} {
		b.WriteString(s.Doc())
		b.WriteString("\n")
	}
	b.WriteString("## Sources\n\n")
	for _, t := range reg.SourceTypes() {
		b.WriteString(reg.Sources[t].Spec.Doc())
		b.WriteString("\n")
	}
	b.WriteString("## Sinks\n\n")
	for _, t := range reg.SinkTypes() {
		b.WriteString(reg.Sinks[t].Spec.Doc())
		b.WriteString("\n")
	}
	return b.String()
}

// IsProblems reports whether err is a bad-file error.
func IsProblems(err error) bool {
	var ps Problems
	return errors.As(err, &ps)
}
