package transform

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Route is one item of the route list: the tables it matches go to SinkTable.
//
// SinkTable is "db.table" (a name without a '.' keeps the source's database). In it, $1,
// $2, … stand for the groups of the matching pattern's database regex, then of its table
// regex; ReplaceSymbol, when set, stands for the source table's name. SourceColumn, when
// set, adds a column of that name holding each row's source table ("db.table") to the
// sink table and to its key, so that rows of merged tables whose keys collide stay apart.
type Route struct {
	Tables        []connector.TablePattern
	SinkTable     string
	ReplaceSymbol string
	SourceColumn  string // source-table-column
}

// sinkID returns the sink table route r gives table id, and whether r matches id.
func (r *Route) sinkID(id event.TableID) (event.TableID, bool) {
	for _, p := range r.Tables {
		dm, tm := p.DBRe.FindStringSubmatch(id.Schema), p.TableRe.FindStringSubmatch(id.Table)
		if dm == nil || tm == nil {
			continue
		}
		name := r.SinkTable
		groups := append(dm[1:len(dm):len(dm)], tm[1:]...)
		for i := len(groups); i >= 1; i-- { // $12 before $1
			name = strings.ReplaceAll(name, "$"+strconv.Itoa(i), groups[i-1])
		}
		if r.ReplaceSymbol != "" {
			name = strings.ReplaceAll(name, r.ReplaceSymbol, id.Table)
		}
		db, table, ok := strings.Cut(name, ".")
		if !ok {
			db, table = id.Schema, name
		}
		return event.TableID{Namespace: id.Namespace, Schema: db, Table: table}, true
	}
	return event.TableID{}, false
}

// router sends changes and schema changes of (transformed) source tables to their sink
// tables. A sink table that one source table is routed to follows that table: its
// schema changes pass through, renamed. One that several tables are routed to is merged:
// its schema is the union of theirs, each column of a type that holds the values of all
// (types.Wider, else a wider number, else text), nullable where any of them lacks it; it
// only ever widens, and truncating or dropping one of the tables leaves it as it is.
type router struct {
	routes     []Route
	firstMatch bool // only the first route that matches a table applies
	log        *slog.Logger
	targets    map[event.TableID]*target
	convs      map[*event.Schema][]*conv // by source schema: how its rows go to each sink table
}

// target is one sink table that routes lead to.
type target struct {
	id      event.TableID
	column  string                          // the source column (Route.SourceColumn), "" for none
	sources map[event.TableID]*event.Schema // the latest schema of each table routed here
	merged  bool                            // more than one table has been routed here
	schema  *event.Schema                   // nil until a table is routed here
}

// conv turns rows of one source schema into rows of its sink table's current schema.
type conv struct {
	t     *target
	from  *event.Schema
	built *event.Schema // the t.schema idx was computed for
	same  bool          // rows pass as they are
	idx   []int         // where each column of from goes in built
	cast  []*types.Type // the type a column's values are converted to; nil: none
	tag   int           // the source column's index in built, -1 for none
	tagV  event.Value
}

// prepare merges each sink table's source tables, in order.
func (rt *router) prepare(schemas []*event.Schema) error {
	rt.targets = map[event.TableID]*target{}
	rt.convs = map[*event.Schema][]*conv{}
	for _, s := range schemas {
		if _, _, err := rt.convsOf(s); err != nil {
			return err
		}
	}
	return nil
}

// apply appends to dst change c once per sink table its table is routed to (c itself when
// none); ddl widens merged sink tables first where c's schema is new to them.
func (rt *router) apply(dst []event.Change, c event.Change) ([]event.Change, []*event.SchemaChange, error) {
	convs, ddl, err := rt.convsOf(c.Schema)
	if err != nil || len(convs) == 0 {
		return append(dst, c), ddl, err
	}
	for _, cv := range convs {
		out := c
		out.Schema = cv.t.schema
		if out.Before, err = cv.row(c.Before); err == nil {
			out.After, err = cv.row(c.After)
		}
		if err != nil {
			return dst, nil, fmt.Errorf("route a row of %s to %s: %w", c.Schema.ID, cv.t.id, err)
		}
		dst = append(dst, out)
	}
	return dst, ddl, nil
}

// convsOf returns how rows of schema s go to their sink tables, merging s into them the
// first time it is seen.
func (rt *router) convsOf(s *event.Schema) ([]*conv, []*event.SchemaChange, error) {
	if convs, ok := rt.convs[s]; ok {
		for _, cv := range convs {
			if cv.built != cv.t.schema {
				cv.build()
			}
		}
		return convs, nil, nil
	}
	var convs []*conv
	var ddl []*event.SchemaChange
	for _, t := range rt.targetsOf(s.ID) {
		change, err := t.widen(s)
		if err != nil {
			return nil, nil, err
		}
		if change != nil {
			ddl = append(ddl, change)
		}
		convs = append(convs, t.conv(s))
	}
	rt.convs[s] = convs
	return convs, ddl, nil
}

// targetsOf returns the sink tables table id is routed to, one per distinct table.
func (rt *router) targetsOf(id event.TableID) []*target {
	var out []*target
	for i := range rt.routes {
		r := &rt.routes[i]
		sid, ok := r.sinkID(id)
		if !ok {
			continue
		}
		t := rt.targets[sid]
		if t == nil {
			t = &target{id: sid, column: r.SourceColumn, sources: map[event.TableID]*event.Schema{}}
			rt.targets[sid] = t
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
		if rt.firstMatch {
			break
		}
	}
	return out
}

// schemaChange routes schema change c of a source table (see router).
func (rt *router) schemaChange(c *event.SchemaChange) ([]*event.SchemaChange, error) {
	targets := rt.targetsOf(c.Table)
	if len(targets) == 0 && (c.Kind != event.RenameTable || c.After == nil) {
		return []*event.SchemaChange{c}, nil
	}
	var out []*event.SchemaChange
	switch c.Kind {
	case event.DropTable, event.TruncateTable:
		for _, t := range targets {
			if t.merged {
				rt.log.Info("a table merged with others into one sink table was "+map[bool]string{true: "dropped", false: "truncated"}[c.Kind == event.DropTable]+
					"; the sink table keeps its rows", "table", c.Table, "sink_table", t.id)
			} else if t.schema != nil {
				tc := *c
				tc.Table, tc.Before = t.id, t.schema
				if c.Kind == event.TruncateTable {
					tc.After = t.schema
				}
				out = append(out, &tc)
			}
			if c.Kind == event.DropTable {
				delete(t.sources, c.Table)
			}
		}
		return out, nil
	case event.RenameTable: // it leaves its sink tables as they are and joins those of its new name
		if len(targets) == 0 && len(rt.targetsOf(c.After.ID)) == 0 {
			return []*event.SchemaChange{c}, nil
		}
		for _, t := range targets {
			delete(t.sources, c.Table)
		}
		if c.After == nil {
			return nil, nil
		}
		_, ddl, err := rt.convsOf(c.After) // none when the new name is not routed: the sink creates its table
		return ddl, err
	}
	if c.After == nil {
		return nil, nil
	}
	for _, t := range targets {
		if t.merged || t.schema == nil || len(t.sources) == 0 {
			change, err := t.widen(c.After)
			if err != nil {
				return nil, err
			}
			if change != nil {
				out = append(out, change)
			}
			continue
		}
		tc := *c // one table routed here: the change passes, renamed
		tc.Table, tc.Before, tc.After = t.id, t.schema, t.follow(c.After)
		t.schema = tc.After
		t.sources[c.Table] = c.After
		out = append(out, &tc)
	}
	convs := make([]*conv, len(targets))
	for i, t := range targets {
		convs[i] = t.conv(c.After)
	}
	rt.convs[c.After] = convs
	return out, nil
}

// follow is the sink table's schema for the one table s routed to it: s renamed, with the
// source column.
func (t *target) follow(s *event.Schema) *event.Schema {
	out := &event.Schema{ID: t.id, Columns: slices.Clone(s.Columns), Key: slices.Clone(s.Key), Version: s.Version}
	if t.column != "" {
		out.Columns = append(out.Columns, event.Column{Name: t.column, Type: types.Type{Kind: types.String}})
		out.Key = append(out.Key, len(out.Columns)-1)
	}
	return out
}

// widen merges table schema s into the sink table. It returns the schema change that
// widens the sink table, or nil when it need not change (or is new: the sink creates it
// with its first row).
func (t *target) widen(s *event.Schema) (*event.SchemaChange, error) {
	t.sources[s.ID] = s
	if len(t.sources) > 1 {
		t.merged = true
	}
	old := t.schema
	if old == nil {
		t.schema = t.follow(s)
		return nil, nil
	}
	next := &event.Schema{ID: t.id, Columns: slices.Clone(old.Columns), Key: old.Key, Version: old.Version}
	for _, name := range old.KeyNames() {
		if name != t.column && s.ColumnIndex(name) < 0 {
			return nil, fmt.Errorf("table %s is routed to %s, whose key (%s) it does not have all of: it lacks %s; "+
				"route it elsewhere, or give the routed tables the same key (a transform's primary-keys)",
				s.ID, t.id, strings.Join(old.KeyNames(), ", "), name)
		}
	}
	for i := range next.Columns {
		if col := &next.Columns[i]; col.Name != t.column && s.ColumnIndex(col.Name) < 0 && !slices.Contains(next.Key, i) {
			col.Nullable = true // s's rows have none
		}
	}
	for _, c := range s.Columns {
		i := next.ColumnIndex(c.Name)
		if i < 0 {
			c.Nullable = true // the other tables' rows have none
			next.Columns = append(next.Columns, c)
			continue
		}
		col := &next.Columns[i]
		col.Type = mergeType(col.Type, c.Type)
		col.Nullable = col.Nullable || c.Nullable && !slices.Contains(next.Key, i)
	}
	if columnsEqual(old, next) {
		return nil, nil
	}
	next.Version++
	t.schema = next
	return &event.SchemaChange{Kind: event.AlterTable, Table: t.id, Before: old, After: next,
		DDL: fmt.Sprintf("widened to fit %s (merged tables)", s.ID)}, nil
}

func columnsEqual(a, b *event.Schema) bool {
	return slices.EqualFunc(a.Columns, b.Columns, func(x, y event.Column) bool {
		return x.Name == y.Name && x.Nullable == y.Nullable && x.Type.String() == y.Type.String()
	})
}

// mergeType is a type that holds the values of a and of b: types.Wider where there is one,
// else a number that holds both numbers (decimal, or double with a float), else text.
func mergeType(a, b types.Type) types.Type {
	if w, ok := types.Wider(a, b); ok {
		return w
	}
	switch {
	case intDigits(a.Kind) > 0 && intDigits(b.Kind) > 0: // int64 and uint64
		return types.Type{Kind: types.Decimal, Precision: 20}
	case (numericKind(a.Kind) || a.Kind == types.Decimal) && (numericKind(b.Kind) || b.Kind == types.Decimal):
		if a.Kind == types.Float32 || a.Kind == types.Float64 || b.Kind == types.Float32 || b.Kind == types.Float64 {
			return types.Type{Kind: types.Float64}
		}
		da, db := decimalOf(a), decimalOf(b)
		return mergeType(da, db)
	case a.Kind == types.Date && b.Kind == types.Timestamp || a.Kind == types.Timestamp && b.Kind == types.Date:
		return types.Type{Kind: types.Timestamp, Precision: max(a.Precision, b.Precision)}
	}
	return types.Type{Kind: types.String}
}

// intDigits is the decimal digits an integer kind needs; 0 for other kinds.
func intDigits(k types.Kind) int {
	switch k {
	case types.Int8:
		return 3
	case types.Int16:
		return 5
	case types.Int32:
		return 10
	case types.Int64:
		return 19
	case types.Uint64:
		return 20
	}
	return 0
}

func numericKind(k types.Kind) bool {
	return intDigits(k) > 0 || k == types.Float32 || k == types.Float64
}

// decimalOf is t as a decimal type (t is an integer or a decimal).
func decimalOf(t types.Type) types.Type {
	if t.Kind == types.Decimal {
		return t
	}
	return types.Type{Kind: types.Decimal, Precision: intDigits(t.Kind)}
}

// conv returns how rows of s go to the sink table.
func (t *target) conv(s *event.Schema) *conv {
	cv := &conv{t: t, from: s, tagV: event.String(s.ID.Schema + "." + s.ID.Table)}
	cv.build()
	return cv
}

func (cv *conv) build() {
	to := cv.t.schema
	cv.built, cv.tag = to, to.ColumnIndex(cv.t.column)
	if cv.t.column == "" {
		cv.tag = -1
	}
	cv.idx = make([]int, len(cv.from.Columns))
	cv.cast = make([]*types.Type, len(cv.from.Columns))
	cv.same = cv.tag < 0 && len(cv.from.Columns) == len(to.Columns)
	for i, c := range cv.from.Columns {
		j := to.ColumnIndex(c.Name)
		cv.idx[i] = j
		if j != i {
			cv.same = false
		}
		if j >= 0 && needsCast(c.Type, to.Columns[j].Type) {
			cv.cast[i] = &to.Columns[j].Type
			cv.same = false
		}
	}
}

// needsCast reports whether values of type from are held differently in type to.
func needsCast(from, to types.Type) bool {
	if from.Kind == to.Kind {
		return false
	}
	ints := func(k types.Kind) bool { return intDigits(k) > 0 && k != types.Uint64 }
	return !(ints(from.Kind) && ints(to.Kind))
}

// row converts one row (nil stays nil).
func (cv *conv) row(r event.Row) (event.Row, error) {
	if r == nil || cv.same {
		return r, nil
	}
	out := make(event.Row, len(cv.built.Columns))
	for i, v := range r {
		j := cv.idx[i]
		if j < 0 {
			continue
		}
		if t := cv.cast[i]; t != nil && v.Rep() != event.RepUnchanged {
			w, err := coerce(v, *t)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", cv.from.Columns[i].Name, err)
			}
			v = w
		}
		out[j] = v
	}
	if cv.tag >= 0 {
		out[cv.tag] = cv.tagV
	}
	return out, nil
}
