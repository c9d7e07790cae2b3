package postgres

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/weir-data/weir/internal/digest"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/types"
)

// SplitChunks splits t by its key into chunks of about hint.Rows rows.
//
// A single integer key whose values are spread evenly (its range is at most evenFactor
// times the table's estimated rows) is cut in even steps computed from MIN, MAX and the
// estimate: no query per chunk. Any other key — sparse integers, text, uuid, composite —
// is split by probing the key index: the next chunk's end is the key hint.Rows rows
// further on; the last chunk is found when the probe runs off the end. Either way the
// last chunk is open-ended: rows inserted past the end while the snapshot runs belong to
// it, and no chunk is ever much larger than hint.Rows when it is split.
func (s *Source) SplitChunks(ctx context.Context, t *event.Schema, hint snapshot.SplitHint) iter.Seq2[snapshot.Chunk, error] {
	return func(yield func(snapshot.Chunk, error) bool) {
		rows := max(hint.Rows, 1)
		lo, idx := hint.After, hint.FirstIndex
		if steps, ok, err := s.evenSteps(ctx, t, rows, lo); err != nil {
			yield(snapshot.Chunk{}, err)
			return
		} else if ok {
			for _, c := range steps {
				c.Index = idx
				idx++
				if !yield(c, nil) {
					return
				}
			}
			return
		}
		keys := keyList(t)
		for {
			q := "SELECT " + keys + " FROM " + quoteTable(t.ID)
			if lo != nil {
				q += " WHERE (" + keys + ") >= (" + keyLiterals(t, lo) + ")"
			}
			q += fmt.Sprintf(" ORDER BY %s LIMIT 1 OFFSET %d", keys, rows)
			hi, err := s.readKey(ctx, t, q)
			if err != nil {
				yield(snapshot.Chunk{}, fmt.Errorf("probe the next chunk of %s: %w", t.ID, err))
				return
			}
			c := snapshot.Chunk{Table: t.ID, Index: idx, Lo: lo, Hi: hi}
			if !yield(c, nil) || c.Hi == nil {
				return
			}
			lo, idx = c.Hi, idx+1
		}
	}
}

// evenFactor is how sparse an integer key may be for even steps: its range at most this
// many times the estimated rows.
const evenFactor = 4

// evenSteps cuts a single integer key from after (or its minimum) to its maximum in
// steps of about rows rows, when the key is dense enough.
func (s *Source) evenSteps(ctx context.Context, t *event.Schema, rows int, after event.Row) ([]snapshot.Chunk, bool, error) {
	if len(t.Key) != 1 {
		return nil, false, nil
	}
	switch t.Columns[t.Key[0]].Type.Kind {
	case types.Int16, types.Int32, types.Int64:
	default:
		return nil, false, nil
	}
	key := pgx.Identifier{t.Columns[t.Key[0]].Name}.Sanitize()
	var lo, hi *int64
	if err := s.pool.QueryRow(ctx, "SELECT min("+key+")::int8, max("+key+")::int8 FROM "+quoteTable(t.ID)).Scan(&lo, &hi); err != nil {
		return nil, false, fmt.Errorf("read the key range of %s: %w", t.ID, err)
	}
	if lo == nil {
		return []snapshot.Chunk{{Table: t.ID, Lo: after}}, true, nil // empty: one open chunk
	}
	est, err := s.EstimateRows(ctx, t)
	if err != nil || est <= 0 {
		return nil, false, err
	}
	start := *lo
	if after != nil {
		start = after[0].Int()
	}
	span := float64(*hi) - float64(*lo) + 1
	if span > evenFactor*float64(est) {
		return nil, false, nil
	}
	step := int64(math.Max(1, math.Round(span/float64(est)*float64(rows))))
	var out []snapshot.Chunk
	from := after
	for next := start + step; next <= *hi && next > start; next += step {
		out = append(out, snapshot.Chunk{Table: t.ID, Lo: from, Hi: event.Row{event.Int(next)}})
		from = event.Row{event.Int(next)}
	}
	return append(out, snapshot.Chunk{Table: t.ID, Lo: from}), true, nil
}

// EstimateRows is the planner's estimate of t's rows (pg_class.reltuples; for a
// partitioned table, its partitions'). Never used for correctness.
func (s *Source) EstimateRows(ctx context.Context, t *event.Schema) (int64, error) {
	var n float64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(sum(GREATEST(c.reltuples, 0)), 0)::float8 FROM pg_class c
		WHERE c.oid = $1::regclass OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass))`, quoteTable(t.ID)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("estimate the rows of %s: %w", t.ID, err)
	}
	return int64(n), nil
}

// readKey runs a query returning key columns as text and decodes its one row (nil: none).
func (s *Source) readKey(ctx context.Context, t *event.Schema, q string) (event.Row, error) {
	tb, err := s.table(t)
	if err != nil {
		return nil, err
	}
	var key event.Row
	err = s.copyOut(ctx, nil, q, func(r *copyRow) error {
		key = make(event.Row, len(t.Key))
		for i, k := range t.Key {
			if r.nulls[i] {
				continue
			}
			v, err := tb.cols[k].dec(r.fields[i])
			if err != nil {
				return err
			}
			key[i] = v
		}
		return nil
	})
	return key, err
}

// keyList is the key columns, quoted and comma-separated.
func keyList(t *event.Schema) string {
	names := make([]string, len(t.Key))
	for i, k := range t.Key {
		names[i] = pgx.Identifier{t.Columns[k].Name}.Sanitize()
	}
	return strings.Join(names, ", ")
}

// keyLiterals renders a key's values as SQL literals of the key columns' types.
func keyLiterals(t *event.Schema, key event.Row) string {
	out := make([]string, len(key))
	for i, v := range key {
		col := t.Columns[t.Key[i]]
		out[i] = literal(v, col.Type.Kind) + "::" + col.SourceType
	}
	return strings.Join(out, ", ")
}

// literal renders v as a SQL string literal PostgreSQL's input functions read back
// as the same value.
func literal(v event.Value, k types.Kind) string {
	var s string
	switch v.Rep() {
	case event.RepNull:
		return "NULL"
	case event.RepInt:
		return strconv.FormatInt(v.Int(), 10)
	case event.RepUint:
		return strconv.FormatUint(v.Uint(), 10)
	case event.RepBool:
		return strconv.FormatBool(v.Bool())
	case event.RepFloat:
		s = strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case event.RepBytes:
		s = `\x` + hex.EncodeToString([]byte(v.Str()))
	case event.RepDate:
		s = timeLiteral(v, func(b []byte) []byte { return event.AppendDay(b, v.Days()) })
	case event.RepTime:
		s = string(event.AppendTime(nil, v.Micros()))
	case event.RepTimestamp:
		s = timeLiteral(v, func(b []byte) []byte { return event.AppendDateTime(b, v.Micros()) })
		if k == types.TimestampLTZ && s != "infinity" && s != "-infinity" {
			s += "+00"
		}
	default:
		s = v.Str()
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func timeLiteral(v event.Value, format func([]byte) []byte) string {
	switch v.Int() {
	case event.PosInfinity:
		return "infinity"
	case event.NegInfinity:
		return "-infinity"
	}
	return string(format(nil))
}

// ReadChunk streams the rows of chunk c (Lo <= key < Hi) and emits them in batches: a
// plain read, for a snapshot that is not joined into a stream (scan.startup.mode snapshot).
func (s *Source) ReadChunk(ctx context.Context, t *event.Schema, c snapshot.Chunk, emit func([]event.Row) error) error {
	tb, err := s.table(t)
	if err != nil {
		return err
	}
	return s.copyChunk(ctx, nil, tb, t, c, emit)
}

// copyChunk reads chunk c of tb with COPY … TO STDOUT on conn (nil: a pooled one): the
// columns of tb that present has (others read as NULL). Rows are emitted in batches of
// up to 1,024, each throttled.
func (s *Source) copyChunk(ctx context.Context, conn *pgconn.PgConn, tb *table, present *event.Schema, c snapshot.Chunk, emit func([]event.Row) error) error {
	t := tb.schema
	var where []string
	if c.Lo != nil {
		where = append(where, "("+keyList(t)+") >= ("+keyLiterals(t, c.Lo)+")")
	}
	if c.Hi != nil {
		where = append(where, "("+keyList(t)+") < ("+keyLiterals(t, c.Hi)+")")
	}
	if f := s.Filter(t.ID); f != "" {
		where = append(where, f)
	}
	return s.readWhere(ctx, conn, tb, present, where, fmt.Sprintf("chunk %d", c.Index), emit)
}

// readWhere copies out tb's rows matching where and emits them in batches.
func (s *Source) readWhere(ctx context.Context, conn *pgconn.PgConn, tb *table, present *event.Schema, where []string, what string, emit func([]event.Row) error) error {
	t := tb.schema
	cols := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		if present.ColumnIndex(col.Name) < 0 {
			cols[i] = "NULL"
			continue
		}
		cols[i] = pgx.Identifier{col.Name}.Sanitize()
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteTable(t.ID)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	var buf []event.Row
	var slab []event.Value
	var text textSlab
	size := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := s.throttle.Wait(ctx, len(buf), size); err != nil {
			return err
		}
		err := emit(buf)
		buf, size = nil, 0
		return err
	}
	// Text columns take their value as a piece of one string per row (one allocation,
	// not one per column).
	plain := make([]bool, len(tb.cols))
	for i, c := range tb.cols {
		switch c.typ.Kind {
		case types.String, types.UUID, types.Enum: // decoded by decodeString: the text as is
			plain[i] = true
		}
	}
	err := s.copyOut(ctx, conn, q, func(r *copyRow) error {
		fields := r.fields
		if len(fields) != len(tb.cols) {
			return fmt.Errorf("a row of %d columns where %d were asked for", len(fields), len(tb.cols))
		}
		if len(slab) < len(fields) { // rows are cut from one allocation per 1,024
			slab = make([]event.Value, 1024*len(fields))
		}
		row := event.Row(slab[:len(fields):len(fields)])
		slab = slab[len(fields):]
		var line string
		for i, f := range fields {
			switch {
			case r.nulls[i]:
				continue
			case plain[i] && r.starts[i] >= 0:
				if line == "" {
					line, text = text.copy(r.line)
				}
				row[i] = event.String(line[r.starts[i] : r.starts[i]+len(f)])
				continue
			}
			v, err := tb.cols[i].dec(f)
			if err != nil {
				return fmt.Errorf("column %s: %w", tb.cols[i].name, err)
			}
			row[i] = v
		}
		buf = append(buf, row)
		size += 24 + 32*len(fields) + len(r.line) // Row.Size, without walking the row
		if len(buf) == 1024 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s of %s: %w", what, t.ID, err)
	}
	return flush()
}

// textSlab hands out strings cut from one allocation per 64 KiB of row text, rather than
// one per row. Bytes are only ever appended to it, never changed, so the strings stay
// valid; a slab lives until the last row that uses it.
type textSlab []byte

const textSlabSize = 64 << 10

// copy returns b as a string, and the slab to use next.
func (t textSlab) copy(b []byte) (string, textSlab) {
	if len(b) > textSlabSize/4 {
		return string(b), t
	}
	if cap(t)-len(t) < len(b) {
		t = make([]byte, 0, textSlabSize)
	}
	n := len(t)
	t = append(t, b...)
	return unsafe.String(unsafe.SliceData(t[n:]), len(b)), t
}

// copyOut runs COPY (q) TO STDOUT on conn (nil: a pooled one) and hands each row, its
// fields unescaped, to row. The row and its slices are reused between rows.
func (s *Source) copyOut(ctx context.Context, conn *pgconn.PgConn, q string, row func(r *copyRow) error) error {
	if conn == nil {
		pc, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer pc.Release()
		conn = pc.Conn().PgConn()
	}
	w := &copyParser{row: row}
	_, err := conn.CopyTo(ctx, w, "COPY ("+q+") TO STDOUT")
	if err == nil && w.err != nil {
		err = w.err
	}
	if err == nil && len(w.partial) > 0 {
		err = fmt.Errorf("COPY ended inside a row")
	}
	return err
}

// copyRow is one row of COPY text output.
type copyRow struct {
	line   []byte   // the row's text
	fields [][]byte // each field, unescaped
	nulls  []bool
	starts []int // where a field starts in line when it needed no unescaping, else -1
}

// copyParser splits COPY text output into rows and fields, undoing its escapes.
type copyParser struct {
	row     func(r *copyRow) error
	cur     copyRow
	partial []byte
	scratch []byte
	err     error
}

func (p *copyParser) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n := len(b)
	if len(p.partial) > 0 {
		b = append(p.partial, b...)
		p.partial = p.partial[:0]
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial[:0], b...)
			break
		}
		if err := p.line(b[:i]); err != nil {
			p.err = err
			return 0, err
		}
		b = b[i+1:]
	}
	return n, nil
}

func (p *copyParser) line(l []byte) error {
	r := &p.cur
	r.line, r.fields, r.nulls, r.starts, p.scratch = l, r.fields[:0], r.nulls[:0], r.starts[:0], p.scratch[:0]
	off := 0
	for {
		rest := l[off:]
		i := bytes.IndexByte(rest, '\t')
		f := rest
		if i >= 0 {
			f = rest[:i]
		}
		switch {
		case len(f) == 2 && f[0] == '\\' && f[1] == 'N':
			r.fields, r.nulls, r.starts = append(r.fields, nil), append(r.nulls, true), append(r.starts, -1)
		case bytes.IndexByte(f, '\\') < 0:
			r.fields, r.nulls, r.starts = append(r.fields, f), append(r.nulls, false), append(r.starts, off)
		default:
			start := len(p.scratch)
			p.scratch = unescapeCopy(p.scratch, f)
			r.fields = append(r.fields, p.scratch[start:len(p.scratch):len(p.scratch)])
			r.nulls, r.starts = append(r.nulls, false), append(r.starts, -1)
		}
		if i < 0 {
			break
		}
		off += i + 1
	}
	return p.row(r)
}

// unescapeCopy appends f with COPY text escapes undone.
func unescapeCopy(out, f []byte) []byte {
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' || i+1 == len(f) {
			out = append(out, c)
			continue
		}
		i++
		switch e := f[i]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case 'x':
			v, j := 0, i+1
			for ; j < len(f) && j < i+3 && isHex(f[j]); j++ {
				v = v*16 + hexVal(f[j])
			}
			out = append(out, byte(v))
			i = j - 1
		default:
			if e >= '0' && e <= '7' {
				v, j := 0, i
				for ; j < len(f) && j < i+3 && f[j] >= '0' && f[j] <= '7'; j++ {
					v = v*8 + int(f[j]-'0')
				}
				out = append(out, byte(v))
				i = j - 1
				continue
			}
			out = append(out, e)
		}
	}
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// ReadKeys reads the rows of t whose keys are among keys (connector.KeyReader).
func (s *Source) ReadKeys(ctx context.Context, t *event.Schema, keys []event.Row) ([]event.Row, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	tb, err := s.table(t)
	if err != nil {
		return nil, err
	}
	tuples := make([]string, len(keys))
	for i, key := range keys {
		tuples[i] = "(" + keyLiterals(t, key) + ")"
	}
	var out []event.Row
	err = s.readWhere(ctx, nil, tb, t, []string{"(" + keyList(t) + ") IN (" + strings.Join(tuples, ", ") + ")"},
		fmt.Sprintf("%d rows by key", len(keys)), func(rows []event.Row) error {
			out = append(out, rows...)
			return nil
		})
	return out, err
}

// keyOrdered reports whether Go orders t's keys as the server does: text key columns
// must compare byte by byte (collation C or POSIX, or a database default that is).
func (s *Source) keyOrdered(ctx context.Context, t *event.Schema) (bool, error) {
	kinds := keyKinds(t)
	if !snapshot.GoOrdered(kinds) {
		return false, nil
	}
	for i, k := range t.Key {
		if kinds[i] != types.String {
			continue
		}
		var coll string
		err := s.pool.QueryRow(ctx, `SELECT CASE WHEN a.attcollation = 100 THEN (SELECT datcollate FROM pg_database WHERE datname = current_database())
				ELSE (SELECT collcollate FROM pg_collation WHERE oid = a.attcollation) END
			FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attname = $2`, quoteTable(t.ID), t.Columns[k].Name).Scan(&coll)
		if err != nil {
			return false, fmt.Errorf("read the collation of %s.%s: %w", t.ID, t.Columns[k].Name, err)
		}
		switch coll {
		case "C", "POSIX", "C.UTF-8", "C.utf8":
		default:
			return false, nil
		}
	}
	return true, nil
}

// HashDialect names how HashRange digests rows (connector.RangeHasher).
func (s *Source) HashDialect() string { return digest.Postgres }

// HashRange digests the rows of t whose keys are in [lo, hi) (connector.RangeHasher).
func (s *Source) HashRange(ctx context.Context, t *event.Schema, lo, hi event.Row) (int64, string, error) {
	var where []string
	if lo != nil {
		where = append(where, "("+keyList(t)+") >= ("+keyLiterals(t, lo)+")")
	}
	if hi != nil {
		where = append(where, "("+keyList(t)+") < ("+keyLiterals(t, hi)+")")
	}
	q := digest.Query(digest.Postgres, t, func(n string) string { return pgx.Identifier{n}.Sanitize() }, quoteTable(t.ID), strings.Join(where, " AND "))
	var n int64
	var d string
	if err := s.pool.QueryRow(ctx, q).Scan(&n, &d); err != nil {
		return 0, "", fmt.Errorf("digest a key range of %s: %w", t.ID, err)
	}
	return n, d, nil
}
