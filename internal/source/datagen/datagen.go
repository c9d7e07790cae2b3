// Package datagen is a source that generates tables and a stream of changes from a seed.
//
// Everything it emits is a pure function of (seed, table, position), so a restart from
// any checkpoint continues with exactly the changes that would have followed, and a test
// can compute the expected output independently (see Model).
package datagen

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// Source generates data.
type Source struct {
	model       *Model
	rate        int64 // changes per second over all tables; 0: none
	maxChanges  int64 // 0: unbounded
	txnSize     int64
	mode        string
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
	maxBatch    int
	schemaByIdx []*event.Schema
}

var (
	_ connector.Source      = (*Source)(nil)
	_ connector.ChunkReader = (*Source)(nil)
)

// Open opens the datagen source from its config.
func Open(_ context.Context, cfg *connector.Config, _ connector.Env) (connector.Source, error) {
	var ids []event.TableID
	for _, name := range cfg.List("tables") {
		db, table, ok := strings.Cut(strings.TrimSpace(name), ".")
		if !ok || db == "" || table == "" || strings.Contains(table, ".") {
			return nil, fmt.Errorf("datagen: tables: %q is not a db.table name; write e.g. demo.orders", name)
		}
		ids = append(ids, event.TableID{Schema: db, Table: table})
	}
	s := New(NewModel(cfg.Int("seed"), cfg.Int("rows"), ids), cfg.Int("changes-per-second"))
	s.maxChanges = cfg.Int("max-changes")
	s.txnSize = cfg.Int("transaction-size")
	s.mode = cfg.String("scan.startup.mode")
	return s, nil
}

// New returns a source generating m's data at rate changes per second (0: no changes;
// a negative rate: as fast as possible).
func New(m *Model, rate int64) *Source {
	s := &Source{model: m, rate: rate, txnSize: 1, mode: "initial", now: time.Now, sleep: sleepCtx, maxBatch: 1024}
	s.schemaByIdx = m.Schemas()
	return s
}

// SetMaxChanges makes the stream end after n changes in total (0: never).
func (s *Source) SetMaxChanges(n int64) { s.maxChanges = n }

// SetTransactionSize sets the number of changes per generated transaction.
func (s *Source) SetTransactionSize(n int64) { s.txnSize = max(1, n) }

// Model returns the source's model.
func (s *Source) Model() *Model { return s.model }

// StartupMode is the configured scan.startup.mode (the engine reads it through
// connector.StartupModer).
func (s *Source) StartupMode() string { return s.mode }

func (s *Source) Tables(context.Context) ([]*event.Schema, error) { return s.schemaByIdx, nil }

// Position is the start of the generated change log: changes are numbered from 0.
func (s *Source) Position(context.Context) (event.Position, error) { return "0", nil }

// Stream emits changes from the change numbered from, at the configured rate, in
// transactions of txnSize changes (each batch ends at a transaction boundary).
func (s *Source) Stream(ctx context.Context, from event.Position, _ []*event.Schema, emit func(context.Context, event.Batch) error) error {
	next, err := strconv.ParseInt(string(from), 10, 64)
	if err != nil || next < 0 {
		return fmt.Errorf("datagen: bad position %q: want a change number", from)
	}
	if s.rate == 0 {
		<-ctx.Done()
		return nil
	}
	start := s.now()
	startNext := next
	for {
		if s.maxChanges > 0 && next >= s.maxChanges {
			return nil
		}
		n := int64(s.maxBatch)
		if s.rate > 0 {
			due := startNext + int64(s.now().Sub(start).Seconds()*float64(s.rate))
			if due <= next {
				// Sleep until the next transaction is due.
				wait := time.Duration(float64(next+s.txnSize-due) / float64(s.rate) * float64(time.Second))
				if err := s.sleep(ctx, max(wait, time.Millisecond)); err != nil {
					return nil
				}
				continue
			}
			n = min(n, due-next)
		}
		// Whole transactions only; the last one may be cut short by max-changes.
		if n >= s.txnSize {
			n -= n % s.txnSize
		} else {
			n = s.txnSize
		}
		if s.maxChanges > 0 {
			n = min(n, s.maxChanges-next)
		}
		b := s.model.Changes(next, int(n), s.txnSize, s.now().UnixMicro())
		next += n
		b.End = event.Position(strconv.FormatInt(next, 10))
		b.Boundary = next%s.txnSize == 0 || (s.maxChanges > 0 && next >= s.maxChanges)
		if err := emit(ctx, b); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// SplitChunks splits table t's keys 1..rows into chunks of hint.Rows keys.
func (s *Source) SplitChunks(_ context.Context, t *event.Schema, hint snapshot.SplitHint) iter.Seq2[snapshot.Chunk, error] {
	return func(yield func(snapshot.Chunk, error) bool) {
		size := int64(max(hint.Rows, 1))
		lo := int64(1)
		if len(hint.After) == 1 {
			lo = hint.After[0].Int()
		}
		idx := hint.FirstIndex
		rows := s.model.Rows
		if lo > rows {
			return
		}
		for ; lo <= rows; lo += size {
			c := snapshot.Chunk{Table: t.ID, Index: idx, Lo: event.Row{event.Int(lo)}}
			if lo+size <= rows {
				c.Hi = event.Row{event.Int(lo + size)}
			}
			idx++
			if !yield(c, nil) {
				return
			}
		}
	}
}

// ReadChunk generates the rows of chunk c as of the start of the change log.
func (s *Source) ReadChunk(ctx context.Context, t *event.Schema, c snapshot.Chunk, emit func([]event.Row) error) error {
	ti := s.model.tableIndex(t.ID)
	if ti < 0 {
		return fmt.Errorf("datagen: unknown table %s", t.ID)
	}
	lo, hi := int64(1), s.model.Rows+1
	if len(c.Lo) == 1 {
		lo = c.Lo[0].Int()
	}
	if len(c.Hi) == 1 {
		hi = min(hi, c.Hi[0].Int())
	}
	for lo < hi {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(hi-lo, int64(s.maxBatch))
		if err := emit(s.model.SnapshotRows(ti, lo, int(n))); err != nil {
			return err
		}
		lo += n
	}
	return nil
}

func (s *Source) Close() error { return nil }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// EstimateRows is the number of rows each generated table starts with.
func (s *Source) EstimateRows(context.Context, *event.Schema) (int64, error) {
	return s.model.Rows, nil
}
