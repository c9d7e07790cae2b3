package mysql

import (
	"bytes"
	"math/big"
	"strings"

	"github.com/weir-data/weir/internal/event"
)

// Placing a key among chunk bounds in Go (join.go): the comparison agrees with the
// server's ORDER BY for numbers, decimals, temporal types, bytes and text under a binary
// collation; other text keys are ordered by collations Go does not have.

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
