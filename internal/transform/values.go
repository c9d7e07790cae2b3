package transform

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/shopspring/decimal"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// errDivZero: MySQL gives NULL for a division by zero; so does weir.
var errDivZero = errors.New("division by zero")

// appendText appends v's text (toText) to b.
func appendText(b []byte, v event.Value) []byte {
	switch v.Rep() {
	case event.RepString, event.RepDecimal, event.RepBytes, event.RepJSON:
		return append(b, v.Str()...)
	case event.RepInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case event.RepUint:
		return strconv.AppendUint(b, v.Uint(), 10)
	}
	return append(b, toText(v)...)
}

// toText is a value as text, the way CONCAT sees it.
func toText(v event.Value) string {
	switch v.Rep() {
	case event.RepString, event.RepDecimal, event.RepBytes, event.RepJSON:
		return v.Str()
	case event.RepBool:
		if v.Bool() {
			return "1"
		}
		return "0"
	case event.RepDate:
		return string(event.AppendDay(nil, v.Days()))
	case event.RepTimestamp:
		return strings.Replace(string(event.AppendDateTime(nil, v.Micros())), "T", " ", 1)
	case event.RepTime:
		return string(event.AppendTime(nil, v.Micros()))
	case event.RepFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return v.String()
}

// toDecimal reads a value as an exact number; text as MySQL reads a number from a
// string's leading digits is not guessed at: it must be a number.
func toDecimal(v event.Value) (decimal.Decimal, error) {
	switch v.Rep() {
	case event.RepInt:
		return decimal.NewFromInt(v.Int()), nil
	case event.RepUint:
		return decimal.NewFromUint64(v.Uint()), nil
	case event.RepFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return decimal.Decimal{}, fmt.Errorf("%v is not a number a decimal can hold", f)
		}
		return decimal.NewFromFloat(f), nil
	case event.RepBool:
		return decimal.NewFromInt(int64(b2i(v.Bool()))), nil
	case event.RepDecimal, event.RepString:
		d, err := decimal.NewFromString(strings.TrimSpace(v.Str()))
		if err != nil {
			return d, fmt.Errorf("%q is not a number", v.Str())
		}
		return d, nil
	}
	return decimal.Decimal{}, fmt.Errorf("%s is not a number", v)
}

func toFloat(v event.Value) (float64, error) {
	switch v.Rep() {
	case event.RepFloat:
		return v.Float(), nil
	case event.RepInt:
		return float64(v.Int()), nil
	case event.RepUint:
		return float64(v.Uint()), nil
	case event.RepBool:
		return float64(b2i(v.Bool())), nil
	case event.RepDecimal, event.RepString:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v.Str())
		}
		return f, nil
	}
	return 0, fmt.Errorf("%s is not a number", v)
}

func toInt(v event.Value) (int64, error) {
	switch v.Rep() {
	case event.RepInt:
		return v.Int(), nil
	case event.RepBool:
		return int64(b2i(v.Bool())), nil
	}
	d, err := toDecimal(v)
	if err != nil {
		return 0, err
	}
	r := d.Round(0)
	if !r.IsInteger() || r.GreaterThan(decimal.NewFromInt(math.MaxInt64)) || r.LessThan(decimal.NewFromInt(math.MinInt64)) {
		return 0, fmt.Errorf("%s is out of the range of a bigint", d)
	}
	return r.IntPart(), nil
}

// toMicros reads a date or timestamp (or their text, 2024-01-31[ 10:00:00[.ffffff]]) as
// microseconds since the epoch.
func toMicros(v event.Value) (int64, error) {
	switch v.Rep() {
	case event.RepTimestamp, event.RepTime:
		return v.Micros(), nil
	case event.RepDate:
		return v.Days() * 86_400_000_000, nil
	case event.RepString:
		return parseDateTime(v.Str())
	}
	return 0, fmt.Errorf("%s is not a date or time", v)
}

func parseDateTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999", "2006-01-02", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return 0, fmt.Errorf("%q is not a date or time (want 2006-01-02 15:04:05)", s)
}

// coerce converts v to a value of type t (CASE branches, CAST).
func coerce(v event.Value, t types.Type) (event.Value, error) {
	if v.IsNull() {
		return v, nil
	}
	switch t.Kind {
	case types.Boolean:
		b, _ := truth(v)
		return event.Bool(b), nil
	case types.Int8, types.Int16, types.Int32, types.Int64:
		n, err := toInt(v)
		if err != nil {
			return v, err
		}
		lo, hi := intRange(t.Kind)
		if n < lo || n > hi {
			return v, fmt.Errorf("%d is out of the range of %s", n, t)
		}
		return event.Int(n), nil
	case types.Uint64:
		d, err := toDecimal(v)
		if err != nil {
			return v, err
		}
		if d.IsNegative() {
			return v, fmt.Errorf("%s is negative: not a uint64", d)
		}
		u, err := strconv.ParseUint(d.Round(0).String(), 10, 64)
		if err != nil {
			return v, fmt.Errorf("%s is out of the range of a uint64", d)
		}
		return event.Uint(u), nil
	case types.Float32, types.Float64:
		f, err := toFloat(v)
		return event.Float(f), err
	case types.Decimal:
		d, err := toDecimal(v)
		if err != nil {
			return v, err
		}
		if t.Precision > 0 {
			d = d.Round(int32(t.Scale))
			if len(strings.TrimLeft(d.Truncate(0).Abs().String(), "0")) > t.Precision-t.Scale {
				return v, fmt.Errorf("%s does not fit %s", d, t)
			}
			return event.Decimal(d.StringFixed(int32(t.Scale))), nil
		}
		return event.Decimal(d.String()), nil
	case types.String, types.UUID, types.Enum, types.Set:
		if v.Rep() == event.RepString {
			return v, nil
		}
		return event.String(toText(v)), nil
	case types.JSON, types.Array:
		if v.Rep() == event.RepJSON {
			return v, nil
		}
		return event.JSON(string(event.AppendJSONValue(nil, v, types.String))), nil
	case types.Bytes:
		if v.Rep() == event.RepBytes {
			return v, nil
		}
		return event.BytesString(toText(v)), nil
	case types.Date:
		us, err := toMicros(v)
		if err != nil {
			return v, err
		}
		return event.Date(floorDiv(us, 86_400_000_000)), nil
	case types.Timestamp, types.TimestampLTZ:
		us, err := toMicros(v)
		return event.Timestamp(us), err
	case types.Time:
		if v.Rep() == event.RepTime {
			return v, nil
		}
		us, err := toMicros(v)
		return event.Time(us - floorDiv(us, 86_400_000_000)*86_400_000_000), err
	}
	return v, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func intRange(k types.Kind) (int64, int64) {
	switch k {
	case types.Int8:
		return math.MinInt8, math.MaxInt8
	case types.Int16:
		return math.MinInt16, math.MaxInt16
	case types.Int32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// arith is + − * / % DIV, typed as Flink SQL types them (docs/transform.md): integers stay
// integers (an overflow is an error), and / of two integers divides them as integers,
// truncating toward zero; any decimal makes the result a decimal whose precision and
// scale follow from the operands' (decimalResult), and whose values keep that scale
// (DECIMAL(10,2) * 2 is 296.00, not 296); any float makes it a double. A division by
// zero is NULL.
func arith(op opcode.Op, l, r node) (node, error) {
	kind := types.Int64
	for _, n := range []node{l, r} {
		switch n.typ.Kind {
		case types.Float32, types.Float64:
			kind = types.Float64
		case types.Decimal, types.String, types.Uint64:
			if kind != types.Float64 {
				kind = types.Decimal
			}
		case types.Int8, types.Int16, types.Int32, types.Int64, types.Boolean, types.Unknown:
		default:
			return node{}, fmt.Errorf("arithmetic on %s is not supported", n.typ)
		}
	}
	if op == opcode.Div && kind == types.Int64 {
		op = opcode.IntDiv // INT / INT is an INT in Flink SQL
	}
	if op == opcode.IntDiv {
		kind = types.Int64
	}
	typ := types.Type{Kind: kind}
	if kind == types.Decimal {
		typ = decimalResult(op, l.typ, r.typ)
	}
	// values computes the operator on its operands' values.
	values := func(lv, rv event.Value) (event.Value, error) {
		if lv.IsNull() || rv.IsNull() {
			return event.Null(), nil
		}
		var v event.Value
		var err error
		switch {
		case kind == types.Float64:
			v, err = floatArith(op, lv, rv)
		case kind == types.Int64 && op != opcode.IntDiv && lv.Rep() == event.RepInt && rv.Rep() == event.RepInt:
			v, err = intArith(op, lv.Int(), rv.Int())
		default:
			v, err = decimalArith(op, lv, rv, typ)
		}
		if err != nil && errors.Is(err, errDivZero) {
			return event.Null(), nil
		}
		return v, err
	}
	lo, ro := l.operand(), r.operand()
	fast := kind == types.Int64 && op != opcode.IntDiv
	eval := func(in *Input) (event.Value, error) {
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
		if fast && lv.Rep() == event.RepInt && rv.Rep() == event.RepInt {
			if n, ok := intFast(op, lv.Int(), rv.Int()); ok {
				return event.Int(n), nil
			}
		}
		return values(lv, rv)
	}
	n := fold(node{typ: typ, eval: eval}, l, r)
	if fast && n.konst == nil && l.isColumn && l.term != nil && r.konst != nil && r.konst.Rep() == event.RepInt && l.term.with(op, r.konst.Int()) != nil {
		// a column and a constant (k % 10): an intTerm, computed without reading operands
		t := l.term.with(op, r.konst.Int())
		n.term, n.leaf = t, &leaf{kind: leafTerm, term: *t}
		n.eval = func(in *Input) (event.Value, error) {
			if v, ok := t.of(in); ok {
				return event.Int(v), nil
			}
			return eval(in)
		}
	}
	return n, nil
}

// intFast is a op b on integers where it is done inline: ok is false where intArith
// decides (an overflow, a zero divisor, another operator).
func intFast(op opcode.Op, a, b int64) (n int64, ok bool) {
	switch op {
	case opcode.Plus:
		n = a + b
		return n, (n > a) == (b > 0)
	case opcode.Minus:
		n = a - b
		return n, (n < a) == (b > 0)
	case opcode.Mul:
		if a == int64(int32(a)) && b == int64(int32(b)) { // no overflow
			return a * b, true
		}
	case opcode.Mod:
		if b != 0 {
			return a % b, true
		}
	}
	return 0, false
}

// maxDecimal is the widest decimal a transform makes, as in Flink SQL.
const maxDecimal = 38

// exactOf is the precision and scale of an exact numeric type (an integer as the decimal
// that holds it); ok is false where they are not known (a decimal without them, text).
func exactOf(t types.Type) (p, s int, ok bool) {
	switch t.Kind {
	case types.Boolean:
		return 1, 0, true
	case types.Int8:
		return 3, 0, true
	case types.Int16:
		return 5, 0, true
	case types.Int32:
		return 10, 0, true
	case types.Int64:
		return 19, 0, true
	case types.Uint64:
		return 20, 0, true
	case types.Decimal:
		return t.Precision, t.Scale, t.Precision > 0
	}
	return 0, 0, false
}

// decimalResult is the type of a decimal operation, by Flink SQL's rules (Calcite's, as
// SQL Server has them):
//
//	a + b, a - b   scale max(s1, s2), precision max(p1-s1, p2-s2) + scale + 1
//	a * b          scale s1 + s2, precision p1 + p2
//	a / b          scale max(6, s1 + p2 + 1), precision p1 - s1 + s2 + scale
//	a % b          scale max(s1, s2), precision min(p1-s1, p2-s2) + scale
//
// beyond 38 digits the precision is 38 and the scale gives way, keeping at least
// min(scale, 6). Where an operand's precision is not known, the result's is not either.
func decimalResult(op opcode.Op, a, b types.Type) types.Type {
	p1, s1, ok1 := exactOf(a)
	p2, s2, ok2 := exactOf(b)
	if !ok1 || !ok2 {
		return types.Type{Kind: types.Decimal}
	}
	var p, s int
	switch op {
	case opcode.Plus, opcode.Minus:
		s = max(s1, s2)
		p = max(p1-s1, p2-s2) + s + 1
	case opcode.Mul:
		s, p = s1+s2, p1+p2
	case opcode.Div:
		s = max(6, s1+p2+1)
		p = p1 - s1 + s2 + s
	case opcode.Mod:
		s = max(s1, s2)
		p = min(p1-s1, p2-s2) + s
	default:
		return types.Type{Kind: types.Decimal}
	}
	if p > maxDecimal {
		whole := p - s
		s = max(maxDecimal-whole, min(s, 6))
		p = maxDecimal
	}
	return types.Type{Kind: types.Decimal, Precision: p, Scale: s}
}

func intArith(op opcode.Op, a, b int64) (event.Value, error) {
	switch op {
	case opcode.Plus:
		s := a + b
		if (s > a) != (b > 0) {
			return event.Value{}, fmt.Errorf("bigint overflow in %d + %d", a, b)
		}
		return event.Int(s), nil
	case opcode.Minus:
		s := a - b
		if (s < a) != (b > 0) {
			return event.Value{}, fmt.Errorf("bigint overflow in %d - %d", a, b)
		}
		return event.Int(s), nil
	case opcode.Mul:
		if a != 0 && b != 0 {
			p := a * b
			if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
				return event.Value{}, fmt.Errorf("bigint overflow in %d * %d", a, b)
			}
			return event.Int(p), nil
		}
		return event.Int(0), nil
	case opcode.Mod:
		if b == 0 {
			return event.Value{}, errDivZero
		}
		return event.Int(a % b), nil
	}
	return event.Value{}, fmt.Errorf("operator %s on integers", op)
}

// decimalArith computes op exactly, then gives the result typ's scale (rounding half up, as
// Flink does) where typ has one; a result that does not fit typ is an error.
func decimalArith(op opcode.Op, lv, rv event.Value, typ types.Type) (event.Value, error) {
	d, err := decimalOp(op, lv, rv, typ.Scale, typ.Precision > 0)
	if err != nil || d.Rep() != event.RepDecimal || typ.Precision == 0 {
		return d, err
	}
	return coerce(d, typ)
}

func decimalOp(op opcode.Op, lv, rv event.Value, scale int, scaled bool) (event.Value, error) {
	a, err := toDecimal(lv)
	if err != nil {
		return event.Value{}, err
	}
	b, err := toDecimal(rv)
	if err != nil {
		return event.Value{}, err
	}
	switch op {
	case opcode.Plus:
		return event.Decimal(a.Add(b).String()), nil
	case opcode.Minus:
		return event.Decimal(a.Sub(b).String()), nil
	case opcode.Mul:
		return event.Decimal(a.Mul(b).String()), nil
	case opcode.Div:
		if b.IsZero() {
			return event.Value{}, errDivZero
		}
		sc := int32(scale)
		if !scaled {
			sc = max(scaleOf(a), 0) + 6
		}
		return event.Decimal(a.DivRound(b, sc).StringFixed(sc)), nil
	case opcode.Mod:
		if b.IsZero() {
			return event.Value{}, errDivZero
		}
		return event.Decimal(a.Mod(b).String()), nil
	case opcode.IntDiv:
		if b.IsZero() {
			return event.Value{}, errDivZero
		}
		q := a.Div(b).Truncate(0)
		if q.GreaterThan(decimal.NewFromInt(math.MaxInt64)) || q.LessThan(decimal.NewFromInt(math.MinInt64)) {
			return event.Value{}, fmt.Errorf("bigint overflow in %s DIV %s", a, b)
		}
		return event.Int(q.IntPart()), nil
	}
	return event.Value{}, fmt.Errorf("operator %s on decimals", op)
}

func scaleOf(d decimal.Decimal) int32 { return -d.Exponent() }

func floatArith(op opcode.Op, lv, rv event.Value) (event.Value, error) {
	a, err := toFloat(lv)
	if err != nil {
		return event.Value{}, err
	}
	b, err := toFloat(rv)
	if err != nil {
		return event.Value{}, err
	}
	switch op {
	case opcode.Plus:
		return event.Float(a + b), nil
	case opcode.Minus:
		return event.Float(a - b), nil
	case opcode.Mul:
		return event.Float(a * b), nil
	case opcode.Div:
		if b == 0 {
			return event.Value{}, errDivZero
		}
		return event.Float(a / b), nil
	case opcode.Mod:
		if b == 0 {
			return event.Value{}, errDivZero
		}
		return event.Float(math.Mod(a, b)), nil
	}
	return event.Value{}, fmt.Errorf("operator %s on doubles", op)
}
