package kafka

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// jsonRows reads json: each record value is one row, a JSON object (as weir's json format
// and most producers write rows). Every row is an upsert of its key, a delete where
// json.op-field names a field whose value is "d".
//
// The table is json.table, else the record's topic. Its columns are json.columns when
// declared ("id int64, name string(64), amount decimal(12,2)": `weir docs types`), else
// inferred from the first record (an integral number int64, another number float64, a
// string string, true/false boolean, an object or array json) and widened, announced
// altered, when a later record brings a new field or a value the type cannot hold (an
// integer column given a fraction becomes decimal; other clashes text). Its key
// is json.key, else the record key's fields (a JSON object), else none.
type jsonRows struct {
	table    event.TableID // zero: the topic's name
	declared *event.Schema // nil: inferred
	key      []string
	opField  string
}

// newJSONRows checks the declared settings.
func newJSONRows(table, columns, key, opField string) (*jsonRows, error) {
	d := &jsonRows{opField: opField}
	if table != "" {
		d.table = tableID(table)
	}
	for _, k := range strings.Split(key, ",") {
		if k = strings.TrimSpace(k); k != "" {
			d.key = append(d.key, k)
		}
	}
	if strings.TrimSpace(columns) == "" {
		return d, nil
	}
	s := &event.Schema{}
	for _, def := range splitColumns(columns) {
		name, typ, ok := strings.Cut(strings.TrimSpace(def), " ")
		if !ok {
			return nil, fmt.Errorf("json.columns: %q is not `name type`", def)
		}
		t, err := types.Parse(typ)
		if err != nil {
			return nil, fmt.Errorf("json.columns: column %s: %w", name, err)
		}
		s.Columns = append(s.Columns, event.Column{Name: name, Type: t, Nullable: true})
	}
	for _, k := range d.key {
		i := s.ColumnIndex(k)
		if i < 0 {
			return nil, fmt.Errorf("json.key names %s, which json.columns does not declare", k)
		}
		s.Key = append(s.Key, i)
		s.Columns[i].Nullable = false
	}
	d.declared = s
	return d, nil
}

// splitColumns splits a column list at the commas outside parentheses.
func splitColumns(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(', '<':
			depth++
		case ')', '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// tableID reads db.table (or db.schema.table).
func tableID(s string) event.TableID {
	parts := strings.Split(s, ".")
	switch len(parts) {
	case 1:
		return event.TableID{Table: parts[0]}
	case 2:
		return event.TableID{Schema: parts[0], Table: parts[1]}
	}
	return event.TableID{Namespace: parts[0], Schema: parts[1], Table: strings.Join(parts[2:], ".")}
}

func (d *jsonRows) decode(r *kgo.Record, known map[event.TableID]*table) ([]event.Change, *event.SchemaChange, error) {
	names, err := objectKeys(r.Value)
	if err != nil {
		return nil, nil, fmt.Errorf("json: the value is %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(r.Value, &obj); err != nil {
		return nil, nil, fmt.Errorf("json: %w", err)
	}
	id := d.table
	if id.Table == "" {
		id = tableID(r.Topic)
	}
	op := event.OpInsert
	if d.opField != "" {
		var letter string
		json.Unmarshal(obj[d.opField], &letter)
		if letter == "d" {
			op = event.OpDelete
		}
		names = slices.DeleteFunc(names, func(n string) bool { return n == d.opField })
	}
	var t *table
	var announce *event.SchemaChange
	if d.declared != nil {
		t, announce, err = learn(known, id, "declared", func() (*event.Schema, any, error) {
			s := *d.declared
			s.ID = id
			return &s, nil, nil
		})
	} else {
		t, announce, err = inferTable(known, id, names, obj, d.key, r.Key)
	}
	if err != nil {
		return nil, nil, err
	}
	row := make(event.Row, len(t.schema.Columns))
	for i := range t.schema.Columns {
		col := &t.schema.Columns[i]
		if row[i], err = textValue(obj[col.Name], col.Type, false); err != nil {
			return nil, nil, fmt.Errorf("json: column %s (%s): %w", col.Name, col.Type, err)
		}
	}
	c := event.Change{Schema: t.schema, Op: op, After: row}
	if op == event.OpDelete {
		c.Before, c.After = row, nil
	}
	return []event.Change{c}, announce, nil
}

// inferTable returns the table of a row whose columns are inferred (names, in order, and
// their values in obj): the known table when every field is a column whose type holds its
// value, else the table widened by the row's fields. A new table's key is key, else the
// fields of the record key recordKey (a JSON object).
func inferTable(known map[event.TableID]*table, id event.TableID, names []string, obj map[string]json.RawMessage, key []string, recordKey []byte) (*table, *event.SchemaChange, error) {
	var s *event.Schema
	if t := known[id]; t != nil {
		s = t.schema
	}
	fits := s != nil
	for _, n := range names {
		i := -1
		if s != nil {
			i = s.ColumnIndex(n)
		}
		if i < 0 {
			fits = false
			break
		}
		if _, err := textValue(obj[n], s.Columns[i].Type, false); err != nil {
			fits = false
			break
		}
	}
	if fits {
		return known[id], nil, nil
	}
	next := &event.Schema{ID: id}
	if s != nil {
		next.Columns, next.Key = slices.Clone(s.Columns), slices.Clone(s.Key)
	}
	for _, n := range names {
		seen := inferType(obj[n])
		i := next.ColumnIndex(n)
		if i < 0 {
			next.Columns = append(next.Columns, event.Column{Name: n, Type: seen, Nullable: true})
			continue
		}
		if _, err := textValue(obj[n], next.Columns[i].Type, false); err == nil {
			continue
		}
		cur := next.Columns[i].Type
		w, ok := types.Wider(cur, seen)
		switch {
		case numeric(cur.Kind) && numeric(seen.Kind) && (!ok || !numeric(w.Kind)):
			w = types.Type{Kind: types.Decimal} // holds an integer and a fraction alike
		case ok:
		default:
			w = types.Type{Kind: types.String} // text holds anything
		}
		next.Columns[i].Type = w
	}
	if s == nil {
		given := len(key) > 0
		if !given {
			key = keyFields(recordKey)
		}
		for _, k := range key {
			if i := next.ColumnIndex(k); i >= 0 {
				next.Key = append(next.Key, i)
				next.Columns[i].Nullable = false
			}
		}
		if given && len(next.Key) != len(key) {
			return nil, nil, fmt.Errorf("json.key names %s, and the first record of %s has no such field", strings.Join(key, ", "), id)
		}
	}
	raw, _ := json.Marshal(next.Columns)
	return learn(known, id, string(raw), func() (*event.Schema, any, error) { return next, nil, nil })
}

func numeric(k types.Kind) bool {
	return k == types.Int64 || k == types.Float64 || k == types.Decimal
}

// inferType is the type a JSON value suggests.
func inferType(raw json.RawMessage) types.Type {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "" || s == "null" || s[0] == '"':
		return types.Type{Kind: types.String}
	case s == "true" || s == "false":
		return types.Type{Kind: types.Boolean}
	case s[0] == '{' || s[0] == '[':
		return types.Type{Kind: types.JSON}
	case strings.ContainsAny(s, ".eE"):
		return types.Type{Kind: types.Float64}
	}
	return types.Type{Kind: types.Int64}
}
