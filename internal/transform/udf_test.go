package transform

import (
	"strings"
	"testing"
)

func udfs(t testing.TB) Functions {
	t.Helper()
	fns, err := NewFunctions([]UDF{
		{Name: "addone", Params: []string{"x"}, Body: "x + 1"},
		{Name: "mask_email", Params: []string{"e"}, Body: "CONCAT(LEFT(e, 2), '***', SUBSTRING(e, LOCATE('@', e)))"},
		{Name: "twice_plus", Params: []string{"a", "b"}, Body: "addone(a) * 2 + b"},
		{Name: "loop", Params: []string{"x"}, Body: "loop(x)"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

// TestUDF: a user-defined function's call is its expression with the arguments in place
// of the parameters; functions call functions; mistakes are errors that name them.
func TestUDF(t *testing.T) {
	fns := udfs(t)
	for expr, want := range map[string]string{
		"addone(id)":                    "8",
		"ADDONE(addone(id))":            "9",
		"mask_email('ada@example.com')": "ad***@example.com",
		"twice_plus(id, 100)":           "116",
		"addone(id) + addone(n)":        "NULL", // n is NULL
		"twice_plus(x => 1, 2)":         "",     // not SQL: a syntax error below
	} {
		if want == "" {
			continue
		}
		cols, err := compileProjection(expr+" AS v", testSchema, nil, fns)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		v, err := cols[0].Expr.Eval(testInput())
		if err != nil || show(v) != want {
			t.Errorf("%s = %s (%v), want %s", expr, show(v), err, want)
		}
	}
	for expr, want := range map[string]string{
		"addone(id, 2)": "ADDONE takes 1 arguments, not 2",
		"loop(id)":      "call each other more than 16 deep",
	} {
		if _, err := compileProjection(expr+" AS v", testSchema, nil, fns); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", expr, err, want)
		}
	}
	for _, bad := range [][]UDF{
		{{Name: "upper", Params: []string{"x"}, Body: "x"}},
		{{Name: "f", Params: []string{"x", "x"}, Body: "x"}},
		{{Name: "f", Params: []string{"x"}, Body: "x +"}},
		{{Name: "f", Body: "1"}, {Name: "F", Body: "2"}},
	} {
		if _, err := NewFunctions(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, err, _ := Lint("addone(id) AS a", "addone(id, 1) > 2", fns); err == nil || !strings.Contains(err.Error(), "ADDONE takes 1") {
		t.Errorf("lint of a call with the wrong arguments: %v", err)
	}
}

// BenchmarkUDF: a call of a user-defined function costs what its expression written out
// does.
func BenchmarkUDF(b *testing.B) {
	fns := udfs(b)
	for name, expr := range map[string]string{
		"udf":    "mask_email(name) AS v",
		"inline": "CONCAT(LEFT(name, 2), '***', SUBSTRING(name, LOCATE('@', name))) AS v",
	} {
		b.Run(name, func(b *testing.B) {
			cols, err := compileProjection(expr, testSchema, nil, fns)
			if err != nil {
				b.Fatal(err)
			}
			in := testInput()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cols[0].Expr.Eval(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
