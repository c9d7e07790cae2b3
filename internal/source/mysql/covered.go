package mysql

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// Joining the snapshot and the binlog exactly (DESIGN §3.2).
//
// MariaDB reads each chunk in a START TRANSACTION WITH CONSISTENT SNAPSHOT and reports the
// binlog position that snapshot corresponds to (binlog_snapshot_file/position): the
// chunk holds exactly the transactions before that position. The stream, replayed from
// the position taken before the snapshot, leaves out the changes of keys inside a chunk
// from transactions that start before the chunk's position, so each change reaches the
// sink once: in its chunk, or from the binlog. No lock is taken and nothing is written.
//
// The key of a change is placed in a chunk by comparing values in Go, which agrees with
// the server for numbers, decimals, temporal types and bytes. For keys with text columns
// the server's collation decides the order, so such tables are not filtered: their
// changes in the window may arrive twice (at least once; upserting sinks converge).
// MySQL reports no position for a consistent snapshot, so its chunks are not filtered
// either.

// ReadChunkAt reads chunk c in a consistent-snapshot transaction and returns the binlog
// position of that snapshot (MariaDB), or "" (MySQL: plain ReadChunk).
func (s *Source) ReadChunkAt(ctx context.Context, t *event.Schema, c snapshot.Chunk, emit func([]event.Row) error) (event.Position, error) {
	if s.flavor != "mariadb" {
		return "", s.ReadChunk(ctx, t, c, emit)
	}
	tb, err := s.table(t)
	if err != nil {
		return "", err
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return "", err
	}
	at, err := s.readConsistent(ctx, conn, tb, c, emit)
	if err != nil {
		conn.Close()
		s.pool.release()
		return "", err
	}
	s.pool.put(conn)
	if at.File == "" {
		return "", nil
	}
	return at.encode(), nil
}

// readConsistent reads chunk c in a consistent-snapshot transaction on conn and returns
// the snapshot's binlog position.
func (s *Source) readConsistent(ctx context.Context, conn *client.Conn, tb *table, c snapshot.Chunk, emit func([]event.Row) error) (position, error) {
	var at position
	if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return at, fmt.Errorf("start a consistent snapshot for chunk %d of %s: %w", c.Index, tb.schema.ID, err)
	}
	res, err := conn.Execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return at, fmt.Errorf("read the snapshot's binlog position: %w", err)
	}
	for i := range res.RowNumber() {
		name, _ := res.GetString(i, 0)
		val, _ := res.GetString(i, 1)
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			at.File = val
		case "binlog_snapshot_position":
			fmt.Sscan(val, &at.Pos)
		}
	}
	if err := s.readChunk(ctx, conn, tb, c, emit); err != nil {
		return at, err
	}
	if _, err := conn.Execute("COMMIT"); err != nil {
		return at, fmt.Errorf("end the consistent snapshot: %w", err)
	}
	return at, nil
}

// SkipCovered receives the chunks read at known positions (engine, before Stream).
func (s *Source) SkipCovered(tables map[event.TableID][]snapshot.Covered) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.covered = map[event.TableID][]coveredChunk{}
	for id, cs := range tables {
		for _, c := range cs {
			p, err := decodePosition(c.At)
			if err != nil || p.File == "" {
				continue
			}
			s.covered[id] = append(s.covered[id], coveredChunk{lo: c.Lo, hi: c.Hi, at: p})
		}
	}
}

type coveredChunk struct {
	lo, hi event.Row
	at     position
}

// before reports whether binlog place (file, pos) comes before p.
func before(file string, pos uint32, p position) bool {
	if file != p.File {
		return file < p.File
	}
	return pos < p.Pos
}

// isCovered reports whether the image row of a change to table t in a transaction that
// starts at (file, pos) is already in the chunk that holds its key (read at a later
// position).
func (s *Source) isCovered(t *table, row event.Row, file string, pos uint32) bool {
	chunks := s.covered[t.schema.ID]
	if len(chunks) == 0 {
		return false
	}
	sc := t.schema
	keyCols := make([]*column, len(sc.Key))
	for i, k := range sc.Key {
		keyCols[i] = t.cols[k]
	}
	if !goOrdered(keyCols) {
		return false
	}
	key := keyOf(sc, row)
	for i := range chunks {
		ch := &chunks[i]
		if (ch.lo == nil || compareKeys(keyCols, key, ch.lo) >= 0) && (ch.hi == nil || compareKeys(keyCols, key, ch.hi) < 0) {
			return before(file, pos, ch.at)
		}
	}
	return false
}

// goOrdered reports whether Go orders the key columns as the server does: numbers,
// decimals, temporal types, bytes, and text under a binary collation.
func goOrdered(cols []*column) bool {
	for _, c := range cols {
		switch event.RepOf(c.typ.Kind) {
		case event.RepInt, event.RepUint, event.RepDecimal, event.RepDate, event.RepTime, event.RepTimestamp, event.RepBytes:
		case event.RepString:
			if !c.byteOrdered || c.kind != ckString {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func keyOf(s *event.Schema, r event.Row) event.Row {
	key := make(event.Row, len(s.Key))
	for i, k := range s.Key {
		key[i] = r[k]
	}
	return key
}

// compareKeys orders two keys of the same table column by column.
func compareKeys(cols []*column, a, b event.Row) int {
	for i := range min(len(a), len(b)) {
		if c := compareValues(cols[i], a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func compareValues(col *column, a, b event.Value) int {
	switch a.Rep() {
	case event.RepString:
		if col.padSpace {
			return comparePadSpace(a.Str(), b.Str())
		}
		return strings.Compare(a.Str(), b.Str())
	case event.RepUint:
		switch {
		case a.Uint() < b.Uint():
			return -1
		case a.Uint() > b.Uint():
			return 1
		}
		return 0
	case event.RepDecimal:
		x, okx := new(big.Rat).SetString(a.Str())
		y, oky := new(big.Rat).SetString(b.Str())
		if okx && oky {
			return x.Cmp(y)
		}
		return strings.Compare(a.Str(), b.Str())
	case event.RepBytes:
		return bytes.Compare([]byte(a.Str()), []byte(b.Str()))
	}
	switch { // ints, dates, times, timestamps: signed numbers
	case a.Int() < b.Int():
		return -1
	case a.Int() > b.Int():
		return 1
	}
	return 0
}

// comparePadSpace compares as a PAD SPACE binary collation does: the shorter string is
// taken as padded with spaces.
func comparePadSpace(a, b string) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	for _, ch := range []byte(a[n:]) {
		if ch != ' ' {
			return cmpByte(ch, ' ')
		}
	}
	for _, ch := range []byte(b[n:]) {
		if ch != ' ' {
			return cmpByte(' ', ch)
		}
	}
	return 0
}

func cmpByte(a, b byte) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
