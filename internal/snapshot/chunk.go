// Package snapshot holds what every snapshotting source shares: chunks of a table's key
// range, and the progress of a table's snapshot that checkpoints carry so a snapshot
// resumes at the chunk where it stopped (DESIGN §3.2).
package snapshot

import (
	"slices"

	"github.com/weir-data/weir/internal/event"
)

// Chunk is a key range of one table: rows with Lo <= key < Hi in key order. A nil Lo is
// the table's start, a nil Hi its end. Index numbers the chunks of a table in split order.
type Chunk struct {
	Table event.TableID `json:"table"`
	Index int           `json:"index"`
	Lo    event.Row     `json:"lo,omitempty"`
	Hi    event.Row     `json:"hi,omitempty"`
}

// SplitHint tells a ChunkReader how to split.
type SplitHint struct {
	// Rows is the target number of rows per chunk (scan.incremental.snapshot.chunk.size).
	Rows int
	// After, when set, resumes splitting: produce only chunks whose keys are >= After
	// (After is the Hi of the last chunk produced before the restart).
	After event.Row
	// FirstIndex is the Index of the first chunk to produce.
	FirstIndex int
}

// TableProgress is one table's snapshot progress as a checkpoint records it.
type TableProgress struct {
	Table event.TableID `json:"table"`
	// Split is true when every chunk of the table has been produced.
	Split bool `json:"split,omitempty"`
	// Next is where splitting resumes: the Hi of the last chunk produced, and its index+1.
	Next      event.Row `json:"next,omitempty"`
	NextIndex int       `json:"next_index"`
	// Pending are chunks produced but not yet durable in the sink; they are read again
	// after a restart.
	Pending []Chunk `json:"pending,omitempty"`
	// Done counts chunks durable in the sink; Rows the rows they held.
	Done int   `json:"done"`
	Rows int64 `json:"rows"`
}

// Finished reports whether the table's snapshot is complete.
func (p *TableProgress) Finished() bool { return p.Split && len(p.Pending) == 0 }

// DoneRanges returns the key ranges of the table's chunks that are durable in the sink, in
// key order and merged where adjacent: everything split so far less the pending chunks.
// Chunks are split in key order, each starting where the one before ends, so a range's nil
// Lo is the table's start and a nil Hi its end.
func (p *TableProgress) DoneRanges() []Chunk {
	pending := slices.SortedFunc(slices.Values(p.Pending), func(a, b Chunk) int { return a.Index - b.Index })
	var out []Chunk
	lo, prev := event.Row(nil), -1
	for _, c := range pending {
		if c.Index > prev+1 {
			out = append(out, Chunk{Table: p.Table, Lo: lo, Hi: c.Lo})
		}
		lo, prev = c.Hi, c.Index
	}
	if last := p.NextIndex - 1; last > prev {
		out = append(out, Chunk{Table: p.Table, Lo: lo, Hi: p.Next})
	}
	return out
}
