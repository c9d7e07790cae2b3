package spec

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weir-data/weir/internal/connector"
)

// parser collects problems while it walks a file.
type parser struct {
	file      string
	lookupEnv func(string) (string, bool)
	problems  Problems
}

func (p *parser) add(n *yaml.Node, path, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mappingPairs returns a mapping's key and value nodes in order, reporting duplicate keys
// and keys that are not strings. ok is false when n is not a mapping.
func (p *parser) mappingPairs(n *yaml.Node, path string) (keys, values []*yaml.Node, ok bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "want a mapping of keys to values, got %s", kindName(n))
		return nil, nil, false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, path, "a key must be a plain name")
			continue
		}
		if seen[k.Value] {
			p.add(k, join(path, k.Value), "duplicate key; each key may appear once")
			continue
		}
		seen[k.Value] = true
		keys, values = append(keys, k), append(values, v)
	}
	return keys, values, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

// fields checks a mapping against declared fields and returns the typed config. extra
// lists keys that are allowed but handled by the caller (e.g. "type").
func (p *parser) fields(n *yaml.Node, path string, spec *connector.Spec, extra ...string) *connector.Config {
	cfg := &connector.Config{Spec: spec, Values: map[string]*connector.Value{}}
	keys, values, ok := p.mappingPairs(n, path)
	if !ok {
		return cfg
	}
	known := append([]string(nil), extra...)
	for _, f := range spec.Fields {
		known = append(known, f.Name)
	}
	written := map[string]bool{}
	for i, k := range keys {
		name := k.Value
		written[name] = true
		f := spec.Field(name)
		if f == nil {
			if !contains(extra, name) {
				p.add(k, join(path, name), "unknown key%s", suggest(name, known, "valid keys"))
			}
			continue
		}
		if v := p.value(values[i], join(path, name), f); v != nil {
			cfg.Values[name] = v
		}
	}
	for i := range spec.Fields {
		f := &spec.Fields[i]
		if written[f.Name] {
			continue // set, or reported as bad
		}
		if f.Required {
			example := ""
			if f.Example != "" {
				example = fmt.Sprintf(" (e.g. %s: %s)", f.Name, f.Example)
			}
			p.add(n, path, "missing required key %q%s", f.Name, example)
			continue
		}
		if f.Default != "" {
			v, err := convert(f, f.Default)
			if err != nil {
				panic(fmt.Sprintf("spec %s: default of %s: %v", spec.Type, f.Name, err))
			}
			cfg.Values[f.Name] = v
		}
	}
	return cfg
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// value types one field's node; nil when it has a problem (reported).
func (p *parser) value(n *yaml.Node, path string, f *connector.Field) *connector.Value {
	what := "the value"
	if f.Secret {
		what = "the value of " + f.Name
	}
	if f.Type == connector.TypeList && n.Kind == yaml.SequenceNode {
		v := &connector.Value{Line: n.Line, Col: n.Column, Set: true}
		var raws []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				p.add(item, path, "want a list of plain values, got %s", kindName(item))
				return nil
			}
			s, ok := p.expand(item, path, f.Secret)
			if !ok {
				return nil
			}
			raws = append(raws, s)
			v.List = append(v.List, strings.TrimSpace(s))
		}
		v.Raw = strings.Join(raws, ", ")
		return v
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.add(n, path, "want %s, got %s", article(f.Type.String()), kindName(n))
		return nil
	}
	s, ok := p.expand(n, path, f.Secret)
	if !ok {
		return nil
	}
	v, err := convert(f, s)
	if err != nil {
		shown := fmt.Sprintf("%q", s)
		if f.Secret {
			shown = what
		}
		p.add(n, path, "%s", strings.ReplaceAll(err.Error(), "%VALUE%", shown))
		return nil
	}
	v.Line, v.Col, v.Set = n.Line, n.Column, true
	return v
}

// convert types text s for field f. Errors use %VALUE% where the value would be shown,
// so that a secret is never printed.
func convert(f *connector.Field, s string) (*connector.Value, error) {
	v := &connector.Value{Raw: s, Str: s}
	switch f.Type {
	case connector.TypeString:
	case connector.TypeInt:
		n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), "_", ""), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %%VALUE%%")
		}
		if f.Min != nil && n < *f.Min {
			return nil, fmt.Errorf("%d is below the minimum %d", n, *f.Min)
		}
		if f.Max != nil && n > *f.Max {
			return nil, fmt.Errorf("%d is above the maximum %d", n, *f.Max)
		}
		v.Int = n
	case connector.TypeBool:
		switch strings.TrimSpace(s) {
		case "true":
			v.Bool = true
		case "false":
		default:
			return nil, fmt.Errorf("want true or false, got %%VALUE%%")
		}
	case connector.TypeFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("want a number, got %%VALUE%%")
		}
		v.Num = x
	case connector.TypeDuration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("bad duration %%VALUE%%: write e.g. 5s, 500ms or 1m30s")
		}
		if d <= 0 {
			return nil, fmt.Errorf("the duration must be positive, got %%VALUE%%")
		}
		v.Dur = d
	case connector.TypeBytes:
		n, err := parseBytes(s)
		if err != nil {
			return nil, fmt.Errorf("bad size %%VALUE%%: write a number of bytes or e.g. 512KiB, 64MiB, 1GiB")
		}
		v.Int = n
	case connector.TypeEnum:
		t := strings.TrimSpace(s)
		if !contains(f.Enum, t) {
			msg := fmt.Sprintf("want one of %s; got %%VALUE%%", strings.Join(f.Enum, ", "))
			if sg := suggest(t, f.Enum, ""); strings.HasPrefix(sg, "; did") {
				msg += sg
			}
			return nil, fmt.Errorf("%s", msg)
		}
		v.Str = t
	case connector.TypeRegex:
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("bad regular expression %%VALUE%%: %s", reErr(err))
		}
		v.Re = re
	case connector.TypeTables:
		if _, err := ParseTables(s); err != nil {
			return nil, fmt.Errorf("bad table list: %s", err)
		}
		for _, item := range splitItems(s) {
			v.List = append(v.List, strings.TrimSpace(item))
		}
	case connector.TypeList:
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				v.List = append(v.List, item)
			}
		}
		if len(v.List) == 0 {
			return nil, fmt.Errorf("the list is empty; write items separated by commas")
		}
	default:
		return nil, fmt.Errorf("field type %d is not supported", f.Type)
	}
	return v, nil
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"TB", 1000 * 1000 * 1000 * 1000},
	{"B", 1},
}

func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad size")
	}
	return n * mult, nil
}

var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// expand replaces ${NAME} with the environment variable NAME; $${ is a literal ${.
func (p *parser) expand(n *yaml.Node, path string, secret bool) (string, bool) {
	s := n.Value
	if !strings.Contains(s, "${") {
		return s, true
	}
	const esc = "\x00weir-dollar\x00"
	s = strings.ReplaceAll(s, "$${", esc)
	ok := true
	s = envRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if !validEnvName(name) {
			p.add(n, path, "%q is not an environment variable reference; write ${NAME} with letters, digits and _, or $${ for a literal ${", m)
			ok = false
			return m
		}
		val, set := p.lookupEnv(name)
		if !set {
			p.add(n, path, "environment variable %s is not set", name)
			ok = false
			return m
		}
		return val
	})
	return strings.ReplaceAll(s, esc, "${"), ok
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// article prefixes a noun with "a" or "an".
func article(noun string) string {
	if strings.IndexByte("aeiou", noun[0]) >= 0 {
		return "an " + noun
	}
	return "a " + noun
}
