package conformance

import (
	"context"
	"errors"
	"testing"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
)

// TableSinkHarness is how the table-sink suite drives a sink that writes database tables
// and keeps the checkpoint in the target (the SQL sinks), in upsert or changelog mode.
type TableSinkHarness struct {
	// Open opens the sink for pipeline "conformance" in sink.mode mode, with 4 writers,
	// as a new process would; the first call of a test starts from empty tables.
	Open func(t *testing.T, mode string) connector.Sink
	// CommitData commits the writers' data without recording a checkpoint: the state a
	// crash between the two steps of the commit protocol leaves.
	CommitData func(t *testing.T, s connector.Sink)
	// Rows counts the rows of a table in the target, 0 when it does not exist.
	Rows func(t *testing.T, id event.TableID) int
	// Image is what upsert-mode tables of schemas hold, keyed as Fold keys it.
	Image func(t *testing.T, schemas []*event.Schema) map[string]map[string]any
	// Changelog reads changelog tables of schemas back as records, each in arrival order.
	Changelog func(t *testing.T, schemas []*event.Schema) []Record
	// Prepare and Record are the first two phases of a checkpoint taken while a snapshot
	// runs (prepare every writer's transaction; write the checkpoint row), for crashing
	// between them and after; Prepared counts the prepared transactions in the target.
	Prepare  func(t *testing.T, s connector.Sink, seq int64)
	Record   func(t *testing.T, s connector.Sink, cp *checkpoint.Checkpoint)
	Prepared func(t *testing.T) int
}

// RunTableSinkSuite runs the tests of the commit protocol that sinks writing tables share.
func RunTableSinkSuite(t *testing.T, h TableSinkHarness) {
	t.Run("ReplayOfCommittedData", func(t *testing.T) { tableReplay(t, h) })
	t.Run("Fencing", func(t *testing.T) { tableFencing(t, h) })
	t.Run("SettledBatchesCommitAtOnce", func(t *testing.T) { tableSettled(t, h) })
	t.Run("TwoPhaseCommitDuringSnapshot", func(t *testing.T) { tableTwoPhase(t, h) })
	t.Run("PauseOutlivesTheProcess", func(t *testing.T) { tablePause(t, h) })
	t.Run("SnapshotRowsOverRowsTheTableHas", func(t *testing.T) { tableReadsOverRows(t, h) })
}

// tableReadsOverRows: snapshot rows whose keys the table already holds (a table that had
// rows before the pipeline, a chunk read again) overwrite them, in a batch of their own
// and in one that also holds other tables' rows; the other rows of the batch are written
// once.
func tableReadsOverRows(t *testing.T, h TableSinkHarness) {
	ctx := context.Background()
	m := datagen.NewModel(8, 0, suiteTables)
	reads := func(ti int, lo int64, n, version int) []event.Change {
		out := make([]event.Change, n)
		for i := range out {
			out[i] = event.Change{Op: event.OpRead, Schema: m.Schemas()[ti], After: m.Row(ti, lo+int64(i), version)}
		}
		return out
	}
	s := h.Open(t, "upsert")
	first := append(reads(0, 0, 20, 0), reads(1, 0, 20, 0)...)
	if err := s.Apply(ctx, &connector.Batch{Changes: first}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, suiteCheckpoint(1, "1", 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = h.Open(t, "upsert")
	defer s.Close()
	again := [][]event.Change{reads(0, 10, 20, 1), append(reads(1, 20, 10, 0), reads(1, 5, 10, 1)...)}
	for p, b := range again {
		if err := s.Apply(ctx, &connector.Batch{Partition: p, Changes: b}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(ctx, suiteCheckpoint(2, "2", 2)); err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for _, c := range append(first, append(again[0], again[1]...)...) {
		rec, err := DecodeEnvelope(&c, "datagen")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	want, err := Fold(recs, idKeys(m))
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffImages(want, h.Image(t, m.Schemas()), 10); d != "" {
		t.Fatal(d)
	}
}

// tablePause: a schema change the sink cannot take (a new primary key) pauses its table,
// and the pause is committed with the checkpoint: the next process leaves that table's
// changes out, as the last one did, instead of stopping at a table that no longer fits
// the source, and the other tables go on.
func tablePause(t *testing.T, h TableSinkHarness) {
	ctx := context.Background()
	m := datagen.NewModel(7, 50, suiteTables)
	s := h.Open(t, "upsert")
	applyByID(t, s, m.Changes(0, 40, 1, 0).Changes)
	if err := s.Commit(ctx, suiteCheckpoint(1, "40", 40)); err != nil {
		t.Fatal(err)
	}
	before := m.Schemas()[0]
	after := *before
	after.Key, after.Version = []int{1}, before.Version+1
	change := &event.SchemaChange{Kind: event.AlterTable, Table: before.ID, Before: before, After: &after,
		DDL: "ALTER TABLE a DROP PRIMARY KEY, ADD PRIMARY KEY (" + before.Columns[1].Name + ")"}
	if err := s.(connector.SchemaApplier).ApplySchema(ctx, change); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, suiteCheckpoint(2, "40", 40)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = h.Open(t, "upsert")
	defer s.Close()
	more := m.Changes(40, 40, 1, 0).Changes
	for i := range more {
		if more[i].Schema.ID == before.ID {
			more[i].Schema = &after
		}
	}
	applyByID(t, s, more)
	if err := s.Commit(ctx, suiteCheckpoint(3, "80", 80)); err != nil {
		t.Fatalf("after a restart, the changes of a paused table and of the others: %v", err)
	}
	var recs []Record
	for i, r := range datagenRecords(t, m, 80) {
		if i < 40 || r.Table() != before.ID.String() {
			recs = append(recs, r)
		}
	}
	want, err := Fold(recs, idKeys(m))
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffImages(want, h.Image(t, m.Schemas()), 10); d != "" {
		t.Fatalf("want the paused table as it was at the pause and the other table whole:\n%s", d)
	}
}

// tableTwoPhase: while writers hold snapshot rows, a checkpoint is prepared in every
// writer, recorded, then committed; a process that dies after preparing leaves nothing
// visible (the next one rolls the prepared transactions back), one that dies after
// recording leaves them committed by the next, and a stale writer's prepared
// transactions are rolled back when it is fenced.
func tableTwoPhase(t *testing.T, h TableSinkHarness) {
	ctx := context.Background()
	m := datagen.NewModel(6, 0, suiteTables[:1])
	table := suiteTables[0]
	base := m.Changes(0, 1, 1, 0).Changes[0]
	applyReads := func(s connector.Sink, from int) {
		for p := range 2 {
			var reads []event.Change
			for i := from + p*10; i < from+p*10+10; i++ {
				reads = append(reads, event.Change{Op: event.OpRead, Schema: base.Schema, After: append(event.Row{event.Int(int64(i))}, base.After[1:]...)})
			}
			if err := s.Apply(ctx, &connector.Batch{Partition: p, Changes: reads}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := func(what string, rows, prepared int) {
		t.Helper()
		if r, p := h.Rows(t, table), h.Prepared(t); r != rows || p != prepared {
			t.Fatalf("%s: %d rows, %d prepared; want %d, %d", what, r, p, rows, prepared)
		}
	}

	s := h.Open(t, "upsert")
	applyReads(s, 0)
	if err := s.Commit(ctx, suiteCheckpoint(1, "1", 20)); err != nil {
		t.Fatal(err)
	}
	want("after a two-phase checkpoint", 20, 0)

	applyReads(s, 100)
	h.Prepare(t, s, 2)
	s.Close()
	want("after dying prepared", 20, 2)
	s = h.Open(t, "upsert")
	want("after the next process started (rolled back)", 20, 0)

	applyReads(s, 200)
	h.Prepare(t, s, 3)
	h.Record(t, s, suiteCheckpoint(3, "3", 40))
	s.Close()
	s = h.Open(t, "upsert")
	want("after the next process started (committed)", 40, 0)
	if cp, err := s.(connector.CheckpointKeeper).LoadCheckpoint(ctx, "conformance"); err != nil || cp == nil || cp.Seq != 3 {
		t.Fatalf("checkpoint %+v, %v; want seq 3", cp, err)
	}

	applyReads(s, 300)
	newer := h.Open(t, "upsert")
	defer newer.Close()
	if err := s.Commit(ctx, suiteCheckpoint(4, "4", 60)); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("a stale writer's commit returned %v, want ErrFenced", err)
	}
	s.Close()
	want("after a fenced commit", 40, 0)
}

// tableReplay: a crash after the writers committed their data but before the checkpoint
// row was written (the window of the commit protocol) replays changes the target already
// holds; the changelog holds each change once, and the upserted table equals the fold.
func tableReplay(t *testing.T, h TableSinkHarness) {
	m := datagen.NewModel(9, 50, suiteTables)
	first, second := m.Changes(0, 600, 1, 0), m.Changes(600, 600, 1, 0)
	for _, mode := range []string{"upsert", "changelog"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			s := h.Open(t, mode)
			applyByID(t, s, first.Changes)
			if err := s.Commit(ctx, suiteCheckpoint(1, "600", 600)); err != nil {
				t.Fatal(err)
			}
			applyByID(t, s, second.Changes)
			h.CommitData(t, s)
			s.Close()

			s = h.Open(t, mode)
			defer s.Close()
			cp, err := s.(connector.CheckpointKeeper).LoadCheckpoint(ctx, "conformance")
			if err != nil || cp == nil || cp.Position != "600" {
				t.Fatalf("checkpoint after the crash: %+v, %v; want position 600", cp, err)
			}
			applyByID(t, s, second.Changes)
			if err := s.Commit(ctx, suiteCheckpoint(2, "1200", 1200)); err != nil {
				t.Fatal(err)
			}
			if mode == "changelog" {
				if err := CheckDatagen(h.Changelog(t, m.Schemas()), m, 1200, false); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := Fold(datagenRecords(t, m, 1200), idKeys(m))
			if err != nil {
				t.Fatal(err)
			}
			if d := DiffImages(want, h.Image(t, m.Schemas()), 10); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// tableFencing: once a second process has opened the pipeline, the first commits nothing.
func tableFencing(t *testing.T, h TableSinkHarness) {
	m := datagen.NewModel(2, 10, suiteTables[:1])
	old := h.Open(t, "upsert")
	defer old.Close()
	applyByID(t, old, m.Changes(0, 50, 1, 0).Changes)
	newer := h.Open(t, "upsert")
	defer newer.Close()
	if err := old.Commit(context.Background(), suiteCheckpoint(1, "50", 50)); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("a stale writer's commit returned %v, want ErrFenced", err)
	}
	if n := h.Rows(t, suiteTables[0]); n != 0 {
		t.Fatalf("the stale writer's rows: %d, want none", n)
	}
}

// tableSettled: a settled batch of streamed changes is visible when Apply returns, fenced
// like a checkpoint commit; snapshot rows wait for the checkpoint.
func tableSettled(t *testing.T, h TableSinkHarness) {
	ctx := context.Background()
	m := datagen.NewModel(4, 50, suiteTables[:1])
	changes := m.Changes(0, 40, 1, 0).Changes
	s := h.Open(t, "upsert")
	defer s.Close()
	table := suiteTables[0]
	if err := s.Apply(ctx, &connector.Batch{Changes: changes[:20], Settled: true}); err != nil {
		t.Fatal(err)
	}
	before := h.Rows(t, table)
	if before == 0 {
		t.Fatal("a settled batch is not visible after Apply")
	}
	var reads []event.Change
	for i := range 10 {
		reads = append(reads, event.Change{Op: event.OpRead, Schema: changes[0].Schema,
			After: append(event.Row{event.Int(int64(1000 + i))}, changes[0].After[1:]...)})
	}
	if err := s.Apply(ctx, &connector.Batch{Partition: 1, Changes: reads, Settled: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, &connector.Batch{Partition: 1, Changes: changes[20:], Settled: true}); err != nil {
		t.Fatal(err)
	}
	if n := h.Rows(t, table); n != before {
		t.Fatalf("snapshot rows were committed before the checkpoint: %d rows, want %d", n, before)
	}
	if err := s.Commit(ctx, suiteCheckpoint(1, "40", 40)); err != nil {
		t.Fatal(err)
	}
	if n := h.Rows(t, table); n <= before {
		t.Fatalf("%d rows after the checkpoint, want more than %d", n, before)
	}
	newer := h.Open(t, "upsert")
	defer newer.Close()
	more := m.Changes(40, 10, 1, 0).Changes
	if err := s.Apply(ctx, &connector.Batch{Changes: more, Settled: true}); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("a stale writer's settled batch returned %v, want ErrFenced", err)
	}
}

// applyByID applies changes over 4 partitions by id, in batches of 64.
func applyByID(t *testing.T, s connector.Sink, changes []event.Change) {
	t.Helper()
	parts := make([][]event.Change, 4)
	for _, c := range changes {
		p := int(c.Row()[0].Int() % 4)
		parts[p] = append(parts[p], c)
	}
	for p, cs := range parts {
		for i := 0; i < len(cs); i += 64 {
			if err := s.Apply(context.Background(), &connector.Batch{Partition: p, Changes: cs[i:min(i+64, len(cs))]}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// datagenRecords is the first n changes of m as records.
func datagenRecords(t *testing.T, m *datagen.Model, n int64) []Record {
	t.Helper()
	var recs []Record
	for i := int64(0); i < n; i++ {
		b := m.Changes(i, 1, 1, 0)
		rec, err := DecodeEnvelope(&b.Changes[0], "datagen")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// idKeys keys every table of m by its id column, for Fold.
func idKeys(m *datagen.Model) map[string][]string {
	keys := map[string][]string{}
	for _, id := range m.Tables {
		keys[id.String()] = []string{"id"}
	}
	return keys
}
