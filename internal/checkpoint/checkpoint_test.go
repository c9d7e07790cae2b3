package checkpoint

import (
	"slices"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// TestPauseAndResume: a paused table leaves a snapshot under way finished (it is not read
// further) and is carried by name; copying it again takes it out of pause and starts its
// snapshot over; a name that is no table of the pipeline is refused with its tables.
func TestPauseAndResume(t *testing.T) {
	a, b := event.TableID{Schema: "shop", Table: "a"}, event.TableID{Schema: "shop", Table: "b"}
	cp := &Checkpoint{Schemas: []*event.Schema{{ID: a}, {ID: b}}, Snapshot: &SnapshotState{Tables: []snapshot.TableProgress{
		{Table: a, Split: true, Done: 4}, {Table: b, NextIndex: 3, Pending: []snapshot.Chunk{{Table: b, Index: 2}}}}}}
	if err := cp.MarkPaused([]string{"shop.b"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cp.Paused, []event.TableID{b}) || !cp.Snapshot.Finished() || cp.Snapshot.Tables[0].Done != 4 {
		t.Fatalf("paused %v, snapshot %+v", cp.Paused, cp.Snapshot.Tables)
	}
	if err := NewPauseRequest([]string{"shop.b", "shop.c"}).Mark(cp); err == nil || !strings.Contains(err.Error(), "its tables: shop.a, shop.b") {
		t.Fatalf("pause of an unknown table: %v", err)
	}
	if err := NewRequest([]string{"shop.b"}).Mark(cp); err != nil {
		t.Fatal(err)
	}
	if len(cp.Paused) != 0 || cp.Snapshot.Finished() || !slices.Equal(cp.Resnapshot, []event.TableID{b}) {
		t.Fatalf("resumed: paused %v, resnapshot %v, snapshot %+v", cp.Paused, cp.Resnapshot, cp.Snapshot.Tables)
	}
}
