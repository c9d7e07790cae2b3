// Package conformance holds the suites every source and sink must pass, and the checkers
// they share: ordering per key, resume after a crash, idempotent replay, exactly-once
// where a connector promises it (DESIGN §5).
package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
	"github.com/weir-data/weir/internal/types"
)

// Record is one change as a sink wrote it in the JSON envelope (DESIGN §1.3).
type Record struct {
	Op     string         `json:"op"`
	Before map[string]any `json:"before"`
	After  map[string]any `json:"after"`
	Source struct {
		Connector string `json:"connector"`
		DB        string `json:"db"`
		Schema    string `json:"schema"`
		Table     string `json:"table"`
		Pos       string `json:"pos"`
		TsMs      int64  `json:"ts_ms"`
		Snapshot  bool   `json:"snapshot"`
	} `json:"source"`
	TsMs int64 `json:"ts_ms"`
	// Where the record was read.
	File string `json:"-"`
	Line int    `json:"-"`
}

// Table returns "db.table" (or "db.schema.table").
func (r *Record) Table() string {
	if r.Source.Schema != "" {
		return r.Source.DB + "." + r.Source.Schema + "." + r.Source.Table
	}
	return r.Source.DB + "." + r.Source.Table
}

// ReadFileSink reads the committed files of a file sink directory in commit order.
func ReadFileSink(dir string) ([]Record, error) {
	files, err := filepath.Glob(filepath.Join(dir, "part-*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Record
	for _, f := range files {
		recs, err := ReadJSONLines(f)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// ReadJSONLines reads one file of envelopes.
func ReadJSONLines(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: not a change record: %w (%q)", path, line, err, truncate(sc.Text(), 200))
		}
		r.File, r.Line = filepath.Base(path), line
		out = append(out, r)
	}
	return out, sc.Err()
}

// DecodeEnvelope turns an encoded change back into a Record (to compare expectations).
func DecodeEnvelope(c *event.Change, connector string) (Record, error) {
	var r Record
	err := json.Unmarshal(event.AppendEnvelope(nil, c, connector, 0), &r)
	return r, err
}

// CheckDatagen checks that recs hold exactly what a datagen source with model m emits:
// when snapshot is set, every table's rows 1..m.Rows once as reads; then changes
// 0..changes-1, each exactly once, with the right images; and each key's records in log
// order (its read first, then its changes by position).
func CheckDatagen(recs []Record, m *datagen.Model, changes int64, snapshot bool) error {
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	tableIndex := map[string]int{}
	for i, id := range m.Tables {
		tableIndex[id.String()] = i
	}
	schemas := m.Schemas()
	type keyID struct {
		table int
		key   int64
	}
	lastPos := map[keyID]int64{} // -1: the snapshot read
	seenRead := map[keyID]bool{}
	seenChange := make([]bool, changes)
	reads := 0
	for i := range recs {
		r := &recs[i]
		where := fmt.Sprintf("%s:%d", r.File, r.Line)
		ti, ok := tableIndex[r.Table()]
		if !ok {
			bad("%s: unknown table %q", where, r.Table())
			continue
		}
		img := r.After
		if r.Op == "d" {
			img = r.Before
		}
		idf, _ := img["id"].(float64)
		k := keyID{ti, int64(idf)}
		if r.Op == "r" {
			reads++
			if !snapshot {
				bad("%s: snapshot read of %v but no snapshot was expected", where, k)
			}
			if seenRead[k] {
				bad("%s: key %d of %s read twice in the snapshot", where, k.key, r.Table())
			}
			seenRead[k] = true
			if _, changed := lastPos[k]; changed {
				bad("%s: snapshot read of key %d of %s after a change of it", where, k.key, r.Table())
			}
			want, _ := DecodeEnvelope(&event.Change{Op: event.OpRead, Schema: schemas[ti], After: m.Row(ti, k.key, 0)}, "datagen")
			if !reflect.DeepEqual(want.After, r.After) {
				bad("%s: snapshot row of key %d: got %v, want %v", where, k.key, r.After, want.After)
			}
			continue
		}
		pos, err := strconv.ParseInt(r.Source.Pos, 10, 64)
		if err != nil || pos < 0 || pos >= changes {
			bad("%s: position %q is not a change number below %d", where, r.Source.Pos, changes)
			continue
		}
		if seenChange[pos] {
			bad("%s: change %d appears twice", where, pos)
			continue
		}
		seenChange[pos] = true
		if last, ok := lastPos[k]; ok && last >= pos {
			bad("%s: change %d of key %d of %s comes after change %d of the same key", where, pos, k.key, r.Table(), last)
		}
		lastPos[k] = pos
		b := m.Changes(pos, 1, 1, 0)
		want, _ := DecodeEnvelope(&b.Changes[0], "datagen")
		if want.Op != r.Op || !reflect.DeepEqual(want.After, r.After) || !reflect.DeepEqual(want.Before, r.Before) || want.Table() != r.Table() {
			bad("%s: change %d: got %s %s before=%v after=%v; want %s %s before=%v after=%v", where, pos,
				r.Op, r.Table(), r.Before, r.After, want.Op, want.Table(), want.Before, want.After)
		}
	}
	if snapshot && int64(reads) != m.Rows*int64(len(m.Tables)) {
		bad("snapshot: %d reads, want %d (%d rows × %d tables)", reads, m.Rows*int64(len(m.Tables)), m.Rows, len(m.Tables))
	}
	missing := 0
	for pos, ok := range seenChange {
		if !ok {
			if missing < 5 {
				bad("change %d is missing", pos)
			}
			missing++
		}
	}
	if missing > 0 {
		bad("%d of %d changes missing", missing, changes)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d record(s) checked, problems:\n  %s", len(recs), strings.Join(problems, "\n  "))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Fold applies a changelog to an empty table image: reads, inserts and updates set the
// row of their key, deletes remove it. It returns key → after image, the key being the
// JSON of the key columns' values. Records must be in commit order per key.
func Fold(recs []Record, keyColumns map[string][]string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for i := range recs {
		r := &recs[i]
		keys, ok := keyColumns[r.Table()]
		if !ok {
			return nil, fmt.Errorf("%s:%d: no key columns known for table %s", r.File, r.Line, r.Table())
		}
		img := r.After
		if r.Op == "d" {
			img = r.Before
		}
		k := rowKey(r.Table(), img, keys)
		if r.Op == "d" {
			delete(out, k)
			continue
		}
		out[k] = r.After
	}
	return out, nil
}

func rowKey(table string, img map[string]any, keys []string) string {
	parts := []any{table}
	for _, k := range keys {
		parts = append(parts, img[k])
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

// TableImage encodes rows of a schema the way a sink's envelope holds them, keyed as Fold
// keys them, so that a source's table can be compared with a folded changelog.
func TableImage(s *event.Schema, rows []event.Row) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	keys := s.KeyNames()
	for _, row := range rows {
		rec, err := DecodeEnvelope(&event.Change{Op: event.OpRead, Schema: s, After: row}, "")
		if err != nil {
			return nil, err
		}
		for _, c := range s.Columns { // JSON is equal by meaning: key order and spacing aside
			if v, ok := rec.After[c.Name].(string); ok && c.Type.Kind == types.JSON {
				var doc any
				dec := json.NewDecoder(strings.NewReader(v))
				dec.UseNumber()
				if dec.Decode(&doc) == nil {
					b, _ := json.Marshal(doc)
					rec.After[c.Name] = string(b)
				}
			}
		}
		out[rowKey(rec.Table(), rec.After, keys)] = rec.After
	}
	return out, nil
}

// DiffImages describes how two table images differ (at most max differences), or "".
func DiffImages(want, got map[string]map[string]any, max int) string {
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+k)
		case !reflect.DeepEqual(w, g):
			diffs = append(diffs, fmt.Sprintf("differs %s: want %v, got %v", k, w, g))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	n := len(diffs)
	if n > max {
		diffs = diffs[:max]
	}
	return fmt.Sprintf("%d differences (of %d rows wanted, %d got):\n  %s", n, len(want), len(got), strings.Join(diffs, "\n  "))
}

// CheckChangelog checks that a changelog is exact: reads and inserts are of keys not
// present yet, updates and deletes of present keys whose before image is the row the
// changelog holds for them. A change delivered twice breaks it (its before image is no
// longer the current row), so it checks exactly-once delivery where the source cannot
// be replayed independently. Records must be in commit order per key.
func CheckChangelog(recs []Record, keyColumns map[string][]string) error {
	state := map[string]map[string]any{}
	var problems []string
	for i := range recs {
		r := &recs[i]
		keys := keyColumns[r.Table()]
		img := r.After
		if r.Op == "d" {
			img = r.Before
		}
		k := rowKey(r.Table(), img, keys)
		cur, present := state[k]
		bad := ""
		switch r.Op {
		case "r", "c":
			if present {
				bad = "of a key already present"
			}
		case "u", "d":
			switch {
			case !present:
				bad = "of a key not present"
			case r.Before != nil && !keyOnly(r.Before, keys) && !sameImage(r.Before, cur):
				bad = fmt.Sprintf("whose before image %v is not the row held %v", r.Before, cur)
			}
		}
		if bad != "" && len(problems) < 10 {
			problems = append(problems, fmt.Sprintf("%s:%d: %s %s %s", r.File, r.Line, r.Op, k, bad))
		}
		if r.Op == "d" {
			delete(state, k)
		} else {
			state[k] = r.After
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the changelog is not exact:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// sameImage reports whether two images of a row are equal, a column one lacks and the
// other holds null being alike (a column added since the older image was written).
func sameImage(a, b map[string]any) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && !reflect.DeepEqual(v, w) || !ok && v != nil {
			return false
		}
	}
	for k, w := range b {
		if _, ok := a[k]; !ok && w != nil {
			return false
		}
	}
	return true
}

// keyOnly reports whether a before image holds its key alone, every other column null: a
// PostgreSQL delete under REPLICA IDENTITY DEFAULT. Only its key can be compared.
func keyOnly(img map[string]any, keys []string) bool {
	for col, v := range img {
		if v != nil && !slices.Contains(keys, col) {
			return false
		}
	}
	return true
}

// ChangelogRecord builds the record of one row of a changelog table: row holds the
// change's image (the before image for a delete), op its letter, pos its position and
// beforeJSON an update's before image as the envelope's JSON ("" if none).
func ChangelogRecord(s *event.Schema, row event.Row, op, pos, beforeJSON, connector string) (Record, error) {
	rec, err := DecodeEnvelope(&event.Change{Op: event.OpRead, Schema: s, After: row}, connector)
	if err != nil {
		return rec, err
	}
	rec.Op, rec.Source.Pos, rec.Source.Snapshot = op, pos, op == "r"
	switch op {
	case "d":
		rec.Before, rec.After = rec.After, nil
	case "u":
		if beforeJSON != "" {
			if err := json.Unmarshal([]byte(beforeJSON), &rec.Before); err != nil {
				return rec, fmt.Errorf("before image of change %s: %w", pos, err)
			}
		}
	}
	return rec, nil
}
