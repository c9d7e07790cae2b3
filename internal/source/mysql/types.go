package mysql

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/mysqlconn"
	"github.com/weir-data/weir/internal/types"
)

// The MySQL → unified type mapping (docs/types-mysql.md has it as a table). Every column
// decodes the snapshot's text values and the binlog's row values into the same
// event.Value, so a row reads the same whichever way it arrives:
//
//	TINYINT            int8      (TINYINT(1)/BOOL too: 2..127 stay representable)
//	TINYINT UNSIGNED   int16     SMALLINT int16, SMALLINT UNSIGNED int32
//	MEDIUMINT          int32     MEDIUMINT UNSIGNED int32, INT int32, INT UNSIGNED int64
//	BIGINT             int64     BIGINT UNSIGNED uint64 (all 64 bits)
//	DECIMAL(p,s)       decimal(p,s), exact text
//	FLOAT / DOUBLE     float32 / float64
//	BIT(n)             bytes: ceil(n/8) bytes, big-endian
//	CHAR/VARCHAR(n)    string(n) (CHAR fixed); TEXT types: string; any charset → UTF-8
//	BINARY/VARBINARY   bytes(n); BLOB types: bytes
//	DATE               date      zero date 0000-00-00 → NULL (documented policy)
//	TIME(fsp)          time(fsp), −838:59:59 … 838:59:59
//	DATETIME(fsp)      timestamp(fsp), wall clock; zero → NULL
//	TIMESTAMP(fsp)     timestamp_ltz(fsp), an instant in UTC; zero → NULL
//	YEAR               int16
//	JSON               json (MariaDB's LONGTEXT CHECK (json_valid(col)) too: it is its JSON)
//	ENUM / SET         enum / set: the member names, not their numbers
//	GEOMETRY types     bytes: MySQL's internal value, 4-byte SRID then WKB
type colKind uint8

const (
	ckInt colKind = iota + 1
	ckUint
	ckFloat32
	ckFloat64
	ckDecimal
	ckString
	ckBytes
	ckBit
	ckDate
	ckTime
	ckDatetime
	ckTimestamp
	ckYear
	ckJSON
	ckEnum
	ckSet
	ckGeometry
	ckInet6 // MariaDB's INET6: 16 bytes in the binlog, its text in a snapshot
	ckInet4 // MariaDB's INET4 (11.3+): 4 bytes
	ckUUID  // MariaDB's UUID: 16 bytes in the binlog, its text in a snapshot
)

// column is how one column is decoded.
type column struct {
	name     string
	kind     colKind
	typ      types.Type
	nullable bool
	srcType  string // COLUMN_TYPE, e.g. "bigint(20) unsigned"
	unsigned bool
	bits     int // integer width for unsigned binlog values: 8, 16, 24, 32, 64
	// byteOrdered: the server orders the text by its UTF-8 bytes (a binary collation);
	// padSpace: trailing spaces do not count (PAD SPACE collations).
	byteOrdered, padSpace bool
	bitLen                int // BIT(n)
	decoder               mysqlconn.Decoder
	values                []string // ENUM / SET members
	compressed            bool     // MariaDB's COMPRESSED column: the binlog holds it deflated
	boolean               bool     // TINYINT(1) read as a boolean (treat-tinyint1-as-boolean.enabled)
}

// columnInfo is what a column's decoding depends on: its COLUMN_TYPE as
// information_schema.COLUMNS gives it ("decimal(65,30)", "bigint(20) unsigned",
// "enum('a','b')"), its character set, and its collation when that is binary (which
// lets weir order its values as the server does).
type columnInfo struct {
	Name, ColumnType, Charset, Collation string
	Nullable                             bool
}

// sourceType renders the info as event.Column.SourceType, from which a checkpoint's
// schema rebuilds the same decoder: the column type, then " charset X" unless UTF-8,
// then " collate Y" for a binary collation.
func (ci columnInfo) sourceType() string {
	st := ci.ColumnType
	if cs := strings.ToLower(ci.Charset); cs != "" && cs != "utf8mb4" && cs != "utf8" && cs != "utf8mb3" && cs != "binary" {
		st += " charset " + cs
	}
	if binaryCollation(ci.Collation) {
		st += " collate " + strings.ToLower(ci.Collation)
	}
	return st
}

// infoOf is the inverse of sourceType.
func infoOf(col event.Column) columnInfo {
	rest, coll, _ := strings.Cut(col.SourceType, " collate ")
	ct, cs, _ := strings.Cut(rest, " charset ")
	return columnInfo{Name: col.Name, ColumnType: ct, Charset: cs, Collation: coll, Nullable: col.Nullable}
}

// binaryCollation reports whether a text collation orders by code point (utf8mb4_bin,
// latin1_bin, …), as Go orders UTF-8 bytes.
func binaryCollation(c string) bool {
	return strings.HasSuffix(strings.ToLower(c), "_bin")
}

// typeArgs splits "decimal(10,2) unsigned" into "decimal" and [10 2]; enum and set
// members are not numbers and come back empty.
func typeArgs(ct string) (string, []int64) {
	name := ct
	if i := strings.IndexAny(ct, "( "); i >= 0 {
		name = ct[:i]
	}
	var args []int64
	if open, close := strings.IndexByte(ct, '('), strings.IndexByte(ct, ')'); open >= 0 && close > open {
		for _, a := range strings.Split(ct[open+1:close], ",") {
			if n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64); err == nil {
				args = append(args, n)
			}
		}
	}
	return strings.ToLower(name), args
}

// newColumn maps a column's declared type.
func newColumn(ci columnInfo) (*column, error) {
	ct := strings.ToLower(ci.ColumnType)
	c := &column{name: ci.Name, nullable: ci.Nullable, srcType: ci.sourceType()}
	if coll := strings.ToLower(ci.Collation); binaryCollation(coll) && (ci.Charset == "" || strings.HasPrefix(strings.ToLower(ci.Charset), "utf8") || strings.EqualFold(ci.Charset, "ascii")) {
		c.byteOrdered = true
		c.padSpace = !strings.Contains(coll, "nopad") && !strings.Contains(coll, "0900")
	}
	unsigned := strings.Contains(ct, "unsigned")
	c.unsigned = unsigned
	c.compressed = strings.Contains(ct, "compressed")
	dt, args := typeArgs(ct)
	arg := func(i int) int64 {
		if i < len(args) {
			return args[i]
		}
		return 0
	}
	intType := func(signed, unsignedKind types.Kind, bits int) {
		c.kind, c.bits = ckInt, bits
		c.typ = types.Type{Kind: signed}
		if unsigned {
			c.typ = types.Type{Kind: unsignedKind}
			if unsignedKind == types.Uint64 {
				c.kind = ckUint
			}
		}
	}
	switch dt {
	case "tinyint":
		intType(types.Int8, types.Int16, 8)
	case "boolean": // TINYINT(1) with treat-tinyint1-as-boolean.enabled (columnOpts)
		intType(types.Int8, types.Int16, 8)
		c.typ, c.boolean = types.Type{Kind: types.Boolean}, true
	case "smallint":
		intType(types.Int16, types.Int32, 16)
	case "mediumint":
		intType(types.Int32, types.Int32, 24)
	case "int", "integer":
		intType(types.Int32, types.Int64, 32)
	case "bigint":
		intType(types.Int64, types.Uint64, 64)
	case "decimal", "numeric":
		c.kind, c.typ = ckDecimal, types.Type{Kind: types.Decimal, Precision: int(arg(0)), Scale: int(arg(1))}
	case "float":
		c.kind, c.typ = ckFloat32, types.Type{Kind: types.Float32}
	case "double", "real":
		c.kind, c.typ = ckFloat64, types.Type{Kind: types.Float64}
	case "bit":
		c.kind, c.bitLen = ckBit, int(max(arg(0), 1))
		c.typ = types.Type{Kind: types.Bytes, Length: (c.bitLen + 7) / 8, Fixed: true}
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		c.kind = ckString
		c.typ = types.Type{Kind: types.String, Fixed: dt == "char"}
		if dt == "char" || dt == "varchar" {
			c.typ.Length = int(max(arg(0), 1))
		}
		dec, err := mysqlconn.CharsetDecoder(ci.Charset)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", ci.Name, err)
		}
		c.decoder = dec
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		c.kind = ckBytes
		c.typ = types.Type{Kind: types.Bytes, Fixed: dt == "binary"}
		if dt == "binary" || dt == "varbinary" {
			c.typ.Length = int(max(arg(0), 1))
		}
	case "date":
		c.kind, c.typ = ckDate, types.Type{Kind: types.Date}
	case "time":
		c.kind, c.typ = ckTime, types.Type{Kind: types.Time, Precision: int(arg(0))}
	case "datetime":
		c.kind, c.typ = ckDatetime, types.Type{Kind: types.Timestamp, Precision: int(arg(0))}
	case "timestamp":
		c.kind, c.typ = ckTimestamp, types.Type{Kind: types.TimestampLTZ, Precision: int(arg(0))}
	case "year":
		c.kind, c.typ = ckYear, types.Type{Kind: types.Int16}
	case "json":
		c.kind, c.typ = ckJSON, types.Type{Kind: types.JSON}
	case "enum", "set":
		members, err := parseMembers(ci.ColumnType)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", ci.Name, err)
		}
		c.values = members
		c.kind, c.typ = ckEnum, types.Type{Kind: types.Enum, Values: members}
		if dt == "set" {
			c.kind, c.typ.Kind = ckSet, types.Set
		}
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		c.kind, c.typ = ckGeometry, types.Type{Kind: types.Bytes}
	case "inet6":
		c.kind, c.typ = ckInet6, types.Type{Kind: types.String, Length: 39}
	case "inet4":
		c.kind, c.typ = ckInet4, types.Type{Kind: types.String, Length: 15}
	case "uuid":
		c.kind, c.typ = ckUUID, types.Type{Kind: types.UUID}
	default:
		return nil, fmt.Errorf("column %s: type %s is not supported; exclude the table or ask for it", ci.Name, ci.ColumnType)
	}
	return c, nil
}

// parseMembers reads the members of enum('a','b”c') or set(…).
func parseMembers(ct string) ([]string, error) {
	open, close := strings.IndexByte(ct, '('), strings.LastIndexByte(ct, ')')
	if open < 0 || close < open {
		return nil, fmt.Errorf("cannot read the members of %s", ct)
	}
	s := ct[open+1 : close]
	var out []string
	for i := 0; i < len(s); {
		if s[i] != '\'' {
			i++
			continue
		}
		var b strings.Builder
		j := i + 1
		for ; j < len(s); j++ {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				break
			}
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			b.WriteByte(s[j])
		}
		out = append(out, b.String())
		i = j + 1
	}
	return out, nil
}

// selectExpr is how the snapshot selects the column, so that its text is exact: FLOAT is
// widened to DOUBLE (MySQL prints FLOAT with 6 digits); text comes as the bytes it is
// stored in and is decoded by its own charset, as the binlog's are, so that both give the
// same string whatever the connection's charset; the rest as they are. With serverText
// (verify), text is the server's own conversion instead (mysqlconn.ServerText).
func (c *column) selectExpr(serverText bool) string {
	q := quoteIdent(c.name)
	switch c.kind {
	case ckFloat32:
		return q + " + 0e0"
	case ckString, ckEnum, ckSet, ckJSON:
		if serverText {
			return mysqlconn.ServerText(q)
		}
		if c.kind == ckString {
			return "CAST(" + q + " AS BINARY)"
		}
	}
	return q
}

// fromText decodes a snapshot value (text protocol, session time zone UTC, utf8mb4) as
// selectExpr(serverText) selected it.
func (c *column) fromText(fv *gomysql.FieldValue, serverText bool) (event.Value, error) {
	switch fv.Type {
	case gomysql.FieldValueTypeNull:
		return event.Null(), nil
	case gomysql.FieldValueTypeSigned:
		if c.boolean {
			return event.Bool(fv.AsInt64() != 0), nil
		}
		if c.kind == ckUint {
			return event.Uint(uint64(fv.AsInt64())), nil
		}
		return event.Int(fv.AsInt64()), nil
	case gomysql.FieldValueTypeUnsigned:
		if c.kind == ckUint {
			return event.Uint(fv.AsUint64()), nil
		}
		return event.Int(int64(fv.AsUint64())), nil
	case gomysql.FieldValueTypeFloat:
		if c.kind == ckFloat32 {
			return event.Float(float64(float32(fv.AsFloat64()))), nil
		}
		return event.Float(fv.AsFloat64()), nil
	}
	raw := fv.AsString()
	switch c.kind {
	case ckString, ckEnum, ckSet, ckJSON:
		if serverText {
			s, err := mysqlconn.FromServerText(raw)
			if err != nil {
				return event.Value{}, fmt.Errorf("column %s: %w", c.name, err)
			}
			if c.kind == ckJSON {
				return event.JSON(s), nil
			}
			return event.String(s), nil
		}
	}
	switch c.kind {
	case ckString:
		return c.text(raw)
	case ckJSON:
		return event.JSON(string(raw)), nil // the connection is utf8mb4: already UTF-8
	case ckEnum, ckSet, ckInet6, ckInet4, ckUUID:
		return event.String(string(raw)), nil // the connection is utf8mb4: already UTF-8
	case ckFloat32, ckFloat64:
		f, err := strconv.ParseFloat(string(raw), 64)
		if c.kind == ckFloat32 {
			f = float64(float32(f))
		}
		return event.Float(f), err
	}
	return c.fromString(raw)
}

// stored is a binlog value's bytes as the column holds them: inflated where it is a
// compressed column.
func (c *column) stored(b []byte) ([]byte, error) {
	if !c.compressed {
		return b, nil
	}
	out, err := inflate(b)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", c.name, err)
	}
	return out, nil
}

// text decodes a text column's stored bytes by its charset (both paths).
func (c *column) text(b []byte) (event.Value, error) {
	if c.decoder != nil {
		out, err := c.decoder.Decode(b)
		if err != nil {
			return event.Value{}, fmt.Errorf("column %s: decode its charset: %w", c.name, err)
		}
		b = out
	}
	return event.String(string(b)), nil
}

// fromString decodes text shared by both paths: decimals, dates and times.
func (c *column) fromString(raw []byte) (event.Value, error) {
	s := string(raw)
	switch c.kind {
	case ckDecimal:
		return event.Decimal(s), nil
	case ckBytes, ckGeometry:
		return event.Bytes(raw), nil
	case ckBit:
		return event.Bytes(raw), nil
	case ckDate:
		return parseDate(s)
	case ckTime:
		us, err := parseTime(s)
		return event.Time(us), err
	case ckDatetime, ckTimestamp:
		return parseDatetime(s)
	case ckYear:
		y, err := strconv.ParseInt(s, 10, 64)
		return event.Int(y), err
	case ckInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if c.boolean {
			return event.Bool(n != 0), err
		}
		return event.Int(n), err
	case ckUint:
		n, err := strconv.ParseUint(s, 10, 64)
		return event.Uint(n), err
	}
	return event.String(s), nil
}

// fromBinlog decodes a value of a binlog row event (go-mysql, ParseTime off, UseDecimal
// off, timestamps rendered in UTC).
func (c *column) fromBinlog(v any) (event.Value, error) {
	if v == nil {
		return event.Null(), nil
	}
	switch c.kind {
	case ckInt, ckUint, ckYear:
		n, ok := toInt64(v)
		if !ok {
			return event.Value{}, c.unexpected(v)
		}
		switch {
		case c.boolean:
			return event.Bool(n != 0), nil
		case c.kind == ckUint:
			return event.Uint(uint64(n)), nil
		case c.kind == ckInt && c.unsigned:
			n = unsignedOf(n, c.bits) // the binlog holds the bits; the width says how to read them
		}
		return event.Int(n), nil
	case ckFloat32:
		switch f := v.(type) {
		case float32:
			return event.Float(float64(f)), nil
		case float64:
			return event.Float(float64(float32(f))), nil
		}
	case ckFloat64:
		switch f := v.(type) {
		case float64:
			return event.Float(f), nil
		case float32:
			return event.Float(float64(f)), nil
		}
	case ckDecimal:
		if s, ok := v.(string); ok {
			return event.Decimal(s), nil
		}
	case ckString:
		b, err := c.stored(asBytes(v))
		if err != nil {
			return event.Value{}, err
		}
		return c.text(b)
	case ckInet6, ckInet4, ckUUID:
		return c.addressText(asBytes(v))
	case ckJSON:
		b := asBytes(v)
		var buf strings.Builder
		if err := compactJSON(&buf, b); err == nil {
			return event.JSON(buf.String()), nil
		}
		return event.JSON(string(b)), nil
	case ckBytes, ckGeometry:
		b, err := c.stored(asBytes(v))
		if err != nil {
			return event.Value{}, err
		}
		if c.typ.Fixed && len(b) < c.typ.Length {
			// The binlog drops the trailing zero bytes of BINARY(n); the table holds them.
			b = append(append([]byte(nil), b...), make([]byte, c.typ.Length-len(b))...)
		}
		return event.Bytes(b), nil
	case ckBit:
		n, ok := toInt64(v)
		if !ok {
			return event.Value{}, c.unexpected(v)
		}
		var be [8]byte
		binary.BigEndian.PutUint64(be[:], uint64(n))
		return event.Bytes(be[8-(c.bitLen+7)/8:]), nil
	case ckEnum:
		n, ok := toInt64(v)
		if !ok {
			return event.Value{}, c.unexpected(v)
		}
		if n == 0 {
			return event.String(""), nil // the empty string an invalid value becomes
		}
		if int(n) > len(c.values) {
			return event.Value{}, fmt.Errorf("column %s: enum index %d beyond its %d members (the schema is out of date)", c.name, n, len(c.values))
		}
		return event.String(c.values[n-1]), nil
	case ckSet:
		n, ok := toInt64(v)
		if !ok {
			return event.Value{}, c.unexpected(v)
		}
		var parts []string
		for i, m := range c.values {
			if uint64(n)&(1<<uint(i)) != 0 {
				parts = append(parts, m)
			}
		}
		return event.String(strings.Join(parts, ",")), nil
	case ckDate, ckTime, ckDatetime, ckTimestamp:
		switch t := v.(type) {
		case string:
			return c.fromString([]byte(t))
		case fmt.Stringer:
			return c.fromString([]byte(t.String()))
		}
	}
	return event.Value{}, c.unexpected(v)
}

func (c *column) unexpected(v any) error {
	return fmt.Errorf("column %s (%s): unexpected binlog value %v of Go type %T", c.name, c.srcType, v, v)
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), true
	}
	return 0, false
}

// unsignedOf reinterprets a signed binlog integer of the given width as unsigned.
func unsignedOf(n int64, bits int) int64 {
	if bits >= 64 || n >= 0 {
		return n
	}
	return n + int64(1)<<bits
}

func asBytes(v any) []byte {
	switch b := v.(type) {
	case []byte:
		return b
	case string:
		return []byte(b)
	}
	return []byte(fmt.Sprint(v))
}

func compactJSON(w *strings.Builder, b []byte) error {
	var v json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	w.Write(v)
	return nil
}

// parseDate parses YYYY-MM-DD; the zero date becomes NULL.
func parseDate(s string) (event.Value, error) {
	if strings.HasPrefix(s, "0000-00-00") {
		return event.Null(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return event.Value{}, fmt.Errorf("bad date %q: %w", s, err)
	}
	return event.Date(t.Unix() / 86400), nil
}

// parseDatetime parses YYYY-MM-DD HH:MM:SS[.ffffff]; the zero datetime becomes NULL.
func parseDatetime(s string) (event.Value, error) {
	if strings.HasPrefix(s, "0000-00-00") {
		return event.Null(), nil
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	if err != nil {
		return event.Value{}, fmt.Errorf("bad datetime %q: %w", s, err)
	}
	return event.Timestamp(t.UnixMicro()), nil
}

// parseTime parses [-]HHH:MM:SS[.ffffff] into microseconds.
func parseTime(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	var hms [3]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad time %q", s)
		}
		hms[i] = n
	}
	us := (hms[0]*3600+hms[1]*60+hms[2])*1_000_000 + fracMicros(frac)
	if neg {
		us = -us
	}
	return us, nil
}

func fracMicros(frac string) int64 {
	if frac == "" {
		return 0
	}
	for len(frac) < 6 {
		frac += "0"
	}
	n, _ := strconv.ParseInt(frac[:6], 10, 64)
	return n
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// addressText turns the binlog's bytes of an INET6, INET4 or UUID column into the text
// MariaDB shows for it (and a snapshot reads): an INET6 by RFC 5952, an IPv4-mapped one as
// ::ffff:a.b.c.d; a UUID as 8-4-4-4-12 hex digits, its segments put back in order where
// MariaDB stores them swapped (uuidRecord).
func (c *column) addressText(b []byte) (event.Value, error) {
	switch c.kind {
	case ckInet4:
		if len(b) != 4 {
			return event.Value{}, fmt.Errorf("column %s: INET4 of %d bytes in the binlog", c.name, len(b))
		}
		return event.String(netip.AddrFrom4([4]byte(b)).String()), nil
	case ckInet6:
		if len(b) < 16 { // the binlog drops trailing zero bytes of a fixed binary
			b = append(append([]byte(nil), b...), make([]byte, 16-len(b))...)
		}
		if len(b) != 16 {
			return event.Value{}, fmt.Errorf("column %s: INET6 of %d bytes in the binlog", c.name, len(b))
		}
		a := netip.AddrFrom16([16]byte(b))
		if a.Is4In6() {
			return event.String("::ffff:" + a.Unmap().String()), nil
		}
		return event.String(a.String()), nil
	}
	if len(b) < 16 {
		b = append(append([]byte(nil), b...), make([]byte, 16-len(b))...)
	}
	if len(b) != 16 {
		return event.Value{}, fmt.Errorf("column %s: UUID of %d bytes in the binlog", c.name, len(b))
	}
	u := uuidRecord(b)
	h := hex.EncodeToString(u[:])
	return event.String(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]), nil
}

// uuidRecord is a UUID from MariaDB's record (and binlog) format: a UUID of version 1 to 5
// and the RFC variant is stored with its five segments in reverse order, so that
// time-based UUIDs sort by time; any other as it is.
func uuidRecord(b []byte) [16]byte {
	var u [16]byte
	// record: node(6) clock_seq(2) time_hi(2) time_mid(2) time_low(4)
	swapped := b[6]&0x80 != 0 && b[8]>>4 >= 1 && b[8]>>4 <= 5
	if !swapped {
		copy(u[:], b)
		return u
	}
	copy(u[0:4], b[12:16])
	copy(u[4:6], b[10:12])
	copy(u[6:8], b[8:10])
	copy(u[8:10], b[6:8])
	copy(u[10:16], b[0:6])
	return u
}
