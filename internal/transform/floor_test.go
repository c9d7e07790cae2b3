package transform

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// benchProjection and benchFilter are the transform of go run ./bench (bench/main.go).
const (
	benchProjection = "id, k, c, pad, k * 2 AS k2, UPPER(LEFT(c, 10)) AS c_up, CONCAT(id, '-', k) AS tag, CHAR_LENGTH(pad) AS pad_len, IF(k % 2 = 0, 'even', 'odd') AS parity"
	benchFilter     = "k % 10 <> 0"
)

// sysbenchRows returns n rows of sb.sbtest1 as sysbench fills it: id from 1, k random
// below 10n (a tenth of them multiples of 10), c ten and pad five groups of eleven random
// digits joined by dashes.
func sysbenchRows(n int) []event.Row {
	rnd := rand.New(rand.NewPCG(1, 2))
	digits := func(groups int) string {
		var b []byte
		for g := range groups {
			if g > 0 {
				b = append(b, '-')
			}
			for range 11 {
				b = append(b, byte('0'+rnd.IntN(10)))
			}
		}
		return string(b)
	}
	rows := make([]event.Row, n)
	for i := range rows {
		rows[i] = event.Row{event.Int(int64(i + 1)), event.Int(rnd.Int64N(int64(10 * n))), event.String(digits(10)), event.String(digits(5))}
	}
	return rows
}

// benchTransformer is the stage with the bench's transform on sb.sbtest1.
func benchTransformer(tb testing.TB) *Transformer {
	ps, err := connector.ParseTables("sb.sbtest1")
	if err != nil {
		tb.Fatal(err)
	}
	tr := New([]Rule{{Tables: ps, Projection: benchProjection, Filter: benchFilter}}, nil, Options{})
	if err := tr.Prepare([]*event.Schema{sbtest}); err != nil {
		tb.Fatal(err)
	}
	return tr
}

// handTransform is the bench's transform written by hand in Go: the floor a compiled
// transform is measured against. It builds its rows as the evaluator does (cut from a
// slab of values, text built in a textArena), so the two differ only in how the
// filter and the projection are computed.
type handTransform struct {
	out  *event.Schema // the transformed schema (the Transformer's, so the changes compare equal)
	slab []event.Value
	text textArena
}

// apply appends what each change of batch becomes, as Transformer.Apply does; it takes
// snapshot reads only (what the floor is measured on).
func (h *handTransform) apply(dst, batch []event.Change) []event.Change {
	for i := range batch {
		c := &batch[i]
		in := c.After
		if in[1].IsNull() || in[1].Int()%10 == 0 { // k % 10 <> 0: NULL or FALSE drops the row
			continue
		}
		if len(h.slab) < 9 {
			h.slab = make([]event.Value, slabValues/9*9)
		}
		r := event.Row(h.slab[:9:9])
		h.slab = h.slab[9:]
		copy(r, in[:4])
		id, k, cv, pad := in[0], in[1], in[2], in[3]
		r[4] = event.Int(k.Int() * 2) // k is an INT: twice it fits a BIGINT
		if !cv.IsNull() {
			s := cv.Str()
			n := 0
			for j := range s { // LEFT counts characters
				if n == 10 {
					s = s[:j]
					break
				}
				n++
			}
			r[5] = event.String(strings.ToUpper(s)) // s itself when it has no lower case
		}
		if !id.IsNull() {
			b := strconv.AppendInt(h.text.start(), id.Int(), 10)
			r[6] = event.String(h.text.end(strconv.AppendInt(append(b, '-'), k.Int(), 10)))
		}
		if !pad.IsNull() {
			r[7] = event.Int(int64(utf8.RuneCountInString(pad.Str())))
		}
		if k.Int()%2 == 0 {
			r[8] = event.String("even")
		} else {
			r[8] = event.String("odd")
		}
		out := c.With(c.Op, nil, r)
		out.Schema = h.out
		dst = append(dst, out)
	}
	return dst
}

// TestHandTransform keeps the hand-written floor honest: it makes the same changes as the
// compiled transform, value for value.
func TestHandTransform(t *testing.T) {
	tr := benchTransformer(t)
	out, err := tr.schema(sbtest)
	if err != nil {
		t.Fatal(err)
	}
	rows := sysbenchRows(600)
	rows[3][1] = event.Int(-7)     // negative: odd
	rows[4][1] = event.Int(-12)    // negative: even
	rows[5][2] = event.String("é") // LEFT and CHAR_LENGTH count characters
	rows[5][3] = event.String("ß-über-straße")
	rows[6][2] = event.String("abcdefghijklmnop")
	rows[7][1] = event.Null() // a NULL k: filtered out
	rows[8][2] = event.Null() // NULL c, pad and id: NULL c_up, pad_len and tag
	rows[9][3] = event.Null()
	rows[10][0] = event.Null()
	rows[11][2] = event.String("ab")                    // shorter than LEFT's 10
	rows[12][2] = event.String("ÿabcdefghijkl")         // LOWER-case non-ASCII
	rows[13][2] = event.BytesString("0123456789abcdef") // bytes, not a string: LEFT's general path
	batch := make([]event.Change, len(rows))
	for i, r := range rows {
		batch[i] = event.Change{Op: event.OpRead, Schema: sbtest, After: r, Pos: event.Pos{Off: uint64(i)}}
	}
	want, _, err := tr.Apply(nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	h := &handTransform{out: out}
	got := h.apply(nil, batch)
	if len(got) != len(want) || len(got) < 500 {
		t.Fatalf("%d changes by hand, %d compiled", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Op != w.Op || g.Schema != w.Schema || g.Pos != w.Pos || g.Before != nil || w.Before != nil || len(g.After) != len(w.After) {
			t.Fatalf("change %d: %+v by hand, %+v compiled", i, g, w)
		}
		for j := range g.After {
			if !g.After[j].Equal(w.After[j]) {
				t.Fatalf("change %d, column %s: %v (%v) by hand, %v (%v) compiled", i, out.Columns[j].Name,
					g.After[j], g.After[j].Rep(), w.After[j], w.After[j].Rep())
			}
		}
	}
}

// cpuTime is the CPU time of the process so far in nanoseconds (user and system, all
// threads: the collector's too), which other processes on the machine do not inflate as
// they do the elapsed time.
func cpuTime() int64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return u.Utime.Nano() + u.Stime.Nano()
}

// BenchmarkBenchTransform is the bench's transform on sysbench rows in batches of 500 (the
// stage evaluates a batch that small on the caller's goroutine): compiled, through
// Transformer.Apply as the engine calls it, and written by hand (handTransform), the floor.
// It reports the elapsed and the CPU time and the allocations per row of the batch.
func BenchmarkBenchTransform(b *testing.B) {
	const n = 500
	rows := sysbenchRows(n)
	batch := make([]event.Change, n)
	for i, r := range rows {
		batch[i] = event.Change{Op: event.OpRead, Schema: sbtest, After: r}
	}
	tr := benchTransformer(b)
	out, err := tr.schema(sbtest)
	if err != nil {
		b.Fatal(err)
	}
	h := &handTransform{out: out}
	run := func(b *testing.B, apply func(dst []event.Change) []event.Change) {
		defer debug.SetGCPercent(debug.SetGCPercent(400)) // as weir run sets it (internal/cli)
		var dst []event.Change
		dst = apply(dst)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cpu0 := cpuTime()
		b.ResetTimer()
		for b.Loop() {
			dst = apply(dst[:0])
		}
		b.StopTimer()
		cpu := cpuTime() - cpu0
		runtime.ReadMemStats(&m1)
		rowsDone := float64(b.N) * n
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rowsDone, "ns/row")
		b.ReportMetric(float64(cpu)/rowsDone, "cpu-ns/row")
		b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/rowsDone, "allocs/row")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("compiled", func(b *testing.B) {
		run(b, func(dst []event.Change) []event.Change {
			dst, _, err := tr.Apply(dst, batch)
			if err != nil {
				b.Fatal(err)
			}
			return dst
		})
	})
	b.Run("handwritten", func(b *testing.B) {
		run(b, func(dst []event.Change) []event.Change { return h.apply(dst, batch) })
	})
}

// TestIntTerms: an integer column with a constant (intTerm), computed inline, and compared
// with a constant inline, gives what the general path gives (intArith, intHolds): at the
// edges of overflow, for negative operands, for NULL.
func TestIntTerms(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "s", Table: "t"}, Columns: []event.Column{{Name: "a", Type: types.Type{Kind: types.Int64}, Nullable: true}}}
	values := []int64{0, 1, -1, 2, -2, 7, -7, 10, -10, 1 << 31, -1 << 31, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
		math.MaxInt64 / 2, math.MinInt64 / 2, math.MaxInt64/2 + 1, math.MinInt64/2 - 1, math.MaxInt64 / 3, math.MaxInt64/3 + 1}
	consts := []int64{0, 1, -1, 2, -2, 3, 10, -10, math.MaxInt64, math.MinInt64 + 1}
	for _, op := range []string{"+", "-", "*", "%"} {
		for _, k := range consts {
			text := fmt.Sprintf("a %s %d", op, k)
			if k < 0 {
				text = fmt.Sprintf("a %s (%d)", op, k)
			}
			e, err := compileFilter(text, s, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			cmp, err := compileFilter(text+" > 3", s, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range values {
				in := &Input{Schema: s, Row: event.Row{event.Int(a)}}
				got, gotErr := e.eval(in)
				want, wantErr := intArith(map[string]opcode.Op{"+": opcode.Plus, "-": opcode.Minus, "*": opcode.Mul, "%": opcode.Mod}[op], a, k)
				if errors.Is(wantErr, errDivZero) {
					want, wantErr = event.Null(), nil
				}
				if got != want || (gotErr == nil) != (wantErr == nil) {
					t.Errorf("%s for a = %d: %v (%v), want %v (%v)", text, a, got, gotErr, want, wantErr)
				}
				c, cErr := cmp.eval(in)
				switch {
				case wantErr != nil:
					if cErr == nil {
						t.Errorf("%s > 3 for a = %d: %v, want an error", text, a, c)
					}
				case want.IsNull():
					if !c.IsNull() || cErr != nil {
						t.Errorf("%s > 3 for a = %d: %v (%v), want NULL", text, a, c, cErr)
					}
				case c != event.Bool(want.Int() > 3) || cErr != nil:
					t.Errorf("%s > 3 for a = %d: %v (%v), want %v", text, a, c, cErr, want.Int() > 3)
				}
			}
			in := &Input{Schema: s, Row: event.Row{event.Null()}}
			if v, err := e.eval(in); !v.IsNull() || err != nil {
				t.Errorf("%s of NULL: %v %v", text, v, err)
			}
			if v, err := cmp.eval(in); !v.IsNull() || err != nil {
				t.Errorf("%s > 3 of NULL: %v %v", text, v, err)
			}
		}
	}
}

// TestIntTermRemainders: the remainders an intTerm works out by multiplication are a % k
// for divisors small and large, of either sign, and values up to 2³¹ - 1; values it does
// not take (negative, 2³¹ and beyond) are left to the general path.
func TestIntTermRemainders(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	divisors := []int64{1, -1, 2, 3, 7, 10, -10, 16, 100, 641, 1000, 1 << 16, 65537, 1<<30 + 1, 1<<31 - 1, -(1<<31 - 1), 123456789}
	for range 200 {
		divisors = append(divisors, 1+rnd.Int64N(1<<31-1))
	}
	for _, k := range divisors {
		term := columnTerm(0).with(opcode.Mod, k)
		if term == nil {
			t.Fatalf("no term for a %% %d", k)
		}
		values := []int64{0, 1, 2, max(k, -k) - 1, max(k, -k), max(k, -k) + 1, 1<<31 - 1, 1<<31 - 2, 1 << 30}
		for range 2000 {
			values = append(values, rnd.Int64N(1<<31))
		}
		for _, a := range values {
			if a < 0 || a >= 1<<31 {
				continue
			}
			n, ok := term.of(&Input{Row: event.Row{event.Int(a)}})
			if !ok || n != a%k {
				t.Fatalf("%d %% %d: %d %v, want %d", a, k, n, ok, a%k)
			}
		}
		for _, a := range []int64{-1, -10, 1 << 31, math.MaxInt64, math.MinInt64} {
			if _, ok := term.of(&Input{Row: event.Row{event.Int(a)}}); ok {
				t.Fatalf("%d %% %d is worked out inline", a, k)
			}
		}
	}
	for _, k := range []int64{0, 1 << 31, math.MaxInt64, math.MinInt64} {
		if columnTerm(0).with(opcode.Mod, k) != nil {
			t.Fatalf("a term for a %% %d", k)
		}
	}
}

// TestConcat: CONCAT of columns, constants and calls (a CONCAT inside a CONCAT builds its
// text in the same arena first), of each kind of value, and NULL when any argument is.
func TestConcat(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"CONCAT(name, '-', id)", "Ada Lovelace-7"},
		{"CONCAT(id)", "7"},
		{"CONCAT(name, n)", "NULL"},
		{"CONCAT(n, UPPER(name))", "NULL"},
		{"CONCAT(UPPER(name), NULL)", "NULL"},
		{"CONCAT(id, NULL, 1 + 'x')", "NULL"},
		{"CONCAT(UPPER(name), '/', CONCAT(id, '-', LOWER(name)), '/', amount, '/', score, '/', vip, '/', created)",
			"ADA LOVELACE/7-ada lovelace/1234.50/0.25/1/2024-02-29 10:30:00"},
		{"CONCAT(CONCAT(name, id), CONCAT(id, name), id * 2)", "Ada Lovelace77Ada Lovelace14"},
	} {
		cols, err := compileProjection(c.expr+" AS v", testSchema, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		in := testInput()
		in.arena = &textArena{}
		for range 3 { // the same, again, in the same arena
			v, err := cols[0].Expr.Eval(in)
			got := toText(v)
			if v.IsNull() {
				got = "NULL"
			}
			if err != nil || got != c.want {
				t.Errorf("%s: %q %v, want %q", c.expr, got, err, c.want)
			}
		}
	}
}

// TestIfTerm: IF on the comparison of an intTerm with a constant, computed inline, takes
// the branch the general path takes, for values the term takes and values it leaves to
// the general path (negative, beyond 2³¹, NULL, an overflow).
func TestIfTerm(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "s", Table: "t"}, Columns: []event.Column{{Name: "a", Type: types.Type{Kind: types.Int64}, Nullable: true}}}
	cols, err := compileProjection("IF(a % 2 = 0, 'even', 'odd') AS p, IF(a * 2 > 10, 1, 2) AS q, IF(a + 1 <> 3, a, 0) AS r", s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []int64{0, 1, 2, 5, 6, -1, -2, -7, 1 << 31, 1<<31 + 1, math.MaxInt64, math.MinInt64, math.MaxInt64/2 + 1} {
		in := &Input{Schema: s, Row: event.Row{event.Int(a)}}
		p, err := cols[0].Expr.Eval(in)
		if want := map[bool]string{true: "even", false: "odd"}[a%2 == 0]; err != nil || p != event.String(want) {
			t.Errorf("IF(%d %% 2 = 0): %v %v, want %s", a, p, err, want)
		}
		q, err := cols[1].Expr.Eval(in)
		switch {
		case a > math.MaxInt64/2 || a < math.MinInt64/2: // a * 2 overflows: an error
			if err == nil {
				t.Errorf("IF(%d * 2 > 10): %v, want an overflow", a, q)
			}
		case err != nil || q.Int() != map[bool]int64{true: 1, false: 2}[a*2 > 10]:
			t.Errorf("IF(%d * 2 > 10): %v %v", a, q, err)
		}
		r, err := cols[2].Expr.Eval(in)
		switch {
		case a == math.MaxInt64:
			if err == nil {
				t.Errorf("IF(%d + 1 <> 3): %v, want an overflow", a, r)
			}
		case err != nil || r.Int() != map[bool]int64{true: a, false: 0}[a+1 != 3]:
			t.Errorf("IF(%d + 1 <> 3): %v %v", a, r, err)
		}
	}
	in := &Input{Schema: s, Row: event.Row{event.Null()}}
	for i, want := range []event.Value{event.String("odd"), event.Int(2), event.Int(0)} {
		if v, err := cols[i].Expr.Eval(in); err != nil || v != want {
			t.Errorf("%s of NULL: %v %v, want %v", cols[i].Expr.Text, v, err, want)
		}
	}
}

// TestLeaves: the columns the stage computes inline (leaf) come out as their closures
// compute them, for values the leaves take and values they leave to the closures.
func TestLeaves(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "s", Table: "t"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}},
		{Name: "a", Type: types.Type{Kind: types.Int64}, Nullable: true},
		{Name: "t", Type: types.Type{Kind: types.String}, Nullable: true},
	}}
	ps, err := connector.ParseTables("s.t")
	if err != nil {
		t.Fatal(err)
	}
	const projection = "id, a * 2 AS m, a - 3 AS d, IF(a % 2 = 0, 'even', 'odd') AS p, IF(a + 1 <> 3, a, 0) AS r, CHAR_LENGTH(t) AS n, " +
		"UPPER(LEFT(t, 2)) AS u, LOWER(t) AS lw, LEFT(t, 3) AS lf, UPPER(t) AS up"
	tr := New([]Rule{{Tables: ps, Projection: projection}}, nil, Options{})
	filtered := New([]Rule{{Tables: ps, Projection: projection, Filter: "a % 3 <> 1"}}, nil, Options{})
	filter, err := compileFilter("a % 3 <> 1", s, nil, nil)
	if err != nil || filter.leaf.kind != leafTest {
		t.Fatalf("the filter is not a leaf: %v", err)
	}
	cols, err := compileProjection(projection, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves := 0
	for _, c := range cols {
		if c.Expr.leaf.kind != leafNone {
			leaves++
		}
	}
	if leaves != 8 { // all but IF(a + 1 <> 3, a, 0), whose a is converted to the IF's type
		t.Fatalf("%d leaves, want 8", leaves)
	}
	var batch []event.Change
	for i, a := range []event.Value{event.Int(0), event.Int(2), event.Int(-7), event.Int(1 << 40), event.Int(math.MaxInt64 / 3),
		event.Int(math.MinInt64 / 4), event.Null(), event.Bool(true)} {
		for _, text := range []event.Value{event.String("héllo"), event.String("ABC-12"), event.String("abc"), event.String("Ab"), event.String(""),
			event.String("ÀB"), event.Null(), event.BytesString("abc")} {
			batch = append(batch, event.Change{Op: event.OpRead, Schema: s, After: event.Row{event.Int(int64(i)), a, text}})
		}
	}
	out, _, err := tr.Apply(nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(batch) {
		t.Fatalf("%d changes out of %d", len(out), len(batch))
	}
	kept, _, err := filtered.Apply(nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	var want []event.Value
	for _, c := range batch {
		if v, err := filter.Eval(&Input{Schema: s, Row: c.After}); err != nil {
			t.Fatal(err)
		} else if v.Bool() {
			want = append(want, c.After[0])
		}
	}
	if len(kept) != len(want) {
		t.Fatalf("the filter keeps %d changes, its closure %d", len(kept), len(want))
	}
	for i := range kept {
		if kept[i].After[0] != want[i] {
			t.Fatalf("the filter keeps the row of id %v, its closure that of %v", kept[i].After[0], want[i])
		}
	}
	for i, c := range out {
		in := &Input{Schema: s, Row: batch[i].After}
		for j, col := range cols {
			want, err := col.Expr.Eval(in)
			if err != nil {
				t.Fatalf("%s: %v", col.Expr.Text, err)
			}
			if got := c.After[j]; got != want {
				t.Errorf("%s of %v: %v (%v), want %v (%v)", col.Expr.Text, batch[i].After, got, got.Rep(), want, want.Rep())
			}
		}
	}
}
