package format

import (
	"github.com/weir-data/weir/internal/event"
)

// json: the row alone, as weir's envelope writes an image (event.AppendImage's value
// rules) — the row after the change, or, for a delete, the row deleted — and, when
// Options.OpField names it, a field holding the change's kind (c, u, d, r).
func (w *Writer) appendJSON(b []byte, c *event.Change, _ int64) []byte {
	row := c.After
	if c.Op == event.OpDelete {
		row = c.Before
	}
	b = event.AppendImage(b, c.Schema, row)
	if w.o.OpField == "" || len(b) == 0 || b[len(b)-1] != '}' {
		return b
	}
	b = b[:len(b)-1]
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = event.AppendJSONString(b, w.o.OpField)
	b = append(b, ':', '"')
	b = append(b, c.Op.Letter()...)
	return append(b, '"', '}')
}
