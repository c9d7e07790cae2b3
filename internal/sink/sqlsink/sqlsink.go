// Package sqlsink holds what the SQL database sinks (postgres, mysql) share about a batch
// of changes: reducing it to the last change per key, telling which values the source did
// not send, and naming a change for a changelog table so that a replay is recognised.
package sqlsink

import (
	"bytes"
	"encoding/hex"
	"hash/fnv"

	"github.com/weir-data/weir/internal/event"
)

// Coalescer reduces a batch to its last change per key. One is used by one goroutine.
type Coalescer struct {
	last map[string]int // key → index in the output
	key  []byte
}

// Coalesce returns the last change per key, in the order keys last changed. An upsert
// that lacks values (unchanged TOAST) takes them from the key's earlier image in the
// batch when there is one. All changes are of one table.
func (co *Coalescer) Coalesce(changes []event.Change) []event.Change {
	if co.last == nil {
		co.last = map[string]int{}
	}
	clear(co.last)
	out := make([]event.Change, 0, len(changes))
	for i := range changes {
		c := changes[i]
		co.key = c.AppendKey(co.key[:0])
		j, seen := co.last[string(co.key)]
		if !seen {
			co.last[string(co.key)] = len(out)
			out = append(out, c)
			continue
		}
		prev := out[j]
		if c.Op != event.OpDelete && prev.Op != event.OpDelete && UnchangedMask(c.After) != "" {
			after := make(event.Row, len(c.After))
			copy(after, c.After)
			for k := range after {
				if after[k].Rep() == event.RepUnchanged && k < len(prev.After) {
					after[k] = prev.After[k]
				}
			}
			c.After = after
		}
		out[j] = c
	}
	return out
}

// UnchangedMask is "" for a row with every value, else one '0'/'1' per column, '1' where
// the source did not send the value (PostgreSQL's unchanged TOAST).
func UnchangedMask(r event.Row) string {
	var m []byte
	for i := range r {
		if r[i].Rep() == event.RepUnchanged {
			if m == nil {
				m = bytes.Repeat([]byte{'0'}, len(r))
			}
			m[i] = '1'
		}
	}
	return string(m)
}

// MaskSkips turns a mask from UnchangedMask into the columns to leave out; nil for "".
func MaskSkips(m string) []bool {
	if m == "" {
		return nil
	}
	skip := make([]bool, len(m))
	for i, ch := range m {
		skip[i] = ch == '1'
	}
	return skip
}

// AllReads reports whether every change is a snapshot read.
func AllReads(changes []event.Change) bool {
	for i := range changes {
		if changes[i].Op != event.OpRead {
			return false
		}
	}
	return true
}

// AnyReads reports whether some change is a snapshot read.
func AnyReads(changes []event.Change) bool {
	for i := range changes {
		if changes[i].Op == event.OpRead {
			return true
		}
	}
	return false
}

// KeyText renders row's key as "a=1, b=x" for messages.
func KeyText(s *event.Schema, r event.Row) string {
	var b []byte
	for i, k := range s.Key {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, s.Columns[k].Name...)
		b = append(b, '=')
		if k < len(r) {
			b = append(b, r[k].String()...)
		}
	}
	return string(b)
}

// ChangeID is a change's identity in a changelog table: a 128-bit hash of its table,
// operation, log position and row images, as a UUID. The same change replayed after a
// crash has the same id; two changes of one log event differ in their images. A snapshot
// read leaves the position out: a chunk read again after a crash gives the same ids for
// the rows it read the same.
func ChangeID(c *event.Change) string {
	h := fnv.New128a()
	var b []byte
	b = append(b, c.Schema.ID.String()...)
	b = append(b, 0, byte(c.Op))
	if c.Op != event.OpRead { // a chunk read again elsewhere in the log is the same read
		b = c.Pos.Append(b)
	}
	b = append(b, 0)
	for _, r := range []event.Row{c.Before, c.After} {
		b = append(b, byte(len(r)))
		for i := range r {
			b = r[i].AppendKey(b)
		}
	}
	h.Write(b)
	sum := h.Sum(nil)
	var out [36]byte
	hex.Encode(out[0:8], sum[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], sum[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], sum[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], sum[8:10])
	out[23] = '-'
	hex.Encode(out[24:], sum[10:16])
	return string(out[:])
}

// Group is the changes of one source schema within a batch, in log order, with what the
// sink planned for writing that schema's rows.
type Group[P any] struct {
	Plan    P
	Changes []event.Change
}

// GroupBySchema splits changes by schema, keeping each group's changes in log order.
// plan is called once per schema of the batch; paused leaves that schema's changes out.
// A batch of one schema (a snapshot chunk's, most often) is its own group, not a copy.
func GroupBySchema[P any](changes []event.Change, plan func(*event.Schema) (p P, paused bool, err error)) ([]Group[P], error) {
	if len(changes) > 0 && allOf(changes, changes[0].Schema) {
		pl, paused, err := plan(changes[0].Schema)
		if err != nil || paused {
			return nil, err
		}
		return []Group[P]{{Plan: pl, Changes: changes}}, nil
	}
	var out []Group[P]
	index := map[*event.Schema]int{} // -1: paused
	for i := range changes {
		s := changes[i].Schema
		gi, seen := index[s]
		if !seen {
			pl, paused, err := plan(s)
			if err != nil {
				return nil, err
			}
			gi = -1
			if !paused {
				out = append(out, Group[P]{Plan: pl})
				gi = len(out) - 1
			}
			index[s] = gi
		}
		if gi >= 0 {
			out[gi].Changes = append(out[gi].Changes, changes[i])
		}
	}
	return out, nil
}

func allOf(changes []event.Change, s *event.Schema) bool {
	for i := range changes {
		if changes[i].Schema != s {
			return false
		}
	}
	return true
}
