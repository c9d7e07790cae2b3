// Package verify compares what a pipeline's sink holds with its source, table by table,
// through the unified types (`weir verify`, DESIGN §1.1): a DATETIME(6) in MariaDB equals a
// timestamp(6) in PostgreSQL, a DECIMAL a numeric of the same value, a JSON document the
// same document however it is spaced.
//
// The phases, per table:
//
//	chunks  the source's chunks (its SplitChunks, in parallel up to Parallelism, rate
//	        limited): each chunk's rows, then the sink's rows of the same keys (ReadKeys);
//	        keys the sink lacks are missing, rows that differ are different.
//	extras  when the sink holds more rows than it matched, its keys are scanned in its own
//	        order and looked up in the source; keys the source lacks are extra. No key order
//	        is shared between the two engines (collations differ), so nothing relies on one.
//	settle  with Settle set, the keys that differ are compared again once the sink's
//	        checkpoint includes the source position read after they were seen, until they
//	        agree or Settle runs out: a pipeline still catching up is not a difference.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/digest"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/types"
)

// Options tune a comparison.
type Options struct {
	Pipeline      string        // whose checkpoint Settle waits on
	Parallelism   int           // chunks compared at once (default 2)
	ChunkRows     int           // rows per chunk (default 8192)
	RowsPerSecond int           // source and sink rows read per second, together (0: no limit)
	Settle        time.Duration // how long a difference may take to go away (0: report at once)
	MaxKeys       int           // differing keys listed per table (default 100); all are counted
	// ProgressFile, when set, keeps how far the comparison got; with Resume an earlier,
	// interrupted comparison goes on from there. It is removed when the comparison ends.
	ProgressFile string
	Resume       bool
	// NoDigest compares every chunk row by row, even where both sides could digest it.
	NoDigest bool
	// Gone are tables the pipeline copies (they are in its checkpoint) that the source no
	// longer has: each is reported, and its rows in the sink are extra.
	Gone []*event.Schema
}

// Report is the outcome of a comparison.
type Report struct {
	Tables      []*TableReport `json:"tables"`
	Differences int64          `json:"differences"` // missing + extra + different, all tables
}

// TableReport is one table's outcome.
type TableReport struct {
	Table      string       `json:"table"`
	SourceRows int64        `json:"source_rows"`
	SinkRows   int64        `json:"sink_rows"`
	SinkTable  bool         `json:"sink_table_exists"`
	Missing    int64        `json:"missing"`   // keys in the source, not in the sink
	Extra      int64        `json:"extra"`     // keys in the sink, not in the source
	Different  int64        `json:"different"` // keys in both whose rows differ
	Keys       []Difference `json:"keys,omitempty"`
	Note       string       `json:"note,omitempty"`
	// ResumedAt is the chunk an interrupted comparison of this table resumed at.
	ResumedAt int `json:"resumed_at_chunk,omitempty"`
	// Digested is the source rows whose chunks both sides digested alike, so that they
	// were not read (connector.RangeHasher).
	Digested int64 `json:"rows_compared_by_digest,omitempty"`
}

// Difference is one key that differs.
type Difference struct {
	Kind    string             `json:"kind"` // missing, extra or different
	Key     map[string]any     `json:"key"`
	Columns []ColumnDifference `json:"columns,omitempty"`
}

// ColumnDifference is one column of a different row, with both values as the change
// envelope writes them.
type ColumnDifference struct {
	Column string          `json:"column"`
	Source json.RawMessage `json:"source"`
	Sink   json.RawMessage `json:"sink"`
}

// Source is what verify needs of a source.
type Source interface {
	connector.Source
	connector.ChunkReader
	connector.KeyReader
}

// Run compares every table of schemas between src and sink.
func Run(ctx context.Context, src Source, sink connector.TableReader, schemas []*event.Schema, o Options) (*Report, error) {
	v, err := newVerifier(src, sink, o)
	if err != nil {
		return nil, err
	}
	o = v.o
	rep := &Report{}
	for _, s := range schemas {
		tp := v.prog.Tables[s.ID.String()]
		if tp == nil {
			tp = &tableProgress{}
			v.prog.Tables[s.ID.String()] = tp
		}
		tr := tp.Report
		if tr == nil {
			var err error
			if tr, err = v.table(ctx, s, tp); err != nil {
				return nil, fmt.Errorf("verify %s: %w", s.ID, err)
			}
			tp.Report = tr
			if err := v.save(); err != nil {
				return nil, err
			}
		}
		rep.Tables = append(rep.Tables, tr)
		rep.Differences += tr.Missing + tr.Extra + tr.Different
	}
	for _, s := range o.Gone {
		n, exists, err := sink.Count(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("verify %s: count its rows in the sink: %w", s.ID, err)
		}
		rep.Tables = append(rep.Tables, &TableReport{Table: s.ID.String(), SinkRows: n, SinkTable: exists, Extra: n,
			Note: "the source no longer has this table, which the pipeline copies (it is in its checkpoint); its rows in the sink are extra"})
		rep.Differences += n
	}
	if o.ProgressFile != "" {
		if err := os.Remove(o.ProgressFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return rep, nil
}

// newVerifier fills in o's defaults, and loads the progress of an interrupted comparison
// when o says to resume it.
func newVerifier(src Source, sink connector.TableReader, o Options) (*verifier, error) {
	if o.Parallelism <= 0 {
		o.Parallelism = 2
	}
	if o.ChunkRows <= 0 {
		o.ChunkRows = 8192
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 100
	}
	v := &verifier{src: src, sink: sink, o: o, limit: rate.NewLimiter(rate.Inf, 0)}
	if o.RowsPerSecond > 0 {
		v.limit = rate.NewLimiter(rate.Limit(o.RowsPerSecond), max(o.RowsPerSecond, o.ChunkRows))
	}
	v.prog = &progress{Pipeline: o.Pipeline, Tables: map[string]*tableProgress{}}
	if o.ProgressFile != "" && o.Resume {
		var err error
		if v.prog, err = loadProgress(o.ProgressFile, o.Pipeline); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// save writes the progress file, when there is one.
func (v *verifier) save() error {
	if v.o.ProgressFile == "" {
		return nil
	}
	v.saveMu.Lock()
	defer v.saveMu.Unlock()
	if err := v.prog.save(v.o.ProgressFile); err != nil {
		return fmt.Errorf("save the comparison's progress: %w", err)
	}
	return nil
}

type verifier struct {
	src    Source
	sink   connector.TableReader
	o      Options
	limit  *rate.Limiter
	prog   *progress
	saveMu sync.Mutex
}

// table holds one table's comparison as it runs.
type table struct {
	s        *event.Schema
	mu       sync.Mutex
	diffs    map[string]*pending // by key encoding
	matched  atomic.Int64        // source keys found in the sink
	rows     atomic.Int64        // source rows read
	digested atomic.Int64        // of those, in chunks both sides digested alike
}

// pending is a key that differs, with the rows last seen on each side (nil: absent).
type pending struct {
	key       event.Row
	src, sink event.Row
}

const lookupBatch = 1000 // keys per ReadKeys

func (v *verifier) wait(ctx context.Context, n int) error {
	if v.limit.Limit() == rate.Inf {
		return nil
	}
	for n > 0 {
		step := min(n, v.limit.Burst())
		if err := v.limit.WaitN(ctx, step); err != nil {
			return err
		}
		n -= step
	}
	return nil
}

func (v *verifier) table(ctx context.Context, s *event.Schema, tp *tableProgress) (*TableReport, error) {
	tr := &TableReport{Table: s.ID.String(), ResumedAt: tp.NextIndex}
	if len(s.Key) == 0 {
		tr.Note = "the table has no primary key: it cannot be compared row by row"
		return tr, nil
	}
	n, exists, err := v.sink.Count(ctx, s)
	if err != nil {
		return nil, err
	}
	tr.SinkRows, tr.SinkTable = n, exists
	t := &table{s: s, diffs: map[string]*pending{}}
	t.rows.Store(tp.Rows)
	t.matched.Store(tp.Matched)
	if len(tp.Differing) > 0 { // found before the interruption: compare them again
		if err := v.recompare(ctx, t, tp.Differing); err != nil {
			return nil, err
		}
	}
	if tp.NextIndex == 0 || tp.After != nil {
		if err := v.chunks(ctx, t, tp, exists); err != nil {
			return nil, err
		}
	}
	tr.SourceRows, tr.Digested = t.rows.Load(), t.digested.Load()
	if exists && tr.SinkRows > t.matched.Load() {
		if err := v.extras(ctx, t); err != nil {
			return nil, err
		}
	}
	if v.o.Settle > 0 && len(t.diffs) > 0 {
		if err := v.settle(ctx, t); err != nil {
			return nil, err
		}
	}
	if !exists {
		tr.Note = "the sink has no such table"
	}
	v.report(t, tr)
	return tr, nil
}

// chunks compares the source's chunks with the sink's rows of the same keys, from where
// tp says, recording in tp how far it got: chunks finish out of order, and tp moves past
// a chunk once every chunk before it has finished too.
func (v *verifier) chunks(ctx context.Context, t *table, tp *tableProgress, sinkHas bool) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(v.o.Parallelism)
	var mu sync.Mutex
	// Chunks done beyond tp.NextIndex, with their Hi and counts: tp's counts take a chunk
	// only once every chunk before it is done, so that a resumed comparison, which reads
	// again from tp.NextIndex, counts no chunk twice.
	type chunkDone struct {
		hi            event.Row
		rows, matched int64
	}
	finished := map[int]chunkDone{}
	lastSave := time.Now()
	done := func(c snapshot.Chunk, rows, matched int64) error {
		mu.Lock()
		defer mu.Unlock()
		finished[c.Index] = chunkDone{c.Hi, rows, matched}
		for {
			d, ok := finished[tp.NextIndex]
			if !ok {
				break
			}
			delete(finished, tp.NextIndex)
			tp.NextIndex, tp.After = tp.NextIndex+1, d.hi
			tp.Rows, tp.Matched = tp.Rows+d.rows, tp.Matched+d.matched
		}
		if time.Since(lastSave) < time.Second {
			return nil
		}
		tp.Differing = t.differingKeys()
		return v.save()
	}
	srcHash, sinkHash := v.hashers(t.s)
	hint := snapshot.SplitHint{Rows: v.o.ChunkRows, After: tp.After, FirstIndex: tp.NextIndex}
	for c, err := range v.src.SplitChunks(ctx, t.s, hint) {
		if err != nil {
			return err
		}
		g.Go(func() error {
			if sinkHas && srcHash != nil { // digests first: rows are read only where they differ
				n, d, err := srcHash.HashRange(ctx, t.s, c.Lo, c.Hi)
				if err != nil {
					return err
				}
				m, e, err := sinkHash.HashRange(ctx, t.s, c.Lo, c.Hi)
				if err != nil {
					return err
				}
				if n == m && d == e {
					t.rows.Add(n)
					t.matched.Add(n)
					t.digested.Add(n)
					return errors.Join(v.wait(ctx, int(n)), done(c, n, n))
				}
			}
			var rows []event.Row
			if err := v.src.ReadChunk(ctx, t.s, c, func(rs []event.Row) error {
				rows = append(rows, rs...)
				return nil
			}); err != nil {
				return err
			}
			t.rows.Add(int64(len(rows)))
			if err := v.wait(ctx, len(rows)); err != nil {
				return err
			}
			var sinkRows []event.Row
			if sinkHas {
				var err error
				if sinkRows, err = v.readSink(ctx, t.s, keysOf(t.s, rows)); err != nil {
					return err
				}
			}
			return done(c, int64(len(rows)), t.compare(rows, sinkRows, true, true))
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	tp.After = nil // every chunk is compared (NextIndex > 0, After nil)
	tp.Rows, tp.Matched, tp.Differing = t.rows.Load(), t.matched.Load(), t.differingKeys()
	return v.save()
}

// hashers returns the source and the sink as digesters of s's key ranges, when both can
// digest them the same way (nil, nil otherwise).
func (v *verifier) hashers(s *event.Schema) (src, sink connector.RangeHasher) {
	a, ok1 := v.src.(connector.RangeHasher)
	b, ok2 := v.sink.(connector.RangeHasher)
	if v.o.NoDigest || !ok1 || !ok2 || a.HashDialect() != b.HashDialect() || !digest.Usable(s) {
		return nil, nil
	}
	return a, b
}

// differingKeys lists the keys that differ so far.
func (t *table) differingKeys() []event.Row {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]event.Row, 0, len(t.diffs))
	for _, p := range t.diffs {
		out = append(out, p.key)
	}
	return out
}

// recompare reads keys again from both sides and records what differs among them.
func (v *verifier) recompare(ctx context.Context, t *table, keys []event.Row) error {
	srcRows, err := v.readSource(ctx, t.s, keys)
	if err != nil {
		return err
	}
	sinkRows, err := v.readSink(ctx, t.s, keys)
	if err != nil {
		return err
	}
	t.mu.Lock()
	for _, k := range keys {
		delete(t.diffs, string(appendKey(nil, k)))
	}
	t.mu.Unlock()
	t.compare(srcRows, sinkRows, true, false) // counted when first compared
	t.compare(srcRows, sinkRows, false, false)
	return nil
}

// readSink reads the sink's rows of keys, in batches.
func (v *verifier) readSink(ctx context.Context, s *event.Schema, keys []event.Row) ([]event.Row, error) {
	var out []event.Row
	for i := 0; i < len(keys); i += lookupBatch {
		rows, err := v.sink.ReadKeys(ctx, s, keys[i:min(i+lookupBatch, len(keys))])
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// readSource reads the source's rows of keys, in batches.
func (v *verifier) readSource(ctx context.Context, s *event.Schema, keys []event.Row) ([]event.Row, error) {
	var out []event.Row
	for i := 0; i < len(keys); i += lookupBatch {
		rows, err := v.src.ReadKeys(ctx, s, keys[i:min(i+lookupBatch, len(keys))])
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// compare matches source rows with sink rows by key and records what differs. With
// fromSource every source row is accounted for: found in the sink (counted in matched when
// count is set), missing or different; without it the sink rows are the ones accounted for
// (sink keys the source was asked about).
func (t *table) compare(srcRows, sinkRows []event.Row, fromSource, count bool) (matched int64) {
	bySink := make(map[string]event.Row, len(sinkRows))
	for _, r := range sinkRows {
		bySink[string(event.AppendRowKey(nil, t.s, r))] = r
	}
	bySrc := make(map[string]event.Row, len(srcRows))
	for _, r := range srcRows {
		bySrc[string(event.AppendRowKey(nil, t.s, r))] = r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if fromSource {
		for k, r := range bySrc {
			other, ok := bySink[k]
			switch {
			case !ok:
				t.diffs[k] = &pending{key: t.s.KeyOf(r), src: r}
			case len(differingColumns(t.s, r, other)) > 0:
				t.diffs[k] = &pending{key: t.s.KeyOf(r), src: r, sink: other}
				if count {
					matched++
				}
			default:
				if count {
					matched++
				}
			}
		}
		t.matched.Add(matched)
		return matched
	}
	for k, r := range bySink {
		if _, ok := bySrc[k]; !ok {
			t.diffs[k] = &pending{key: t.s.KeyOf(r), sink: r}
		}
	}
	return 0
}

// extras scans the sink's keys and looks them up in the source.
func (v *verifier) extras(ctx context.Context, t *table) error {
	const page = 10000
	var after event.Row
	for {
		keys, err := v.sink.ScanKeys(ctx, t.s, after, page)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		if err := v.wait(ctx, len(keys)); err != nil {
			return err
		}
		srcRows, err := v.readSource(ctx, t.s, keys)
		if err != nil {
			return err
		}
		found := make(map[string]bool, len(srcRows))
		for _, r := range srcRows {
			found[string(event.AppendRowKey(nil, t.s, r))] = true
		}
		var missingFromSource []event.Row
		for _, k := range keys {
			if !found[string(appendKey(nil, k))] {
				missingFromSource = append(missingFromSource, k)
			}
		}
		if len(missingFromSource) > 0 {
			sinkRows, err := v.readSink(ctx, t.s, missingFromSource)
			if err != nil {
				return err
			}
			t.compare(nil, sinkRows, false, false)
		}
		if len(keys) < page {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// settle compares the differing keys again, each time the sink's checkpoint includes the
// source position read after they were last compared, until none differs or time is up.
func (v *verifier) settle(ctx context.Context, t *table) error {
	deadline := time.Now().Add(v.o.Settle)
	for len(t.diffs) > 0 && time.Now().Before(deadline) {
		if err := v.awaitSink(ctx, deadline); err != nil {
			return err
		}
		if err := v.recompare(ctx, t, t.differingKeys()); err != nil {
			return err
		}
	}
	return nil
}

// awaitSink waits until the sink's checkpoint includes the source's log end as it is now,
// or until deadline; a source that cannot compare positions (connector.PositionComparer)
// gets a second instead.
func (v *verifier) awaitSink(ctx context.Context, deadline time.Time) error {
	cmp, ok := v.src.(connector.PositionComparer)
	if !ok {
		time.Sleep(min(time.Second, time.Until(deadline)))
		return nil
	}
	seen, err := cmp.LogEnd(ctx)
	if err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		cp, err := v.sink.LoadCheckpoint(ctx, v.o.Pipeline)
		if err != nil {
			return err
		}
		if cp != nil {
			if in, err := cmp.Includes(cp.Position, seen); err != nil || in {
				return err
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// report counts the differences into tr and lists the first MaxKeys, in key order of
// their encodings (stable from run to run).
func (v *verifier) report(t *table, tr *TableReport) {
	keys := make([]string, 0, len(t.diffs))
	for k := range t.diffs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := t.diffs[k]
		d := Difference{Key: keyMap(t.s, p.key)}
		switch {
		case p.sink == nil:
			d.Kind = "missing"
			tr.Missing++
		case p.src == nil:
			d.Kind = "extra"
			tr.Extra++
		default:
			d.Kind = "different"
			tr.Different++
			for _, i := range differingColumns(t.s, p.src, p.sink) {
				c := t.s.Columns[i]
				d.Columns = append(d.Columns, ColumnDifference{Column: c.Name,
					Source: event.AppendJSONValue(nil, p.src[i], c.Type.Kind),
					Sink:   event.AppendJSONValue(nil, p.sink[i], c.Type.Kind)})
			}
		}
		if len(tr.Keys) < v.o.MaxKeys {
			tr.Keys = append(tr.Keys, d)
		}
	}
}

// keysOf is the keys of rows (s's key columns, in key order).
func keysOf(s *event.Schema, rows []event.Row) []event.Row {
	out := make([]event.Row, len(rows))
	for i, r := range rows {
		out[i] = s.KeyOf(r)
	}
	return out
}

// appendKey encodes a key row as event.AppendRowKey encodes the key of a full row.
func appendKey(b []byte, key event.Row) []byte {
	for i := range key {
		b = key[i].AppendKey(b)
	}
	return b
}

func keyMap(s *event.Schema, key event.Row) map[string]any {
	m := make(map[string]any, len(key))
	for i, c := range s.Key {
		m[s.Columns[c].Name] = json.RawMessage(event.AppendJSONValue(nil, key[i], s.Columns[c].Type.Kind))
	}
	return m
}

// differingColumns lists the columns where a and b differ as values of their unified type.
func differingColumns(s *event.Schema, a, b event.Row) []int {
	var out []int
	for i, c := range s.Columns {
		var va, vb event.Value
		if i < len(a) {
			va = a[i]
		}
		if i < len(b) {
			vb = b[i]
		}
		if !Equal(va, vb, c.Type) {
			out = append(out, i)
		}
	}
	return out
}

// Equal says whether two values of unified type t are the same value: NULL equals NULL
// only; decimals compare by value (1.50 = 1.5); JSON by document, not by spacing or key
// order; floats as the type's width holds them (NaN equals NaN); everything else by the
// value's envelope form.
func Equal(a, b event.Value, t types.Type) bool {
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull()
	}
	switch t.Kind {
	case types.Decimal:
		return normalDecimal(a.Str()) == normalDecimal(b.Str())
	case types.JSON, types.Array:
		return canonicalJSON(a.Str()) == canonicalJSON(b.Str())
	case types.Float32, types.Float64:
		if a.Rep() == event.RepFloat && b.Rep() == event.RepFloat {
			fa, fb := a.Float(), b.Float()
			if t.Kind == types.Float32 {
				fa, fb = float64(float32(fa)), float64(float32(fb))
			}
			return fa == fb || (math.IsNaN(fa) && math.IsNaN(fb))
		}
	}
	return string(event.AppendJSONValue(nil, a, t.Kind)) == string(event.AppendJSONValue(nil, b, t.Kind))
}

// normalDecimal is a decimal's text without a sign on zero, leading zeros or trailing
// fractional zeros.
func normalDecimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+"), "0")
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	if s == "" || s == "." {
		return "0"
	}
	if strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	if neg {
		return "-" + s
	}
	return s
}

// canonicalJSON is a JSON document re-encoded with sorted keys and no spacing, numbers as
// written; text that is not JSON is itself.
func canonicalJSON(s string) string {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return s
	}
	return string(b)
}
