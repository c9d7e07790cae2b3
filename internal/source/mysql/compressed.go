package mysql

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// MariaDB's compressed columns (BLOB / TEXT / VARCHAR … COMPRESSED) have binlog types of
// their own, which the binlog reader does not know: it reads no metadata for them, so the
// metadata of every later column of the table map is read from the wrong bytes, and it
// cannot decode their values. uncompressTableMap reads the metadata again from the table
// map's own bytes and gives those columns the plain types whose layout they share (their
// values are then read as bytes); the column's decoder then inflates them (inflate).
const (
	typeBlobCompressed    = 140 // MYSQL_TYPE_BLOB_COMPRESSED: a BLOB's layout
	typeVarcharCompressed = 141 // MYSQL_TYPE_VARCHAR_COMPRESSED: a VARCHAR's layout
)

// uncompressTableMap fixes a table map that has compressed columns, in place. The
// reader's ColumnType is a slice of the event's bytes: the metadata follows it there.
func uncompressTableMap(t *replication.TableMapEvent) error {
	has := false
	for _, tp := range t.ColumnType {
		has = has || tp == typeBlobCompressed || tp == typeVarcharCompressed
	}
	if !has {
		return nil
	}
	n := len(t.ColumnType)
	rest := t.ColumnType[n:cap(t.ColumnType)]
	metaLen, _, k := gomysql.LengthEncodedInt(rest)
	if k == 0 || uint64(len(rest)-k) < metaLen {
		return fmt.Errorf("table map of %s.%s: cannot read its column metadata", t.Schema, t.Table)
	}
	meta := rest[k : k+int(metaLen)]
	metas := make([]uint16, n)
	pos := 0
	for i, tp := range t.ColumnType {
		need := 0
		switch tp {
		case gomysql.MYSQL_TYPE_STRING, gomysql.MYSQL_TYPE_NEWDECIMAL:
			need = 2
		case gomysql.MYSQL_TYPE_VAR_STRING, gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_BIT, typeVarcharCompressed:
			need = 2
		case gomysql.MYSQL_TYPE_BLOB, gomysql.MYSQL_TYPE_DOUBLE, gomysql.MYSQL_TYPE_FLOAT, gomysql.MYSQL_TYPE_GEOMETRY,
			gomysql.MYSQL_TYPE_JSON, gomysql.MYSQL_TYPE_TIME2, gomysql.MYSQL_TYPE_DATETIME2, gomysql.MYSQL_TYPE_TIMESTAMP2,
			typeBlobCompressed:
			need = 1
		}
		if pos+need > len(meta) {
			return fmt.Errorf("table map of %s.%s: column %d's metadata runs past its end", t.Schema, t.Table, i)
		}
		switch {
		case need == 1:
			metas[i] = uint16(meta[pos])
		case need == 2 && (tp == gomysql.MYSQL_TYPE_STRING || tp == gomysql.MYSQL_TYPE_NEWDECIMAL):
			metas[i] = uint16(meta[pos])<<8 | uint16(meta[pos+1])
		case need == 2:
			metas[i] = binary.LittleEndian.Uint16(meta[pos:])
		}
		pos += need
	}
	for i, tp := range t.ColumnType {
		switch tp {
		case typeBlobCompressed:
			t.ColumnType[i] = gomysql.MYSQL_TYPE_BLOB
		case typeVarcharCompressed:
			t.ColumnType[i] = gomysql.MYSQL_TYPE_VARCHAR
		}
	}
	t.ColumnMeta = metas
	return nil
}

// inflate turns a compressed column's stored value into its bytes: empty stays empty; a
// header byte of 0 precedes a value stored as it is; else the header says how many
// big-endian bytes of original length follow (its low three bits) and whether the rest
// is raw deflate (bit 3) or zlib.
func inflate(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return b, nil
	}
	h := b[0]
	if h&0x80 == 0 {
		return b[1:], nil
	}
	lenBytes := int(h & 0x07)
	if len(b) < 1+lenBytes {
		return nil, fmt.Errorf("a compressed value of %d bytes is shorter than its header", len(b))
	}
	size := 0
	for _, c := range b[1 : 1+lenBytes] {
		size = size<<8 | int(c)
	}
	var r io.Reader
	if h&0x08 != 0 {
		r = flate.NewReader(bytes.NewReader(b[1+lenBytes:]))
	} else {
		zr, err := zlib.NewReader(bytes.NewReader(b[1+lenBytes:]))
		if err != nil {
			return nil, fmt.Errorf("inflate a compressed value: %w", err)
		}
		r = zr
	}
	out := make([]byte, 0, size)
	buf := bytes.NewBuffer(out)
	if _, err := io.Copy(buf, r); err != nil {
		return nil, fmt.Errorf("inflate a compressed value: %w", err)
	}
	if buf.Len() != size {
		return nil, fmt.Errorf("a compressed value inflates to %d bytes, its header says %d", buf.Len(), size)
	}
	return buf.Bytes(), nil
}
