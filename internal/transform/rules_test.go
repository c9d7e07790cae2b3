package transform

import (
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func rules(t *testing.T, tables, projection, filter string, keys ...string) *Transformer {
	t.Helper()
	ps, err := connector.ParseTables(tables)
	if err != nil {
		t.Fatal(err)
	}
	return New([]Rule{{Tables: ps, Projection: projection, Filter: filter, PrimaryKeys: keys}}, nil, Options{})
}

func row(id int64, name string, amount string) event.Row {
	r := testInput().Row
	out := append(event.Row{}, r...)
	out[0], out[1], out[2] = event.Int(id), event.String(name), event.Decimal(amount)
	return out
}

// TestFilteredUpdates: under a filter, an update is judged by both rows — it stays an
// update when both match, becomes an insert when the row starts matching and a delete
// when it stops; deletes and inserts pass only when they match; a table no rule matches
// passes unchanged.
func TestFilteredUpdates(t *testing.T) {
	tr := rules(t, `shop.orders_\d+`, "id, UPPER(name) AS name, amount * 2 AS dbl", "amount > 100")
	big, small := row(1, "a", "500.00"), row(1, "a", "5.00")
	for _, c := range []struct {
		what string
		in   event.Change
		want string
	}{
		{"insert matching", event.Change{Op: event.OpInsert, Schema: testSchema, After: big}, "insert [1 A 1000.00]"},
		{"insert not matching", event.Change{Op: event.OpInsert, Schema: testSchema, After: small}, "-"},
		{"update staying in", event.Change{Op: event.OpUpdate, Schema: testSchema, Before: big, After: big}, "update [1 A 1000.00]"},
		{"update moving out", event.Change{Op: event.OpUpdate, Schema: testSchema, Before: big, After: small}, "delete [1 A 1000.00]"},
		{"update moving in", event.Change{Op: event.OpUpdate, Schema: testSchema, Before: small, After: big}, "insert [1 A 1000.00]"},
		{"update staying out", event.Change{Op: event.OpUpdate, Schema: testSchema, Before: small, After: small}, "-"},
		{"update without its old row, out", event.Change{Op: event.OpUpdate, Schema: testSchema, After: small}, "delete [1 A 10.00]"},
		{"delete matching", event.Change{Op: event.OpDelete, Schema: testSchema, Before: big}, "delete [1 A 1000.00]"},
		{"delete not matching", event.Change{Op: event.OpDelete, Schema: testSchema, Before: small}, "-"},
		{"snapshot row", event.Change{Op: event.OpRead, Schema: testSchema, After: big}, "read [1 A 1000.00]"},
	} {
		out, keep, err := tr.applyRules(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		got := "-"
		if keep {
			var vals []string
			for _, v := range out.Row() {
				vals = append(vals, toText(v))
			}
			got = out.Op.String() + " [" + strings.Join(vals, " ") + "]"
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.what, got, c.want)
		}
	}
	other := &event.Schema{ID: event.TableID{Schema: "shop", Table: "customers"}, Columns: testSchema.Columns, Key: []int{0}}
	c := event.Change{Op: event.OpInsert, Schema: other, After: small}
	if out, keep, err := tr.applyRules(c); err != nil || !keep || out.Schema != other {
		t.Fatalf("a table no rule matches: %v %v %v", out, keep, err)
	}
}

// TestOutputSchema: the projection's schema keeps the key and the types of the columns
// it keeps, types computed ones by inference, and refuses to lose the key.
func TestOutputSchema(t *testing.T) {
	s, err := rules(t, `shop.\.*`, "id, name, amount * 2 AS dbl, __table_name__ AS src", "").schema(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range s.Columns {
		got = append(got, c.Name+":"+c.Type.String())
	}
	if strings.Join(got, " ") != "id:int64 name:string dbl:decimal(20,2) src:string" || strings.Join(s.KeyNames(), ",") != "id" {
		t.Fatalf("schema %v key %v", got, s.KeyNames())
	}
	if _, err := rules(t, `shop.\.*`, "name", "").schema(testSchema); err == nil || !strings.Contains(err.Error(), "leaves out key column id; keep it, or set primary-keys") {
		t.Fatalf("a projection without the key: %v", err)
	}
	s, err = rules(t, `shop.\.*`, "id, name, __table_name__ AS src", "", "src", "id").schema(testSchema)
	if err != nil || strings.Join(s.KeyNames(), ",") != "src,id" {
		t.Fatalf("primary-keys: %v %v", s, err)
	}
	if s, _ := rules(t, `shop.\.*`, "", "id > 1").schema(testSchema); s != testSchema {
		t.Fatal("a filter alone must keep the schema as it is")
	}
}

var sbtest = &event.Schema{ID: event.TableID{Schema: "sb", Table: "sbtest1"}, Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: types.Type{Kind: types.Int32}},
	{Name: "k", Type: types.Type{Kind: types.Int32}},
	{Name: "c", Type: types.Type{Kind: types.String, Length: 120, Fixed: true}},
	{Name: "pad", Type: types.Type{Kind: types.String, Length: 60, Fixed: true}},
}}

// BenchmarkTransformApply is the transform stage on batches of 1,000 sysbench rows: five
// computed columns and a filter that keeps 90% of the rows (the bench's MariaDB →
// discard scenario). Large batches are evaluated on every processor.
func BenchmarkTransformApply(b *testing.B) {
	ps, _ := connector.ParseTables("sb.sbtest1")
	tr := New([]Rule{{Tables: ps, Filter: "k % 10 <> 0",
		Projection: "id, k, c, pad, k * 2 AS k2, UPPER(LEFT(c, 10)) AS c_up, CONCAT(id, '-', k) AS tag, CHAR_LENGTH(pad) AS pad_len, IF(k % 2 = 0, 'even', 'odd') AS parity"}}, nil, Options{})
	rows := make([]event.Row, 1000)
	for i := range rows {
		rows[i] = event.Row{event.Int(int64(i)), event.Int(int64(i * 7 % 1000)),
			event.String(strings.Repeat("abcdefghij", 12)), event.String(strings.Repeat("0123456789", 6))}
	}
	batch := make([]event.Change, len(rows))
	for i, r := range rows {
		batch[i] = event.Change{Op: event.OpRead, Schema: sbtest, After: r}
	}
	var out []event.Change
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as weir run sets it (internal/cli)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, _, err = tr.Apply(out[:0], batch); err != nil {
			b.Fatal(err)
		}
		if len(out) != 900 {
			b.Fatalf("%d rows pass, want 900", len(out))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/row")
	b.ReportMetric(0, "ns/op")
}

// TestUnsentValues: an update without a value the source did not send (an unchanged
// TOASTed value, event.Unchanged): a column copied as it is stays unchanged; a computed
// column that reads only unsent values (and the key) stays unchanged too; one that reads
// an unsent value with sent ones, or a filter that reads one, cannot be computed, and the
// error says what to do.
func TestUnsentValues(t *testing.T) {
	row := func() event.Row {
		r := row(1, "a", "5.00")
		r[1] = event.Unchanged() // name
		return r
	}
	tr := rules(t, `shop.orders_\d+`, "id, name, UPPER(name) AS up, CONCAT(id, name) AS tag, amount * 2 AS dbl", "")
	out, keep, err := tr.applyRules(event.Change{Op: event.OpUpdate, Schema: testSchema, After: row()})
	if err != nil || !keep {
		t.Fatal(err)
	}
	for i, want := range []event.Rep{event.RepInt, event.RepUnchanged, event.RepUnchanged, event.RepUnchanged, event.RepDecimal} {
		if got := out.After[i].Rep(); got != want {
			t.Errorf("column %s: %v, want %v", out.Schema.Columns[i].Name, got, want)
		}
	}
	mixed := rules(t, `shop.orders_\d+`, "id, CONCAT(name, amount) AS tag", "")
	if _, _, err := mixed.applyRules(event.Change{Op: event.OpUpdate, Schema: testSchema, After: row()}); err == nil ||
		!strings.Contains(err.Error(), "column tag (CONCAT(name, amount)) of shop.orders_3 reads column name, which this update of the source did not send") ||
		!strings.Contains(err.Error(), "set REPLICA IDENTITY FULL") {
		t.Errorf("mixed: %v", err)
	}
	filtered := rules(t, `shop.orders_\d+`, "", "name <> 'x'")
	if _, _, err := filtered.applyRules(event.Change{Op: event.OpUpdate, Schema: testSchema, After: row()}); err == nil ||
		!strings.Contains(err.Error(), `the filter "name <> 'x'" of shop.orders_3 reads column name`) {
		t.Errorf("filter: %v", err)
	}
}

// TestKeptColumns: columns a projection keeps as they are are copied in runs (adjacent in
// both rows); a run breaks where the order changes, a column repeats, a computed column
// comes between or a mask computes a kept one. The rows are the same through the serial
// and the parallel path (a batch large enough to be split).
func TestKeptColumns(t *testing.T) {
	ps, _ := connector.ParseTables(`shop.orders_\d+`)
	mask, err := ParseMask("amount = null")
	if err != nil {
		t.Fatal(err)
	}
	tr := New([]Rule{{Tables: ps, Projection: "id, UPPER(name) AS up, name, amount, vip, n, created, name AS again, id AS id2",
		Masks: []Mask{mask}}}, nil, Options{})
	p, err := tr.plan(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	// id and name are adjacent in the source but not in the output (up comes between);
	// amount is masked, so computed; vip, n are one run; created follows n in the output
	// but not in the source; again and id2 repeat columns.
	want := []run{{0, 0, 1}, {1, 2, 1}, {5, 4, 2}, {4, 6, 1}, {1, 7, 1}, {0, 8, 1}}
	if !slices.Equal(p.kept, want) || !slices.Equal(p.computed, []int{1, 3}) {
		t.Fatalf("kept %v computed %v, want kept %v computed [1 3]", p.kept, p.computed, want)
	}
	in := testInput().Row
	wantRow := "7 ADA LOVELACE Ada Lovelace NULL 1 NULL 2024-02-29 10:30:00 Ada Lovelace 7"
	for _, n := range []int{1, 4 * parallelMin} {
		batch := make([]event.Change, n)
		for i := range batch {
			batch[i] = event.Change{Op: event.OpRead, Schema: testSchema, After: in}
		}
		out, _, err := tr.Apply(nil, batch)
		if err != nil || len(out) != n {
			t.Fatalf("batch of %d: %d changes, %v", n, len(out), err)
		}
		for _, c := range out {
			var vals []string
			for _, v := range c.After {
				vals = append(vals, toTextOrNull(v))
			}
			if got := strings.Join(vals, " "); got != wantRow {
				t.Fatalf("batch of %d: row %q, want %q", n, got, wantRow)
			}
		}
	}
}

func toTextOrNull(v event.Value) string {
	if v.IsNull() {
		return "NULL"
	}
	return toText(v)
}

// TestSoftDelete: converter-after-transform SOFT_DELETE turns a delete, once projected
// (__data_event_type__ says -D), into an insert of the deleted row; without a projection
// too. Other changes pass as they are.
func TestSoftDelete(t *testing.T) {
	ps, err := connector.ParseTables(`shop.\.*`)
	if err != nil {
		t.Fatal(err)
	}
	for _, projection := range []string{`\*, __data_event_type__ AS op`, ""} {
		tf := New([]Rule{{Tables: ps, Projection: projection, SoftDelete: true}}, nil, Options{})
		del := event.Change{Op: event.OpDelete, Schema: testSchema, Before: row(5, "gone", "1.00")}
		upd := event.Change{Op: event.OpUpdate, Schema: testSchema, Before: row(6, "a", "1.00"), After: row(6, "b", "2.00")}
		out, _, err := tf.Apply(nil, []event.Change{del, upd})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 || out[0].Op != event.OpInsert || out[0].Before != nil || out[0].After[0].Int() != 5 || out[1].Op != event.OpUpdate {
			t.Fatalf("projection %q: %+v", projection, out)
		}
		if projection != "" {
			if op := out[0].After[len(out[0].After)-1]; op.Str() != "-D" {
				t.Fatalf("__data_event_type__ of the converted delete: %v, want -D", op)
			}
		}
	}
}
