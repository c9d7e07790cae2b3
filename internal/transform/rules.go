package transform

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// Rule is one item of a pipeline's transform list: the tables it matches, its projection
// (empty: every column), its filter (empty: every row) and the key of its output
// (empty: the source table's key, when the projection keeps its columns).
type Rule struct {
	Tables      []connector.TablePattern
	Projection  string
	Filter      string
	PrimaryKeys []string
	// Masks hide the values of the output columns they select (the first that selects a
	// column applies); MaskKey keys hash and encrypt.
	Masks   []Mask
	MaskKey *MaskKey
	// SoftDelete turns each delete, once projected, into an insert of the deleted row
	// (Flink CDC's converter-after-transform: SOFT_DELETE).
	SoftDelete bool
}

// matches reports whether the rule applies to table id (its db.table is the MySQL
// database or the PostgreSQL schema, and the table).
func (r *Rule) matches(id event.TableID) bool {
	for _, p := range r.Tables {
		if p.Match(id.Schema, id.Table) {
			return true
		}
	}
	return false
}

// plan is a rule compiled against one source schema; nil: the table passes unchanged.
type plan struct {
	out    *event.Schema
	cols   []Column
	filter *Expr
	// kept are the runs of source columns the projection copies as they are, computed
	// the indexes of cols evaluated per row, evals their closures.
	kept     []run
	computed []int
	evals    []evalFunc
	leaves   []leaf
	// softDelete: Rule.SoftDelete.
	softDelete bool
}

// convert applies the rule's converter to a change it has projected: a delete becomes
// an insert of the deleted row where the rule soft-deletes.
func (p *plan) convert(c *event.Change) {
	if p.softDelete && c.Op == event.OpDelete && c.Before != nil {
		c.Op, c.Before, c.After = event.OpInsert, nil, c.Before
	}
}

// slabValues is how many values the projected rows are cut from.
const slabValues = 16 << 10 / int(unsafe.Sizeof(event.Value{}))

// run is n columns copied from the source row at from to the output row at to.
type run struct{ from, to, n int }

// layout sets p.kept, p.computed, p.evals and p.leaves from p.cols.
func (p *plan) layout() {
	for i, c := range p.cols {
		if c.Source < 0 {
			p.computed = append(p.computed, i)
			p.evals = append(p.evals, c.Expr.eval)
			p.leaves = append(p.leaves, c.Expr.leaf)
			continue
		}
		if n := len(p.kept); n > 0 && p.kept[n-1].from+p.kept[n-1].n == c.Source && p.kept[n-1].to+p.kept[n-1].n == i {
			p.kept[n-1].n++ // the next column of the run before
			continue
		}
		p.kept = append(p.kept, run{from: c.Source, to: i, n: 1})
	}
}

// schema returns the schema a table of schema s has after the transform rules: s itself
// when no rule matches or the rule keeps every column as it is.
func (t *Transformer) schema(s *event.Schema) (*event.Schema, error) {
	p, err := t.plan(s)
	if err != nil || p == nil || p.cols == nil {
		return s, err
	}
	return p.out, nil
}

func (t *Transformer) plan(s *event.Schema) (*plan, error) {
	t.mu.Lock()
	p, ok := t.plans[s]
	t.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := t.compile(s)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.plans[s] = p
	t.mu.Unlock()
	return p, nil
}

func (t *Transformer) compile(s *event.Schema) (*plan, error) {
	var rule *Rule
	for i := range t.rules {
		if t.rules[i].matches(s.ID) {
			rule = &t.rules[i]
			break
		}
	}
	if rule == nil {
		return nil, nil
	}
	p := &plan{out: s, softDelete: rule.SoftDelete}
	if rule.Filter != "" {
		f, err := compileFilter(rule.Filter, s, t.loc, t.fns)
		if err != nil {
			return nil, err
		}
		p.filter = f
	}
	if strings.TrimSpace(rule.Projection) != "" && strings.TrimSpace(rule.Projection) != "*" || len(rule.PrimaryKeys) > 0 || len(rule.Masks) > 0 {
		proj := rule.Projection
		if strings.TrimSpace(proj) == "" {
			proj = "*"
		}
		cols, err := compileProjection(proj, s, t.loc, t.fns)
		if err != nil {
			return nil, err
		}
		out := &event.Schema{ID: s.ID, Version: s.Version}
		for _, c := range cols {
			col := event.Column{Name: c.Name, Type: c.Expr.Type, Nullable: true}
			if i := s.ColumnIndex(c.Name); i >= 0 && c.Expr.Text == c.Name { // a column kept as it is
				col = s.Columns[i]
			}
			out.Columns = append(out.Columns, col)
		}
		keys := rule.PrimaryKeys
		if len(keys) == 0 {
			keys = s.KeyNames()
		}
		for _, k := range keys {
			i := out.ColumnIndex(strings.TrimSpace(k))
			if i < 0 {
				if len(rule.PrimaryKeys) > 0 {
					return nil, fmt.Errorf("table %s: primary-keys names %s, which the projection does not have", s.ID, k)
				}
				return nil, fmt.Errorf("table %s: the projection leaves out key column %s; keep it, or set primary-keys", s.ID, k)
			}
			out.Key = append(out.Key, i)
			out.Columns[i].Nullable = false
		}
		for i := range cols {
			for _, m := range rule.Masks {
				if !m.selects(cols[i].Name) {
					continue
				}
				if err := m.apply(&cols[i], slices.Contains(out.Key, i), rule.MaskKey); err != nil {
					return nil, fmt.Errorf("table %s: %w", s.ID, err)
				}
				nullable := out.Columns[i].Nullable || m.Method == "null"
				out.Columns[i] = event.Column{Name: cols[i].Name, Type: cols[i].Expr.Type, Nullable: nullable}
				break
			}
		}
		p.out, p.cols = out, cols
		p.layout()
	}
	return p, nil
}

// applyRules transforms one change by the first matching rule: nothing (filtered out),
// or one change of the output schema. Under a filter an update is judged by both its rows:
// one whose new row stops matching becomes a delete of its old row, one whose new row
// starts matching an insert. (An update without its old row — a PostgreSQL table whose
// replica identity is the key alone — counts as matching before.)
func (t *Transformer) applyRules(c event.Change) (out event.Change, keep bool, err error) {
	return t.ev.applyRules(c)
}

// evaluator evaluates compiled rules on one goroutine at a time: the main one on the
// router's, each worker on its own (an expression's closures reuse buffers, so each
// evaluator has its own compilation of every plan; all share the main plans' output
// schemas).
type evaluator struct {
	t       *Transformer
	worker  bool
	plans   map[*event.Schema]*plan // a worker's own compilations
	scratch Input                   // the input of the change being transformed
	slab    []event.Value           // projected rows are cut from it
	arena   textArena               // computed text is built in it
	// last is the schema of the change before, lastPlan its plan: a batch is mostly of
	// one table.
	last     *event.Schema
	lastPlan *plan
}

func (e *evaluator) plan(s *event.Schema) (*plan, error) {
	if s == e.last {
		return e.lastPlan, nil
	}
	p, err := e.compiled(s)
	if err == nil {
		e.last, e.lastPlan = s, p
	}
	return p, err
}

func (e *evaluator) compiled(s *event.Schema) (*plan, error) {
	if !e.worker {
		return e.t.plan(s)
	}
	if p, ok := e.plans[s]; ok {
		return p, nil
	}
	main, err := e.t.plan(s)
	if err != nil || main == nil {
		return main, err
	}
	p, err := e.t.compile(s)
	if err != nil {
		return nil, err
	}
	p.out = main.out
	e.plans[s] = p
	return p, nil
}

func (e *evaluator) applyRules(c event.Change) (out event.Change, keep bool, err error) {
	out = c
	if keep, err = e.apply(&out); !keep || err != nil {
		return c, keep, err
	}
	return out, true, nil
}

// apply is applyRules in place: c becomes what the change becomes (it is left undefined
// when the change is filtered out or fails). The stage applies it to the copy of the
// change it appends to its output.
func (e *evaluator) apply(c *event.Change) (keep bool, err error) {
	src := c.Schema
	p, err := e.plan(src)
	if err != nil || p == nil {
		return err == nil, err
	}
	in := &e.scratch
	in.Schema, in.Op, in.CommitMicros, in.Pos, in.arena = src, c.Op, c.CommitMicros, c.Pos, &e.arena
	// Values the source did not send come only in changes of the log, never in rows read
	// by the snapshot.
	mayLack := c.Op != event.OpRead
	if p.filter != nil {
		was, err := e.match(p, src, c.Before, mayLack)
		if err != nil {
			return false, err
		}
		is, err := e.match(p, src, c.After, mayLack)
		if err != nil {
			return false, err
		}
		switch c.Op {
		case event.OpDelete:
			if !was {
				return false, nil
			}
		case event.OpUpdate:
			switch {
			case !was && !is:
				return false, nil
			case !is:
				c.Op, c.Before, c.After = event.OpDelete, beforeOrKey(*c), nil
			case !was:
				c.Op, c.Before = event.OpInsert, nil
			}
		default:
			if !is {
				return false, nil
			}
		}
	}
	if p.cols != nil {
		c.Schema = p.out
		if c.Before, err = e.project(p, src, c.Before, mayLack); err != nil {
			return false, err
		}
		if c.After, err = e.project(p, src, c.After, mayLack); err != nil {
			return false, err
		}
	}
	p.convert(c)
	return true, nil
}

// match reports whether row (of table s; nil: none, which matches) passes p's filter.
func (e *evaluator) match(p *plan, s *event.Schema, row event.Row, mayLack bool) (bool, error) {
	if row == nil {
		return true, nil
	}
	in := &e.scratch
	in.Row = row
	if mayLack {
		if col, some, _ := unsent(s, row, p.filter.refs); some {
			return false, unsentError(s, col, "the filter "+strconv.Quote(p.filter.Text))
		}
	}
	if l := &p.filter.leaf; l.kind == leafTest { // inline, as its closure computes it
		if n, ok := l.term.of(in); ok {
			return intHolds(l.op, n, l.k), nil
		}
	}
	v, err := p.filter.eval(in)
	if err != nil {
		return false, fmt.Errorf("the filter of %s: %w", s.ID, p.filter.failed(in, err))
	}
	return v.Rep() == event.RepBool && v.Bool(), nil
}

// project returns row (of table s; nil: none) projected by p, cut from the evaluator's
// slab.
func (e *evaluator) project(p *plan, s *event.Schema, row event.Row, mayLack bool) (event.Row, error) {
	if row == nil {
		return nil, nil
	}
	width := len(p.cols)
	if len(e.slab) < width { // rows are cut from one allocation of 16 KiB, a small-object size
		e.slab = make([]event.Value, max(1, slabValues/width)*width)
	}
	r := event.Row(e.slab[:width:width])
	e.slab = e.slab[width:]
	in := &e.scratch
	in.Row = row
	for _, k := range p.kept {
		copy(r[k.to:k.to+k.n], row[k.from:k.from+k.n])
	}
	for j, i := range p.computed {
		if mayLack {
			col := &p.cols[i]
			if miss, some, all := unsent(s, row, col.Expr.refs); some {
				if !all {
					return nil, unsentError(s, miss, "column "+col.Name+" ("+col.Expr.Text+")")
				}
				r[i] = event.Unchanged() // computed from values that did not change: the sink keeps it
				continue
			}
		}
		// the leaves inline (leaf), each as its closure computes it
		switch l := &p.leaves[j]; l.kind {
		case leafTerm:
			if n, ok := l.term.of(in); ok {
				r[i] = event.Int(n)
				continue
			}
		case leafIf:
			if n, ok := l.term.of(in); ok {
				o := &l.els
				if intHolds(l.op, n, l.k) {
					o = &l.then
				}
				r[i], _ = o.direct(in)
				continue
			}
		case leafCharLength:
			if v := row[l.col]; v.Rep() == event.RepString {
				r[i] = event.Int(int64(runeCount(v.Str())))
				continue
			}
		case leafLeft, leafCase:
			if v := row[l.col]; v.Rep() == event.RepString {
				text := v.Str()
				if l.k >= 0 {
					text = text[:runeOffset(text, l.k)]
				}
				same := true // ASCII with no letter to change: the case changes nothing
				for b := 0; b < len(text) && l.kind == leafCase; b++ {
					if c := text[b]; c >= utf8.RuneSelf || c >= l.lo && c <= l.hi {
						same = false
						break
					}
				}
				if same {
					r[i] = event.String(text)
					continue
				}
			}
		}
		v, err := p.evals[j](in)
		if err != nil {
			col := &p.cols[i]
			return nil, fmt.Errorf("column %s of %s: %w", col.Name, p.out.ID, col.Expr.failed(in, err))
		}
		r[i] = v
	}
	return r, nil
}

// unsent reports whether row lacks a value of the columns refs (an unchanged TOASTed value
// that PostgreSQL does not send, event.Unchanged): some says one does, col names it, and
// all says every non-key column of refs does (what reads them alone has not changed).
func unsent(s *event.Schema, row event.Row, refs []int) (col string, some, all bool) {
	all = true
	for _, i := range refs {
		switch {
		case i < len(row) && row[i].Rep() == event.RepUnchanged:
			col, some = s.Columns[i].Name, true
		case !slices.Contains(s.Key, i):
			all = false
		}
	}
	return col, some, all
}

// unsentError says that what (a filter, a computed column) reads a value the source did
// not send alongside values it did, and what to do.
func unsentError(s *event.Schema, col, what string) error {
	return fmt.Errorf("%s of %s reads column %s, which this update of the source did not send (an unchanged TOASTed value), "+
		"with columns it did send, so it cannot be computed: set REPLICA IDENTITY FULL on the table, so that its updates carry every column",
		what, s.ID, col)
}

// beforeOrKey is the old row of an update, or its new row when the source did not send
// the old one (the key is the same then).
func beforeOrKey(c event.Change) event.Row {
	if c.Before != nil {
		return c.Before
	}
	return c.After
}
