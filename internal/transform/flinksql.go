package transform

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Flink SQL syntax that MySQL's grammar lacks, rewritten before parsing into calls of
// functions registered here (quoted text is left as it is):
//
//	POSITION(a IN b FROM n)            LOCATE(a, b, n)
//	OVERLAY(s PLACING r FROM n FOR l)  __weir_overlay(s, r, n, l)
//	ARRAY[a, b], MAP[k, v, …]          __weir_array(a, b), __weir_map(k, v, …)
//	x[i]                               __weir_at(x, i): an array's i-th element (from 1), a map's value at i
//	x SIMILAR TO 'p'                   x REGEXP '^(?:p as a regex)$': % is .*, _ is .
//	CASE v WHEN a, b THEN r …          CASE WHEN (v) IN (a, b) THEN r …
func rewriteFlinkSyntax(s string) string {
	if !strings.ContainsAny(s, "[") && !strings.Contains(strings.ToUpper(s), " IN ") &&
		!strings.Contains(strings.ToUpper(s), "PLACING") && !strings.Contains(strings.ToUpper(s), "SIMILAR") &&
		!strings.Contains(strings.ToUpper(s), "CASE") {
		return s
	}
	s = rewriteCaseLists(s)
	upper := strings.ToUpper(s)
	s = rewriteSQL(s, func(i int) (string, int, bool) {
		if open, ok := callAt(upper, i, "POSITION"); ok {
			end := closing(s, open)
			parts := splitTopLevelWords(s[open+1:min(end, len(s))], " IN ", " FROM ")
			if len(parts) == 3 {
				return "LOCATE(" + parts[0] + ", " + parts[1] + ", " + parts[2] + ")", min(end+1, len(s)), true
			}
			return "", 0, false
		}
		if open, ok := callAt(upper, i, "OVERLAY"); ok {
			end := closing(s, open)
			parts := splitTopLevelWords(s[open+1:min(end, len(s))], " PLACING ", " FROM ", " FOR ")
			if len(parts) < 3 {
				return "", 0, false
			}
			return "__weir_overlay(" + strings.Join(parts, ", ") + ")", min(end+1, len(s)), true
		}
		for _, kw := range []string{"ARRAY", "MAP"} {
			rest := strings.TrimLeft(upper[i:], " ")
			if strings.HasPrefix(upper[i:], kw) && strings.HasPrefix(strings.TrimLeft(upper[i+len(kw):], " "), "[") && len(rest) > 0 {
				open := i + len(kw) + (len(upper[i+len(kw):]) - len(strings.TrimLeft(upper[i+len(kw):], " ")))
				end := closing(s, open)
				return "__weir_" + strings.ToLower(kw) + "(" + rewriteFlinkSyntax(s[open+1:min(end, len(s))]) + ")", min(end+1, len(s)), true
			}
		}
		if strings.HasPrefix(upper[i:], "SIMILAR TO ") || strings.HasPrefix(upper[i:], "SIMILAR TO'") {
			rest := strings.TrimLeft(s[i+len("SIMILAR TO"):], " ")
			if strings.HasPrefix(rest, "'") {
				q := skipQuoted(rest, 0)
				re := similarRegex(strings.ReplaceAll(rest[1:q-1], "''", "'"))
				return "REGEXP '" + strings.ReplaceAll(re, "'", "''") + "'", len(s) - len(rest) + q, true
			}
		}
		return "", 0, false
	})
	return rewriteSubscripts(s)
}

// splitTopLevelWords splits s at each of the keywords, in order, outside parentheses and
// quotes; nil when one is missing (the last ones may be).
func splitTopLevelWords(s string, words ...string) []string {
	var parts []string
	for k, w := range words {
		at := topLevel(s, w, false)
		if at < 0 {
			if k == 0 {
				return nil
			}
			break
		}
		parts = append(parts, strings.TrimSpace(s[:at]))
		s = s[at+len(w):]
	}
	return append(parts, strings.TrimSpace(s))
}

// rewriteSubscripts turns x[i] into __weir_at(x, i), where x is a name or a call.
func rewriteSubscripts(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := skipQuoted(s, i)
			out.WriteString(s[i:j])
			i = j - 1
		case c == '[':
			end := closing(s, i)
			done := out.String()
			start := operandStart(done)
			if start == len(done) {
				out.WriteByte(c)
				continue
			}
			out.Reset()
			out.WriteString(done[:start] + "__weir_at(" + done[start:] + ", " + rewriteSubscripts(s[i+1:min(end, len(s))]) + ")")
			i = min(end, len(s)-1)
		default:
			out.WriteByte(c)
		}
	}
	return out.String()
}

// operandStart is where the name or call that s ends with begins.
func operandStart(s string) int {
	j := len(s)
	if j > 0 && s[j-1] == ')' {
		depth := 0
		for j--; j >= 0; j-- {
			if s[j] == ')' {
				depth++
			} else if s[j] == '(' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if j < 0 {
			return len(s)
		}
	}
	for j > 0 && (isWordByte(s[j-1]) || s[j-1] == '.' || s[j-1] == '`') {
		j--
	}
	return j
}

// similarRegex is SQL's SIMILAR TO pattern as an anchored regular expression: % is any
// text, _ any character, the rest as in a regular expression.
func similarRegex(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		case '\\':
			if i+1 < len(p) {
				b.WriteString(regexp.QuoteMeta(p[i+1 : i+2]))
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return "^(?:" + b.String() + ")$"
}

// rewriteCaseLists turns a simple CASE whose WHEN lists several values into a searched
// CASE: CASE v WHEN a, b THEN r … is CASE WHEN (v) IN (a, b) THEN r ….
func rewriteCaseLists(s string) string {
	upper := strings.ToUpper(s)
	return rewriteSQL(s, func(i int) (string, int, bool) {
		if !strings.HasPrefix(upper[i:], "CASE") || i+4 < len(s) && isWordByte(s[i+4]) {
			return "", 0, false
		}
		end := caseEnd(upper, i)
		if end < 0 {
			return "", 0, false
		}
		body := s[i+4 : end]
		whenAt := topLevel(body, "WHEN ", false)
		if whenAt < 0 {
			return "", 0, false
		}
		value := strings.TrimSpace(body[:whenAt])
		if value == "" || !strings.Contains(body, ",") {
			return "", 0, false // a searched CASE, or no list
		}
		var b strings.Builder
		b.WriteString("CASE")
		lists := false
		for _, arm := range splitArms(body[whenAt:]) {
			if arm.when == "" {
				b.WriteString(" " + arm.rest)
				continue
			}
			if topLevel(arm.when, ",", false) >= 0 {
				lists = true
			}
			b.WriteString(" WHEN (" + rewriteCaseLists(value) + ") IN (" + rewriteCaseLists(arm.when) + ") THEN " + rewriteCaseLists(arm.rest))
		}
		if !lists {
			return "", 0, false
		}
		b.WriteString(" END")
		return b.String(), end + 3, true
	})
}

type caseArm struct{ when, rest string }

// splitArms splits "WHEN a THEN r WHEN … ELSE e" at its top-level WHEN / THEN / ELSE.
func splitArms(s string) []caseArm {
	var arms []caseArm
	for {
		s = strings.TrimSpace(s)
		up := strings.ToUpper(s)
		switch {
		case strings.HasPrefix(up, "WHEN "):
			s = s[5:]
			then := topLevelKeyword(s, "THEN")
			if then < 0 {
				return arms
			}
			arm := caseArm{when: strings.TrimSpace(s[:then])}
			s = s[then+4:]
			next := topLevelKeyword(s, "WHEN")
			if e := topLevelKeyword(s, "ELSE"); e >= 0 && (next < 0 || e < next) {
				next = e
			}
			if next < 0 {
				arm.rest = strings.TrimSpace(s)
				return append(arms, arm)
			}
			arm.rest = strings.TrimSpace(s[:next])
			arms = append(arms, arm)
			s = s[next:]
		case strings.HasPrefix(up, "ELSE"):
			return append(arms, caseArm{rest: s})
		default:
			return arms
		}
	}
}

// topLevelKeyword is the first index of keyword as a word in s outside parentheses,
// quotes and nested CASE … END.
func topLevelKeyword(s, keyword string) int {
	upper, depth := strings.ToUpper(s), 0
	for j := 0; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\'' || c == '"' || c == '`':
			j = skipQuoted(s, j) - 1
		case c == '(':
			depth++
		case c == ')':
			depth--
		case (j == 0 || !isWordByte(s[j-1])) && wordAt(upper, j, "CASE"):
			if end := caseEnd(upper, j); end > 0 {
				j = end + 2
			}
		case depth == 0 && (j == 0 || !isWordByte(s[j-1])) && wordAt(upper, j, keyword):
			return j
		}
	}
	return -1
}

func wordAt(upper string, j int, w string) bool {
	return strings.HasPrefix(upper[j:], w) && (j+len(w) == len(upper) || !isWordByte(upper[j+len(w)]))
}

// caseEnd is the index of the END that closes the CASE at i (-1 if none).
func caseEnd(upper string, i int) int {
	depth := 0
	for j := i; j < len(upper); j++ {
		switch c := upper[j]; {
		case c == '\'' || c == '"' || c == '`':
			j = skipQuoted(upper, j) - 1
		case (j == 0 || !isWordByte(upper[j-1])) && wordAt(upper, j, "CASE"):
			depth++
		case (j == 0 || !isWordByte(upper[j-1])) && wordAt(upper, j, "END"):
			if depth--; depth == 0 {
				return j
			}
		}
	}
	return -1
}

func init() {
	functions["__weir_overlay"] = function{3, 4, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			s, r := []rune(toText(v[0])), []rune(toText(v[1]))
			from, err := toInt(v[2])
			if err != nil {
				return v[2], err
			}
			n := int64(len(r))
			if len(v) == 4 {
				if n, err = toInt(v[3]); err != nil {
					return v[3], err
				}
			}
			start := min(max(from-1, 0), int64(len(s)))
			stop := min(max(start+n, start), int64(len(s)))
			return event.String(string(s[:start]) + string(r) + string(s[stop:])), nil
		}), nil
	}}
	functions["__weir_array"] = function{0, -1, func(a []node) (node, error) {
		elem := stringType
		if len(a) > 0 {
			elem = a[0].typ
		}
		return node{typ: types.Type{Kind: types.Array, Elem: &elem}, eval: func(in *Input) (event.Value, error) {
			parts := make([]string, len(a))
			for i, x := range a {
				v, err := x.eval(in)
				if err != nil {
					return v, err
				}
				parts[i] = "null"
				if !v.IsNull() {
					parts[i] = jsonOf(v)
				}
			}
			return event.JSON("[" + strings.Join(parts, ",") + "]"), nil
		}}, nil
	}}
	functions["__weir_map"] = function{0, -1, func(a []node) (node, error) {
		if len(a)%2 != 0 {
			return node{}, fmt.Errorf("MAP[…] takes keys and values in pairs, not %d items", len(a))
		}
		return node{typ: jsonType, eval: func(in *Input) (event.Value, error) {
			var b strings.Builder
			b.WriteByte('{')
			for i := 0; i < len(a); i += 2 {
				k, err := a[i].eval(in)
				if err != nil {
					return k, err
				}
				v, err := a[i+1].eval(in)
				if err != nil {
					return v, err
				}
				key, _ := json.Marshal(toText(k))
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(key)
				b.WriteByte(':')
				if v.IsNull() {
					b.WriteString("null")
				} else {
					b.WriteString(jsonOf(v))
				}
			}
			b.WriteByte('}')
			return event.JSON(b.String()), nil
		}}, nil
	}}
	functions["__weir_at"] = function{2, 2, func(a []node) (node, error) {
		typ := jsonType
		if a[0].typ.Kind == types.Array && a[0].typ.Elem != nil {
			typ = *a[0].typ.Elem
		}
		return strict(typ, a, func(v []event.Value) (event.Value, error) {
			doc := v[0].Str()
			if strings.HasPrefix(strings.TrimSpace(doc), "{") { // a map: its value at the key
				var m map[string]json.RawMessage
				if err := json.Unmarshal([]byte(doc), &m); err != nil {
					return v[0], fmt.Errorf("not a map: %.40q", doc)
				}
				raw, ok := m[toText(v[1])]
				if !ok {
					return event.Null(), nil
				}
				return fromJSON(raw, typ), nil
			}
			arr, err := elements(v[0])
			if err != nil {
				return v[0], err
			}
			i, err := toInt(v[1])
			if err != nil {
				return v[1], err
			}
			if i < 1 || i > int64(len(arr)) {
				return event.Null(), nil
			}
			return fromJSON(arr[i-1], typ), nil
		}), nil
	}}
}
