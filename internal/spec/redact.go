package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/weir-data/weir/internal/connector"
)

// Redacted renders the effective pipeline — what was written, after ${ENV}, and every
// default, marked as such — as YAML, with the value of every secret replaced by ******.
// It is what `weir validate` prints; without secrets, it reads back as the same pipeline.
func (pl *Pipeline) Redacted() string {
	var b strings.Builder
	for _, e := range []struct {
		key string
		ep  Endpoint
	}{{"source", pl.Source}, {"sink", pl.Sink}} {
		fmt.Fprintf(&b, "%s:\n  type: %s\n", e.key, yamlScalar(e.ep.Type))
		writeIfSet(&b, "  ", "name", e.ep.Name)
		writeIfSet(&b, "  ", "description", e.ep.Description)
		writeConfig(&b, e.ep.Config)
	}
	if len(pl.Routes) > 0 {
		b.WriteString("route:\n")
	}
	for _, r := range pl.Routes {
		fmt.Fprintf(&b, "  - source-table: %s\n", yamlScalar(r.SourceTable))
		writeIfSet(&b, "    ", "sink-table", r.SinkTable)
		writeIfSet(&b, "    ", "replace-symbol", r.ReplaceSymbol)
		writeIfSet(&b, "    ", "source-table-column", r.SourceTableColumn)
		writeIfSet(&b, "    ", "description", r.Description)
	}
	if len(pl.Transforms) > 0 {
		b.WriteString("transform:\n")
	}
	for _, t := range pl.Transforms {
		fmt.Fprintf(&b, "  - source-table: %s\n", yamlScalar(t.SourceTable))
		writeIfSet(&b, "    ", "projection", t.Projection)
		writeIfSet(&b, "    ", "filter", t.Filter)
		writeIfSet(&b, "    ", "primary-keys", t.PrimaryKeys)
		writeIfSet(&b, "    ", "partition-keys", t.PartitionKeys)
		if len(t.Masks) > 0 {
			b.WriteString("    mask:\n")
			for _, m := range t.Masks {
				fmt.Fprintf(&b, "      - %s\n", yamlScalar(m.Written))
			}
		}
		if t.MaskKey != "" {
			b.WriteString("    mask.key: ******\n")
			writeIfSet(&b, "    ", "mask.key-id", t.MaskKeyID)
		}
		if t.SoftDelete {
			b.WriteString("    converter-after-transform: soft_delete\n")
		}
		writeIfSet(&b, "    ", "description", t.Description)
	}
	b.WriteString("pipeline:\n")
	if !pl.Settings.IsSet("name") {
		fmt.Fprintf(&b, "  name: %s  # default: the file's name\n", yamlScalar(pl.Name))
	}
	writeConfig(&b, pl.Settings)
	if len(pl.Functions) > 0 {
		b.WriteString("  user-defined-function:\n")
		for _, name := range slices.Sorted(maps.Keys(pl.Functions)) {
			u := pl.Functions[name]
			fmt.Fprintf(&b, "    - name: %s\n      parameters: [%s]\n      expression: %s\n", yamlScalar(u.Name), strings.Join(u.Params, ", "), yamlScalar(u.Body))
		}
	}
	return b.String()
}

// writeConfig writes cfg's values in declaration order, two spaces in.
func writeConfig(b *strings.Builder, cfg *connector.Config) {
	for _, f := range cfg.Spec.Fields {
		if f.Wildcard() { // each key of the family, its value hidden: it may be a secret
			var keys []string
			for k := range cfg.Values {
				if d := cfg.Spec.Field(k); d != nil && d.Name == f.Name {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(b, "  %s: %s\n", k, yamlScalar("******"))
			}
			continue
		}
		v := cfg.Values[f.Name]
		if v == nil {
			continue
		}
		var text string
		switch {
		case v.Unset: // the ${VARIABLE} as written
			text = v.Raw
		case f.Secret:
			text = yamlScalar("******")
		case f.Type == connector.TypeString, f.Type == connector.TypeRegex, f.Type == connector.TypeTables, f.Type == connector.TypeList:
			text = yamlScalar(v.Raw)
		default: // numbers, durations, sizes, booleans, enum values: as written
			text = strings.TrimSpace(v.Raw)
		}
		note := ""
		if !v.Set {
			note = "  # default"
		}
		fmt.Fprintf(b, "  %s: %s%s\n", f.Name, text, note)
	}
}

func writeIfSet(b *strings.Builder, indent, key, value string) {
	if value != "" {
		fmt.Fprintf(b, "%s%s: %s\n", indent, key, yamlScalar(value))
	}
}

// yamlScalar quotes s as YAML needs it to read back as the same string, on one line,
// with a literal ${ written $${ so that it is not expanded when read back.
func yamlScalar(s string) string {
	s = strings.ReplaceAll(s, "${", "$${")
	out, err := yaml.Marshal(s)
	if err != nil || strings.Contains(s, "\n") {
		return strconv.Quote(s) // Go's escapes are YAML's double-quoted ones
	}
	return strings.TrimSpace(string(out))
}
