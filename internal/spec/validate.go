package spec

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weir-data/weir/internal/connector"
)

// mapping is a YAML mapping's keys and values, in file order, without duplicates.
type mapping struct {
	node         *yaml.Node
	keys, values []*yaml.Node
}

// mapping reads n as a mapping, reporting duplicate keys and keys that are not names.
// A null node (a key with nothing under it) is an empty mapping. ok is false, with the
// problem reported, when n is something else.
func (p *parser) mapping(n *yaml.Node, path, want string) (m mapping, ok bool) {
	n = resolve(n)
	m.node = n
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return m, true
	}
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "want %s, got %s", want, kindName(n))
		return m, false
	}
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, path, "a key must be a plain name, not %s", kindName(k))
			continue
		}
		if f := first[k.Value]; f != nil {
			p.add(k, path, "duplicate key %s (first at line %d); write each key once", quote(k.Value), f.Line)
			continue
		}
		first[k.Value] = k
		m.keys, m.values = append(m.keys, k), append(m.values, v)
	}
	return m, true
}

// get returns the value of key in m, or nil.
func (m mapping) get(key string) *yaml.Node {
	_, v := m.entry(key)
	return resolve(v)
}

// entry returns the key and value nodes of key in m, or nils.
func (m mapping) entry(key string) (k, v *yaml.Node) {
	for i, kn := range m.keys {
		if kn.Value == key {
			return kn, m.values[i]
		}
	}
	return nil, nil
}

// resolve follows an alias (*name) to the node it refers to.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// kindName describes a node for "got …" in messages.
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
		return quote(n.Value)
	}
	return "something else"
}

// unknownKey is the message for a key that is not declared.
func unknownKey(name string, known []string) string {
	msg := "unknown key " + quote(name)
	if s := didYouMean(name, known); s != "" {
		return msg + s
	}
	for _, k := range known {
		if strings.HasPrefix(k, name+".") { // checkpoint: {interval: 5s} for checkpoint.interval: 5s
			return msg + fmt.Sprintf("; keys are written whole, with their dots, as in %s", k)
		}
	}
	return msg + "; valid keys: " + strings.Join(known, ", ")
}

// fields checks mapping m against spec's fields and returns the typed config, with
// defaults for what is not written. extra are keys the caller handles (e.g. "type").
// Missing required keys are reported at the node at: the block's key or list item.
func (p *parser) fields(m mapping, at *yaml.Node, path string, spec *connector.Spec, extra ...string) *connector.Config {
	cfg := &connector.Config{Spec: spec, Values: map[string]*connector.Value{}}
	known := append([]string(nil), extra...)
	for _, f := range spec.Fields {
		known = append(known, f.Name)
	}
	written := map[string]bool{}
	for i, k := range m.keys {
		name := k.Value
		written[name] = true
		f := spec.Field(name)
		if f == nil {
			if !slices.Contains(extra, name) {
				p.add(k, path, "%s", unknownKey(name, known))
			}
			continue
		}
		if v := p.value(m.values[i], join(path, name), f); v != nil {
			cfg.Values[name] = v
		}
		if f.Ignored != "" {
			p.notes = append(p.notes, join(path, name)+": "+f.Ignored)
		}
	}
	for i := range spec.Fields {
		f := &spec.Fields[i]
		switch {
		case written[f.Name], f.Wildcard(): // set, or reported as bad
		case f.Required:
			p.add(at, path, "missing required key %s%s", quote(f.Name), example(f))
		case f.Default != "":
			v, err := convert(f, f.Default)
			if err != nil {
				panic(fmt.Sprintf("spec %s: the default of %s: %v", spec.Type, f.Name, err))
			}
			cfg.Values[f.Name] = v
		}
	}
	if spec.Lint != nil && !p.hasProblemsUnder(path) {
		for _, fp := range spec.Lint(cfg) {
			if fp.Note {
				p.notes = append(p.notes, join(path, fp.Field)+": "+fp.Msg)
				continue
			}
			if v := cfg.Values[fp.Field]; v != nil && v.Set {
				p.addAt(v.Line, v.Col, join(path, fp.Field), "%s", fp.Msg)
			} else {
				p.add(at, join(path, fp.Field), "%s", fp.Msg)
			}
		}
	}
	return cfg
}

// example returns " (e.g. key: value)" from the field's example or default, or "".
func example(f *connector.Field) string {
	switch {
	case f.Example != "":
		return fmt.Sprintf(" (e.g. %s: %s)", f.Name, f.Example)
	case f.Default != "":
		return fmt.Sprintf(" (e.g. %s: %s)", f.Name, f.Default)
	}
	return ""
}

// value types the node of field f; nil when it has a problem (reported).
func (p *parser) value(n *yaml.Node, path string, f *connector.Field) *connector.Value {
	n = resolve(n)
	var text string
	switch {
	case n.Kind == yaml.SequenceNode && (f.Type == connector.TypeList || f.Type == connector.TypeTables):
		var items []string
		for _, item := range n.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				p.add(item, path, "want a list of plain values, got %s in it", kindName(item))
				return nil
			}
			s, ok := p.expand(item, path, f)
			if !ok {
				return nil
			}
			if s == unsetValue {
				return unchecked(n, f)
			}
			items = append(items, strings.TrimSpace(s))
		}
		text = strings.Join(items, ", ")
		if f.Type == connector.TypeList { // items stay whole, commas and all
			if len(items) == 0 {
				p.add(n, path, "the list is empty%s", example(f))
				return nil
			}
			return &connector.Value{Raw: text, Str: text, List: items, Line: n.Line, Col: n.Column, Set: true}
		}
	case n.Kind != yaml.ScalarNode || n.Tag == "!!null":
		p.add(n, path, "want %s, got %s%s", wantPhrase(f), kindName(n), example(f))
		return nil
	default:
		s, ok := p.expand(n, path, f)
		if !ok {
			return nil
		}
		text = s
	}
	if text == unsetValue {
		return unchecked(n, f)
	}
	if f.Required && strings.TrimSpace(text) == "" {
		p.add(n, path, "the value is empty%s", example(f))
		return nil
	}
	v, err := convert(f, text)
	if err != nil {
		p.add(n, path, "%s", err)
		return nil
	}
	v.Line, v.Col, v.Set = n.Line, n.Column, true
	return v
}

// expand expands ${NAME} in a scalar node, reporting bad references.
func (p *parser) expand(n *yaml.Node, path string, f *connector.Field) (string, bool) {
	if p.literal[n] {
		return n.Value, true
	}
	secret := ""
	if f != nil && f.Secret {
		secret = f.Name
	}
	lookup := p.lookupEnv
	var unset []string
	if p.unsetOK {
		lookup = func(name string) (string, bool) {
			v, ok := p.lookupEnv(name)
			if !ok {
				unset = append(unset, "${"+name+"}")
				return "", true
			}
			return v, ok
		}
	}
	s, msgs := expandEnv(n.Value, lookup, secret)
	if len(unset) > 0 && len(msgs) == 0 {
		p.notes = append(p.notes, fmt.Sprintf("%s: %s not set, so the value is not checked", path, strings.Join(unset, ", ")))
		return unsetValue, true
	}
	for _, m := range msgs {
		p.add(n, path, "%s", m)
	}
	return s, len(msgs) == 0
}

// unchecked is the value of field f at n that names an unset variable (LoadUnset): its
// example or default stands for it.
func unchecked(n *yaml.Node, f *connector.Field) *connector.Value {
	v, err := convert(f, cmp.Or(f.Example, f.Default))
	if err != nil {
		v = &connector.Value{}
	}
	v.Line, v.Col, v.Set, v.Unset, v.Raw = n.Line, n.Column, true, true, n.Value
	return v
}

// unsetValue stands for a value that names an unset variable (LoadUnset).
const unsetValue = "\x00unset\x00"

// wantPhrase says what a field's value must be, for "want …, got …".
func wantPhrase(f *connector.Field) string {
	switch f.Type {
	case connector.TypeInt:
		return "an integer"
	case connector.TypeBool:
		return "true or false"
	case connector.TypeFloat:
		return "a number"
	case connector.TypeEnum:
		return "one of " + strings.Join(f.Enum, ", ")
	case connector.TypeList, connector.TypeTables:
		return "a " + f.Type.String() + " (comma-separated, or a YAML list)"
	case connector.TypeString:
		return "a string"
	}
	return "a " + f.Type.String()
}

// convert types the text s of field f. Its errors are whole messages, which never quote
// the value of a secret field.
func convert(f *connector.Field, s string) (*connector.Value, error) {
	shown, plain := quote(s), strings.TrimSpace(s)
	if f.Secret {
		shown = "the value of " + f.Name
		plain = shown
	}
	v := &connector.Value{Raw: s, Str: s}
	switch f.Type {
	case connector.TypeString:
	case connector.TypeInt:
		n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), "_", ""), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %s", shown)
		}
		if err := checkBounds(f, n, plain); err != nil {
			return nil, err
		}
		v.Int = n
	case connector.TypeBool:
		switch strings.ToLower(strings.TrimSpace(s)) { // TRUE and False too, as Flink reads them
		case "true":
			v.Bool = true
		case "false":
		default:
			return nil, fmt.Errorf("want true or false, got %s", shown)
		}
	case connector.TypeFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("want a number, got %s", shown)
		}
		v.Num = x
	case connector.TypeDuration:
		d, ok := parseDuration(s)
		if !ok {
			return nil, fmt.Errorf("bad duration %s: write e.g. 5s, 500ms, 1m30s or 2 min (a plain number is milliseconds)", shown)
		}
		if d <= 0 {
			return nil, fmt.Errorf("the duration must be positive, got %s", shown)
		}
		v.Dur = d
	case connector.TypeBytes:
		n, ok := parseBytes(s)
		if !ok {
			return nil, fmt.Errorf("bad byte size %s: write a number of bytes, or one with a unit: 512kb, 64mb, 1 gb (powers of 1024, as Flink and PostgreSQL read them)", shown)
		}
		if err := checkBounds(f, n, plain); err != nil {
			return nil, err
		}
		v.Int = n
	case connector.TypeEnum:
		t := strings.TrimSpace(s)
		i := slices.IndexFunc(f.Enum, func(e string) bool { return strings.EqualFold(e, t) }) // LENIENT, Latest-Offset: as Flink reads them
		if i < 0 {
			return nil, fmt.Errorf("want one of %s; got %s%s", strings.Join(f.Enum, ", "), shown, didYouMean(strings.ToLower(t), f.Enum))
		}
		v.Str = f.Enum[i]
	case connector.TypeRegex:
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("bad regular expression %s: %s", shown, reErr(err))
		}
		v.Re = re
	case connector.TypeTables:
		ps, err := ParseTables(s)
		if err == nil {
			v.Re, err = wholeNameRegex(ps)
		}
		if err != nil {
			if f.Secret { // the message quotes parts of the value
				return nil, fmt.Errorf("bad table list in %s", shown)
			}
			return nil, fmt.Errorf("bad table list: %s", err)
		}
		for _, item := range splitItems(s) { // the items as written: they parse again alone
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

// checkBounds checks n against f.Min and f.Max; shown is how the value may be printed.
func checkBounds(f *connector.Field, n int64, shown string) error {
	if f.Min != nil && n < *f.Min {
		return fmt.Errorf("%s is below the minimum %d", shown, *f.Min)
	}
	if f.Max != nil && n > *f.Max {
		return fmt.Errorf("%s is above the maximum %d", shown, *f.Max)
	}
	return nil
}

// byteUnits are the units of a byte size, as Flink's MemorySize reads them (and
// PostgreSQL): any case, powers of 1024 whether written k, kb, KiB or kibibytes.
var byteUnits = map[string]int64{
	"": 1, "b": 1, "bytes": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "kibibytes": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "mebibytes": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "gibibytes": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40, "tebibytes": 1 << 40,
}

// amount splits "64 mb" or "30s" into its number and its unit, in lower case.
var amount = regexp.MustCompile(`^([0-9][0-9_]*)\s*([a-zA-Zµ]*)$`)

// parseBytes parses a byte size: a plain number of bytes, or one with a unit (byteUnits).
func parseBytes(s string) (int64, bool) {
	m := amount.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	mult, ok := byteUnits[strings.ToLower(m[2])]
	n, err := strconv.ParseInt(strings.ReplaceAll(m[1], "_", ""), 10, 64)
	if !ok || err != nil || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// durationUnits are the units of a duration as Flink's TimeUtils reads them, any case,
// singular or plural; a number without a unit is milliseconds.
var durationUnits = map[string]time.Duration{
	"":  time.Millisecond,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"ms": time.Millisecond, "milli": time.Millisecond, "millis": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"µs": time.Microsecond, "us": time.Microsecond, "micro": time.Microsecond, "micros": time.Microsecond, "microsecond": time.Microsecond, "microseconds": time.Microsecond,
	"ns": time.Nanosecond, "nano": time.Nanosecond, "nanos": time.Nanosecond, "nanosecond": time.Nanosecond, "nanoseconds": time.Nanosecond,
}

// parseDuration parses a duration as Go writes it (1m30s, 500ms) or as Flink does
// (30000, 30 s, 5 min, 1h, 2 days).
func parseDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	m := amount.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	unit, ok := durationUnits[strings.ToLower(m[2])]
	n, err := strconv.ParseInt(strings.ReplaceAll(m[1], "_", ""), 10, 64)
	if !ok || err != nil || n > math.MaxInt64/int64(unit) {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
