package transform

import (
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// node is a compiled expression: its static type and its closure.
type node struct {
	typ  types.Type
	eval evalFunc
	// konst is set for a constant (a literal, or an expression of literals): its value.
	konst *event.Value
	// isColumn is set for a column of the row read as it is: column is its index.
	isColumn bool
	column   int
	// term is set for an integer column, alone or with a constant (intTerm); test for
	// the comparison of one with a constant (termTest).
	term *intTerm
	test *termTest
	// leaf is set where the stage computes the node as a projected column inline.
	leaf *leaf
}

// leaf is a projected column or a filter the stage computes without a call (project,
// match), for the simplest and most common: an intTerm (k * 2), IF on a termTest with
// constant branches (IF(k % 2 = 0, 'even', 'odd')), CHAR_LENGTH, LEFT with a constant,
// UPPER and LOWER of a column (or of its LEFT), a termTest as a filter (k % 10 <> 0).
// Where it cannot (a NULL, a value not held as expected, an overflow, text to change
// case), the closure decides.
type leaf struct {
	kind      leafKind
	term      intTerm // leafTerm, leafTest, and leafIf's test
	op        opcode.Op
	k         int64   // the constant compared with; leafLeft, leafCase: the characters kept (-1: all)
	then, els operand // leafIf
	col       int     // leafCharLength, leafLeft, leafCase
	lo, hi    byte    // leafCase: the letters it changes
}

type leafKind uint8

const (
	leafNone leafKind = iota
	leafTerm
	leafTest
	leafIf
	leafCharLength
	leafLeft
	leafCase
)

// termTest is an intTerm compared with a constant (k % 2 = 0), which IF and a filter
// compute inline.
type termTest struct {
	term intTerm
	op   opcode.Op
	k    int64
}

// intTerm is an integer column, alone or with a constant on its right (k, k % 10, k * 2,
// k + 1, k - 1), computed inline by the closures above it (k % 10 <> 0): the column's
// value a, when it lies within lo…hi (where the operation cannot overflow), is
// a * mul + add, or a % d where magic is set.
//
// A remainder is only computed here for a below 2³¹ and not negative (most keys and
// counts), by a multiplication instead of a division, as a compiler does for a constant
// divisor: a / d is a * magic >> shift.
type intTerm struct {
	col          int
	lo           int64
	span         uint64 // hi - lo
	mul, add     int64
	magic, shift uint64
	d            int64
}

// columnTerm is the term of column col alone.
func columnTerm(col int) *intTerm {
	return &intTerm{col: col, lo: math.MinInt64, span: math.MaxUint64, mul: 1}
}

// with returns the term of t (a column alone) op k; nil for an operation it does not
// compute (a division, a divisor of 0 or beyond 2³¹, a subtraction of the smallest
// integer).
func (t *intTerm) with(op opcode.Op, k int64) *intTerm {
	n := columnTerm(t.col)
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	switch op {
	case opcode.Mod:
		d := max(k, -k) // a % k is a % |k| for a not negative
		if d <= 0 || d >= 1<<31 {
			return nil
		}
		// magic is ceil(2^(31+s) / d) with 2^s ≥ d: exact for every a below 2^31, and
		// a * magic fits 63 bits (Granlund and Montgomery, "Division by invariant
		// integers using multiplication", 1994, theorem 4.2)
		s := uint64(bits.Len64(uint64(d - 1)))
		n.d, n.shift = d, 31+s
		n.magic = (uint64(1)<<n.shift + uint64(d) - 1) / uint64(d)
		lo, hi = 0, 1<<31-1
	case opcode.Minus:
		if k == math.MinInt64 {
			return nil
		}
		return t.with(opcode.Plus, -k)
	case opcode.Plus:
		n.add = k
		if k >= 0 {
			hi = math.MaxInt64 - k
		} else {
			lo = math.MinInt64 - k
		}
	case opcode.Mul:
		n.mul = k
		if k != 0 {
			abs := k
			if k < 0 {
				abs = -k // math.MinInt64 stays negative: lim is then 0
			}
			lim := max(math.MaxInt64/abs, 0)
			lo, hi = -lim, lim
		}
	default:
		return nil
	}
	n.lo, n.span = lo, uint64(hi-lo)
	return n
}

// of is the term's value for in; ok is false where the node's own closure decides (a
// NULL, a value not held as an integer, one outside lo…hi).
func (t *intTerm) of(in *Input) (n int64, ok bool) {
	v := in.Row[t.col]
	a := v.Int()
	if v.Rep() != event.RepInt || uint64(a-t.lo) > t.span {
		return 0, false
	}
	if t.magic != 0 {
		return a - int64(uint64(a)*t.magic>>t.shift)*t.d, true
	}
	return a*t.mul + t.add, true
}

// operand is a node as the node above it reads it: a column of the row or a constant
// (most arguments are one or the other) is read in place, anything else is called. The
// hot callers write
//
//	v, ok := o.direct(in)
//	if !ok { v, err = o.eval(in) … }
//
// as direct inlines and get would not (a closure call is over the inliner's budget).
type operand struct {
	eval    evalFunc // nil: read in place
	konst   event.Value
	isConst bool
	col     int
}

// operand returns n as its parent reads it.
func (n node) operand() operand {
	switch {
	case n.konst != nil:
		return operand{konst: *n.konst, isConst: true}
	case n.isColumn:
		return operand{col: n.column}
	}
	return operand{eval: n.eval}
}

// direct is the operand's value when it is read in place; ok is false when it is to be
// computed by o.eval.
func (o *operand) direct(in *Input) (v event.Value, ok bool) {
	if o.eval != nil {
		return event.Value{}, false
	}
	if o.isConst {
		return o.konst, true
	}
	return in.Row[o.col], true
}

// get is the operand's value for in.
func (o *operand) get(in *Input) (event.Value, error) {
	if v, ok := o.direct(in); ok {
		return v, nil
	}
	return o.eval(in)
}

func operands(ns []node) []operand {
	out := make([]operand, len(ns))
	for i, n := range ns {
		out[i] = n.operand()
	}
	return out
}

var (
	boolType    = types.Type{Kind: types.Boolean}
	int64Type   = types.Type{Kind: types.Int64}
	float64Type = types.Type{Kind: types.Float64}
	decimalType = types.Type{Kind: types.Decimal}
	stringType  = types.Type{Kind: types.String}
)

type compiler struct {
	schema *event.Schema
	loc    *time.Location // the pipeline's local-time-zone
	refs   []int          // the columns the expression being compiled reads
	// udfs are the pipeline's user-defined functions; params the arguments of the one
	// whose body is being compiled, by parameter name; udfDepth how deep such calls nest.
	udfs     Functions
	params   map[string]node
	udfDepth int
}

// metadata are the columns every row has besides its own (Flink CDC's names): the
// transform's __…__ columns, and what sources give with metadata.list (op_ts, and the
// PostgreSQL connector's database_name, schema_name and table_name). A table's own column
// of the same name wins. __namespace_name__ is NULL where Flink's is: a MySQL table has
// no namespace.
var metadata = map[string]func(in *Input) event.Value{
	"__namespace_name__": func(in *Input) event.Value {
		if in.Schema.ID.Namespace == "" {
			return event.Null()
		}
		return event.String(in.Schema.ID.Namespace)
	},
	"__database_name__": func(in *Input) event.Value {
		if in.Schema.ID.Namespace != "" {
			return event.String(in.Schema.ID.Namespace)
		}
		return event.String(in.Schema.ID.Schema)
	},
	"__schema_name__":     func(in *Input) event.Value { return event.String(in.Schema.ID.Schema) },
	"__table_name__":      func(in *Input) event.Value { return event.String(in.Schema.ID.Table) },
	"__data_event_type__": func(in *Input) event.Value { return event.String(opName(in.Op)) },
	"__op_ts__":           func(in *Input) event.Value { return event.Int(in.CommitMicros / 1000) },
	"__position__":        func(in *Input) event.Value { return event.String(in.Pos.String()) },
	"op_ts":               func(in *Input) event.Value { return event.Int(in.CommitMicros / 1000) }, // 0 for a snapshot row, as Flink's
	"schema_name":         func(in *Input) event.Value { return event.String(in.Schema.ID.Schema) },
	"table_name":          func(in *Input) event.Value { return event.String(in.Schema.ID.Table) },
}

// metadataTypes are the metadata columns that are not strings.
var metadataTypes = map[string]types.Type{"__op_ts__": int64Type, "op_ts": int64Type}

func init() { metadata["database_name"] = metadata["__database_name__"] }

// opName is the change's kind as Flink CDC's __data_event_type__ says it.
func opName(op event.Op) string {
	switch op {
	case event.OpInsert, event.OpRead:
		return "+I"
	case event.OpUpdate:
		return "+U"
	case event.OpDelete:
		return "-D"
	}
	return ""
}

func (c *compiler) column(i int) node {
	if !slices.Contains(c.refs, i) {
		c.refs = append(c.refs, i)
	}
	n := node{typ: c.schema.Columns[i].Type, eval: func(in *Input) (event.Value, error) { return in.Row[i], nil }, isColumn: true, column: i}
	switch n.typ.Kind {
	case types.Int8, types.Int16, types.Int32, types.Int64:
		n.term = columnTerm(i)
	}
	return n
}

func (c *compiler) compile(e ast.ExprNode) (node, error) {
	switch e := e.(type) {
	case *ast.ParenthesesExpr:
		return c.compile(e.Expr)
	case *test_driver.ValueExpr:
		return literal(e)
	case *ast.ColumnNameExpr:
		name := e.Name.Name.O
		if n, ok := c.params[strings.ToLower(name)]; ok && e.Name.Table.O == "" {
			return n, nil
		}
		if i := columnIndexFold(c.schema, name); i >= 0 {
			return c.column(i), nil
		}
		if f := metadata[strings.ToLower(name)]; f != nil {
			typ, ok := metadataTypes[strings.ToLower(name)]
			if !ok {
				typ = stringType
			}
			return node{typ: typ, eval: func(in *Input) (event.Value, error) { return f(in), nil }}, nil
		}
		return node{}, fmt.Errorf("no column %s in the table (columns: %s)", name, strings.Join(columnNames(c.schema), ", "))
	case *ast.UnaryOperationExpr:
		return c.unary(e)
	case *ast.BinaryOperationExpr:
		return c.binary(e)
	case *ast.IsNullExpr:
		x, err := c.compile(e.Expr)
		if err != nil {
			return node{}, err
		}
		not, xo := e.Not, x.operand()
		return fold(node{typ: boolType, eval: func(in *Input) (event.Value, error) {
			v, err := xo.get(in)
			return event.Bool(v.IsNull() != not), err
		}}, x), nil
	case *ast.IsTruthExpr:
		x, err := c.compile(e.Expr)
		if err != nil {
			return node{}, err
		}
		want, not, xo := e.True != 0, e.Not, x.operand()
		return fold(node{typ: boolType, eval: func(in *Input) (event.Value, error) {
			v, err := xo.get(in)
			if err != nil {
				return v, err
			}
			b, null := truth(v)
			return event.Bool((!null && b == want) != not), nil
		}}, x), nil
	case *ast.BetweenExpr:
		return c.between(e)
	case *ast.PatternInExpr:
		return c.in(e)
	case *ast.PatternLikeOrIlikeExpr:
		return c.like(e)
	case *ast.PatternRegexpExpr:
		return c.regexpMatch(e.Expr, e.Pattern, e.Not)
	case *ast.CaseExpr:
		return c.caseExpr(e)
	case *ast.FuncCallExpr:
		return c.call(e)
	case *ast.RowExpr: // Flink's ROW(a, b): its fields, in order, as a JSON array
		args := make([]node, len(e.Values))
		for i, x := range e.Values {
			n, err := c.compile(x)
			if err != nil {
				return node{}, err
			}
			args[i] = n
		}
		n, err := functions["__weir_array"].build(args)
		n.typ = jsonType
		return n, err
	case *ast.FuncCastExpr:
		return c.cast(e)
	}
	return node{}, fmt.Errorf("%s is not supported in a transform", restore(e))
}

func columnIndexFold(s *event.Schema, name string) int {
	for i, c := range s.Columns {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

func columnNames(s *event.Schema) []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

// restore renders an expression back as SQL, for messages.
func restore(e ast.Node) string {
	var sb strings.Builder
	if err := e.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &sb)); err != nil {
		return fmt.Sprintf("%T", e)
	}
	return sb.String()
}

func literal(e *test_driver.ValueExpr) (node, error) {
	var v event.Value
	var typ types.Type
	switch e.Kind() {
	case test_driver.KindNull:
		v, typ = event.Null(), types.Type{Kind: types.Unknown}
	case test_driver.KindInt64:
		// INT where it fits, as Flink SQL types a literal (so 2 in a decimal's
		// arithmetic counts as DECIMAL(10,0), not BIGINT's 19 digits)
		v, typ = event.Int(e.GetInt64()), int64Type
		if n := e.GetInt64(); n >= math.MinInt32 && n <= math.MaxInt32 {
			typ = types.Type{Kind: types.Int32}
		}
	case test_driver.KindUint64:
		v, typ = event.Uint(e.GetUint64()), types.Type{Kind: types.Uint64}
	case test_driver.KindFloat32, test_driver.KindFloat64:
		v, typ = event.Float(e.GetFloat64()), float64Type
	case test_driver.KindString, test_driver.KindBytes:
		v, typ = event.String(e.GetString()), stringType
	case test_driver.KindMysqlDecimal:
		// DECIMAL(p,s) of its digits, as Flink SQL types 12.50: DECIMAL(4,2)
		text := e.GetMysqlDecimal().String()
		v, typ = event.Decimal(text), decimalType
		digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(text), "0")
		_, frac, _ := strings.Cut(text, ".")
		typ.Precision, typ.Scale = max(len(digits), len(frac), 1), len(frac)
	case test_driver.KindBinaryLiteral:
		v, typ = event.BytesString(string(e.GetBinaryLiteral())), types.Type{Kind: types.Bytes}
	default:
		return node{}, fmt.Errorf("the literal %s is not supported", e.GetDatumString())
	}
	return constant(v, typ), nil
}

func constant(v event.Value, typ types.Type) node {
	return node{typ: typ, konst: &v, eval: func(*Input) (event.Value, error) { return v, nil }}
}

// fold turns n into a constant when all its arguments are constants: it is evaluated
// once, at compile time (a failing one is left to fail per row, with the row's key).
func fold(n node, args ...node) node {
	for _, a := range args {
		if a.konst == nil {
			return n
		}
	}
	v, err := n.eval(&Input{Schema: &event.Schema{}})
	if err != nil {
		return n
	}
	return constant(v, n.typ)
}

// truth is a value's SQL truth: numbers are true when not zero, strings by their number.
func truth(v event.Value) (b, null bool) {
	switch v.Rep() {
	case event.RepNull:
		return false, true
	case event.RepBool:
		return v.Bool(), false
	case event.RepInt:
		return v.Int() != 0, false
	case event.RepUint:
		return v.Uint() != 0, false
	case event.RepFloat:
		return v.Float() != 0, false
	}
	d, err := toDecimal(v)
	return err == nil && !d.IsZero(), false
}

func (c *compiler) unary(e *ast.UnaryOperationExpr) (node, error) {
	x, err := c.compile(e.V)
	if err != nil {
		return node{}, err
	}
	switch e.Op {
	case opcode.Not, opcode.Not2:
		return fold(node{typ: boolType, eval: func(in *Input) (event.Value, error) {
			v, err := x.eval(in)
			if err != nil {
				return v, err
			}
			b, null := truth(v)
			if null {
				return event.Null(), nil
			}
			return event.Bool(!b), nil
		}}, x), nil
	case opcode.Minus:
		zero := constant(event.Int(0), int64Type)
		return arith(opcode.Minus, zero, x)
	case opcode.Plus:
		return x, nil
	}
	return node{}, fmt.Errorf("operator %s is not supported", e.Op)
}

func (c *compiler) binary(e *ast.BinaryOperationExpr) (node, error) {
	l, err := c.compile(e.L)
	if err != nil {
		return node{}, err
	}
	r, err := c.compile(e.R)
	if err != nil {
		return node{}, err
	}
	switch e.Op {
	case opcode.LogicAnd, opcode.LogicOr, opcode.LogicXor:
		return logic(e.Op, l, r), nil
	case opcode.EQ, opcode.NE, opcode.LT, opcode.LE, opcode.GT, opcode.GE, opcode.NullEQ:
		return comparison(e.Op, l, r)
	case opcode.Plus, opcode.Minus, opcode.Mul, opcode.Div, opcode.Mod, opcode.IntDiv:
		return arith(e.Op, l, r)
	}
	return node{}, fmt.Errorf("operator %s is not supported", e.Op)
}

// logic is AND, OR and XOR with SQL's three values.
func logic(op opcode.Op, l, r node) node {
	lo, ro := l.operand(), r.operand()
	return fold(node{typ: boolType, eval: func(in *Input) (event.Value, error) {
		lv, err := lo.get(in)
		if err != nil {
			return lv, err
		}
		lb, lnull := truth(lv)
		switch { // short cuts: FALSE AND …, TRUE OR …
		case op == opcode.LogicAnd && !lnull && !lb:
			return event.Bool(false), nil
		case op == opcode.LogicOr && !lnull && lb:
			return event.Bool(true), nil
		}
		rv, err := ro.get(in)
		if err != nil {
			return rv, err
		}
		rb, rnull := truth(rv)
		switch op {
		case opcode.LogicAnd:
			if !rnull && !rb {
				return event.Bool(false), nil
			}
			if lnull || rnull {
				return event.Null(), nil
			}
			return event.Bool(true), nil
		case opcode.LogicOr:
			if !rnull && rb {
				return event.Bool(true), nil
			}
			if lnull || rnull {
				return event.Null(), nil
			}
			return event.Bool(false), nil
		}
		if lnull || rnull {
			return event.Null(), nil
		}
		return event.Bool(lb != rb), nil
	}}, l, r)
}

func comparison(op opcode.Op, l, r node) (node, error) {
	cmp, err := comparer(l.typ, r.typ)
	if err != nil {
		return node{}, err
	}
	lo, ro := l.operand(), r.operand()
	return compareTerm(op, l, r, fold(node{typ: boolType, eval: func(in *Input) (event.Value, error) {
		var err error
		lv, ok := lo.direct(in)
		if !ok {
			if lv, err = lo.eval(in); err != nil {
				return lv, err
			}
		}
		rv, ok := ro.direct(in)
		if !ok {
			if rv, err = ro.eval(in); err != nil {
				return rv, err
			}
		}
		if lv.Rep() == event.RepInt && rv.Rep() == event.RepInt { // the most common, without cmp's call
			return event.Bool(intHolds(op, lv.Int(), rv.Int())), nil
		}
		if op == opcode.NullEQ {
			if lv.IsNull() || rv.IsNull() {
				return event.Bool(lv.IsNull() && rv.IsNull()), nil
			}
		} else if lv.IsNull() || rv.IsNull() {
			return event.Null(), nil
		}
		c, err := cmp(lv, rv)
		if err != nil {
			return event.Value{}, err
		}
		return event.Bool(intHolds(op, int64(c), 0)), nil
	}}, l, r)), nil
}

// compareTerm is comparison where an integer term (intTerm) is compared with an integer
// constant, computed inline; n is the general comparison, which decides the rest.
func compareTerm(op opcode.Op, l, r, n node) node {
	if l.term == nil || r.konst == nil || r.konst.Rep() != event.RepInt || n.konst != nil {
		return n
	}
	t, k, general := *l.term, r.konst.Int(), n.eval
	n.test = &termTest{term: t, op: op, k: k}
	n.eval = func(in *Input) (event.Value, error) {
		if v, ok := t.of(in); ok {
			return event.Bool(intHolds(op, v, k)), nil
		}
		return general(in)
	}
	return n
}

// intHolds is whether a op b holds for integers.
func intHolds(op opcode.Op, a, b int64) bool {
	switch op {
	case opcode.EQ, opcode.NullEQ:
		return a == b
	case opcode.NE:
		return a != b
	case opcode.LT:
		return a < b
	case opcode.LE:
		return a <= b
	case opcode.GT:
		return a > b
	}
	return a >= b
}

// comparer orders two non-NULL values of the given static types: numbers by value (a
// string compared with a number is read as a number), text byte by byte, times by their
// microseconds.
func comparer(a, b types.Type) (func(x, y event.Value) (int, error), error) {
	na, nb := numeric(a.Kind), numeric(b.Kind)
	switch {
	case na && nb && (a.Kind == types.Float32 || a.Kind == types.Float64 || b.Kind == types.Float32 || b.Kind == types.Float64):
		return func(x, y event.Value) (int, error) {
			fx, err := toFloat(x)
			if err != nil {
				return 0, err
			}
			fy, err := toFloat(y)
			if err != nil {
				return 0, err
			}
			return cmpOrdered(fx, fy), nil
		}, nil
	case na && nb, na && b.Kind == types.String, a.Kind == types.String && nb, na && b.Kind == types.Unknown, a.Kind == types.Unknown && nb:
		return func(x, y event.Value) (int, error) {
			if x.Rep() == event.RepInt && y.Rep() == event.RepInt {
				return cmpOrdered(x.Int(), y.Int()), nil
			}
			dx, err := toDecimal(x)
			if err != nil {
				return 0, err
			}
			dy, err := toDecimal(y)
			if err != nil {
				return 0, err
			}
			return dx.Cmp(dy), nil
		}, nil
	case temporal(a.Kind) || temporal(b.Kind):
		return func(x, y event.Value) (int, error) {
			tx, err := toMicros(x)
			if err != nil {
				return 0, err
			}
			ty, err := toMicros(y)
			if err != nil {
				return 0, err
			}
			return cmpOrdered(tx, ty), nil
		}, nil
	case a.Kind == types.Boolean || b.Kind == types.Boolean:
		return func(x, y event.Value) (int, error) {
			bx, _ := truth(x)
			by, _ := truth(y)
			return cmpOrdered(b2i(bx), b2i(by)), nil
		}, nil
	}
	return func(x, y event.Value) (int, error) { return strings.Compare(toText(x), toText(y)), nil }, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpOrdered[T int | int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func numeric(k types.Kind) bool {
	switch k {
	case types.Int8, types.Int16, types.Int32, types.Int64, types.Uint64, types.Float32, types.Float64, types.Decimal, types.Boolean:
		return true
	}
	return false
}

func temporal(k types.Kind) bool {
	switch k {
	case types.Date, types.Time, types.Timestamp, types.TimestampLTZ:
		return true
	}
	return false
}

func (c *compiler) between(e *ast.BetweenExpr) (node, error) {
	x, err := c.compile(e.Expr)
	if err != nil {
		return node{}, err
	}
	lo, err := c.compile(e.Left)
	if err != nil {
		return node{}, err
	}
	hi, err := c.compile(e.Right)
	if err != nil {
		return node{}, err
	}
	ge, err := comparison(opcode.GE, x, lo)
	if err != nil {
		return node{}, err
	}
	le, err := comparison(opcode.LE, x, hi)
	if err != nil {
		return node{}, err
	}
	n := logic(opcode.LogicAnd, ge, le)
	if e.Not {
		return c.not(n), nil
	}
	return n, nil
}

func (c *compiler) not(n node) node {
	return fold(node{typ: boolType, eval: func(in *Input) (event.Value, error) {
		v, err := n.eval(in)
		if err != nil || v.IsNull() {
			return v, err
		}
		return event.Bool(!v.Bool()), nil
	}}, n)
}

// in is x [NOT] IN (list): TRUE when x equals one of the list, NULL when it does not but
// the list holds a NULL (or x is NULL), FALSE otherwise.
func (c *compiler) in(e *ast.PatternInExpr) (node, error) {
	if e.Sel != nil {
		return node{}, fmt.Errorf("a subquery is not supported in a transform")
	}
	x, err := c.compile(e.Expr)
	if err != nil {
		return node{}, err
	}
	var eqs []node
	for _, item := range e.List {
		y, err := c.compile(item)
		if err != nil {
			return node{}, err
		}
		eq, err := comparison(opcode.EQ, x, y)
		if err != nil {
			return node{}, err
		}
		eqs = append(eqs, eq)
	}
	n := node{typ: boolType, eval: func(in *Input) (event.Value, error) {
		null := false
		for _, eq := range eqs {
			v, err := eq.eval(in)
			if err != nil {
				return v, err
			}
			if v.IsNull() {
				null = true
			} else if v.Bool() {
				return event.Bool(true), nil
			}
		}
		if null {
			return event.Null(), nil
		}
		return event.Bool(false), nil
	}}
	if e.Not {
		return c.not(n), nil
	}
	return n, nil
}

// like is [NOT] LIKE with % and _ and an escape character (\ by default), compiled to a
// regular expression once when the pattern is constant.
func (c *compiler) like(e *ast.PatternLikeOrIlikeExpr) (node, error) {
	x, err := c.compile(e.Expr)
	if err != nil {
		return node{}, err
	}
	p, err := c.compile(e.Pattern)
	if err != nil {
		return node{}, err
	}
	escape := rune(e.Escape)
	if escape == 0 {
		escape = '\\'
	}
	prefix := "(?s)^"
	if !e.IsLike { // ILIKE
		prefix = "(?is)^"
	}
	compilePattern := func(s string) (*regexp.Regexp, error) {
		var sb strings.Builder
		sb.WriteString(prefix)
		rs := []rune(s)
		for i := 0; i < len(rs); i++ {
			switch r := rs[i]; {
			case r == escape && i+1 < len(rs):
				i++
				sb.WriteString(regexp.QuoteMeta(string(rs[i])))
			case r == '%':
				sb.WriteString(".*")
			case r == '_':
				sb.WriteString(".")
			default:
				sb.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		sb.WriteString("$")
		return regexp.Compile(sb.String())
	}
	var fixed *regexp.Regexp
	if p.konst != nil && !p.konst.IsNull() {
		if fixed, err = compilePattern(toText(*p.konst)); err != nil {
			return node{}, err
		}
	}
	not := e.Not
	return fold(node{typ: boolType, eval: func(in *Input) (event.Value, error) {
		v, err := x.eval(in)
		if err != nil || v.IsNull() {
			return event.Null(), err
		}
		re := fixed
		if re == nil {
			pv, err := p.eval(in)
			if err != nil || pv.IsNull() {
				return event.Null(), err
			}
			if re, err = compilePattern(toText(pv)); err != nil {
				return event.Value{}, err
			}
		}
		return event.Bool(re.MatchString(toText(v)) != not), nil
	}}, x, p), nil
}

func (c *compiler) caseExpr(e *ast.CaseExpr) (node, error) {
	var value *node
	if e.Value != nil {
		v, err := c.compile(e.Value)
		if err != nil {
			return node{}, err
		}
		value = &v
	}
	type when struct{ cond, result node }
	var whens []when
	var results []node
	for _, w := range e.WhenClauses {
		cond, err := c.compile(w.Expr)
		if err != nil {
			return node{}, err
		}
		if value != nil {
			if cond, err = comparison(opcode.EQ, *value, cond); err != nil {
				return node{}, err
			}
		}
		res, err := c.compile(w.Result)
		if err != nil {
			return node{}, err
		}
		whens = append(whens, when{cond, res})
		results = append(results, res)
	}
	var elseNode *node
	if e.ElseClause != nil {
		el, err := c.compile(e.ElseClause)
		if err != nil {
			return node{}, err
		}
		elseNode = &el
		results = append(results, el)
	}
	typ := commonType(results...)
	return node{typ: typ, eval: func(in *Input) (event.Value, error) {
		for _, w := range whens {
			v, err := w.cond.eval(in)
			if err != nil {
				return v, err
			}
			if b, null := truth(v); b && !null {
				r, err := w.result.eval(in)
				if err != nil {
					return r, err
				}
				return coerce(r, typ)
			}
		}
		if elseNode != nil {
			r, err := elseNode.eval(in)
			if err != nil {
				return r, err
			}
			return coerce(r, typ)
		}
		return event.Null(), nil
	}}, nil
}

// commonType is the type that holds the values of all of ns (NULL literals aside).
func commonType(ns ...node) types.Type {
	var t types.Type
	for _, n := range ns {
		switch {
		case n.typ.Kind == types.Unknown:
		case t.Kind == types.Unknown:
			t = n.typ
		default:
			w, ok := types.Wider(t, n.typ)
			if !ok {
				w = stringType
			}
			t = w
		}
	}
	if t.Kind == types.Unknown {
		return stringType
	}
	return t
}

// Operators the functions reuse.
const (
	opEQ  = opcode.EQ
	opMod = opcode.Mod
)
