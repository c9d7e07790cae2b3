// Package digest writes the SQL that digests the rows of a key range on a MySQL/MariaDB or
// PostgreSQL server (connector.RangeHasher): the count of the rows, and the XOR of a
// 64-bit hash of each row's text. XOR makes the digest independent of row order; the key
// keeps rows distinct, so no two cancel out. A source and a sink of the same engine write
// the same SQL, so equal rows typed alike give equal digests.
package digest

import (
	"fmt"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Dialects.
const (
	MySQL    = "mysql"
	Postgres = "postgres"
)

// Usable reports whether rows of s can be told apart by their text: floating-point
// columns print rounded, so two different values may read alike; such tables are
// compared row by row.
func Usable(s *event.Schema) bool {
	for _, c := range s.Columns {
		if c.Type.Kind == types.Float32 || c.Type.Kind == types.Float64 {
			return false
		}
	}
	return len(s.Key) > 0
}

// Query is the digest query of s's columns (quoted by quote) in table, over the rows that
// where selects ("" for all). It returns one row: the count and the digest, as text.
func Query(dialect string, s *event.Schema, quote func(string) string, table, where string) string {
	cols := make([]string, len(s.Columns))
	nulls := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		q := quote(c.Name)
		if dialect == MySQL {
			cols[i], nulls[i] = q, "ISNULL("+q+")"
		} else {
			cols[i], nulls[i] = q+"::text", "("+q+" IS NULL)::int::text"
		}
	}
	var q string
	if dialect == MySQL {
		row := fmt.Sprintf("CONCAT_WS(0x1F, %s, CONCAT(%s))", strings.Join(cols, ", "), strings.Join(nulls, ", "))
		q = fmt.Sprintf("SELECT COUNT(*), CAST(COALESCE(BIT_XOR(CAST(CONV(SUBSTRING(MD5(%s), 1, 16), 16, 10) AS UNSIGNED)), 0) AS CHAR) FROM %s", row, table)
	} else {
		row := fmt.Sprintf("concat_ws(E'\\x1f', %s, concat(%s))", strings.Join(cols, ", "), strings.Join(nulls, ", "))
		q = fmt.Sprintf("SELECT count(*), coalesce(bit_xor(('x' || substr(md5(%s), 1, 16))::bit(64)::bigint), 0)::text FROM %s", row, table)
	}
	if where != "" {
		q += " WHERE " + where
	}
	return q
}
