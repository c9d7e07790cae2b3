package sqlsink

import (
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func schema(name string) *event.Schema {
	return &event.Schema{ID: event.TableID{Schema: "s", Table: name}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int64}}, {Name: "v", Type: types.Type{Kind: types.String}, Nullable: true}}}
}

func upsert(s *event.Schema, id int64, v event.Value) event.Change {
	return event.Change{Op: event.OpUpdate, Schema: s, After: event.Row{event.Int(id), v}}
}

// TestGroupBySchema: interleaved schemas become one group each, in log order within the
// group; a paused schema's changes are left out; plan is asked once per schema.
func TestGroupBySchema(t *testing.T) {
	a, b, c := schema("a"), schema("b"), schema("c")
	changes := []event.Change{upsert(a, 1, event.Null()), upsert(b, 1, event.Null()), upsert(c, 1, event.Null()),
		upsert(a, 2, event.Null()), upsert(b, 2, event.Null())}
	asked := map[*event.Schema]int{}
	groups, err := GroupBySchema(changes, func(s *event.Schema) (string, bool, error) {
		asked[s]++
		return s.ID.Table, s == c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].Plan != "a" || groups[1].Plan != "b" {
		t.Fatalf("groups %+v, want a then b", groups)
	}
	for _, g := range groups {
		if len(g.Changes) != 2 || g.Changes[0].After[0].Int() != 1 || g.Changes[1].After[0].Int() != 2 {
			t.Fatalf("group %s holds %+v, want ids 1 then 2", g.Plan, g.Changes)
		}
	}
	if asked[a] != 1 || asked[b] != 1 || asked[c] != 1 {
		t.Fatalf("plan asked %v times, want once per schema", asked)
	}
}

// TestCoalesce: the last change per key wins, keys in the order they last changed; a
// value the source did not send is taken from the key's earlier image in the batch.
func TestCoalesce(t *testing.T) {
	s := schema("a")
	var co Coalescer
	out := co.Coalesce([]event.Change{upsert(s, 1, event.String("x")), upsert(s, 2, event.String("y")),
		upsert(s, 1, event.Unchanged()), {Op: event.OpDelete, Schema: s, Before: event.Row{event.Int(2), event.Null()}}})
	if len(out) != 2 {
		t.Fatalf("%d changes, want 2", len(out))
	}
	if out[0].After[1].Str() != "x" || out[0].After[1].Rep() != event.RepString {
		t.Fatalf("key 1: %v, want the unchanged value filled with x", out[0].After)
	}
	if out[1].Op != event.OpDelete {
		t.Fatalf("key 2: %v, want the delete", out[1].Op)
	}
	if UnchangedMask(event.Row{event.Int(1), event.Unchanged()}) != "01" || UnchangedMask(out[0].After) != "" {
		t.Fatal("UnchangedMask")
	}
}
