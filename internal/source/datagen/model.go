package datagen

import (
	"strconv"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Model is the generated world: tables with keys 1..Rows at the start, and a change log in
// which change number i belongs to table i mod len(Tables) and is step s = i / len(Tables)
// of that table. A table's steps come in cycles of five, cycle k = s / 5:
//
//	slot 0  insert key Rows+k+1 (version 0)
//	slot 1  update key k+1+c0   (offsets c0 ≥ c1 ≥ c2 = 2·Rows/3, Rows/3, 0)
//	slot 2  update key k+1+c1
//	slot 3  update key k+1+c2
//	slot 4  delete key k+1      (the oldest live key)
//
// So the live keys of a table after cycle k are k+2 … Rows+k+1, each key is updated up to
// three times between its insert and its delete, and the version of any key at any step is
// computable without state: the stream resumes anywhere and tests can predict it.
type Model struct {
	Seed   int64
	Rows   int64
	Tables []event.TableID

	offsets [3]int64
	salts   []uint64
	schemas []*event.Schema
}

// Column indexes of a generated row.
const (
	colID = iota
	colName
	colAmount
	colStatus
	colQty
	colUpdatedAt
	colNote
	numCols
)

var statuses = [...]string{"new", "paid", "shipped", "cancelled"}

// NewModel returns the model of seed, rows per table and tables.
func NewModel(seed, rows int64, tables []event.TableID) *Model {
	m := &Model{Seed: seed, Rows: rows, Tables: tables}
	m.offsets = [3]int64{2 * rows / 3, rows / 3, 0}
	for _, id := range tables {
		h := uint64(14695981039346656037)
		for _, c := range []byte(id.String()) {
			h = (h ^ uint64(c)) * 1099511628211
		}
		m.salts = append(m.salts, h)
		m.schemas = append(m.schemas, &event.Schema{
			ID: id,
			Columns: []event.Column{
				{Name: "id", Type: types.Type{Kind: types.Int64}, SourceType: "bigint"},
				{Name: "name", Type: types.Type{Kind: types.String, Length: 64}, SourceType: "varchar(64)"},
				{Name: "amount", Type: types.Type{Kind: types.Decimal, Precision: 12, Scale: 2}, SourceType: "decimal(12,2)"},
				{Name: "status", Type: types.Type{Kind: types.String, Length: 16}, SourceType: "varchar(16)"},
				{Name: "qty", Type: types.Type{Kind: types.Int32}, SourceType: "int"},
				{Name: "updated_at", Type: types.Type{Kind: types.Timestamp, Precision: 6}, SourceType: "datetime(6)"},
				{Name: "note", Type: types.Type{Kind: types.String}, Nullable: true, SourceType: "text"},
			},
			Key: []int{colID},
		})
	}
	return m
}

// Schemas returns the tables' schemas (shared; do not modify).
func (m *Model) Schemas() []*event.Schema { return m.schemas }

func (m *Model) tableIndex(id event.TableID) int {
	for i, t := range m.Tables {
		if t == id {
			return i
		}
	}
	return -1
}

// Step describes change number i of the log.
type Step struct {
	Table         int
	Op            event.Op
	Key           int64
	Before, After int // versions; -1 where there is no image
}

// StepAt returns what change number i does.
func (m *Model) StepAt(i int64) Step {
	nt := int64(len(m.Tables))
	st := Step{Table: int(i % nt), Before: -1, After: -1}
	s := i / nt
	k, slot := s/5, s%5
	switch slot {
	case 0:
		st.Op, st.Key, st.After = event.OpInsert, m.Rows+k+1, 0
	case 4:
		st.Op, st.Key = event.OpDelete, k+1
		st.Before = m.updatesBefore(k+1, 3)
	default:
		j := int(slot - 1)
		st.Op, st.Key = event.OpUpdate, k+1+m.offsets[j]
		st.Before = m.updatesBefore(st.Key, j)
		st.After = st.Before + 1
	}
	return st
}

// updatesBefore counts the updates of key u in slots before j that happened in the log
// (those whose cycle u-1-c is not negative).
func (m *Model) updatesBefore(u int64, j int) int {
	n := 0
	for jj := 0; jj < j; jj++ {
		if u-1-m.offsets[jj] >= 0 {
			n++
		}
	}
	return n
}

// Changes generates changes first … first+n-1 in transactions of txnSize changes (each
// transaction's changes share one commit time, commitMicros). Values of the whole batch
// share two allocations: one for the rows and one for their text.
func (m *Model) Changes(first int64, n int, txnSize int64, commitMicros int64) event.Batch {
	changes := make([]event.Change, n)
	images := 0
	for i := range n {
		st := m.StepAt(first + int64(i))
		if st.Before >= 0 {
			images++
		}
		if st.After >= 0 {
			images++
		}
	}
	g := newGen(images)
	for i := range changes {
		num := first + int64(i)
		st := m.StepAt(num)
		c := &changes[i]
		c.Op = st.Op
		c.Schema = m.schemas[st.Table]
		c.Pos = event.Pos{Off: uint64(num)}
		c.CommitMicros = commitMicros
		if st.Before >= 0 {
			c.Before = g.row(m, st.Table, st.Key, st.Before)
		}
		if st.After >= 0 {
			c.After = g.row(m, st.Table, st.Key, st.After)
		}
	}
	g.finish()
	return event.Batch{Changes: changes}
}

// SnapshotRows generates n rows of table ti from key lo, at version 0.
func (m *Model) SnapshotRows(ti int, lo int64, n int) []event.Row {
	g := newGen(n)
	rows := make([]event.Row, n)
	for i := range rows {
		rows[i] = g.row(m, ti, lo+int64(i), 0)
	}
	g.finish()
	return rows
}

// Row returns the row of key at version in table ti (for tests).
func (m *Model) Row(ti int, key int64, version int) event.Row {
	g := newGen(1)
	r := g.row(m, ti, key, version)
	g.finish()
	return r
}

// gen builds rows into shared arenas: a values arena and a text buffer that becomes one
// string at finish, when every text value is pointed at its slice of that string.
type gen struct {
	vals  []event.Value
	text  []byte
	spans []span
}

type span struct {
	v        *event.Value
	from, to int
	rep      event.Rep
}

func newGen(rows int) *gen {
	return &gen{
		vals:  make([]event.Value, 0, rows*numCols),
		text:  make([]byte, 0, rows*48),
		spans: make([]span, 0, rows*3),
	}
}

func (g *gen) row(m *Model, ti int, key int64, version int) event.Row {
	h := mix(uint64(m.Seed), m.salts[ti], uint64(key), uint64(version))
	start := len(g.vals)
	g.vals = g.vals[:start+numCols]
	r := event.Row(g.vals[start : start+numCols : start+numCols])
	r[colID] = event.Int(key)
	g.addText(&r[colName], event.RepString, func(b []byte) []byte {
		b = append(b, "name-"...)
		b = strconv.AppendUint(b, h%100000, 10)
		b = append(b, "-v"...)
		return strconv.AppendInt(b, int64(version), 10)
	})
	g.addText(&r[colAmount], event.RepDecimal, func(b []byte) []byte {
		cents := (h >> 8) % 10000000
		b = strconv.AppendUint(b, cents/100, 10)
		b = append(b, '.', byte('0'+cents/10%10), byte('0'+cents%10))
		return b
	})
	r[colStatus] = event.String(statuses[(h>>40)%uint64(len(statuses))])
	r[colQty] = event.Int(int64((h >> 20) % 1000))
	r[colUpdatedAt] = event.Timestamp(1_700_000_000_000_000 + key*1_000_000 + int64(version)*3_600_000_000 + int64(h%1_000_000))
	if h%7 == 0 {
		r[colNote] = event.Null()
	} else {
		g.addText(&r[colNote], event.RepString, func(b []byte) []byte {
			b = append(b, "note "...)
			return strconv.AppendUint(b, h>>33, 36)
		})
	}
	return r
}

func (g *gen) addText(v *event.Value, rep event.Rep, f func([]byte) []byte) {
	from := len(g.text)
	g.text = f(g.text)
	g.spans = append(g.spans, span{v: v, from: from, to: len(g.text), rep: rep})
}

func (g *gen) finish() {
	s := string(g.text)
	for _, sp := range g.spans {
		t := s[sp.from:sp.to]
		if sp.rep == event.RepDecimal {
			*sp.v = event.Decimal(t)
		} else {
			*sp.v = event.String(t)
		}
	}
}

// mix is SplitMix64 over its inputs.
func mix(xs ...uint64) uint64 {
	var h uint64 = 0x9e3779b97f4a7c15
	for _, x := range xs {
		h ^= x
		h += 0x9e3779b97f4a7c15
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
		h = (h ^ (h >> 27)) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}
