package engine

import (
	"bytes"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// TestPartitionKeyRuns: the rows of a one-integer key are partitioned by runs of 1,024
// consecutive keys (a chunk's rows go to a writer in long runs); a delete is partitioned
// by its before image as its insert was; other keys by the whole key.
func TestPartitionKeyRuns(t *testing.T) {
	ints := &event.Schema{ID: event.TableID{Schema: "s", Table: "t"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}}, {Name: "v", Type: types.Type{Kind: types.String}}}}
	strs := &event.Schema{ID: event.TableID{Schema: "s", Table: "u"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.String}}}}
	key := func(s *event.Schema, op event.Op, v event.Value) string {
		row := event.Row{v, event.String("x")}[:len(s.Columns)]
		c := event.Change{Op: op, Schema: s, After: row}
		if op == event.OpDelete {
			c = event.Change{Op: op, Schema: s, Before: row}
		}
		return string(appendPartitionKey(nil, &c))
	}
	same := [][2]event.Value{{event.Int(0), event.Int(1023)}, {event.Int(1024), event.Int(2047)}, {event.Int(-1), event.Int(-1024)},
		{event.Uint(5), event.Uint(1000)}}
	for _, p := range same {
		if a, b := key(ints, event.OpRead, p[0]), key(ints, event.OpRead, p[1]); a != b {
			t.Errorf("%v and %v are in different runs", p[0], p[1])
		}
	}
	apart := [][2]event.Value{{event.Int(1023), event.Int(1024)}, {event.Int(-1), event.Int(0)}, {event.Int(5), event.Uint(5)}}
	for _, p := range apart {
		if a, b := key(ints, event.OpRead, p[0]), key(ints, event.OpRead, p[1]); a == b {
			t.Errorf("%v and %v are in one run", p[0], p[1])
		}
	}
	if a, b := key(ints, event.OpInsert, event.Int(77)), key(ints, event.OpDelete, event.Int(77)); a != b {
		t.Error("an insert and a delete of one key are partitioned apart")
	}
	a, b := key(strs, event.OpRead, event.String("a")), key(strs, event.OpRead, event.String("b"))
	if a == b || !bytes.Contains([]byte(a), []byte("a")) {
		t.Errorf("string keys %q and %q: want the whole key", a, b)
	}
}
