// Package checkpoint defines what a checkpoint holds and where it is kept. A checkpoint is
// the source position up to which everything is durable in the sink, the snapshot's
// progress and the schemas as of that position (DESIGN §3.3).
package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// Checkpoint is one consistent cut of a pipeline.
type Checkpoint struct {
	Pipeline string `json:"pipeline"`
	// Generation is the fencing generation of the process that took it (see Store.Acquire).
	Generation int64 `json:"generation"`
	// Seq numbers a pipeline's checkpoints; a later checkpoint has a larger Seq. The engine
	// resumes from the one with the largest Seq among the store's and the sink's.
	Seq int64 `json:"seq"`
	// Position is the source position at a transaction boundary up to which every change
	// is durable in the sink. During a snapshot it is where the stream will start.
	Position event.Position `json:"position"`
	// Snapshot is the snapshot's progress; nil when no snapshot is running or the pipeline
	// skipped it.
	Snapshot *SnapshotState `json:"snapshot,omitempty"`
	// Schemas are the source's table schemas as of Position (the schema history the source
	// needs to decode what follows).
	Schemas []*event.Schema `json:"schemas,omitempty"`
	// Changes counts the changes made durable by this pipeline so far (for reports).
	Changes int64     `json:"changes"`
	Time    time.Time `json:"time"`
	// Resnapshot are tables `weir resnapshot` marked to be copied again: their snapshot
	// progress starts over, and the run that resumes from this checkpoint empties them in
	// the sink first (connector.Truncater). The checkpoints it takes after that no longer
	// carry them.
	Resnapshot []event.TableID `json:"resnapshot,omitempty"`
	// Paused are tables paused on request (`weir pause`, the API, the console): from this
	// checkpoint on their rows are not written — neither their changes nor their snapshot
	// — and their schema changes still are, so that the target keeps the source's shape.
	// A table is resumed by copying it again (MarkResnapshot), which takes it out: what
	// changed while it was paused is then in the sink, and nothing else is.
	Paused []event.TableID `json:"paused,omitempty"`
	// Indexed are tables whose source indexes the sink has built (or found there): a run
	// that starts does not look at them again (connector.IndexBuilder).
	Indexed []event.TableID `json:"indexed,omitempty"`
}

// tables resolves table names as MarkResnapshot and MarkPaused take them: a table's full
// name (db.schema.table for PostgreSQL) or its last two parts (db.table, schema.table).
// One that names no table of Schemas is an error that lists them.
func (cp *Checkpoint) tables(names []string) ([]event.TableID, error) {
	var tables []event.TableID
	var known []string
	for _, s := range cp.Schemas {
		known = append(known, s.ID.String())
	}
	for _, n := range names {
		i := slices.IndexFunc(cp.Schemas, func(s *event.Schema) bool {
			return s.ID.String() == n || s.ID.Schema+"."+s.ID.Table == n
		})
		if i < 0 {
			return nil, fmt.Errorf("table %s is not one the pipeline copies; its tables: %s", n, strings.Join(known, ", "))
		}
		tables = append(tables, cp.Schemas[i].ID)
	}
	return tables, nil
}

// MarkResnapshot makes the named tables' snapshot start over from this checkpoint (see
// Resnapshot). A name is a table's full name (db.schema.table for PostgreSQL) or its last
// two parts (db.table, schema.table); one that names no table of Schemas is an error that
// lists them.
func (cp *Checkpoint) MarkResnapshot(names []string) error {
	tables, err := cp.tables(names)
	if err != nil {
		return err
	}
	if cp.Snapshot == nil { // no snapshot ran (or its state was dropped): the others are done
		cp.Snapshot = &SnapshotState{}
		for _, sc := range cp.Schemas {
			cp.Snapshot.Tables = append(cp.Snapshot.Tables, snapshot.TableProgress{Table: sc.ID, Split: true})
		}
	}
	for _, id := range tables {
		cp.Snapshot.Tables = slices.DeleteFunc(cp.Snapshot.Tables, func(t snapshot.TableProgress) bool { return t.Table == id })
		cp.Snapshot.Tables = append(cp.Snapshot.Tables, snapshot.TableProgress{Table: id})
		if !slices.Contains(cp.Resnapshot, id) {
			cp.Resnapshot = append(cp.Resnapshot, id)
		}
		cp.Paused = slices.DeleteFunc(cp.Paused, func(p event.TableID) bool { return p == id }) // copied again: resumed
	}
	return nil
}

// MarkPaused pauses the named tables from this checkpoint on (see Paused; names as
// MarkResnapshot takes them). A table whose snapshot was under way is not read further:
// resuming it copies it whole.
func (cp *Checkpoint) MarkPaused(names []string) error {
	tables, err := cp.tables(names)
	if err != nil {
		return err
	}
	for _, id := range tables {
		if slices.Contains(cp.Paused, id) {
			continue
		}
		cp.Paused = append(cp.Paused, id)
		cp.Resnapshot = slices.DeleteFunc(cp.Resnapshot, func(r event.TableID) bool { return r == id }) // nothing to empty: it is not copied
		if cp.Snapshot != nil {
			for i := range cp.Snapshot.Tables {
				if t := &cp.Snapshot.Tables[i]; t.Table == id && !t.Finished() {
					*t = snapshot.TableProgress{Table: id, Split: true}
				}
			}
		}
	}
	return nil
}

// SnapshotState is the snapshot part of a checkpoint.
type SnapshotState struct {
	Tables []snapshot.TableProgress `json:"tables"`
}

// Finished reports whether every table's snapshot is complete.
func (s *SnapshotState) Finished() bool {
	for i := range s.Tables {
		if !s.Tables[i].Finished() {
			return false
		}
	}
	return true
}

// Newest returns the checkpoint with the larger Seq (either may be nil).
func Newest(a, b *Checkpoint) *Checkpoint {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.Seq > a.Seq:
		return b
	}
	return a
}

// ErrFenced is returned by Save when a newer process has acquired the pipeline: the caller
// must stop writing at once.
var ErrFenced = errors.New("fenced: another process took over this pipeline")

// ErrBusy is returned by Acquire when a live process holds the pipeline.
var ErrBusy = errors.New("pipeline is running in another process")

// Store keeps checkpoints. Implementations are safe for use by one process at a time per
// pipeline; two processes on one pipeline are kept apart by Acquire.
type Store interface {
	// Acquire claims pipeline for the calling process and returns a fencing generation
	// larger than any handed out before for it. Any earlier holder is fenced: its Save
	// fails with ErrFenced from then on. A store that can see the earlier holder is alive
	// refuses instead, with an error wrapping ErrBusy.
	Acquire(ctx context.Context, pipeline string) (generation int64, err error)
	// Load returns the pipeline's latest checkpoint, or nil when it has none.
	Load(ctx context.Context, pipeline string) (*Checkpoint, error)
	// Save stores cp durably, atomically replacing the previous one, unless cp.Generation
	// is older than the pipeline's current generation (ErrFenced).
	Save(ctx context.Context, cp *Checkpoint) error
	// Reset forgets the pipeline's checkpoint (a fresh start). It requires the caller to
	// hold the current generation.
	Reset(ctx context.Context, pipeline string, generation int64) error
	// Release gives up the claim taken by Acquire (the generation stays).
	Release(ctx context.Context, pipeline string) error
	Close() error
}

func fenced(pipeline string, mine, current int64) error {
	return fmt.Errorf("pipeline %q: this process holds generation %d but generation %d took over: %w",
		pipeline, mine, current, ErrFenced)
}

// Verifier is a store that can check, cheaply, that a generation is still current. The
// engine calls it just before committing the sink, so a process fenced by a newer one
// stops before it writes, not only at its next Save. (Sinks that keep the checkpoint in
// the target close the remaining window with a fencing column in the same transaction.)
type Verifier interface {
	Verify(ctx context.Context, pipeline string, generation int64) error
}
