package sqlsink

import (
	"fmt"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Advice is one `weir validate` warning per table with columns that match: "db.t (a, b):
// what".
func Advice(schemas []*event.Schema, match func(s *event.Schema, i int) bool, what string) []string {
	var out []string
	for _, s := range schemas {
		var cols []string
		for i, c := range s.Columns {
			if match(s, i) {
				cols = append(cols, c.Name)
			}
		}
		if len(cols) > 0 {
			out = append(out, fmt.Sprintf("%s (%s): %s", s.ID, strings.Join(cols, ", "), what))
		}
	}
	return out
}

// KindIn matches the columns of the given kinds (of arrays of them too).
func KindIn(kinds ...types.Kind) func(s *event.Schema, i int) bool {
	return func(s *event.Schema, i int) bool {
		t := s.Columns[i].Type
		for t.Kind == types.Array && t.Elem != nil {
			t = *t.Elem
		}
		for _, k := range kinds {
			if t.Kind == k {
				return true
			}
		}
		return false
	}
}
