package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// Comparing through a pipeline's transforms and routes (RunMapped).
//
// The sink's tables are not the source's: rows are projected, filtered, masked, and merged
// from several tables into one. So the comparison is per sink table. Its phases:
//
//	chunks  each source table's chunks are read and put through the mapping: what comes
//	        out is what the sink should hold; the sink's rows of those keys are read
//	        (ReadKeys) and compared. Keys the sink lacks are missing, rows that differ are
//	        different. A row the filter drops is not looked for.
//	extras  when a sink table holds more rows than were matched, its keys are scanned and
//	        traced back to each of its source tables (Mapping.SourceKey: the source key is
//	        copied into the sink key); the source rows found are put through the mapping
//	        again, and the sink keys none of them gives are extra. Where a source key is
//	        not copied into the sink's (computed, masked), extra rows are counted, not
//	        listed.
//	settle  as in Run: differing keys are compared again, from the source rows behind
//	        them, once the sink has caught up with where they were seen.
//
// An interrupted comparison resumes (Options.Resume) at the chunk where each source table
// stopped; the keys found to differ before are compared again.

// Mapping is a pipeline's transforms and routes (transform.Transformer).
type Mapping interface {
	Prepare(schemas []*event.Schema) error
	Apply(dst []event.Change, batch []event.Change) ([]event.Change, []*event.SchemaChange, error)
	SourceKey(s, sink *event.Schema) (idx []int, ok bool)
	SinkSchemas(s *event.Schema) ([]*event.Schema, error)
}

// mappedTable is one sink table's comparison.
type mappedTable struct {
	s        *event.Schema   // its schema
	sources  []*event.Schema // the source tables that go to it
	mu       sync.Mutex
	produced int64 // rows the source tables give it
	matched  int64 // of those, found in the sink
	diffs    map[string]*origin
}

// origin is a sink key that differs, its rows on each side (nil: absent) and the source
// row it comes from (nil for an extra row).
type origin struct {
	key       event.Row
	src, sink event.Row
	from      *event.Schema
	fromKey   event.Row
}

// mapped is a row as the sink should hold it, and where it comes from.
type mapped struct {
	s       *event.Schema
	row     event.Row
	from    *event.Schema
	fromKey event.Row
}

// RunMapped compares every sink table that the source tables of schemas become through
// m with the sink (see above).
func RunMapped(ctx context.Context, src Source, sink connector.TableReader, schemas []*event.Schema, m Mapping, o Options) (*Report, error) {
	if err := m.Prepare(schemas); err != nil {
		return nil, err
	}
	v, err := newVerifier(src, sink, o)
	if err != nil {
		return nil, err
	}
	o = v.o
	if v.prog.Mapped == nil {
		v.prog.Mapped = &mappedProgress{Sources: map[string]*tableProgress{}, Sinks: map[string]*mappedSinkProgress{}}
	}
	mp := v.prog.Mapped
	mv := &mapVerifier{v: v, m: m, tables: map[event.TableID]*mappedTable{}}
	bySource := map[string]*event.Schema{}
	for _, s := range schemas { // every sink table is compared, even one whose sources are empty
		bySource[s.ID.String()] = s
		if len(s.Key) == 0 {
			continue // reported below, not compared
		}
		sinks, err := m.SinkSchemas(s)
		if err != nil {
			return nil, err
		}
		for _, ts := range sinks {
			t := mv.table(ts, s)
			if sp := mp.Sinks[ts.ID.String()]; sp != nil {
				t.produced, t.matched = sp.Produced, sp.Matched
			}
		}
	}
	for _, sp := range mp.Sinks { // found before the interruption: compare them again
		byFrom := map[*event.Schema][]event.Row{}
		for _, k := range sp.Differing {
			if from := bySource[k.Table]; from != nil {
				byFrom[from] = append(byFrom[from], k.Key)
			}
		}
		for from, keys := range byFrom {
			rows, err := v.readSource(ctx, from, keys)
			if err != nil {
				return nil, err
			}
			out, err := mv.rows(from, rows)
			if err != nil {
				return nil, err
			}
			if _, err := mv.compare(ctx, from, out, false); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range schemas {
		if len(s.Key) == 0 {
			continue // reported below
		}
		tp := mp.Sources[s.ID.String()]
		if tp == nil {
			tp = &tableProgress{}
			mp.Sources[s.ID.String()] = tp
		}
		if tp.NextIndex > 0 && tp.After == nil {
			continue // compared whole before the interruption
		}
		if err := mv.chunks(ctx, s, tp); err != nil {
			return nil, fmt.Errorf("verify %s: %w", s.ID, err)
		}
	}
	rep := &Report{}
	for _, s := range schemas {
		if len(s.Key) == 0 {
			rep.Tables = append(rep.Tables, &TableReport{Table: s.ID.String(), Note: "the table has no primary key: it cannot be compared row by row"})
		}
	}
	ids := make([]event.TableID, 0, len(mv.tables))
	for id := range mv.tables {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b event.TableID) int { return strings.Compare(a.String(), b.String()) })
	for _, id := range ids {
		t := mv.tables[id]
		tr, err := mv.finish(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", id, err)
		}
		rep.Tables = append(rep.Tables, tr)
		rep.Differences += tr.Missing + tr.Extra + tr.Different
	}
	if o.ProgressFile != "" {
		if err := os.Remove(o.ProgressFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return rep, nil
}

type mapVerifier struct {
	v      *verifier
	m      Mapping
	mapMu  sync.Mutex // the mapping is used by one goroutine at a time
	tabMu  sync.Mutex
	tables map[event.TableID]*mappedTable
}

// rows puts source rows of s through the mapping.
func (mv *mapVerifier) rows(s *event.Schema, rows []event.Row) ([]mapped, error) {
	mv.mapMu.Lock()
	defer mv.mapMu.Unlock()
	var out []mapped
	var buf []event.Change
	for _, r := range rows {
		var err error
		if buf, _, err = mv.m.Apply(buf[:0], []event.Change{{Op: event.OpRead, Schema: s, After: r}}); err != nil {
			return nil, err
		}
		for _, c := range buf {
			out = append(out, mapped{s: c.Schema, row: c.After, from: s, fromKey: s.KeyOf(r)})
		}
	}
	return out, nil
}

func (mv *mapVerifier) table(s *event.Schema, from *event.Schema) *mappedTable {
	mv.tabMu.Lock()
	defer mv.tabMu.Unlock()
	t := mv.tables[s.ID]
	if t == nil {
		t = &mappedTable{s: s, diffs: map[string]*origin{}}
		mv.tables[s.ID] = t
	}
	t.s = s
	if !slices.Contains(t.sources, from) {
		t.sources = append(t.sources, from)
	}
	return t
}

// chunks compares the rows table s gives its sink tables, chunk by chunk, from where tp
// says; as in Run, the counts saved take a chunk once every chunk before it is done.
func (mv *mapVerifier) chunks(ctx context.Context, s *event.Schema, tp *tableProgress) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(mv.v.o.Parallelism)
	type chunkDone struct {
		hi     event.Row
		counts map[event.TableID][2]int64
	}
	var mu sync.Mutex
	finished := map[int]chunkDone{}
	lastSave := time.Now()
	mp := mv.v.prog.Mapped
	done := func(c snapshot.Chunk, counts map[event.TableID][2]int64) error {
		mu.Lock()
		defer mu.Unlock()
		finished[c.Index] = chunkDone{c.Hi, counts}
		for {
			d, ok := finished[tp.NextIndex]
			if !ok {
				break
			}
			delete(finished, tp.NextIndex)
			tp.NextIndex, tp.After = tp.NextIndex+1, d.hi
			for id, n := range d.counts {
				sp := mp.Sinks[id.String()]
				if sp == nil {
					sp = &mappedSinkProgress{}
					mp.Sinks[id.String()] = sp
				}
				sp.Produced, sp.Matched = sp.Produced+n[0], sp.Matched+n[1]
			}
		}
		if time.Since(lastSave) < time.Second {
			return nil
		}
		lastSave = time.Now()
		return mv.save()
	}
	hint := snapshot.SplitHint{Rows: mv.v.o.ChunkRows, After: tp.After, FirstIndex: tp.NextIndex}
	for c, err := range mv.v.src.SplitChunks(ctx, s, hint) {
		if err != nil {
			return err
		}
		g.Go(func() error {
			var rows []event.Row
			if err := mv.v.src.ReadChunk(ctx, s, c, func(rs []event.Row) error {
				rows = append(rows, rs...)
				return nil
			}); err != nil {
				return err
			}
			if err := mv.v.wait(ctx, len(rows)); err != nil {
				return err
			}
			out, err := mv.rows(s, rows)
			if err != nil {
				return err
			}
			counts, err := mv.compare(ctx, s, out, true)
			if err != nil {
				return err
			}
			return done(c, counts)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	tp.After = nil // every chunk is compared (NextIndex > 0, After nil)
	return mv.save()
}

// save writes the progress file (with each sink table's differing keys), when there is
// one.
func (mv *mapVerifier) save() error {
	if mv.v.o.ProgressFile == "" {
		return nil
	}
	mv.tabMu.Lock()
	for id, t := range mv.tables {
		sp := mv.v.prog.Mapped.Sinks[id.String()]
		if sp == nil {
			sp = &mappedSinkProgress{}
			mv.v.prog.Mapped.Sinks[id.String()] = sp
		}
		t.mu.Lock()
		sp.Differing = sp.Differing[:0]
		for _, d := range t.diffs {
			if d.from != nil {
				sp.Differing = append(sp.Differing, mappedKey{Table: d.from.ID.String(), Key: d.fromKey})
			}
		}
		t.mu.Unlock()
	}
	mv.tabMu.Unlock()
	return mv.v.save()
}

// compare looks the mapped rows up in the sink and records what differs; count adds them
// to their tables' produced and matched rows, and returns what it added per table.
func (mv *mapVerifier) compare(ctx context.Context, from *event.Schema, rows []mapped, count bool) (map[event.TableID][2]int64, error) {
	counts := map[event.TableID][2]int64{}
	byTable := map[*event.Schema][]mapped{}
	for _, r := range rows {
		byTable[r.s] = append(byTable[r.s], r)
	}
	for ts, rs := range byTable {
		t := mv.table(ts, from)
		keys := make([]event.Row, len(rs))
		for i, r := range rs {
			keys[i] = ts.KeyOf(r.row)
		}
		sinkRows, err := mv.v.readSink(ctx, ts, keys)
		if err != nil {
			return nil, err
		}
		bySink := make(map[string]event.Row, len(sinkRows))
		for _, r := range sinkRows {
			bySink[string(event.AppendRowKey(nil, ts, r))] = r
		}
		var produced, matched int64
		t.mu.Lock()
		for i, r := range rs {
			k := string(appendKey(nil, keys[i]))
			other, ok := bySink[k]
			produced++
			switch {
			case !ok:
				t.diffs[k] = &origin{key: keys[i], src: r.row, from: r.from, fromKey: r.fromKey}
			case len(differingColumns(ts, r.row, other)) > 0:
				t.diffs[k] = &origin{key: keys[i], src: r.row, sink: other, from: r.from, fromKey: r.fromKey}
				matched++
			default:
				delete(t.diffs, k)
				matched++
			}
		}
		if count {
			t.produced += produced
			t.matched += matched
			c := counts[ts.ID]
			counts[ts.ID] = [2]int64{c[0] + produced, c[1] + matched}
		}
		t.mu.Unlock()
	}
	return counts, nil
}

// finish looks for extra rows in sink table t, settles what differs and reports.
func (mv *mapVerifier) finish(ctx context.Context, t *mappedTable) (*TableReport, error) {
	names := make([]string, len(t.sources))
	for i, s := range t.sources {
		names[i] = s.ID.String()
	}
	tr := &TableReport{Table: t.s.ID.String() + " (from " + strings.Join(names, ", ") + ")", SourceRows: t.produced}
	n, exists, err := mv.v.sink.Count(ctx, t.s)
	if err != nil {
		return nil, err
	}
	tr.SinkRows, tr.SinkTable = n, exists
	untraced := int64(0)
	if exists && n > t.matched {
		if untraced, err = mv.extras(ctx, t); err != nil {
			return nil, err
		}
	}
	if mv.v.o.Settle > 0 && len(t.diffs) > 0 {
		if err := mv.settle(ctx, t); err != nil {
			return nil, err
		}
	}
	if !exists {
		tr.Note = "the sink has no such table"
	}
	rt := &table{s: t.s, diffs: map[string]*pending{}}
	for k, d := range t.diffs {
		rt.diffs[k] = &pending{key: d.key, src: d.src, sink: d.sink}
	}
	mv.v.report(rt, tr)
	if untraced > 0 {
		tr.Extra += untraced
		tr.Note = fmt.Sprintf("%d rows more than the source tables give it; their keys are not listed: a source key is computed or masked into the sink's, so they cannot be traced back", untraced)
	}
	tr.Note = strings.TrimPrefix(tr.Note+"; compared through the pipeline's transforms and routes", "; ")
	return tr, nil
}

// extras scans t's keys and traces each back to its source tables; a key none of them
// gives is extra. When a source table cannot be traced back, it returns how many rows the
// sink has beyond those matched, to be counted unlisted.
func (mv *mapVerifier) extras(ctx context.Context, t *mappedTable) (untraced int64, err error) {
	for _, s := range t.sources {
		if _, ok := mv.m.SourceKey(s, t.s); !ok {
			n, _, err := mv.v.sink.Count(ctx, t.s)
			return max(0, n-t.matched), err
		}
	}
	const page = 10000
	var after event.Row
	for {
		keys, err := mv.v.sink.ScanKeys(ctx, t.s, after, page)
		if err != nil || len(keys) == 0 {
			return 0, err
		}
		if err := mv.v.wait(ctx, len(keys)); err != nil {
			return 0, err
		}
		given, err := mv.trace(ctx, t, keys)
		if err != nil {
			return 0, err
		}
		var extra []event.Row
		for _, k := range keys {
			if !given[string(appendKey(nil, k))] {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			sinkRows, err := mv.v.readSink(ctx, t.s, extra)
			if err != nil {
				return 0, err
			}
			t.mu.Lock()
			for _, r := range sinkRows {
				k := string(event.AppendRowKey(nil, t.s, r))
				if _, known := t.diffs[k]; !known {
					t.diffs[k] = &origin{key: t.s.KeyOf(r), sink: r}
				}
			}
			t.mu.Unlock()
		}
		if len(keys) < page {
			return 0, nil
		}
		after = keys[len(keys)-1]
	}
}

// trace reads the source rows behind sink keys of t, from each of its source tables, and
// returns the sink keys they give (encoded).
func (mv *mapVerifier) trace(ctx context.Context, t *mappedTable, keys []event.Row) (map[string]bool, error) {
	given := map[string]bool{}
	for _, s := range t.sources {
		idx, _ := mv.m.SourceKey(s, t.s)
		srcKeys := make([]event.Row, len(keys))
		for i, k := range keys {
			sk := make(event.Row, len(idx))
			for j, x := range idx {
				sk[j] = k[x]
			}
			srcKeys[i] = sk
		}
		rows, err := mv.v.readSource(ctx, s, srcKeys)
		if err != nil {
			return nil, err
		}
		out, err := mv.rows(s, rows)
		if err != nil {
			return nil, err
		}
		for _, r := range out {
			if r.s.ID == t.s.ID {
				given[string(event.AppendRowKey(nil, r.s, r.row))] = true
			}
		}
	}
	return given, nil
}

// settle compares t's differing keys again once the sink has caught up with the source
// position read after they were seen, until none differs or Settle runs out.
func (mv *mapVerifier) settle(ctx context.Context, t *mappedTable) error {
	deadline := time.Now().Add(mv.v.o.Settle)
	for len(t.diffs) > 0 && time.Now().Before(deadline) {
		if err := mv.v.awaitSink(ctx, deadline); err != nil {
			return err
		}
		if err := mv.recompare(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// recompare reads the rows behind t's differing keys again, on both sides.
func (mv *mapVerifier) recompare(ctx context.Context, t *mappedTable) error {
	t.mu.Lock()
	diffs := t.diffs
	t.diffs = map[string]*origin{}
	t.mu.Unlock()
	byFrom := map[*event.Schema][]event.Row{}
	var extras []event.Row
	for _, d := range diffs {
		if d.from != nil {
			byFrom[d.from] = append(byFrom[d.from], d.fromKey)
		} else {
			extras = append(extras, d.key)
		}
	}
	for from, keys := range byFrom {
		rows, err := mv.v.readSource(ctx, from, keys)
		if err != nil {
			return err
		}
		out, err := mv.rows(from, rows)
		if err != nil {
			return err
		}
		if _, err := mv.compare(ctx, from, out, false); err != nil {
			return err
		}
		// Rows gone from the source, or filtered out now: their sink rows are extra if
		// still there.
		gone := map[string]bool{}
		for _, d := range diffs {
			if d.from == from {
				gone[string(appendKey(nil, d.key))] = true
			}
		}
		for _, r := range out {
			delete(gone, string(event.AppendRowKey(nil, r.s, r.row)))
		}
		for _, d := range diffs {
			if d.from == from && gone[string(appendKey(nil, d.key))] {
				extras = append(extras, d.key)
			}
		}
	}
	if len(extras) == 0 {
		return nil
	}
	sinkRows, err := mv.v.readSink(ctx, t.s, extras)
	if err != nil || len(sinkRows) == 0 {
		return err
	}
	keys := make([]event.Row, len(sinkRows))
	for i, r := range sinkRows {
		keys[i] = t.s.KeyOf(r)
	}
	given, err := mv.trace(ctx, t, keys)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range sinkRows {
		k := string(event.AppendRowKey(nil, t.s, r))
		if !given[k] {
			t.diffs[k] = &origin{key: t.s.KeyOf(r), sink: r}
		}
	}
	return nil
}
