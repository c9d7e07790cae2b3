package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// SourceHarness is how the source suite drives one source connector.
type SourceHarness struct {
	// Open opens the source. The suite closes it.
	Open func(t *testing.T) connector.Source
	// Rows returns how many rows table holds now (to check the snapshot's coverage).
	Rows func(t *testing.T, table event.TableID) int64
	// MakeChanges makes at least n changes happen in the source after the current
	// position (a database harness writes them; a generating source has them already).
	MakeChanges func(t *testing.T, n int)
}

// RunSourceSuite runs the conformance tests every source must pass.
func RunSourceSuite(t *testing.T, h SourceHarness) {
	t.Run("TablesAreValid", func(t *testing.T) { sourceTables(t, h) })
	t.Run("SnapshotChunksCoverEachRowOnce", func(t *testing.T) { sourceChunks(t, h) })
	t.Run("StreamResumesExactlyAfterPosition", func(t *testing.T) { sourceResume(t, h) })
}

func sourceTables(t *testing.T, h SourceHarness) {
	s := h.Open(t)
	defer s.Close()
	tables, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatal("no tables resolved")
	}
	for _, tb := range tables {
		if err := tb.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func sourceChunks(t *testing.T, h SourceHarness) {
	s := h.Open(t)
	defer s.Close()
	cr, ok := s.(connector.ChunkReader)
	if !ok {
		t.Log("the source does not snapshot")
		return
	}
	ctx := context.Background()
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		var chunks []snapshot.Chunk
		for c, err := range cr.SplitChunks(ctx, tb, snapshot.SplitHint{Rows: 37}) {
			if err != nil {
				t.Fatal(err)
			}
			chunks = append(chunks, c)
		}
		seen := map[string]bool{}
		rows := int64(0)
		for i, c := range chunks {
			if c.Index != i {
				t.Fatalf("%s: chunk %d has index %d", tb.ID, i, c.Index)
			}
			if i > 0 && !bytes.Equal(event.AppendRowKey(nil, keySchema(tb), chunks[i-1].Hi), event.AppendRowKey(nil, keySchema(tb), c.Lo)) {
				t.Fatalf("%s: chunk %d starts at %v but chunk %d ended at %v: a gap or an overlap", tb.ID, i, c.Lo, i-1, chunks[i-1].Hi)
			}
			err := cr.ReadChunk(ctx, tb, c, func(rs []event.Row) error {
				for _, r := range rs {
					k := string(event.AppendRowKey(nil, tb, r))
					if seen[k] {
						return fmt.Errorf("key %x read twice", k)
					}
					seen[k] = true
					rows++
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: chunk %d: %v", tb.ID, i, err)
			}
		}
		if want := h.Rows(t, tb.ID); rows != want {
			t.Fatalf("%s: the chunks hold %d rows, the table %d", tb.ID, rows, want)
		}
		if len(chunks) > 2 {
			// Splitting resumes after a chunk's end with the same chunks.
			k := len(chunks) / 2
			var again []snapshot.Chunk
			for c, err := range cr.SplitChunks(ctx, tb, snapshot.SplitHint{Rows: 37, After: chunks[k].Hi, FirstIndex: k + 1}) {
				if err != nil {
					t.Fatal(err)
				}
				again = append(again, c)
			}
			if len(again) != len(chunks)-k-1 || again[0].Index != k+1 {
				t.Fatalf("%s: resumed split gives %d chunks from index %v, want %d from %d", tb.ID, len(again), again, len(chunks)-k-1, k+1)
			}
		}
	}
}

// keySchema returns a schema whose key is the whole of a chunk bound (bounds hold only
// the key columns).
func keySchema(tb *event.Schema) *event.Schema {
	s := &event.Schema{ID: tb.ID}
	for i := range tb.Key {
		s.Columns = append(s.Columns, tb.Columns[tb.Key[i]])
		s.Key = append(s.Key, i)
	}
	return s
}

type streamed struct {
	changes []event.Change
	ends    []event.Position // a boundary position after changes[:len at that time]
	at      []int
}

// collect streams from pos until n changes have come, recording boundaries.
func collect(t *testing.T, s connector.Source, from event.Position, schemas []*event.Schema, n int) streamed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got streamed
	errEnough := errors.New("enough")
	err := s.Stream(ctx, from, schemas, func(_ context.Context, b event.Batch) error {
		got.changes = append(got.changes, b.Changes...)
		if b.Boundary {
			got.ends = append(got.ends, b.End)
			got.at = append(got.at, len(got.changes))
		}
		if len(got.changes) >= n && len(got.ends) >= 3 {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		t.Fatalf("stream from %q: %v", from, err)
	}
	if len(got.changes) < n || len(got.ends) < 3 {
		t.Fatalf("stream from %q ended after %d changes and %d transaction boundaries, want %d and 3", from, len(got.changes), len(got.ends), n)
	}
	return got
}

func sourceResume(t *testing.T, h SourceHarness) {
	s := h.Open(t)
	defer s.Close()
	ctx := context.Background()
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.MakeChanges(t, 500)
	all := collect(t, s, start, tables, 500)
	mid := (len(all.ends) - 1) / 2
	rest := collect(t, s, all.ends[mid], tables, len(all.changes)-all.at[mid])
	want := all.changes[all.at[mid]:]
	for i := range want {
		g, w := &rest.changes[i], &want[i]
		if g.Pos != w.Pos || g.Op != w.Op || g.Schema.ID != w.Schema.ID ||
			!bytes.Equal(event.AppendRowKey(nil, g.Schema, g.Row()), event.AppendRowKey(nil, w.Schema, w.Row())) {
			t.Fatalf("resumed at %q: change %d is %s %s, want %s %s", all.ends[mid], i, g.Op, g.Pos, w.Op, w.Pos)
		}
	}
}
