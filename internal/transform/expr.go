// Package transform compiles the SQL expressions of a pipeline's transform rules
// (projections and filters, MySQL-flavoured syntax, parsed by the TiDB parser) into Go
// closures, once per table schema: a row is never evaluated from text.
//
// Values follow SQL: NULL propagates through operators and functions (except those made
// for NULL: IS NULL, COALESCE, IFNULL, <=>, CONCAT_WS …), comparisons and logic are
// three-valued (a filter keeps a row only when it is TRUE), and numbers widen
// integer → decimal → double. Every error names the expression and, at run time, the
// row's key.
package transform

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/test_driver" // literal values of the parser

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func newCompiler(s *event.Schema, loc *time.Location) *compiler {
	if loc == nil {
		loc = time.UTC
	}
	return &compiler{schema: s, loc: loc}
}

// Input is what an expression reads: one row under its schema, and the change it
// belongs to (for the metadata columns).
type Input struct {
	Schema       *event.Schema
	Row          event.Row
	Op           event.Op
	CommitMicros int64
	Pos          event.Pos
	// arena, when set, is where functions build the text they return (nil: each
	// allocates its own).
	arena *textArena
}

// textArena hands out strings built in one allocation per 64 KiB, rather than one per
// value. Bytes are only ever appended, never changed, so the strings stay valid; a slab
// lives as long as the last value that uses it. What is used of the slab is an offset, not
// a slice: building a value then writes no pointer, so the collector's write barrier
// stays out of it.
type textArena struct {
	slab []byte
	used int
}

const arenaSlab = 64 << 10

// build returns the text that f appends to its argument, as a string.
func (a *textArena) build(f func(dst []byte) []byte) string {
	return a.end(f(a.start()))
}

// start returns the empty slice to append the next text to: the slab's free part (a new
// slab when less than 512 bytes are left); nil for a nil arena. Nothing may be built in
// the arena before end.
func (a *textArena) start() []byte {
	if a == nil {
		return nil
	}
	if len(a.slab)-a.used < 512 {
		a.slab, a.used = make([]byte, arenaSlab), 0
	}
	return a.slab[a.used:a.used:len(a.slab)]
}

// end returns b, appended to what start returned, as a string, which keeps its bytes of
// the slab (a b that outgrew the slab is its own allocation). A text given up is not
// ended: its bytes are written over.
func (a *textArena) end(b []byte) string {
	if a != nil && a.used < len(a.slab) && unsafe.SliceData(b) == &a.slab[a.used] {
		a.used += len(b)
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Expr is a compiled expression.
type Expr struct {
	Text string     // as written
	Type types.Type // of its values
	eval evalFunc
	refs []int // the columns of its table it reads
	leaf leaf  // how the stage computes it inline, if it does
}

type evalFunc func(in *Input) (event.Value, error)

// Eval computes the expression for one input. An error names the expression and the
// row's key.
func (e *Expr) Eval(in *Input) (event.Value, error) {
	v, err := e.eval(in)
	if err != nil {
		return v, e.failed(in, err)
	}
	return v, nil
}

// failed is the error Eval returns where e's evaluation on in fails with err (the stage
// calls eval itself, a call fewer per value).
func (e *Expr) failed(in *Input, err error) error {
	return &EvalError{Expr: e.Text, Key: keyText(in), Err: err}
}

// EvalError is an expression that failed on a row.
type EvalError struct {
	Expr string
	Key  string
	Err  error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("expression %q on the row with key %s: %v", e.Expr, e.Key, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

func keyText(in *Input) string {
	if in.Schema == nil || len(in.Schema.Key) == 0 {
		return "(none)"
	}
	parts := make([]string, len(in.Schema.Key))
	for i, k := range in.Schema.Key {
		parts[i] = in.Schema.Columns[k].Name + "=" + in.Row[k].String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Column is one column of a projection: its name and the expression that computes it.
type Column struct {
	Name string
	Expr *Expr
	// Source is the index of the source column it copies as it is, -1 for a computed
	// one (the projection then copies the value without evaluating Expr).
	Source int
}

// CompileError is an expression that does not compile against a table.
type CompileError struct {
	Table event.TableID
	Expr  string
	Err   error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("table %s: %q: %v", e.Table, e.Expr, e.Err)
}

func (e *CompileError) Unwrap() error { return e.Err }

// CompileFilter compiles a WHERE condition against schema s. The filter keeps a row only
// when the condition is TRUE (not FALSE, not NULL).
// Temporal functions read wall clocks in loc (nil: UTC).
func CompileFilter(text string, s *event.Schema, loc *time.Location) (*Expr, error) {
	return compileFilter(text, s, loc, nil)
}

func compileFilter(text string, s *event.Schema, loc *time.Location, fns Functions) (*Expr, error) {
	sel, err := parseSelect("SELECT 1 FROM t WHERE " + text)
	if err != nil {
		return nil, &CompileError{Table: s.ID, Expr: text, Err: err}
	}
	c := newCompiler(s, loc)
	c.udfs = fns
	n, err := c.compile(sel.Where)
	if err != nil {
		return nil, &CompileError{Table: s.ID, Expr: text, Err: err}
	}
	e := &Expr{Text: text, Type: types.Type{Kind: types.Boolean}, eval: n.eval, refs: c.refs}
	if t := n.test; t != nil {
		e.leaf = leaf{kind: leafTest, term: t.term, op: t.op, k: t.k}
	}
	return e, nil
}

// CompileProjection compiles a SELECT list against schema s: `*` stands for every
// column of s in order; each other item is an expression with an optional alias (a bare
// column keeps its name; any other expression needs an alias).
// Temporal functions read wall clocks in loc (nil: UTC).
func CompileProjection(text string, s *event.Schema, loc *time.Location) ([]Column, error) {
	return compileProjection(text, s, loc, nil)
}

func compileProjection(text string, s *event.Schema, loc *time.Location, fns Functions) ([]Column, error) {
	sel, err := parseSelect("SELECT " + FlinkStar(text) + " FROM t")
	if err != nil {
		return nil, &CompileError{Table: s.ID, Expr: text, Err: err}
	}
	c := newCompiler(s, loc)
	c.udfs = fns
	var out []Column
	seen := map[string]bool{}
	add := func(col Column) error {
		if seen[strings.ToLower(col.Name)] {
			return fmt.Errorf("column %s is projected twice", col.Name)
		}
		seen[strings.ToLower(col.Name)] = true
		out = append(out, col)
		return nil
	}
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			for i := range s.Columns {
				n := c.column(i)
				if err := add(Column{Name: s.Columns[i].Name, Expr: &Expr{Text: s.Columns[i].Name, Type: n.typ, eval: n.eval}, Source: i}); err != nil {
					return nil, &CompileError{Table: s.ID, Expr: text, Err: err}
				}
			}
			continue
		}
		item := itemText(f)
		c.refs = nil
		n, err := c.compile(f.Expr)
		if err != nil {
			return nil, &CompileError{Table: s.ID, Expr: item, Err: err}
		}
		name := f.AsName.O
		if name == "" {
			col, ok := f.Expr.(*ast.ColumnNameExpr)
			if !ok {
				return nil, &CompileError{Table: s.ID, Expr: item, Err: errors.New("a computed column needs a name: add AS name")}
			}
			name = col.Name.Name.O
			if i := s.ColumnIndex(name); i < 0 { // a metadata column keeps its own name
				name = strings.Trim(name, "_")
			} else {
				name = s.Columns[i].Name
			}
		}
		src := -1
		if col, ok := f.Expr.(*ast.ColumnNameExpr); ok && col.Name.Table.O == "" {
			src = columnIndexFold(s, col.Name.Name.O)
		}
		e := &Expr{Text: item, Type: n.typ, eval: n.eval, refs: c.refs}
		if n.leaf != nil {
			e.leaf = *n.leaf
		}
		if err := add(Column{Name: name, Expr: e, Source: src}); err != nil {
			return nil, &CompileError{Table: s.ID, Expr: item, Err: err}
		}
	}
	return out, nil
}

// itemText is a projection item as written, without its alias.
func itemText(f *ast.SelectField) string {
	text := strings.TrimSpace(f.Text())
	if text == "" {
		return restore(f.Expr)
	}
	if f.AsName.O != "" {
		re := regexp.MustCompile("(?i)\\s+(as\\s+)?[`\"']?" + regexp.QuoteMeta(f.AsName.O) + "[`\"']?$")
		text = re.ReplaceAllString(text, "")
	}
	return text
}

func parseSelect(sql string) (*ast.SelectStmt, error) {
	p := parser.New()
	p.SetSQLMode(mysql.ModePipesAsConcat) // a || b concatenates, as in Flink SQL and the SQL standard
	stmt, err := p.ParseOneStmt(rewriteFlinkCalls(rewriteReserved(rewriteCasts(rewriteDistinct(rewriteTryCast(rewriteFlinkSyntax(sql)))))), "", "")
	if err != nil {
		return nil, fmt.Errorf("syntax: %s", trimParserError(err))
	}
	sel, ok := stmt.(*ast.SelectStmt)
	if !ok || sel.Fields == nil {
		return nil, errors.New("not an expression")
	}
	return sel, nil
}

// booleanMarker is the function CAST(x AS BOOLEAN) becomes (MySQL's CAST has no BOOLEAN).
const booleanMarker = "__weir_boolean"

// castTypes are the type names of Flink SQL and the SQL standard that MySQL's CAST does
// not take, and what they become (BOOLEAN: booleanMarker).
var castTypes = map[string]string{
	"TINYINT": "SIGNED", "SMALLINT": "SIGNED", "INT": "SIGNED", "INTEGER": "SIGNED", "BIGINT": "SIGNED",
	"VARCHAR": "CHAR", "STRING": "CHAR", "TEXT": "CHAR", "TIMESTAMP": "DATETIME", "BYTES": "BINARY",
	"VARBINARY": "BINARY", "BOOLEAN": "", "BOOL": "",
}

// rewriteCasts rewrites CAST(x AS T) outside quotes where T is a type name of Flink SQL
// (castTypes) into the MySQL form: CAST(x AS INT) is CAST(x AS SIGNED), VARCHAR(n) is
// CHAR(n), TIMESTAMP(p) is DATETIME(p), CAST(x AS BOOLEAN) is x's truth.
func rewriteCasts(s string) string {
	upper := strings.ToUpper(s)
	if !strings.Contains(upper, "CAST") {
		return s
	}
	return rewriteSQL(s, func(i int) (string, int, bool) {
		open, ok := callAt(upper, i, "CAST")
		if !ok {
			return "", 0, false
		}
		end := closing(s, open)
		as := topLevel(upper[open+1:min(end, len(s))], " AS ", true)
		if end >= len(s) || as < 0 {
			return "", 0, false
		}
		as += open + 1
		x := rewriteCasts(s[open+1 : as]) // a CAST inside the value
		name, args, _ := strings.Cut(strings.TrimSpace(s[as+4:end]), "(")
		name = strings.ToUpper(strings.TrimSpace(name))
		to, known := castTypes[name]
		switch {
		case name == "TIMESTAMP_LTZ": // Flink's instant type: the wall clock read in local-time-zone
			if args != "" {
				return ltzMarker + "(" + x + ", " + strings.TrimSuffix(strings.TrimSpace(args), ")") + ")", end + 1, true
			}
			return ltzMarker + "(" + x + ")", end + 1, true
		case !known:
			return s[i:open+1] + x + s[as:end+1], end + 1, true
		case to == "":
			return booleanMarker + "(" + x + ")", end + 1, true
		case args != "":
			return s[i:open+1] + x + " AS " + to + "(" + args + ")", end + 1, true
		}
		return s[i:open+1] + x + " AS " + to + ")", end + 1, true
	})
}

// rewriteSQL copies s, quoted text as it is; at each other position where a word starts,
// at may give the text that replaces s up to next.
func rewriteSQL(s string, at func(i int) (repl string, next int, ok bool)) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if c := s[i]; c == '\'' || c == '"' || c == '`' {
			j := skipQuoted(s, i)
			b.WriteString(s[i:j])
			i = j
			continue
		}
		if i == 0 || !isWordByte(s[i-1]) {
			if repl, next, ok := at(i); ok {
				b.WriteString(repl)
				i = next
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// callAt reports whether the function name (upper case) is called at i of upper (s in
// upper case), and where its opening parenthesis is.
func callAt(upper string, i int, name string) (open int, ok bool) {
	if !strings.HasPrefix(upper[i:], name) || i+len(name) < len(upper) && isWordByte(upper[i+len(name)]) {
		return 0, false
	}
	rest := strings.TrimLeft(upper[i+len(name):], " \t\n")
	return len(upper) - len(rest), strings.HasPrefix(rest, "(")
}

// closing is the index of the parenthesis or bracket that closes the one at open
// (len(s) if none), outside quotes.
func closing(s string, open int) int {
	oc, cc := byte('('), byte(')')
	if s[open] == '[' {
		oc, cc = '[', ']'
	}
	depth := 0
	for j := open; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\'' || c == '"' || c == '`':
			j = skipQuoted(s, j) - 1
		case c == oc:
			depth++
		case c == cc:
			if depth--; depth == 0 {
				return j
			}
		}
	}
	return len(s)
}

// topLevel is the index of the first sep in s — or, with last, of the last — in any
// case, outside parentheses, brackets and quotes; -1 if none.
func topLevel(s, sep string, last bool) int {
	upper, sep := strings.ToUpper(s), strings.ToUpper(sep)
	at, depth := -1, 0
	for j := 0; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\'' || c == '"' || c == '`':
			j = skipQuoted(s, j) - 1
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case depth == 0 && strings.HasPrefix(upper[j:], sep):
			if !last {
				return j
			}
			at = j
		}
	}
	return at
}

// rewriteDistinct rewrites the SQL standard's a IS [NOT] DISTINCT FROM b, which MySQL's
// grammar lacks, outside quotes: IS NOT DISTINCT FROM is <=>, and a IS DISTINCT FROM b
// is a <=> b IS FALSE (<=> and IS are one precedence level, left-associative; <=> is
// never NULL). The end of b is where a comma, a closing parenthesis, a comparison or a
// keyword of lower precedence than + stands at b's depth.
func rewriteDistinct(s string) string {
	upper := strings.ToUpper(s)
	if !strings.Contains(upper, "DISTINCT") {
		return s
	}
	return rewriteSQL(s, func(i int) (string, int, bool) {
		if !strings.HasPrefix(upper[i:], "IS ") {
			return "", 0, false
		}
		words := strings.Fields(upper[i:min(len(s), i+40)])
		from := strings.Index(upper[i:], "FROM") + i + 4
		switch {
		case len(words) >= 4 && words[1] == "NOT" && words[2] == "DISTINCT" && words[3] == "FROM":
			return "<=>", from, true
		case len(words) >= 3 && words[1] == "DISTINCT" && words[2] == "FROM":
			end := operandEnd(s, upper, from)
			return "<=>" + s[from:end] + " IS FALSE ", end, true
		}
		return "", 0, false
	})
}

// skipQuoted returns the index after the quoted text that starts at i.
func skipQuoted(s string, i int) int {
	q := s[i]
	j := i + 1
	for j < len(s) && s[j] != q {
		if s[j] == '\\' {
			j++
		}
		j++
	}
	return min(j+1, len(s))
}

// operandEnd is where the operand that starts at i ends (see rewriteDistinct).
func operandEnd(s, upper string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\'' || c == '"' || c == '`':
			j = skipQuoted(s, j) - 1
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return j
			}
			depth--
		case depth > 0:
		case c == ',' || c == '=' || c == '<' || c == '>' || c == '!':
			return j
		case (j == 0 || !isWordByte(s[j-1])) && isWordByte(c):
			for _, kw := range []string{"AND", "OR", "XOR", "THEN", "ELSE", "WHEN", "END", "AS", "IS", "LIKE", "IN", "BETWEEN", "NOT", "REGEXP", "FROM"} {
				if strings.HasPrefix(upper[j:], kw) && (j+len(kw) == len(s) || !isWordByte(s[j+len(kw)])) && j > i {
					return j
				}
			}
		}
	}
	return len(s)
}

// tryMarker is the function TRY_CAST(x AS t) becomes, around CAST(x AS t), before parsing
// (MySQL's grammar has no TRY_CAST): it turns an error of its argument into NULL.
const tryMarker = "__weir_try"

// rewriteTryCast rewrites each TRY_CAST(…) outside quotes as __weir_try(CAST(…)).
func rewriteTryCast(s string) string {
	upper := strings.ToUpper(s)
	if !strings.Contains(upper, "TRY_CAST") {
		return s
	}
	return rewriteSQL(s, func(i int) (string, int, bool) {
		open, ok := callAt(upper, i, "TRY_CAST")
		if !ok {
			return "", 0, false
		}
		end := closing(s, open)
		return tryMarker + "(CAST(" + rewriteTryCast(s[open+1:min(end, len(s))]) + "))", min(end+1, len(s)), true
	})
}

// ltzMarker is the function CAST(x AS TIMESTAMP_LTZ[(p)]) becomes (functions_flink.go).
const ltzMarker = "__weir_ltz"

// rewriteFlinkCalls rewrites calls Flink SQL writes otherwise than MySQL, outside quotes:
// TIMESTAMPDIFF('DAY', a, b) and TIMESTAMPADD('DAY', n, x) take their unit bare, and
// DATE_ADD(x, n) / DATE_SUB(x, n) without INTERVAL are ADDDATE(x, n) / SUBDATE(x, n).
func rewriteFlinkCalls(s string) string {
	upper := strings.ToUpper(s)
	if !strings.Contains(upper, "TIMESTAMP") && !strings.Contains(upper, "DATE_") {
		return s
	}
	return rewriteSQL(s, func(i int) (string, int, bool) {
		for _, name := range []string{"TIMESTAMPDIFF", "TIMESTAMPADD"} {
			open, ok := callAt(upper, i, name)
			if !ok {
				continue
			}
			rest := strings.TrimLeft(s[open+1:], " \t\n")
			if !strings.HasPrefix(rest, "'") {
				return "", 0, false
			}
			q := skipQuoted(rest, 0)
			unit := strings.Trim(rest[:q], "'")
			if !isWord(unit) {
				return "", 0, false
			}
			return s[i:open+1] + unit, len(s) - len(rest) + q, true
		}
		for name, plain := range map[string]string{"DATE_ADD": "ADDDATE", "DATE_SUB": "SUBDATE"} {
			open, ok := callAt(upper, i, name)
			if !ok {
				continue
			}
			end := closing(s, open)
			comma := topLevel(s[open+1:min(end, len(s))], ",", true)
			if comma < 0 || strings.HasPrefix(strings.ToUpper(strings.TrimSpace(s[open+1+comma+1:min(end, len(s))])), "INTERVAL") {
				return "", 0, false
			}
			return plain, i + len(name), true
		}
		return "", 0, false
	})
}

// isWord reports whether s is a plain word: letters, digits and _.
func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return s != ""
}

// reservedCalls are functions of Flink SQL whose names MySQL's grammar reserves; a call
// is renamed to the name they are registered under (functions_flink.go).
var reservedCalls = []string{"CARDINALITY"}

// rewriteReserved renames calls of reservedCalls outside quotes: CARDINALITY(x) is
// __weir_cardinality(x).
func rewriteReserved(s string) string {
	upper := strings.ToUpper(s)
	for _, name := range reservedCalls {
		if !strings.Contains(upper, name) {
			continue
		}
		s = rewriteSQL(s, func(i int) (string, int, bool) {
			if _, ok := callAt(upper, i, name); !ok {
				return "", 0, false
			}
			return "__weir_" + strings.ToLower(name), i + len(name), true
		})
		upper = strings.ToUpper(s)
	}
	return s
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// trimParserError shortens the TiDB parser's message to where it stopped.
func trimParserError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "near "); i >= 0 {
		near := strings.TrimSuffix(strings.TrimSpace(msg[i+len("near "):]), `"`)
		near = strings.TrimPrefix(near, `"`)
		// The expression is parsed inside SELECT … FROM t (WHERE …): never show that frame.
		near = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(near), "FROM t"))
		if near == "" {
			return "the expression ends too early"
		}
		return "unexpected text " + strconv.Quote(near)
	}
	return msg
}

// FlinkStar turns Flink CDC's escaped star into SQL's: YAML cannot begin a plain value
// with *, so Flink's documents write projection: \*, UPPER(name) AS uname. Quoted text
// is left as it is.
func FlinkStar(s string) string {
	if !strings.Contains(s, `\*`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\'' || c == '"' || c == '`':
			j := skipQuoted(s, i)
			b.WriteString(s[i:j])
			i = j
		case c == '\\' && i+1 < len(s) && s[i+1] == '*':
			b.WriteByte('*')
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// Lint checks a transform's projection and filter without a schema (weir validate
// --offline): their syntax, each computed column's name, and the functions they call —
// known, with a number of arguments they take. Columns are checked when the pipeline
// compiles them against the tables.
//
// notes are what a Flink CDC user should know of the expressions: a LIKE whose pattern
// reads as a regular expression (Flink CDC's own tests take a two-argument LIKE as one;
// weir's LIKE is SQL's, % and _).
func Lint(projection, filter string, fns Functions) (projErr, filterErr error, notes []string) {
	if strings.TrimSpace(projection) != "" {
		sel, err := parseSelect("SELECT " + FlinkStar(projection) + " FROM t")
		if err == nil {
			for _, f := range sel.Fields.Fields {
				if f.WildCard == nil && f.AsName.O == "" {
					if _, ok := f.Expr.(*ast.ColumnNameExpr); !ok {
						err = fmt.Errorf("%s: a computed column needs a name: add AS name", itemText(f))
						break
					}
				}
			}
		}
		if err == nil {
			err = lintCalls(sel, &notes, fns)
		}
		projErr = err
	}
	if strings.TrimSpace(filter) != "" {
		sel, err := parseSelect("SELECT 1 FROM t WHERE " + filter)
		if err == nil {
			err = lintCalls(sel.Where, &notes, fns)
		}
		filterErr = err
	}
	return projErr, filterErr, notes
}

// lintCalls checks the function calls under n: known, with an accepted argument count.
func lintCalls(n ast.Node, notes *[]string, fns Functions) error {
	v := &callChecker{notes: notes, fns: fns}
	n.Accept(v)
	return v.err
}

type callChecker struct {
	err   error
	notes *[]string
	fns   Functions
}

// regexLooking is a LIKE pattern that reads as a regular expression.
var regexLooking = regexp.MustCompile(`\.\*|\.\+|^\^|\$$|\\d|\[[^\]]*\]|\(\?`)

func (v *callChecker) Enter(n ast.Node) (ast.Node, bool) {
	if like, ok := n.(*ast.PatternLikeOrIlikeExpr); ok {
		if lit, ok := like.Pattern.(*test_driver.ValueExpr); ok {
			if p := lit.GetString(); regexLooking.MatchString(p) {
				*v.notes = append(*v.notes, fmt.Sprintf("LIKE %q is SQL's LIKE here (%% is any text, _ one character); "+
					"Flink CDC reads a two-argument LIKE as a regular expression: if that is meant, write REGEXP_LIKE(x, %q)", p, p))
			}
		}
		return n, false
	}
	call, ok := n.(*ast.FuncCallExpr)
	if !ok || v.err != nil {
		return n, v.err != nil
	}
	name := call.FnName.L
	f, known := functions[name]
	_, zoned := compilerFunctions[name]
	if u := v.fns[name]; u != nil {
		if len(call.Args) != len(u.Params) {
			v.err = fmt.Errorf("%s takes %d arguments, not %d", strings.ToUpper(name), len(u.Params), len(call.Args))
		}
		return n, false
	}
	switch {
	case !known && !zoned:
		v.err = fmt.Errorf("function %s is not known", strings.ToUpper(name))
	case known && (len(call.Args) < f.min || (f.max >= 0 && len(call.Args) > f.max)):
		v.err = fmt.Errorf("%s takes %s arguments, not %d", strings.ToUpper(name), arity(f), len(call.Args))
	}
	return n, false
}

func (v *callChecker) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// arity says how many arguments f takes.
func arity(f function) string {
	switch {
	case f.min == f.max:
		return fmt.Sprint(f.min)
	case f.max < 0:
		return fmt.Sprintf("at least %d", f.min)
	}
	return fmt.Sprintf("%d to %d", f.min, f.max)
}
