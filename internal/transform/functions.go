package transform

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/shopspring/decimal"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// function builds a call of a function from its compiled arguments.
type function struct {
	min, max int // arguments (max -1: any number)
	build    func(args []node) (node, error)
}

// functions are the built-in functions by lower-case name. Each checks its argument
// count at compile time; strict ones (the default) are NULL when an argument is.
var functions = map[string]function{}

func init() {
	functions[booleanMarker] = function{1, 1, func(a []node) (node, error) { // CAST(x AS BOOLEAN)
		return strict(boolType, a, func(v []event.Value) (event.Value, error) {
			b, null := truth(v[0])
			if null {
				return event.Null(), nil
			}
			return event.Bool(b), nil
		}), nil
	}}
	functions[tryMarker] = function{1, 1, func(a []node) (node, error) { // TRY_CAST
		x := a[0]
		return node{typ: x.typ, eval: func(in *Input) (event.Value, error) {
			v, err := x.eval(in)
			if err != nil {
				return event.Null(), nil
			}
			return v, nil
		}}, nil
	}}
	str := func(f func(s string) string) function {
		return function{1, 1, func(a []node) (node, error) {
			return strict(stringType, a, func(v []event.Value) (event.Value, error) { return event.String(f(toText(v[0]))), nil }), nil
		}}
	}
	caseFn := func(f func(string) string, lo, hi byte) function {
		return function{1, 1, func(a []node) (node, error) {
			x := a[0].operand()
			var l *leaf
			switch {
			case a[0].isColumn:
				l = &leaf{kind: leafCase, col: a[0].column, k: -1, lo: lo, hi: hi}
			case a[0].leaf != nil && a[0].leaf.kind == leafLeft:
				l = &leaf{kind: leafCase, col: a[0].leaf.col, k: a[0].leaf.k, lo: lo, hi: hi}
			}
			return fold(node{typ: stringType, leaf: l, eval: func(in *Input) (event.Value, error) {
				v, ok := x.direct(in)
				if !ok {
					var err error
					if v, err = x.eval(in); err != nil {
						return event.Null(), err
					}
				}
				if v.IsNull() {
					return event.Null(), nil
				}
				return event.String(changeCase(in.arena, text(v), f, lo, hi)), nil
			}}, a...), nil
		}}
	}
	upper, lower := caseFn(strings.ToUpper, 'a', 'z'), caseFn(strings.ToLower, 'A', 'Z')
	functions["upper"], functions["ucase"] = upper, upper
	functions["lower"], functions["lcase"] = lower, lower
	functions["ltrim"] = str(func(s string) string { return strings.TrimLeft(s, " ") })
	functions["rtrim"] = str(func(s string) string { return strings.TrimRight(s, " ") })
	functions["trim"] = function{1, 3, buildTrim}
	functions["reverse"] = str(func(s string) string {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r)
	})
	functions["md5"] = str(func(s string) string { return hashHex(md5.New(), s) })
	functions["to_base64"] = str(func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) })
	functions["from_base64"] = function{1, 1, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			b, err := base64.StdEncoding.DecodeString(toText(v[0]))
			if err != nil {
				return event.Null(), nil // MySQL: NULL for invalid input
			}
			return event.String(string(b)), nil
		}), nil
	}}
	functions["sha2"] = function{2, 2, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			bits, err := toInt(v[1])
			if err != nil {
				return v[0], err
			}
			var h hash.Hash
			switch bits {
			case 0, 256:
				h = sha256.New()
			case 224:
				h = sha256.New224()
			case 384:
				h = sha512.New384()
			case 512:
				h = sha512.New()
			default:
				return event.Null(), nil
			}
			return event.String(hashHex(h, toText(v[0]))), nil
		}), nil
	}}
	functions["length"] = function{1, 1, func(a []node) (node, error) {
		return strict(int64Type, a, func(v []event.Value) (event.Value, error) { return event.Int(int64(len(toText(v[0])))), nil }), nil
	}}
	charLength := function{1, 1, func(a []node) (node, error) {
		x := a[0].operand()
		var l *leaf
		if a[0].isColumn {
			l = &leaf{kind: leafCharLength, col: a[0].column}
		}
		return fold(node{typ: int64Type, leaf: l, eval: func(in *Input) (event.Value, error) {
			v, ok := x.direct(in)
			if !ok {
				var err error
				if v, err = x.eval(in); err != nil {
					return event.Null(), err
				}
			}
			if v.IsNull() {
				return event.Null(), nil
			}
			return event.Int(int64(runeCount(text(v)))), nil
		}}, a...), nil
	}}
	functions["char_length"], functions["character_length"] = charLength, charLength
	functions["concat"] = function{1, -1, buildConcat}
	functions["concat_ws"] = function{2, -1, func(a []node) (node, error) {
		return lenient(stringType, a, func(v []event.Value) (event.Value, error) {
			if v[0].IsNull() {
				return event.Null(), nil
			}
			sep, parts := toText(v[0]), []string{}
			for _, x := range v[1:] {
				if !x.IsNull() { // CONCAT_WS skips NULLs
					parts = append(parts, toText(x))
				}
			}
			return event.String(strings.Join(parts, sep)), nil
		}), nil
	}}
	substr := function{2, 3, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			s := toText(v[0])
			pos, err := toInt(v[1])
			if err != nil {
				return v[0], err
			}
			n := int64(utf8.RuneCountInString(s))
			switch {
			case pos > 0:
				pos--
			case pos < 0:
				pos += n
			default:
				return event.String(""), nil // MySQL: position 0 gives ''
			}
			if pos < 0 || pos >= n {
				return event.String(""), nil
			}
			end := n
			if len(v) == 3 {
				l, err := toInt(v[2])
				if err != nil {
					return v[0], err
				}
				if l <= 0 {
					return event.String(""), nil
				}
				end = min(n, pos+l)
			}
			return event.String(s[runeOffset(s, pos):runeOffset(s, end)]), nil
		}), nil
	}}
	functions["substr"], functions["substring"], functions["mid"] = substr, substr, substr
	functions["left"] = function{2, 2, func(a []node) (node, error) {
		if k := a[1].konst; k != nil && !k.IsNull() {
			if n, err := toInt(*k); err == nil {
				return left(a[0], max(0, n)), nil
			}
		}
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			s := toText(v[0])
			n, err := toInt(v[1])
			if err != nil {
				return v[0], err
			}
			return event.String(s[:runeOffset(s, max(0, n))]), nil
		}), nil
	}}
	functions["right"] = function{2, 2, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			s := toText(v[0])
			n, err := toInt(v[1])
			if err != nil {
				return v[0], err
			}
			count := int64(utf8.RuneCountInString(s))
			n = max(0, min(count, n))
			return event.String(s[runeOffset(s, count-n):]), nil
		}), nil
	}}
	functions["replace"] = function{3, 3, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			return event.String(strings.ReplaceAll(toText(v[0]), toText(v[1]), toText(v[2]))), nil
		}), nil
	}}
	pad := func(left bool) function {
		return function{3, 3, func(a []node) (node, error) {
			return strict(stringType, a, func(v []event.Value) (event.Value, error) {
				s, padding := []rune(toText(v[0])), []rune(toText(v[2]))
				n, err := toInt(v[1])
				if err != nil {
					return v[0], err
				}
				if n < 0 {
					return event.Null(), nil
				}
				if int64(len(s)) >= n {
					return event.String(string(s[:n])), nil
				}
				if len(padding) == 0 {
					return event.Null(), nil
				}
				fill := make([]rune, 0, n-int64(len(s)))
				for int64(len(fill)) < n-int64(len(s)) {
					fill = append(fill, padding[len(fill)%len(padding)])
				}
				if left {
					return event.String(string(fill) + string(s)), nil
				}
				return event.String(string(s) + string(fill)), nil
			}), nil
		}}
	}
	functions["lpad"], functions["rpad"] = pad(true), pad(false)
	functions["position"] = function{2, 2, func(a []node) (node, error) { // POSITION(sub IN s)
		return functions["locate"].build(a)
	}}
	functions["locate"] = function{2, 3, func(a []node) (node, error) {
		return strict(int64Type, a, func(v []event.Value) (event.Value, error) {
			sub, s := []rune(toText(v[0])), []rune(toText(v[1]))
			from := int64(1)
			if len(v) == 3 {
				var err error
				if from, err = toInt(v[2]); err != nil {
					return v[0], err
				}
			}
			if from < 1 || from > int64(len(s))+1 {
				return event.Int(0), nil
			}
			i := strings.Index(string(s[from-1:]), string(sub))
			if i < 0 {
				return event.Int(0), nil
			}
			return event.Int(from + int64(utf8.RuneCountInString(string(s[from-1:])[:i]))), nil
		}), nil
	}}
	functions["split_part"] = function{3, 3, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			n, err := toInt(v[2])
			if err != nil {
				return v[0], err
			}
			parts := strings.Split(toText(v[0]), toText(v[1]))
			if n < 0 {
				n += int64(len(parts)) + 1
			}
			if n < 1 || n > int64(len(parts)) {
				return event.String(""), nil
			}
			return event.String(parts[n-1]), nil
		}), nil
	}}
	functions["regexp_like"] = function{2, 2, func(a []node) (node, error) { return regexpFunc(a, boolType, matchFn) }}
	functions["regexp_replace"] = function{3, 3, func(a []node) (node, error) { return regexpFunc(a, stringType, replaceFn) }}
	functions["regexp_extract"] = function{2, 3, func(a []node) (node, error) { return regexpFunc(a, stringType, extractFn) }}
	functions["regexp_substr"] = functions["regexp_extract"]

	// Numbers.
	functions["abs"] = function{1, 1, func(a []node) (node, error) {
		return strict(a[0].typ, a, func(v []event.Value) (event.Value, error) {
			switch v[0].Rep() {
			case event.RepInt:
				if v[0].Int() == math.MinInt64 {
					return v[0], fmt.Errorf("bigint overflow in ABS(%d)", v[0].Int())
				}
				if v[0].Int() < 0 {
					return event.Int(-v[0].Int()), nil
				}
				return v[0], nil
			case event.RepFloat:
				return event.Float(math.Abs(v[0].Float())), nil
			}
			d, err := toDecimal(v[0])
			return event.Decimal(d.Abs().String()), err
		}), nil
	}}
	rounder := func(f func(d decimal.Decimal, places int32) decimal.Decimal, fl func(float64) float64) function {
		return function{1, 2, func(a []node) (node, error) {
			typ := a[0].typ
			if typ.Kind == types.Decimal && len(a) == 1 {
				typ = int64Type // CEIL, FLOOR and ROUND of a decimal without places are integers
			}
			return strict(typ, a, func(v []event.Value) (event.Value, error) {
				places := int64(0)
				if len(v) == 2 {
					var err error
					if places, err = toInt(v[1]); err != nil {
						return v[0], err
					}
				}
				switch v[0].Rep() {
				case event.RepInt:
					if places >= 0 {
						return v[0], nil
					}
				case event.RepFloat:
					p := math.Pow(10, float64(places))
					return event.Float(fl(v[0].Float()*p) / p), nil
				}
				d, err := toDecimal(v[0])
				if err != nil {
					return v[0], err
				}
				r := f(d, int32(places))
				if typ.Kind == types.Int64 || v[0].Rep() == event.RepInt {
					return event.Int(r.IntPart()), nil
				}
				return event.Decimal(r.StringFixed(int32(max(places, 0)))), nil
			}), nil
		}}
	}
	functions["round"] = rounder(func(d decimal.Decimal, p int32) decimal.Decimal { return d.Round(p) }, func(f float64) float64 { return math.Round(f) })
	ceil := rounder(func(d decimal.Decimal, p int32) decimal.Decimal { return d.Shift(p).Ceil().Shift(-p) }, math.Ceil)
	floor := rounder(func(d decimal.Decimal, p int32) decimal.Decimal { return d.Shift(p).Floor().Shift(-p) }, math.Floor)
	functions["ceil"], functions["ceiling"], functions["floor"] = ceil, ceil, floor
	functions["mod"] = function{2, 2, func(a []node) (node, error) { return arith(opMod, a[0], a[1]) }}
	pow := function{2, 2, func(a []node) (node, error) {
		return strict(float64Type, a, func(v []event.Value) (event.Value, error) {
			x, err := toFloat(v[0])
			if err != nil {
				return v[0], err
			}
			y, err := toFloat(v[1])
			if err != nil {
				return v[1], err
			}
			return event.Float(math.Pow(x, y)), nil
		}), nil
	}}
	functions["power"], functions["pow"] = pow, pow

	// Conditionals.
	functions["if"] = function{3, 3, func(a []node) (node, error) {
		typ := commonType(a[1], a[2])
		cond, then, els := a[0].operand(), coerced(a[1], typ), coerced(a[2], typ)
		if test := a[0].test; test != nil && then.eval == nil && els.eval == nil {
			// IF(k % 2 = 0, 'even', 'odd'): the condition inline, its general closure for
			// a NULL or a value the term does not take (then NULL is not TRUE: else)
			t, op, k := test.term, test.op, test.k
			l := &leaf{kind: leafIf, term: t, op: op, k: k, then: then, els: els}
			return node{typ: typ, leaf: l, eval: func(in *Input) (event.Value, error) {
				c, ok := t.of(in)
				if !ok {
					v, err := cond.eval(in)
					if err != nil {
						return v, err
					}
					if v.Rep() == event.RepBool && v.Bool() {
						return then.get(in)
					}
					return els.get(in)
				}
				if intHolds(op, c, k) {
					v, _ := then.direct(in)
					return v, nil
				}
				v, _ := els.direct(in)
				return v, nil
			}}, nil
		}
		return node{typ: typ, eval: func(in *Input) (event.Value, error) {
			c, ok := cond.direct(in)
			if !ok {
				var err error
				if c, err = cond.eval(in); err != nil {
					return c, err
				}
			}
			r := &els
			if c.Rep() == event.RepBool { // a comparison's: no call of truth
				if c.Bool() {
					r = &then
				}
			} else if b, null := truth(c); b && !null {
				r = &then
			}
			if v, ok := r.direct(in); ok {
				return v, nil
			}
			return r.eval(in)
		}}, nil
	}}
	coalesce := function{1, -1, func(a []node) (node, error) {
		typ := commonType(a...)
		return node{typ: typ, eval: func(in *Input) (event.Value, error) {
			for _, x := range a {
				v, err := x.eval(in)
				if err != nil {
					return v, err
				}
				if !v.IsNull() {
					return coerce(v, typ)
				}
			}
			return event.Null(), nil
		}}, nil
	}}
	functions["coalesce"] = coalesce
	functions["ifnull"] = function{2, 2, coalesce.build}
	functions["nullif"] = function{2, 2, func(a []node) (node, error) {
		eq, err := comparison(opEQ, a[0], a[1])
		if err != nil {
			return node{}, err
		}
		return node{typ: a[0].typ, eval: func(in *Input) (event.Value, error) {
			e, err := eq.eval(in)
			if err != nil {
				return e, err
			}
			if b, null := truth(e); b && !null {
				return event.Null(), nil
			}
			return a[0].eval(in)
		}}, nil
	}}
	functions["uuid"] = function{0, 0, func([]node) (node, error) {
		return node{typ: types.Type{Kind: types.UUID}, eval: func(*Input) (event.Value, error) { return event.String(uuid.NewString()), nil }}, nil
	}}
}

// coerced is n as a value of type t: a constant is converted once, here.
func coerced(n node, t types.Type) operand {
	if n.konst != nil {
		if v, err := coerce(*n.konst, t); err == nil {
			return constant(v, t).operand()
		}
	}
	eval := n.eval
	return operand{eval: func(in *Input) (event.Value, error) {
		v, err := eval(in)
		if err != nil {
			return v, err
		}
		return coerce(v, t)
	}}
}

// text is toText, inline for a string.
func text(v event.Value) string {
	if v.Rep() == event.RepString {
		return v.Str()
	}
	return toText(v)
}

// left is LEFT(x, n) of a constant n (at least 0): a cut of x's text, not a copy.
func left(x node, n int64) node {
	o := x.operand()
	var l *leaf
	if x.isColumn {
		l = &leaf{kind: leafLeft, col: x.column, k: n}
	}
	return fold(node{typ: stringType, leaf: l, eval: func(in *Input) (event.Value, error) {
		v, ok := o.direct(in)
		if !ok {
			var err error
			if v, err = o.eval(in); err != nil {
				return event.Null(), err
			}
		}
		if v.IsNull() {
			return event.Null(), nil
		}
		s := text(v)
		return event.String(s[:runeOffset(s, n)]), nil
	}}, x)
}

// buildConcat is CONCAT(a, …): the text of its arguments, built in the arena; NULL when
// one is. Arguments computed by a call are evaluated first (they may build text in the
// arena themselves, and nothing may between the arena's start and end); columns and
// constants are read as the text is built, so a CONCAT of those alone goes over its
// arguments once.
func buildConcat(a []node) (node, error) {
	type part struct {
		kind byte // 'k' a constant, 'c' a column, 'f' a call
		text string
		col  int
		call evalFunc
	}
	parts := make([]part, len(a))
	calls := false
	for i, n := range a {
		switch o := n.operand(); {
		case o.isConst:
			if o.konst.IsNull() {
				parts[i] = part{kind: 'f', call: n.eval} // NULL, in its turn
				calls = true
				continue
			}
			parts[i] = part{kind: 'k', text: toText(o.konst)}
		case o.eval == nil:
			parts[i] = part{kind: 'c', col: o.col}
		default:
			parts[i] = part{kind: 'f', call: o.eval}
			calls = true
		}
	}
	v := make([]event.Value, len(a)) // the calls' values, reused
	return fold(node{typ: stringType, eval: func(in *Input) (event.Value, error) {
		if calls {
			for i := range parts {
				p := &parts[i]
				switch {
				case p.kind == 'f':
					x, err := p.call(in)
					if err != nil || x.IsNull() {
						return event.Null(), err
					}
					v[i] = x
				case p.kind == 'c' && in.Row[p.col].IsNull():
					return event.Null(), nil
				}
			}
		}
		b := in.arena.start()
		for i := range parts {
			p := &parts[i]
			var x event.Value
			switch p.kind {
			case 'k':
				b = append(b, p.text...)
				continue
			case 'c':
				x = in.Row[p.col]
			default:
				x = v[i]
			}
			switch x.Rep() {
			case event.RepInt:
				b = strconv.AppendInt(b, x.Int(), 10)
			case event.RepString:
				b = append(b, x.Str()...)
			case event.RepNull:
				return event.Null(), nil // the text given up
			default:
				b = appendText(b, x)
			}
		}
		return event.String(in.arena.end(b)), nil
	}}, a...), nil
}

// changeCase is f(s) (strings.ToUpper or ToLower), with a faster path for ASCII text:
// the letters lo…hi switched to the other case, built in the arena; s itself when none is.
func changeCase(arena *textArena, s string, f func(string) string, lo, hi byte) string {
	first := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return f(s)
		}
		if first < 0 && c >= lo && c <= hi {
			first = i
		}
	}
	if first < 0 {
		return s
	}
	return arena.build(func(b []byte) []byte {
		start := len(b)
		b = append(b, s...)
		for i, c := range b[start+first:] { // ASCII: changed in place
			if c >= lo && c <= hi {
				b[start+first+i] = c ^ 0x20
			}
		}
		return b
	})
}

// runeCount is utf8.RuneCountInString with ASCII read eight bytes at a time.
func runeCount(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		if (w[0]|w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7])&0x80 != 0 {
			break
		}
	}
	return i + utf8.RuneCountInString(s[i:])
}

// runeOffset is the byte offset of rune n of s (len(s) when s has fewer runes): substrings
// are cut from the text they come from, not copied.
func runeOffset(s string, n int64) int {
	if n <= 0 {
		return 0
	}
	i := 0 // ASCII first: a byte a rune
	for ; i < len(s) && int64(i) < n && s[i] < utf8.RuneSelf; i++ {
	}
	if int64(i) == n || i == len(s) {
		return i
	}
	n -= int64(i)
	for j := range s[i:] {
		if n == 0 {
			return i + j
		}
		n--
	}
	return len(s)
}

// strictIn is strict for a function that reads its input besides its arguments (the
// arena it builds text in).
func strictIn(typ types.Type, args []node, f func(in *Input, v []event.Value) (event.Value, error)) node {
	return call(typ, args, true, nil, f)
}

// strict builds a function that is NULL when any argument is NULL (the arguments after
// a NULL one are not evaluated).
func strict(typ types.Type, args []node, f func(v []event.Value) (event.Value, error)) node {
	return call(typ, args, true, f, nil)
}

// lenient builds a function that sees NULL arguments itself.
func lenient(typ types.Type, args []node, f func(v []event.Value) (event.Value, error)) node {
	return call(typ, args, false, f, nil)
}

// call builds a call of f, or of fin where f is nil (fin reads the input besides the
// arguments). The argument values are gathered in one buffer per call site, reused (an
// expression is evaluated by one goroutine at a time, and f does not keep v); when
// stopAtNull, a NULL argument makes the call NULL without evaluating the rest. Calls of
// one or two arguments, the most, get a loop-free version: this runs for every row.
func call(typ types.Type, args []node, stopAtNull bool, f func(v []event.Value) (event.Value, error), fin func(in *Input, v []event.Value) (event.Value, error)) node {
	ops := operands(args)
	v := make([]event.Value, len(args))
	var eval evalFunc
	switch len(ops) {
	case 1:
		a := ops[0]
		eval = func(in *Input) (event.Value, error) {
			var err error
			x, ok := a.direct(in)
			if !ok {
				if x, err = a.eval(in); err != nil {
					return event.Null(), err
				}
			}
			if stopAtNull && x.IsNull() {
				return event.Null(), nil
			}
			v[0] = x
			if fin != nil {
				return fin(in, v)
			}
			return f(v)
		}
	case 2:
		a, b := ops[0], ops[1]
		eval = func(in *Input) (event.Value, error) {
			var err error
			x, ok := a.direct(in)
			if !ok {
				if x, err = a.eval(in); err != nil {
					return event.Null(), err
				}
			}
			if stopAtNull && x.IsNull() {
				return event.Null(), nil
			}
			y, ok := b.direct(in)
			if !ok {
				if y, err = b.eval(in); err != nil {
					return event.Null(), err
				}
			}
			if stopAtNull && y.IsNull() {
				return event.Null(), nil
			}
			v[0], v[1] = x, y
			if fin != nil {
				return fin(in, v)
			}
			return f(v)
		}
	default:
		eval = func(in *Input) (event.Value, error) {
			for i := range ops {
				x, err := ops[i].get(in)
				if err != nil || stopAtNull && x.IsNull() {
					return event.Null(), err
				}
				v[i] = x
			}
			if fin != nil {
				return fin(in, v)
			}
			return f(v)
		}
	}
	return fold(node{typ: typ, eval: eval}, args...)
}

func hashHex(h hash.Hash, s string) string {
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// buildTrim is TRIM(s), TRIM([BOTH|LEADING|TRAILING] [r] FROM s) as the parser gives it:
// the string, then what to remove, then the direction.
func buildTrim(a []node) (node, error) {
	return lenient(stringType, a, func(v []event.Value) (event.Value, error) {
		if v[0].IsNull() {
			return event.Null(), nil
		}
		s, cut := toText(v[0]), " "
		if len(v) > 1 && !v[1].IsNull() {
			cut = toText(v[1])
		}
		dir := ast.TrimBoth
		if len(v) > 2 {
			dir = ast.TrimDirectionType(v[2].Int())
		}
		if cut == "" {
			return event.String(s), nil
		}
		if dir == ast.TrimBoth || dir == ast.TrimLeading || dir == ast.TrimBothDefault {
			for strings.HasPrefix(s, cut) {
				s = s[len(cut):]
			}
		}
		if dir == ast.TrimBoth || dir == ast.TrimTrailing || dir == ast.TrimBothDefault {
			for strings.HasSuffix(s, cut) {
				s = s[:len(s)-len(cut)]
			}
		}
		return event.String(s), nil
	}), nil
}

type regexpOp func(re *regexp.Regexp, v []event.Value) (event.Value, error)

func matchFn(re *regexp.Regexp, v []event.Value) (event.Value, error) {
	return event.Bool(re.MatchString(toText(v[0]))), nil
}

func replaceFn(re *regexp.Regexp, v []event.Value) (event.Value, error) {
	return event.String(re.ReplaceAllString(toText(v[0]), strings.ReplaceAll(toText(v[2]), `\`, "$"))), nil
}

func extractFn(re *regexp.Regexp, v []event.Value) (event.Value, error) {
	group := int64(0)
	if len(v) == 3 {
		var err error
		if group, err = toInt(v[2]); err != nil {
			return v[0], err
		}
	}
	m := re.FindStringSubmatch(toText(v[0]))
	if m == nil || group < 0 || group >= int64(len(m)) {
		return event.Null(), nil
	}
	return event.String(m[group]), nil
}

// regexpFunc builds a function whose second argument is a regular expression (RE2
// syntax), compiled once when it is constant.
func regexpFunc(a []node, typ types.Type, op regexpOp) (node, error) {
	var fixed *regexp.Regexp
	if p := a[1].konst; p != nil && !p.IsNull() {
		re, err := regexp.Compile(toText(*p))
		if err != nil {
			return node{}, fmt.Errorf("regular expression %q: %v", toText(*p), err)
		}
		fixed = re
	}
	return strict(typ, a, func(v []event.Value) (event.Value, error) {
		re := fixed
		if re == nil {
			var err error
			if re, err = regexp.Compile(toText(v[1])); err != nil {
				return v[1], fmt.Errorf("regular expression %q: %v", toText(v[1]), err)
			}
		}
		return op(re, v)
	}), nil
}

func (c *compiler) regexpMatch(x, pattern ast.ExprNode, not bool) (node, error) {
	xs, err := c.compile(x)
	if err != nil {
		return node{}, err
	}
	p, err := c.compile(pattern)
	if err != nil {
		return node{}, err
	}
	n, err := regexpFunc([]node{xs, p}, boolType, matchFn)
	if err != nil || !not {
		return n, err
	}
	return c.not(n), nil
}

func (c *compiler) call(e *ast.FuncCallExpr) (node, error) {
	name := e.FnName.L
	if u := c.udfs[name]; u != nil {
		return c.callUDF(u, e)
	}
	f, ok := functions[name]
	withC, zoned := compilerFunctions[name]
	if !ok && !zoned {
		return node{}, fmt.Errorf("function %s is not known", strings.ToUpper(name))
	}
	var args []node
	for _, a := range e.Args {
		if d, ok := a.(*ast.TrimDirectionExpr); ok { // TRIM's direction
			args = append(args, constant(event.Int(int64(d.Direction)), int64Type))
			continue
		}
		if u, ok := a.(*ast.TimeUnitExpr); ok { // INTERVAL n DAY, EXTRACT(DAY FROM …)
			args = append(args, unitNode(u.Unit))
			continue
		}
		n, err := c.compile(a)
		if err != nil {
			return node{}, err
		}
		args = append(args, n)
	}
	if zoned {
		n, err := withC(c, args)
		if err != nil {
			return node{}, fmt.Errorf("%s: %w", strings.ToUpper(name), err)
		}
		return n, nil
	}
	if len(args) < f.min || (f.max >= 0 && len(args) > f.max) {
		return node{}, fmt.Errorf("%s takes %s arguments, not %d", strings.ToUpper(name), arity(f), len(args))
	}
	n, err := f.build(args)
	if err != nil {
		return node{}, fmt.Errorf("%s: %w", strings.ToUpper(name), err)
	}
	return n, nil
}

// cast is CAST(x AS type) / CONVERT(x, type) to the unified type of a MySQL type name.
func (c *compiler) cast(e *ast.FuncCastExpr) (node, error) {
	x, err := c.compile(e.Expr)
	if err != nil {
		return node{}, err
	}
	var t types.Type
	switch tp := e.Tp; tp.GetType() {
	case mysql.TypeLonglong, mysql.TypeLong, mysql.TypeInt24, mysql.TypeShort, mysql.TypeTiny:
		t = int64Type
		if mysql.HasUnsignedFlag(tp.GetFlag()) {
			t = types.Type{Kind: types.Uint64}
		}
	case mysql.TypeNewDecimal:
		t = types.Type{Kind: types.Decimal, Precision: tp.GetFlen(), Scale: tp.GetDecimal()}
		if t.Precision <= 0 {
			t.Precision, t.Scale = 10, 0 // MySQL's DECIMAL is DECIMAL(10,0)
		}
	case mysql.TypeDouble, mysql.TypeFloat:
		t = float64Type
	case mysql.TypeDate:
		t = types.Type{Kind: types.Date}
	case mysql.TypeDatetime, mysql.TypeTimestamp:
		t = types.Type{Kind: types.Timestamp, Precision: max(tp.GetDecimal(), 0)}
	case mysql.TypeDuration:
		t = types.Type{Kind: types.Time, Precision: max(tp.GetDecimal(), 0)}
	case mysql.TypeJSON:
		t = types.Type{Kind: types.JSON}
	case mysql.TypeVarString, mysql.TypeString, mysql.TypeVarchar, mysql.TypeBlob:
		t = stringType
		if tp.GetCharset() == "binary" {
			t = types.Type{Kind: types.Bytes}
		}
		if n := tp.GetFlen(); n > 0 {
			t.Length = n // CHAR(n) keeps n characters, BINARY(n) n bytes
		}
	default:
		return node{}, fmt.Errorf("CAST to %s is not supported", tp.String())
	}
	return fold(node{typ: t, eval: func(in *Input) (event.Value, error) {
		v, err := x.eval(in)
		if err != nil {
			return v, err
		}
		if v, err = coerce(v, t); err != nil || v.IsNull() {
			return v, err
		}
		if (t.Kind == types.Timestamp || t.Kind == types.Time) && t.Precision < 6 {
			return truncateFraction(v, t), nil // CAST(x AS TIMESTAMP(3)) keeps milliseconds
		}
		if t.Length == 0 {
			return v, nil
		}
		s := v.Str()
		if t.Kind == types.Bytes {
			return event.BytesString(s[:min(len(s), t.Length)]), nil
		}
		return event.String(s[:runeOffset(s, int64(t.Length))]), nil
	}}, x), nil
}

// truncateFraction cuts a timestamp or time value down to t's fractional digits, toward
// the past (as Flink SQL's CAST does).
func truncateFraction(v event.Value, t types.Type) event.Value {
	unit := int64(1)
	for range 6 - max(t.Precision, 0) {
		unit *= 10
	}
	switch v.Rep() {
	case event.RepTimestamp:
		us := v.Micros()
		return event.Timestamp(floorDiv(us, unit) * unit)
	case event.RepTime:
		us := v.Micros()
		return event.Time(us / unit * unit) // toward zero: a negative time is a duration
	}
	return v
}
