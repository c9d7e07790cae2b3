// Package event is weir's one data model: the changes, rows, values, schemas and positions
// that flow from sources through the engine into sinks.
package event

import (
	"strconv"
)

// Op is what a change does.
type Op uint8

// The operations, with their Debezium letters.
const (
	OpRead   Op = iota + 1 // a row of the snapshot: "r"
	OpInsert               // "c"
	OpUpdate               // "u"
	OpDelete               // "d"
)

// Letter is the Debezium envelope's op letter.
func (o Op) Letter() string {
	switch o {
	case OpRead:
		return "r"
	case OpInsert:
		return "c"
	case OpUpdate:
		return "u"
	case OpDelete:
		return "d"
	}
	return "?"
}

func (o Op) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Row is one row's values in the order of its Schema's columns.
type Row []Value

// Size estimates the memory the row holds.
func (r Row) Size() int {
	n := 24
	for i := range r {
		n += r[i].Size()
	}
	return n
}

// Pos is where one change sits in its source's log. Log names a segment or transaction
// (binlog file, GTID, a snapshot chunk) and Off the place inside it; together they are
// unique per change within a source. Sources share one Log string across the changes of a
// segment, so a Pos costs no allocation per change.
type Pos struct {
	Log string `json:"log,omitempty"`
	Off uint64 `json:"off"`
}

// String renders the position as it appears in the envelope's source.pos: "Off" or "Log:Off".
func (p Pos) String() string { return string(p.Append(nil)) }

// Append appends the rendering of String to b.
func (p Pos) Append(b []byte) []byte {
	if p.Log != "" {
		b = append(b, p.Log...)
		b = append(b, ':')
	}
	return strconv.AppendUint(b, p.Off, 10)
}

// Change is one row change.
type Change struct {
	Op Op
	// Mark is where a snapshot read sits in the snapshot (set by the engine, for the
	// formats that tell it: Debezium's source.snapshot).
	Mark SnapshotMark
	// TableSeq is the change's place among its table's changes in its transaction, from 1
	// (set by the engine for changes of the stream; 0 for snapshot reads). With Pos.Off
	// (the place among all of the transaction's changes) it is Debezium's transaction
	// block.
	TableSeq uint32
	// Schema is the table's schema in force at the change's position; shared, never mutated.
	Schema *Schema
	// Before is the row before an update or delete (nil for reads and inserts, and for
	// sources that do not have it). After is the row after a read, insert or update.
	Before, After Row
	Pos           Pos
	// CommitMicros is the source's commit time of the change's transaction (µs since epoch).
	CommitMicros int64
}

// SnapshotMark is a set of facts about a snapshot read's place (Change.Mark).
type SnapshotMark uint8

// The marks. A read may carry several (a table's only row is its first and its last).
const (
	FirstInTable    SnapshotMark = 1 << iota // the first row of its table's snapshot
	LastInTable                              // the last row of its table's snapshot
	FirstInSnapshot                          // the first row of the whole snapshot
	LastInSnapshot                           // the last row of the whole snapshot
)

// With returns a change at c's place (schema, position, commit time, marks) that does op
// with the images before and after.
func (c *Change) With(op Op, before, after Row) Change {
	return Change{Op: op, Mark: c.Mark, TableSeq: c.TableSeq, Schema: c.Schema, Before: before, After: after,
		Pos: c.Pos, CommitMicros: c.CommitMicros}
}

// Row returns the image that identifies the row: After, or Before for a delete.
func (c *Change) Row() Row {
	if c.Op == OpDelete {
		return c.Before
	}
	return c.After
}

// Size estimates the memory the change holds, for byte-bounded queues.
func (c *Change) Size() int {
	return 96 + c.Before.Size() + c.After.Size()
}

// AppendKey appends the encoding of the change's key (its schema's key columns of Row()).
// Tables without a key use the whole row.
func (c *Change) AppendKey(b []byte) []byte {
	return AppendRowKey(b, c.Schema, c.Row())
}

// AppendRowKey appends the encoding of r's key columns under s.
func AppendRowKey(b []byte, s *Schema, r Row) []byte {
	if len(s.Key) == 0 {
		for i := range r {
			b = r[i].AppendKey(b)
		}
		return b
	}
	for _, k := range s.Key {
		if k < len(r) {
			b = r[k].AppendKey(b)
		}
	}
	return b
}

// Position is a source's resume point: everything up to it has been emitted. Its content
// is the source's own (a GTID set, an LSN, offsets) and opaque to everyone else; the
// engine stores it in checkpoints and hands it back to the same source type.
type Position string

// Batch is what a source hands the engine: changes in log order, or one schema change.
// A batch is owned by the engine once emitted; the source must not reuse its slices.
type Batch struct {
	Changes []Change
	// Schema, when set, is a schema change; Changes is then empty.
	Schema *SchemaChange
	// End is the position after the batch's last change.
	End Position
	// Boundary says End is at a transaction boundary, where a checkpoint may be taken.
	Boundary bool
	// Backfill, when set, is a table that joined the selection here with rows already in
	// it (renamed into it, created from another table): the engine snapshots it beside
	// the stream (connector.SnapshotJoiner). Changes is then empty.
	Backfill *Schema
}

// Size estimates the memory the batch holds.
func (b *Batch) Size() int {
	n := 64
	for i := range b.Changes {
		n += b.Changes[i].Size()
	}
	return n
}
