package transform

import (
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// Transformer is a pipeline's transform stage: its transform rules, then its routes, as
// in Flink CDC. A change is first projected and filtered by the first rule whose
// source-table matches its table, then sent to the sink table of every route that
// matches it (its own name when none does). It implements engine.Transformer. Its
// methods are not safe for concurrent use (the engine calls them from its router).
type Transformer struct {
	ev         *evaluator   // on the caller's goroutine
	workers    []*evaluator // for batches evaluated in parallel
	results    []result
	loc        *time.Location
	noPushdown bool
	fns        Functions // user-defined functions
	rules      []Rule
	mu         sync.Mutex
	plans      map[*event.Schema]*plan
	routes     *router // nil: no routes
}

// Options are the transform stage's settings.
type Options struct {
	// TimeZone is the pipeline's local-time-zone: where temporal functions read wall
	// clocks (nil: UTC).
	TimeZone *time.Location
	// Log receives what the stage deliberately leaves out (a truncate of one of several
	// merged tables); nil: nothing.
	Log *slog.Logger
	// NoPushdown keeps filters out of the sources' snapshot queries (Pushdown pushes
	// nothing).
	NoPushdown bool
	// FirstMatch routes a table by the first route that matches it only (Flink CDC's
	// route-mode FIRST_MATCH); by default every matching route sends it to its sink table.
	FirstMatch bool
	// Functions are the pipeline's user-defined functions (udf.go).
	Functions Functions
}

// New returns the transform stage of rules and routes, each in order.
func New(rules []Rule, routes []Route, o Options) *Transformer {
	t := &Transformer{rules: rules, plans: map[*event.Schema]*plan{}, loc: o.TimeZone, noPushdown: o.NoPushdown, fns: o.Functions}
	t.ev = &evaluator{t: t}
	if len(routes) > 0 {
		if o.Log == nil {
			o.Log = slog.New(slog.DiscardHandler)
		}
		t.routes = &router{routes: routes, log: o.Log, firstMatch: o.FirstMatch}
	}
	return t
}

// Prepare starts a run of the pipeline on the source's schemas: the tables routed into
// one sink table are merged up front, so the sink table fits them all from its first row.
//
// It also checks that each column a mask names is a column of some table its rule
// applies to: a misspelt name would otherwise leave the data it meant to hide in clear.
func (t *Transformer) Prepare(schemas []*event.Schema) error {
	var out []*event.Schema
	for _, s := range schemas {
		ts, err := t.schema(s)
		if err != nil {
			return fault.AsFatal(err)
		}
		out = append(out, ts)
	}
	if err := t.checkMasks(schemas, out); err != nil {
		return fault.AsFatal(err)
	}
	if t.routes == nil {
		return nil
	}
	return fault.AsFatal(t.routes.prepare(out))
}

// checkMasks reports the mask columns that no table of their rule has (in has, the
// output schemas of the source schemas in, by position).
func (t *Transformer) checkMasks(in, has []*event.Schema) error {
	for i := range t.rules {
		r := &t.rules[i]
		var tables []string
		columns := map[string]bool{}
		for j, s := range in {
			if t.ruleFor(s.ID) != r {
				continue
			}
			tables = append(tables, s.ID.Schema+"."+s.ID.Table)
			for _, c := range has[j].Columns {
				columns[strings.ToLower(c.Name)] = true
			}
		}
		if len(tables) == 0 {
			continue // no table yet: it may come later
		}
		for _, m := range r.Masks {
			for _, c := range m.Columns {
				if !columns[c] {
					return fmt.Errorf("transform rule %d: mask %q names column %s, which none of its tables (%s) has; "+
						"correct the name, or the data it should hide is written in clear", i+1, m.Written, c, strings.Join(tables, ", "))
				}
			}
		}
	}
	return nil
}

// parallelMin is the smallest batch whose rules are evaluated by several goroutines.
const parallelMin = 256

// result is what the rules make of one change of a batch.
type result struct {
	out  event.Change
	keep bool
	err  error
}

// Apply appends to dst what each change of batch becomes in the sink, in order (see
// engine.Transformer). The rules of a large batch are evaluated by as many goroutines as
// there are processors, each on its part; the routes then run in order on the caller's.
func (t *Transformer) Apply(dst []event.Change, batch []event.Change) ([]event.Change, []*event.SchemaChange, error) {
	var ddl []*event.SchemaChange
	n := min(runtime.GOMAXPROCS(0), len(batch)/parallelMin)
	if n <= 1 && t.routes == nil { // each change transformed where it ends up
		for i := range batch {
			dst = append(dst, batch[i])
			keep, err := t.ev.apply(&dst[len(dst)-1])
			if err != nil {
				return dst[:len(dst)-1], ddl, fault.AsFatal(err)
			}
			if !keep {
				dst = dst[:len(dst)-1]
			}
		}
		return dst, ddl, nil
	}
	if n <= 1 {
		for i := range batch {
			out := batch[i]
			keep, err := t.ev.apply(&out)
			if err != nil {
				return dst, ddl, fault.AsFatal(err)
			}
			if keep {
				var d []*event.SchemaChange
				if dst, d, err = t.route(dst, out); err != nil {
					return dst, ddl, err
				}
				ddl = append(ddl, d...)
			}
		}
		return dst, ddl, nil
	}
	for len(t.workers) < n-1 {
		t.workers = append(t.workers, &evaluator{t: t, worker: true, plans: map[*event.Schema]*plan{}})
	}
	t.results = slices.Grow(t.results[:0], len(batch))[:len(batch)]
	part := (len(batch) + n - 1) / n
	eval := func(ev *evaluator, lo, hi int) {
		for i := lo; i < hi; i++ {
			r := &t.results[i]
			r.out = batch[i]
			r.keep, r.err = ev.apply(&r.out)
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eval(t.workers[w-1], w*part, min(len(batch), (w+1)*part))
		}()
	}
	eval(t.ev, 0, min(len(batch), part))
	wg.Wait()
	for i := range t.results {
		r := &t.results[i]
		if r.err != nil {
			return dst, ddl, fault.AsFatal(r.err)
		}
		if r.keep {
			var d []*event.SchemaChange
			var err error
			if dst, d, err = t.route(dst, r.out); err != nil {
				return dst, ddl, err
			}
			ddl = append(ddl, d...)
		}
		*r = result{}
	}
	return dst, ddl, nil
}

// route appends c as the routes send it (c itself when there are none).
func (t *Transformer) route(dst []event.Change, c event.Change) ([]event.Change, []*event.SchemaChange, error) {
	if t.routes == nil {
		return append(dst, c), nil, nil
	}
	return t.routes.apply(dst, c)
}

// SchemaChange returns what source schema change c is in the sink: the same change
// between the transformed schemas, nothing when the transform hides it (a column the
// projection does not keep), then routed. A projection that no longer compiles (it uses a
// dropped column) stops the pipeline, naming the expression.
func (t *Transformer) SchemaChange(c *event.SchemaChange) ([]*event.SchemaChange, error) {
	out := *c
	var err error
	if c.Before != nil {
		if out.Before, err = t.schema(c.Before); err != nil {
			return nil, fault.AsFatal(fmt.Errorf("the transform of the table before it: %w", err))
		}
	}
	if c.After != nil {
		if out.After, err = t.schema(c.After); err != nil {
			return nil, fault.AsFatal(fmt.Errorf("the transform no longer applies to the table: %w", err))
		}
	}
	if c.Column != "" && out.After != nil && out.Before != nil &&
		out.After.ColumnIndex(c.Column) < 0 && out.Before.ColumnIndex(c.Column) < 0 && out.After != c.After {
		return nil, nil // a column the projection does not have
	}
	if t.routes == nil {
		return []*event.SchemaChange{&out}, nil
	}
	changes, err := t.routes.schemaChange(&out)
	return changes, fault.AsFatal(err)
}

// Explanation says what the stage does to one source table (`weir preview --explain`).
type Explanation struct {
	Table      event.TableID
	Rule       int      // the index of the transform rule that applies, -1 for none
	Projection []string // each output column: "name type = expression"
	Filter     string   // as written; "" for none
	Pushed     string   // the part of the filter the source evaluates ("" for none)
	Kept       []string // the terms only weir evaluates
	Sinks      []string // the sink tables its rows go to
}

// Explain says what the stage does to table s, whose source writes SQL in dialect (""
// for a source that takes no pushed filter).
func (t *Transformer) Explain(s *event.Schema, dialect string) (Explanation, error) {
	ex := Explanation{Table: s.ID, Rule: -1}
	for i := range t.rules {
		if t.rules[i].matches(s.ID) {
			ex.Rule = i
			ex.Filter = t.rules[i].Filter
			break
		}
	}
	p, err := t.plan(s)
	if err != nil {
		return ex, err
	}
	out := s
	if p != nil && p.cols != nil {
		out = p.out
		for i, c := range p.cols {
			ex.Projection = append(ex.Projection, fmt.Sprintf("%s %s = %s", c.Name, out.Columns[i].Type, c.Expr.Text))
		}
	}
	switch {
	case ex.Filter == "":
	case dialect == "":
		ex.Kept = []string{ex.Filter}
	default:
		if ex.Pushed, ex.Kept, err = t.Pushdown(s, dialect); err != nil {
			return ex, err
		}
	}
	if t.routes != nil {
		for _, tg := range t.routes.targetsOf(out.ID) {
			ex.Sinks = append(ex.Sinks, tg.id.String())
		}
	}
	if len(ex.Sinks) == 0 {
		ex.Sinks = []string{out.ID.String()}
	}
	return ex, nil
}

// SourceKey says how to find the row of table s behind a row of sink table sink: for each
// of s's key columns, the index in sink's key of the column that copies it unchanged. ok
// is false when a key column of s is not copied into sink's key (it is computed, masked
// or left out): sink's rows then cannot be traced back to s's.
func (t *Transformer) SourceKey(s, sink *event.Schema) (idx []int, ok bool) {
	p, err := t.plan(s)
	if err != nil {
		return nil, false
	}
	for _, k := range s.Key {
		name := s.Columns[k].Name // its name in the transformed table, when copied
		if p != nil && p.cols != nil {
			name = ""
			for _, c := range p.cols {
				if c.Source == k {
					name = c.Name
					break
				}
			}
		}
		at := slices.IndexFunc(sink.Key, func(i int) bool { return name != "" && sink.Columns[i].Name == name })
		if at < 0 {
			return nil, false
		}
		idx = append(idx, at)
	}
	return idx, true
}

// SinkSchemas returns the schemas of the sink tables that table s's rows go to (after
// Prepare): one per route that matches it, or its transformed self.
func (t *Transformer) SinkSchemas(s *event.Schema) ([]*event.Schema, error) {
	out, err := t.schema(s)
	if err != nil {
		return nil, err
	}
	if t.routes == nil {
		return []*event.Schema{out}, nil
	}
	convs, _, err := t.routes.convsOf(out)
	if err != nil {
		return nil, err
	}
	if len(convs) == 0 {
		return []*event.Schema{out}, nil
	}
	var schemas []*event.Schema
	for _, cv := range convs {
		schemas = append(schemas, cv.t.schema)
	}
	return schemas, nil
}
