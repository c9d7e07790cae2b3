package transform

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// User-defined functions, weir's way: a function is written in the transform's own
// expression language — name, parameters, and an expression of them —
//
//	pipeline:
//	  user-defined-function:
//	    - name: mask_email
//	      parameters: [e]
//	      expression: CONCAT(LEFT(e, 2), '***', SUBSTRING(e, LOCATE('@', e)))
//
// and a call of it compiles to its expression with the arguments in place of the
// parameters (an argument is computed where the body names it). It runs in
// the one static binary, needs no toolchain, can do nothing but compute a value, and
// costs what the same expression written out costs (BenchmarkUDF). Flink's Java and Python
// classes cannot be loaded: the spec says so.

// UDF is a user-defined function.
type UDF struct {
	Name   string
	Params []string
	Body   string
	expr   ast.ExprNode
}

// Functions are the user-defined functions of a pipeline, by lower-case name.
type Functions map[string]*UDF

// maxUDFDepth bounds how deep calls of user-defined functions nest (a function that
// calls itself, directly or not, is an error at this depth).
const maxUDFDepth = 16

// NewFunctions parses user-defined functions; an error names the function.
func NewFunctions(udfs []UDF) (Functions, error) {
	fns := Functions{}
	for i := range udfs {
		u := udfs[i]
		name := strings.ToLower(u.Name)
		if !isWord(name) {
			return nil, fmt.Errorf("user-defined function %q: a name is letters, digits and _", u.Name)
		}
		if _, builtin := functions[name]; builtin {
			return nil, fmt.Errorf("user-defined function %s: a built-in function has that name", u.Name)
		}
		if _, builtin := compilerFunctions[name]; builtin {
			return nil, fmt.Errorf("user-defined function %s: a built-in function has that name", u.Name)
		}
		if fns[name] != nil {
			return nil, fmt.Errorf("user-defined function %s is defined twice", u.Name)
		}
		seen := map[string]bool{}
		for _, p := range u.Params {
			if !isWord(p) || seen[strings.ToLower(p)] {
				return nil, fmt.Errorf("user-defined function %s: parameter %q is not a name, or comes twice", u.Name, p)
			}
			seen[strings.ToLower(p)] = true
		}
		sel, err := parseSelect("SELECT " + u.Body + " FROM t")
		if err != nil {
			return nil, fmt.Errorf("user-defined function %s: %w", u.Name, err)
		}
		if len(sel.Fields.Fields) != 1 || sel.Fields.Fields[0].Expr == nil {
			return nil, fmt.Errorf("user-defined function %s: the expression is one value, not a list", u.Name)
		}
		u.expr = sel.Fields.Fields[0].Expr
		fns[name] = &u
	}
	return fns, nil
}

// callUDF compiles a call of user-defined function u: its body with the arguments bound
// to its parameters.
func (c *compiler) callUDF(u *UDF, e *ast.FuncCallExpr) (node, error) {
	if len(e.Args) != len(u.Params) {
		return node{}, fmt.Errorf("%s takes %d arguments, not %d", strings.ToUpper(u.Name), len(u.Params), len(e.Args))
	}
	if c.udfDepth >= maxUDFDepth {
		return node{}, fmt.Errorf("%s: user-defined functions call each other more than %d deep (a function that calls itself?)", strings.ToUpper(u.Name), maxUDFDepth)
	}
	bound := map[string]node{}
	for i, a := range e.Args {
		n, err := c.compile(a)
		if err != nil {
			return node{}, err
		}
		bound[strings.ToLower(u.Params[i])] = n
	}
	outer := c.params
	c.params, c.udfDepth = bound, c.udfDepth+1
	n, err := c.compile(u.expr)
	c.params, c.udfDepth = outer, c.udfDepth-1
	if err != nil {
		return node{}, fmt.Errorf("%s: %w", strings.ToUpper(u.Name), err)
	}
	return n, nil
}
