package connector

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// FieldType is the type of a config field, which decides how its YAML is checked.
type FieldType uint8

// The field types.
const (
	TypeString   FieldType = iota + 1
	TypeInt                // integer; Min/Max bound it
	TypeBool               // true/false
	TypeFloat              // number
	TypeDuration           // Go duration: 500ms, 5s, 1m30s
	TypeBytes              // size: 1048576, 64KiB, 16MiB, 1GiB
	TypeEnum               // one of Enum
	TypeRegex              // a regular expression (RE2)
	TypeTables             // comma-separated table regexes, db\.table style
	TypeList               // comma-separated strings, or a YAML list
)

func (t FieldType) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "integer"
	case TypeBool:
		return "boolean"
	case TypeFloat:
		return "number"
	case TypeDuration:
		return "duration"
	case TypeBytes:
		return "byte size"
	case TypeEnum:
		return "enum"
	case TypeRegex:
		return "regular expression"
	case TypeTables:
		return "table list"
	case TypeList:
		return "list"
	}
	return "unknown"
}

// Field declares one config key of a connector or of a pipeline block. The declaration
// is the single source of validation, defaults, docs and forms (DESIGN §6).
type Field struct {
	Name        string // the YAML key, e.g. "scan.startup.mode"
	Type        FieldType
	Default     string // the default as YAML text; "" means none
	Required    bool
	Secret      bool     // never printed back
	Enum        []string // allowed values of a TypeEnum
	Min, Max    *int64   // bounds of a TypeInt (inclusive)
	Example     string   // an example value for docs and messages
	Description string
	// Ignored, when set, says why weir has no use for this setting: an option of Flink
	// CDC's, accepted so that its files run as they are. validate notes it when written.
	Ignored string
}

// Wildcard reports whether the field is a family of keys: a Name ending in ".*"
// (jdbc.properties.*) declares every key with that prefix.
func (f *Field) Wildcard() bool { return strings.HasSuffix(f.Name, ".*") }

// Int64 is a helper for Field.Min and Field.Max.
func Int64(v int64) *int64 { return &v }

// Spec declares a connector: its type name, what it is and its config fields.
type Spec struct {
	Type    string
	Summary string
	Fields  []Field
	// Lint, when set, checks what the field types cannot — how fields go together — with
	// nothing but the file (weir validate --offline too). Each problem names a field; it
	// is reported at that field (or at the block when the field is not written).
	Lint func(cfg *Config) []FieldProblem
}

// MetadataList checks a source's metadata.list (Flink CDC's: the metadata a transform may
// use) against the names the source gives (connector.Spec.Lint).
func MetadataList(cfg *Config, known ...string) []FieldProblem {
	for _, m := range cfg.List("metadata.list") {
		if !slices.Contains(known, strings.ToLower(m)) {
			return []FieldProblem{{Field: "metadata.list", Msg: fmt.Sprintf("%s is not metadata this source gives; it gives %s", m, strings.Join(known, ", "))}}
		}
	}
	return nil
}

// FieldProblem is a problem Spec.Lint finds, at Field. A Note is not a problem: a setting
// weir accepts and has no use for (an option of Flink's with no meaning here), said once
// by validate with the reason.
type FieldProblem struct {
	Field, Msg string
	Note       bool
}

// Field returns the declaration of name, or nil: the field of that name, or the family
// (Field.Wildcard) it belongs to.
func (s *Spec) Field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	for i := range s.Fields {
		if f := &s.Fields[i]; f.Wildcard() && strings.HasPrefix(name, strings.TrimSuffix(f.Name, "*")) && len(name) > len(f.Name)-1 {
			return f
		}
	}
	return nil
}

// Doc renders the spec as a Markdown table, the connector's reference in docs/.
func (s *Spec) Doc() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### `%s`\n\n%s\n\n| key | type | default | description |\n|---|---|---|---|\n", s.Type, s.Summary)
	for _, f := range s.Fields {
		typ := f.Type.String()
		if f.Type == TypeEnum {
			typ = strings.Join(f.Enum, " \\| ")
		}
		def := "`" + f.Default + "`"
		switch {
		case f.Required:
			def = "required"
		case f.Default == "":
			def = ""
		}
		desc := f.Description
		if f.Secret {
			desc += " Secret: never printed."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, typ, def, desc)
	}
	return b.String()
}

// Value is one typed config value.
type Value struct {
	Raw  string // the text after ${ENV} expansion
	Line int    // where it was written (0: a default)
	Col  int
	Str  string
	Int  int64
	Bool bool
	Num  float64
	Dur  time.Duration
	List []string
	Re   *regexp.Regexp
	Set  bool // written in the file (not a default)
	// Unset: the value names an environment variable that is not set, and stands as the
	// field's example or default (weir validate --offline); Raw is the text as written.
	Unset bool
}

// Config is a connector's validated configuration. Every declared field with a default
// or a value is present; accessors of undeclared names are programming errors and panic.
type Config struct {
	Spec   *Spec
	Values map[string]*Value
}

func (c *Config) get(name string) *Value {
	if c.Spec.Field(name) == nil {
		panic(fmt.Sprintf("connector %s: config field %q is not declared", c.Spec.Type, name))
	}
	if v := c.Values[name]; v != nil {
		return v
	}
	return &Value{}
}

// String returns a string, enum or regex field's text.
func (c *Config) String(name string) string { return c.get(name).Str }

// Int returns an integer or byte-size field.
func (c *Config) Int(name string) int64 { return c.get(name).Int }

// Bool returns a boolean field.
func (c *Config) Bool(name string) bool { return c.get(name).Bool }

// Float returns a number field.
func (c *Config) Float(name string) float64 { return c.get(name).Num }

// Duration returns a duration field.
func (c *Config) Duration(name string) time.Duration { return c.get(name).Dur }

// List returns a list or table-list field's items.
func (c *Config) List(name string) []string { return c.get(name).List }

// IsSet reports whether name was written in the file.
func (c *Config) IsSet(name string) bool { return c.get(name).Set }

// Where returns "line L, column C" of name for runtime messages, or "" for a default.
func (c *Config) Where(name string) string {
	v := c.get(name)
	if v.Line == 0 {
		return ""
	}
	return fmt.Sprintf("line %d, column %d", v.Line, v.Col)
}

// Redacted returns the config as key → text with secrets replaced, for printing.
func (c *Config) Redacted() map[string]string {
	out := make(map[string]string, len(c.Values))
	for name, v := range c.Values {
		if f := c.Spec.Field(name); f != nil && f.Secret {
			out[name] = "******"
			continue
		}
		out[name] = v.Raw
	}
	return out
}

// SortedKeys returns the config's keys in order, for stable output.
func (c *Config) SortedKeys() []string {
	keys := make([]string, 0, len(c.Values))
	for k := range c.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
