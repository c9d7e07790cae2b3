package snapshot

import (
	"math/big"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Fill is what has been delivered of one table's snapshot while its stream runs: the key
// ranges of the chunks the stream has taken in. A source joining chunks into its stream
// leaves out the changes of keys whose chunk is still to come (the chunk, read later,
// holds them) and lets through the changes of keys already delivered.
type Fill struct {
	// Ordered says Go orders the table's keys as the server does (CompareKeys): only then
	// can a key be placed in a range. When false, nothing is left out once the first
	// chunk is in: a change of a key before its chunk then reaches the sink first, as an
	// upsert the chunk overwrites with the same or a newer row.
	Ordered bool
	Kinds   []types.Kind // the key columns' kinds
	done    []Chunk
	any     bool
}

// NewFill starts a table's fill from the ranges already durable (TableProgress.DoneRanges).
func NewFill(kinds []types.Kind, ordered bool, done []Chunk) *Fill {
	return &Fill{Kinds: kinds, Ordered: ordered, done: done, any: len(done) > 0}
}

// Delivered reports whether the chunk holding key has been delivered.
func (f *Fill) Delivered(key event.Row) bool {
	if !f.any {
		return false
	}
	if !f.Ordered {
		return true
	}
	for _, d := range f.done {
		if (d.Lo == nil || CompareKeys(f.Kinds, key, d.Lo) >= 0) && (d.Hi == nil || CompareKeys(f.Kinds, key, d.Hi) < 0) {
			return true
		}
	}
	return false
}

// Add records chunk c as delivered, merging it with the ranges it touches. It reports
// whether the whole key range is now delivered.
func (f *Fill) Add(c Chunk) bool {
	f.any = true
	f.done = append(f.done, Chunk{Lo: c.Lo, Hi: c.Hi})
	slices.SortFunc(f.done, func(a, b Chunk) int {
		switch {
		case a.Lo == nil && b.Lo == nil:
			return 0
		case a.Lo == nil:
			return -1
		case b.Lo == nil:
			return 1
		}
		return CompareKeys(f.Kinds, a.Lo, b.Lo)
	})
	merged := f.done[:1]
	for _, d := range f.done[1:] {
		last := &merged[len(merged)-1]
		if last.Hi != nil && d.Lo != nil && CompareKeys(f.Kinds, last.Hi, d.Lo) == 0 {
			last.Hi = d.Hi
			continue
		}
		merged = append(merged, d)
	}
	f.done = merged
	return len(f.done) == 1 && f.done[0].Lo == nil && f.done[0].Hi == nil
}

// GoOrdered reports whether CompareKeys orders keys of these kinds as a database does
// when text compares byte by byte (a binary or "C" collation): every kind but text under
// another collation, which the caller knows.
func GoOrdered(kinds []types.Kind) bool {
	for _, k := range kinds {
		switch k {
		case types.Boolean, types.Int8, types.Int16, types.Int32, types.Int64, types.Uint64, types.Float32, types.Float64,
			types.Decimal, types.String, types.Bytes, types.Date, types.Time, types.Timestamp, types.TimestampLTZ, types.UUID:
		default:
			return false
		}
	}
	return true
}

// CompareKeys orders two keys of the given kinds column by column: numbers by value,
// text and bytes byte by byte, times by their microseconds.
func CompareKeys(kinds []types.Kind, a, b event.Row) int {
	for i, k := range kinds {
		if c := compareValue(k, a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareValue(k types.Kind, a, b event.Value) int {
	switch {
	case a.IsNull() && b.IsNull():
		return 0
	case a.IsNull():
		return -1
	case b.IsNull():
		return 1
	}
	switch a.Rep() {
	case event.RepInt, event.RepDate, event.RepTime, event.RepTimestamp:
		return cmp(a.Int(), b.Int())
	case event.RepBool:
		return cmp(boolInt(a.Bool()), boolInt(b.Bool()))
	case event.RepUint:
		return cmp(a.Uint(), b.Uint())
	case event.RepFloat:
		return cmp(a.Float(), b.Float())
	case event.RepDecimal:
		x, okx := new(big.Rat).SetString(a.Str())
		y, oky := new(big.Rat).SetString(b.Str())
		if okx && oky {
			return x.Cmp(y)
		}
	}
	return strings.Compare(a.Str(), b.Str())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmp[T int | int64 | uint64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
