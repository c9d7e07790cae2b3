package snapshot

import (
	"fmt"
	"testing"

	"github.com/weir-data/weir/internal/event"
)

func key(n int64) event.Row { return event.Row{event.Int(n)} }

// chunks are four chunks of a table split at 10, 20 and 30.
var chunks = []Chunk{{Index: 0, Hi: key(10)}, {Index: 1, Lo: key(10), Hi: key(20)}, {Index: 2, Lo: key(20), Hi: key(30)}, {Index: 3, Lo: key(30)}}

func ranges(rs []Chunk) string {
	s := ""
	for _, r := range rs {
		lo, hi := "start", "end"
		if r.Lo != nil {
			lo = fmt.Sprint(r.Lo[0].Int())
		}
		if r.Hi != nil {
			hi = fmt.Sprint(r.Hi[0].Int())
		}
		s += "[" + lo + "," + hi + ")"
	}
	return s
}

func TestDoneRanges(t *testing.T) {
	cases := []struct {
		name string
		p    TableProgress
		want string
	}{
		{"nothing split", TableProgress{}, ""},
		{"two split, none pending", TableProgress{Next: key(20), NextIndex: 2}, "[start,20)"},
		{"two split, the first pending", TableProgress{Next: key(20), NextIndex: 2, Pending: chunks[:1]}, "[10,20)"},
		{"three split, the middle pending", TableProgress{Next: key(30), NextIndex: 3, Pending: chunks[1:2]}, "[start,10)[20,30)"},
		{"all split, the last pending", TableProgress{Split: true, NextIndex: 4, Pending: chunks[3:]}, "[start,30)"},
		{"all split, two pending out of order", TableProgress{Split: true, NextIndex: 4, Pending: []Chunk{chunks[2], chunks[0]}}, "[10,20)[30,end)"},
		{"all done", TableProgress{Split: true, NextIndex: 4}, "[start,end)"},
		{"all pending", TableProgress{Split: true, NextIndex: 4, Pending: chunks}, ""},
	}
	for _, c := range cases {
		if got := ranges(c.p.DoneRanges()); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
