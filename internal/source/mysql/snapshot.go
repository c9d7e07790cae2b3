package mysql

import (
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/digest"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/types"
)

// SplitChunks splits t by its key into chunks of about hint.Rows rows.
//
// A single integer key whose values are spread evenly (its range is at most
// evenFactor times the table's estimated rows) is cut in even steps computed from MIN,
// MAX and the estimate: no query per chunk. Any other key — sparse integers, strings,
// composite — is split by probing the key index: the next chunk's end is the key
// hint.Rows rows further on (ORDER BY key LIMIT 1 OFFSET n); the last chunk is found
// when the probe runs off the end, so no chunk is ever much larger than hint.Rows at the
// time it is split. Either way the last chunk is open-ended: rows inserted past the end
// while the snapshot runs belong to it.
func (s *Source) SplitChunks(ctx context.Context, t *event.Schema, hint snapshot.SplitHint) iter.Seq2[snapshot.Chunk, error] {
	return func(yield func(snapshot.Chunk, error) bool) {
		tb, err := s.table(t)
		if err != nil {
			yield(snapshot.Chunk{}, err)
			return
		}
		conn, err := s.pool.get(ctx)
		if err != nil {
			yield(snapshot.Chunk{}, err)
			return
		}
		defer s.pool.put(conn)
		if len(t.Key) == 0 { // no key to split by: the table is one chunk
			yield(snapshot.Chunk{Table: t.ID, Index: 0}, nil)
			return
		}
		rows := max(hint.Rows, 1)
		lo, idx := hint.After, hint.FirstIndex
		if ev, ok, err := evenSteps(conn, tb, rows, lo); err != nil {
			yield(snapshot.Chunk{}, err)
			return
		} else if ok {
			ev.split(t.ID, lo, idx, yield)
			return
		}
		keys := tb.keySelect()
		for {
			q := fmt.Sprintf("SELECT %s FROM %s", keys, tb.name())
			if lo != nil {
				q += " WHERE " + tb.keyCompare(">=", lo)
			}
			q += fmt.Sprintf(" ORDER BY %s LIMIT 1 OFFSET %d", tb.keyOrder(), rows)
			res, err := conn.Execute(q)
			if err != nil {
				yield(snapshot.Chunk{}, fmt.Errorf("probe the next chunk of %s: %w", t.ID, err))
				return
			}
			c := snapshot.Chunk{Table: t.ID, Index: idx, Lo: lo}
			if res.RowNumber() > 0 {
				hi, err := tb.keyFromResult(res, 0)
				if err != nil {
					yield(snapshot.Chunk{}, err)
					return
				}
				c.Hi = hi
			}
			if !yield(c, nil) || c.Hi == nil {
				return
			}
			lo, idx = c.Hi, idx+1
		}
	}
}

// ReadChunk streams the rows of chunk c (Lo <= key < Hi) and emits them in batches.
func (s *Source) ReadChunk(ctx context.Context, t *event.Schema, c snapshot.Chunk, emit func([]event.Row) error) error {
	tb, err := s.table(t)
	if err != nil {
		return err
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	if err := s.readChunk(ctx, conn, tb, c, emit); err != nil {
		conn.Close() // it may be mid-result: never reuse it
		s.pool.release()
		return err
	}
	s.pool.put(conn)
	return nil
}

// readChunk streams chunk c's rows on conn.
func (s *Source) readChunk(ctx context.Context, conn *client.Conn, tb *table, c snapshot.Chunk, emit func([]event.Row) error) error {
	var where []string
	if c.Lo != nil {
		where = append(where, tb.keyCompare(">=", c.Lo))
	}
	if c.Hi != nil {
		where = append(where, tb.keyCompare("<", c.Hi))
	}
	if f := s.Filter(tb.schema.ID); f != "" {
		where = append(where, f)
	}
	return s.readWhere(ctx, conn, tb, where, fmt.Sprintf("chunk %d", c.Index), emit)
}

// ReadKeys reads the rows of t whose keys are among keys (connector.KeyReader), for
// `weir verify`.
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
		lits := make([]string, len(key))
		for j, v := range key {
			lits[j] = tb.cols[t.Key[j]].literal(v)
		}
		tuples[i] = "(" + strings.Join(lits, ", ") + ")"
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return nil, err
	}
	var out []event.Row
	err = s.readWhere(ctx, conn, tb, []string{"(" + tb.keyList() + ") IN (" + strings.Join(tuples, ", ") + ")"},
		fmt.Sprintf("%d rows by key", len(keys)), func(rows []event.Row) error {
			out = append(out, rows...)
			return nil
		})
	if err != nil {
		conn.Close()
		s.pool.release()
		return nil, err
	}
	s.pool.put(conn)
	return out, nil
}

// readWhere streams the rows of tb that match every condition of where on conn; what says
// which rows, for errors.
func (s *Source) readWhere(ctx context.Context, conn *client.Conn, tb *table, where []string, what string, emit func([]event.Row) error) error {
	t := tb.schema
	exprs := make([]string, len(tb.cols))
	for i, col := range tb.cols {
		exprs[i] = col.selectExpr(s.serverText)
	}
	q := fmt.Sprintf("SELECT %s FROM %s", strings.Join(exprs, ", "), tb.name())
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	const batch = 1024
	var (
		buf    = make([]event.Row, 0, batch)
		vals   []event.Value
		result gomysql.Result
		rowErr error
	)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		size := 0
		for _, r := range buf {
			size += r.Size()
		}
		if err := s.throttle.Wait(ctx, len(buf), size); err != nil {
			return err
		}
		err := emit(buf)
		buf, vals = make([]event.Row, 0, batch), nil
		return err
	}
	err := conn.ExecuteSelectStreaming(q, &result, func(row []gomysql.FieldValue) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(vals) < len(tb.cols) {
			vals = make([]event.Value, batch*len(tb.cols)) // one allocation per batch of rows
		}
		r := event.Row(vals[:len(tb.cols):len(tb.cols)])
		vals = vals[len(tb.cols):]
		for i := range tb.cols {
			v, err := tb.cols[i].fromText(&row[i], s.serverText)
			if err != nil {
				rowErr = fmt.Errorf("read %s: %w", t.ID, err)
				return rowErr
			}
			r[i] = v
		}
		buf = append(buf, r)
		if len(buf) == batch {
			return flush()
		}
		return nil
	}, nil)
	if err != nil {
		if rowErr != nil {
			return rowErr
		}
		return fmt.Errorf("read %s of %s: %w", what, t.ID, err)
	}
	return flush()
}

func (t *table) name() string {
	return quoteIdent(t.schema.ID.Schema) + "." + quoteIdent(t.schema.ID.Table)
}

func (t *table) keyList() string {
	names := make([]string, len(t.schema.Key))
	for i, k := range t.schema.Key {
		names[i] = quoteIdent(t.schema.Columns[k].Name)
	}
	return strings.Join(names, ", ")
}

// keySelect selects the key columns as the snapshot does (keyFromResult decodes them).
func (t *table) keySelect() string {
	exprs := make([]string, len(t.schema.Key))
	for i, k := range t.schema.Key {
		exprs[i] = t.cols[k].selectExpr(false)
	}
	return strings.Join(exprs, ", ")
}

func (t *table) keyOrder() string { return t.keyList() }

// keyCompare renders (k1, k2) op (v1, v2) with the values as SQL literals.
func (t *table) keyCompare(op string, key event.Row) string {
	lits := make([]string, len(key))
	for i, v := range key {
		lits[i] = t.cols[t.schema.Key[i]].literal(v)
	}
	if len(key) == 1 {
		return t.keyList() + " " + op + " " + lits[0]
	}
	return "(" + t.keyList() + ") " + op + " (" + strings.Join(lits, ", ") + ")"
}

// keyFromResult reads a key from a probe result (text protocol).
func (t *table) keyFromResult(res *gomysql.Result, row int) (event.Row, error) {
	key := make(event.Row, len(t.schema.Key))
	for i, k := range t.schema.Key {
		fv := res.Values[row][i]
		v, err := t.cols[k].fromText(&fv, false)
		if err != nil {
			return nil, err
		}
		key[i] = v
	}
	return key, nil
}

// literal renders a key value as a SQL literal that cannot be mistaken for SQL: numbers
// as digits, everything else as a hex string with the column's meaning.
func (c *column) literal(v event.Value) string {
	switch v.Rep() {
	case event.RepNull:
		return "NULL"
	case event.RepBool:
		if v.Bool() {
			return "1"
		}
		return "0"
	case event.RepInt:
		return strconv.FormatInt(v.Int(), 10)
	case event.RepUint:
		return strconv.FormatUint(v.Uint(), 10)
	case event.RepFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case event.RepDecimal:
		return "CAST(" + hexString(v.Str()) + " AS DECIMAL(65,30))"
	case event.RepBytes:
		return "X'" + hex.EncodeToString([]byte(v.Str())) + "'"
	case event.RepDate:
		return "DATE(" + hexString(v.String()) + ")"
	case event.RepTime:
		return "TIME(" + hexString(v.String()) + ")"
	case event.RepTimestamp:
		s := v.Time().Format("2006-01-02 15:04:05.999999")
		if c.typ.Kind == types.TimestampLTZ {
			return "TIMESTAMP(" + hexString(s) + ")" // the session is in UTC
		}
		return "CAST(" + hexString(s) + " AS DATETIME(6))"
	}
	return "_utf8mb4 " + hexString(v.Str())
}

func hexString(s string) string { return "X'" + hex.EncodeToString([]byte(s)) + "'" }

// pool caps the source's connections (snapshot readers, probes, metadata queries).
type pool struct {
	dial  func(ctx context.Context) (*client.Conn, error)
	slots chan struct{}
	idle  chan *client.Conn
}

func newPool(size int, dial func(ctx context.Context) (*client.Conn, error)) *pool {
	return &pool{dial: dial, slots: make(chan struct{}, size), idle: make(chan *client.Conn, size)}
}

func (p *pool) get(ctx context.Context) (*client.Conn, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	select {
	case c := <-p.idle:
		return c, nil
	case p.slots <- struct{}{}:
		c, err := p.dial(ctx)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pool) put(c *client.Conn) { p.idle <- c }

// release frees the slot of a connection that was closed instead of put back.
func (p *pool) release() { <-p.slots }

func (p *pool) close() {
	for {
		select {
		case c := <-p.idle:
			c.Close()
		default:
			return
		}
	}
}

// EstimateRows is information_schema's row estimate of t (for progress, not correctness).
func (s *Source) EstimateRows(ctx context.Context, t *event.Schema) (int64, error) {
	e := &s.estimates
	e.mu.Lock()
	defer e.mu.Unlock()
	if n, ok := e.rows[t.ID]; ok && time.Since(e.at) < estimatesFor {
		return n, nil
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return 0, err
	}
	defer s.pool.put(conn)
	res, err := conn.Execute("SELECT TABLE_NAME, IFNULL(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", t.ID.Schema)
	if err != nil {
		return 0, err
	}
	e.rows, e.at = make(map[event.TableID]int64, res.RowNumber()), time.Now()
	for i := range res.RowNumber() {
		name, _ := res.GetString(i, 0)
		n, _ := res.GetInt(i, 1)
		e.rows[event.TableID{Schema: t.ID.Schema, Table: name}] = n
	}
	return e.rows[t.ID], nil
}

// rowEstimates are information_schema.TABLES' row estimates of one database's tables,
// read at once: a snapshot asks for each of its tables in turn, and a thousand
// round trips are most of a second.
type rowEstimates struct {
	mu   sync.Mutex
	at   time.Time
	rows map[event.TableID]int64
}

// estimatesFor is how long row estimates read together are used.
const estimatesFor = 10 * time.Second

// evenFactor bounds how sparse an integer key may be for even steps: a key range of more
// than evenFactor × rows is split by probing (Flink CDC's distribution factor).
const evenFactor = 10

// even cuts an integer key range in steps.
type even struct {
	unsigned bool
	min, max int64 // as bits when unsigned
	step     int64
}

// evenSteps decides whether tb's key can be cut in even steps of about rows rows, reading
// its MIN, MAX and row estimate.
func evenSteps(conn *client.Conn, tb *table, rows int, after event.Row) (even, bool, error) {
	var ev even
	if len(tb.schema.Key) != 1 {
		return ev, false, nil
	}
	col := tb.cols[tb.schema.Key[0]]
	rep := event.RepOf(col.typ.Kind)
	if rep != event.RepInt && rep != event.RepUint {
		return ev, false, nil
	}
	ev.unsigned = rep == event.RepUint
	k := quoteIdent(tb.schema.Columns[tb.schema.Key[0]].Name)
	res, err := conn.Execute(fmt.Sprintf("SELECT MIN(%s), MAX(%s), (SELECT IFNULL(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?) FROM %s",
		k, k, tb.name()), tb.schema.ID.Schema, tb.schema.ID.Table)
	if err != nil {
		return ev, false, fmt.Errorf("read the key range of %s: %w", tb.schema.ID, err)
	}
	lo, errLo := res.GetString(0, 0)
	hi, errHi := res.GetString(0, 1)
	est, _ := res.GetInt(0, 2)
	if errLo != nil || errHi != nil || lo == "" || est < int64(2*rows) {
		return ev, false, nil // empty or small: probing costs nothing
	}
	if ev.unsigned {
		a, err1 := strconv.ParseUint(lo, 10, 64)
		b, err2 := strconv.ParseUint(hi, 10, 64)
		if err1 != nil || err2 != nil || b > math.MaxInt64 {
			return ev, false, nil
		}
		ev.min, ev.max = int64(a), int64(b)
	} else {
		a, err1 := strconv.ParseInt(lo, 10, 64)
		b, err2 := strconv.ParseInt(hi, 10, 64)
		if err1 != nil || err2 != nil || (a < 0 && b > math.MaxInt64+a) {
			return ev, false, nil
		}
		ev.min, ev.max = a, b
	}
	span := ev.max - ev.min + 1
	if span/int64(evenFactor) > est {
		return ev, false, nil // sparse: probe
	}
	// A unique key has at most span rows; an estimate above that is the estimate's error.
	ev.step = max(int64(float64(rows)*float64(span)/float64(min(est, span))), 1)
	if after != nil {
		ev.min = after[0].Int() // Int and Uint share the bits
	}
	return ev, true, nil
}

// split yields the chunks from after (nil: the table's start) in even steps.
func (ev even) split(id event.TableID, after event.Row, idx int, yield func(snapshot.Chunk, error) bool) {
	val := func(n int64) event.Row {
		if ev.unsigned {
			return event.Row{event.Uint(uint64(n))}
		}
		return event.Row{event.Int(n)}
	}
	lo, next := after, ev.min
	for {
		c := snapshot.Chunk{Table: id, Index: idx, Lo: lo}
		if next <= ev.max-ev.step { // else this is the last chunk: open-ended
			next += ev.step
			c.Hi = val(next)
		}
		if !yield(c, nil) || c.Hi == nil {
			return
		}
		lo, idx = c.Hi, idx+1
	}
}

// HashDialect names how HashRange digests rows (connector.RangeHasher).
func (s *Source) HashDialect() string { return digest.MySQL }

// HashRange digests the rows of t whose keys are in [lo, hi) (connector.RangeHasher).
func (s *Source) HashRange(ctx context.Context, t *event.Schema, lo, hi event.Row) (int64, string, error) {
	tb, err := s.table(t)
	if err != nil {
		return 0, "", err
	}
	var where []string
	if lo != nil {
		where = append(where, tb.keyCompare(">=", lo))
	}
	if hi != nil {
		where = append(where, tb.keyCompare("<", hi))
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return 0, "", err
	}
	defer s.pool.put(conn)
	res, err := conn.Execute(digest.Query(digest.MySQL, t, quoteIdent, tb.name(), strings.Join(where, " AND ")))
	if err != nil {
		return 0, "", fmt.Errorf("digest a key range of %s: %w", t.ID, err)
	}
	n, _ := res.GetInt(0, 0)
	d, _ := res.GetString(0, 1)
	return n, d, nil
}
