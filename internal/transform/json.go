package transform

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// JSON functions: JSON_EXTRACT(doc, path[, path…]) (also doc->path), JSON_UNQUOTE(x)
// (doc->>path is JSON_UNQUOTE(JSON_EXTRACT(doc, path))) and JSON_VALUE(doc, path), on
// MySQL's paths: $, .key, ."quoted key", [n], [last], .* and [*].

var jsonType = types.Type{Kind: types.JSON}

func init() {
	functions["json_extract"] = function{2, -1, func(a []node) (node, error) {
		paths, err := constPaths(a[1:])
		if err != nil {
			return node{}, err
		}
		return strict(jsonType, a[:1], func(v []event.Value) (event.Value, error) {
			doc, err := decodeJSON(v[0])
			if err != nil {
				return v[0], err
			}
			var found []any
			wild := len(paths) > 1
			for _, p := range paths {
				wild = wild || p.wild
				found = append(found, p.eval(doc)...)
			}
			switch {
			case len(found) == 0:
				return event.Null(), nil
			case !wild:
				return encodeJSON(found[0])
			}
			return encodeJSON(found)
		}), nil
	}}
	functions["json_unquote"] = function{1, 1, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			return event.String(unquote(toText(v[0]))), nil
		}), nil
	}}
	functions["json_value"] = function{2, 2, func(a []node) (node, error) {
		paths, err := constPaths(a[1:])
		if err != nil {
			return node{}, err
		}
		return strict(stringType, a[:1], func(v []event.Value) (event.Value, error) {
			doc, err := decodeJSON(v[0])
			if err != nil {
				return v[0], err
			}
			found := paths[0].eval(doc)
			if len(found) != 1 || found[0] == nil {
				return event.Null(), nil
			}
			if _, ok := found[0].(map[string]any); ok {
				return event.Null(), nil // not a scalar
			}
			if _, ok := found[0].([]any); ok {
				return event.Null(), nil
			}
			out, err := encodeJSON(found[0])
			return event.String(unquote(out.Str())), err
		}), nil
	}}
}

// unquote is the text of a JSON string, or s itself when it is not one.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' {
		var out string
		if err := json.Unmarshal([]byte(s), &out); err == nil {
			return out
		}
	}
	return s
}

func decodeJSON(v event.Value) (any, error) {
	dec := json.NewDecoder(strings.NewReader(toText(v)))
	dec.UseNumber() // numbers keep their digits
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a JSON document: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("not a JSON document: text follows the value at offset %d", dec.InputOffset())
	}
	return doc, nil
}

func encodeJSON(x any) (event.Value, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return event.Null(), err
	}
	return event.JSON(strings.TrimSuffix(b.String(), "\n")), nil
}

// jsonPath is a compiled MySQL JSON path.
type jsonPath struct {
	steps []pathStep
	wild  bool
}

type pathStep struct {
	key   string // member name; "*" with any for every member
	index int    // array index; -1 for [last]
	isKey bool
	any   bool
}

func constPaths(a []node) ([]*jsonPath, error) {
	var out []*jsonPath
	for _, n := range a {
		if n.konst == nil || n.konst.IsNull() {
			return nil, fmt.Errorf("the paths must be literals, e.g. '$.a.b[0]'")
		}
		p, err := parsePath(toText(*n.konst))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePath(s string) (*jsonPath, error) {
	bad := func(why string) (*jsonPath, error) {
		return nil, fmt.Errorf("JSON path %q: %s (write e.g. '$.a.b[0]')", s, why)
	}
	rest := strings.TrimSpace(s)
	if !strings.HasPrefix(rest, "$") {
		return bad("it must start with $")
	}
	rest = rest[1:]
	p := &jsonPath{}
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			switch {
			case strings.HasPrefix(rest, "*"):
				p.steps = append(p.steps, pathStep{isKey: true, any: true})
				p.wild = true
				rest = rest[1:]
			case strings.HasPrefix(rest, `"`):
				end := strings.Index(rest[1:], `"`)
				if end < 0 {
					return bad("a quoted key is not closed")
				}
				p.steps = append(p.steps, pathStep{isKey: true, key: rest[1 : end+1]})
				rest = rest[end+2:]
			default:
				end := strings.IndexAny(rest, ".[")
				if end < 0 {
					end = len(rest)
				}
				if end == 0 {
					return bad("a key is missing after '.'")
				}
				p.steps = append(p.steps, pathStep{isKey: true, key: rest[:end]})
				rest = rest[end:]
			}
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return bad("'[' is not closed")
			}
			in := strings.TrimSpace(rest[1:end])
			rest = rest[end+1:]
			switch in {
			case "*":
				p.steps = append(p.steps, pathStep{any: true})
				p.wild = true
			case "last":
				p.steps = append(p.steps, pathStep{index: -1})
			default:
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return bad(fmt.Sprintf("%q is not an array index", in))
				}
				p.steps = append(p.steps, pathStep{index: n})
			}
		default:
			return bad(fmt.Sprintf("unexpected %q", rest[:1]))
		}
	}
	return p, nil
}

// eval returns what the path selects in doc.
func (p *jsonPath) eval(doc any) []any {
	cur := []any{doc}
	for _, st := range p.steps {
		var next []any
		for _, x := range cur {
			switch {
			case st.isKey:
				m, ok := x.(map[string]any)
				if !ok {
					continue
				}
				if st.any {
					for _, k := range sortedKeys(m) {
						next = append(next, m[k])
					}
				} else if v, ok := m[st.key]; ok {
					next = append(next, v)
				}
			default:
				arr, ok := x.([]any)
				if !ok { // MySQL: a scalar is an array of itself at [0]
					if st.index == 0 || st.index == -1 || st.any {
						next = append(next, x)
					}
					continue
				}
				switch {
				case st.any:
					next = append(next, arr...)
				case st.index == -1 && len(arr) > 0:
					next = append(next, arr[len(arr)-1])
				case st.index >= 0 && st.index < len(arr):
					next = append(next, arr[st.index])
				}
			}
		}
		cur = next
	}
	return cur
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { // MySQL orders members by length, then bytes
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	})
	return keys
}
