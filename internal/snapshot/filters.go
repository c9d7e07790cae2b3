package snapshot

import (
	"sync"

	"github.com/weir-data/weir/internal/event"
)

// Filters are the conditions pushed down into a source's chunk queries, per table: a
// source embeds them to take connector.SnapshotFilter's FilterSnapshot, and reads a
// table's with Filter when it builds a chunk query. Safe for concurrent use.
type Filters struct {
	mu sync.Mutex
	m  map[event.TableID]string
}

// FilterSnapshot has the table's chunk queries read only the rows that condition selects
// (connector.SnapshotFilter).
func (f *Filters) FilterSnapshot(table event.TableID, condition string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[event.TableID]string{}
	}
	f.m[table] = condition
}

// Filter is the condition pushed down for table, "" for none.
func (f *Filters) Filter(table event.TableID) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[table]
}
