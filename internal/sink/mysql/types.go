package mysql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/types"
)

// Mapping from the unified types to MySQL / MariaDB (docs/sink-mysql.md shows it; each
// row has a test: TestTypeMatrix). The rule: the target type holds every value of the source type,
// exactly, where MySQL can hold it at all; where it cannot, the server refuses the row
// (the session is strict) rather than weir truncating it.
//
//	boolean            tinyint(1)
//	int8, int16        tinyint, smallint
//	int32, int64       int, bigint
//	uint64             bigint unsigned
//	float32, float64   float, double       (NaN and ±Infinity are refused: MySQL has none)
//	decimal(p,s)       decimal(p,s)        (decimal(65,30) when p is 0 or above 65: MySQL's
//	                                        widest; a number beyond it is refused, and its
//	                                        text reads back with 30 decimals)
//	string(n)          varchar(n)          (utf8mb4, binary NO PAD collation, so keys
//	                                        compare as in the source; text, mediumtext or
//	                                        longtext when n is 0 or the row would pass
//	                                        MySQL's 65,535-byte limit; a key column gets
//	                                        its share of InnoDB's 3,072-byte index: keyBudget)
//	bytes(n)           varbinary(n)        (blob, mediumblob or longblob likewise)
//	date               date
//	time(p)            time(p)             (−838:59:59 to 838:59:59)
//	timestamp(p)       datetime(p)
//	timestamp_ltz(p)   datetime(p)         (the instant in UTC: MySQL's TIMESTAMP stops in 2038)
//	json, array        json                (MariaDB: longtext with a JSON check)
//	uuid               char(36)
//	enum               varchar(255)        (the members are in the source schema)
//	set                text                (varchar(n) in a key, its share of the index)
//
// keyBytes is 0 for a column outside the primary key; for a key column it is the bytes of
// InnoDB's index its text or bytes may take (keyBudget), which bounds varchar/varbinary.
func myType(t types.Type, keyBytes int, rowBytes *int) string {
	switch t.Kind {
	case types.Boolean:
		return "tinyint(1)"
	case types.Int8:
		return "tinyint"
	case types.Int16:
		return "smallint"
	case types.Int32:
		return "int"
	case types.Int64:
		return "bigint"
	case types.Uint64:
		return "bigint unsigned"
	case types.Float32:
		return "float"
	case types.Float64:
		return "double"
	case types.Decimal:
		if t.Precision <= 0 || t.Precision > 65 {
			return "decimal(65,30)"
		}
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, min(t.Scale, 30))
	case types.String:
		return sized("varchar", "text", t.Length, 4, keyBytes, rowBytes)
	case types.Bytes:
		return sized("varbinary", "blob", t.Length, 1, keyBytes, rowBytes)
	case types.Date:
		return "date"
	case types.Time:
		return fmt.Sprintf("time(%d)", clampFrac(t.Precision))
	case types.Timestamp, types.TimestampLTZ:
		return fmt.Sprintf("datetime(%d)", clampFrac(t.Precision))
	case types.JSON, types.Array:
		return "json"
	case types.UUID:
		return "char(36)"
	case types.Enum:
		return "varchar(255)"
	}
	return sized("varchar", "text", 0, 4, keyBytes, rowBytes) // set, unknown
}

// maxKeyBytes is InnoDB's limit on the bytes of one index (a primary key's columns
// together); maxKeyChars the longest varchar one key column may have in utf8mb4.
const (
	maxKeyBytes = 3072
	maxKeyChars = maxKeyBytes / 4
)

// keyBudget shares InnoDB's index limit among the key columns of s: each fixed-size
// column takes its size, and the text and bytes columns share the rest, each taking no
// more than its declared length needs (the shortest first, so that what they leave goes
// to the longer ones). It returns the bytes of each key column (by column index), or an
// error naming the table when the key cannot be indexed at all.
func keyBudget(s *event.Schema) (map[int]int, error) {
	out := map[int]int{}
	left := maxKeyBytes
	type varCol struct{ i, want int }
	var vars []varCol
	for _, k := range s.Key {
		t := s.Columns[k].Type
		switch t.Kind {
		case types.String, types.Bytes, types.Set:
			per := 4
			if t.Kind == types.Bytes {
				per = 1
			}
			want := maxKeyBytes
			if t.Length > 0 {
				want = min(t.Length*per, maxKeyBytes)
			}
			vars = append(vars, varCol{k, want})
		default:
			n := fixedKeyBytes(t)
			out[k] = n
			left -= n
		}
	}
	slices.SortStableFunc(vars, func(a, b varCol) int { return a.want - b.want })
	for j, v := range vars {
		share := left / (len(vars) - j)
		n := min(v.want, share)
		if n < 4 {
			return nil, fault.AsFatal(fmt.Errorf("table %s: its key (%s) cannot be indexed by MySQL/MariaDB, whose index holds at most %d bytes: "+
				"key a shorter form of it with a transform (primary-keys), or cast its text to a bounded length, e.g. CAST(%s AS VARCHAR(255)) AS %s",
				s.ID, strings.Join(s.KeyNames(), ", "), maxKeyBytes, s.Columns[v.i].Name, s.Columns[v.i].Name))
		}
		out[v.i] = n
		left -= n
	}
	return out, nil
}

// fixedKeyBytes is what a key column of a fixed-size type takes of InnoDB's index.
func fixedKeyBytes(t types.Type) int {
	switch t.Kind {
	case types.Boolean, types.Int8:
		return 1
	case types.Int16:
		return 2
	case types.Int32, types.Float32:
		return 4
	case types.Date:
		return 3
	case types.Time:
		return 3 + (clampFrac(t.Precision)+1)/2
	case types.Timestamp, types.TimestampLTZ:
		return 5 + (clampFrac(t.Precision)+1)/2
	case types.Decimal:
		return 30 // decimal(65,30), the widest, takes 30
	case types.UUID:
		return 36 * 4
	case types.Enum:
		return 255 * 4
	}
	return 8
}

// sized picks varchar(n)/varbinary(n) while the row stays under MySQL's row size limit
// (rowBytes counts what the table has used), else the text/blob type that holds n; in a
// key (keyBytes > 0) always varchar(n)/varbinary(n), n bounded by keyBytes.
func sized(short, long string, n, bytesPerChar, keyBytes int, rowBytes *int) string {
	if keyBytes > 0 {
		limit := keyBytes / bytesPerChar
		if n <= 0 || n > limit {
			n = limit
		}
		*rowBytes += n*bytesPerChar + 2
		return fmt.Sprintf("%s(%d)", short, n)
	}
	if n > 0 && *rowBytes+n*bytesPerChar+2 <= 60000 {
		*rowBytes += n*bytesPerChar + 2
		return fmt.Sprintf("%s(%d)", short, n)
	}
	*rowBytes += 12
	bytes := int64(n) * int64(bytesPerChar)
	switch {
	case n <= 0 || bytes >= 1<<24:
		return "long" + long
	case bytes >= 1<<16:
		return "medium" + long
	}
	return long
}

func clampFrac(p int) int { return min(max(p, 0), 6) }

// myCol is a column of an existing table, from information_schema's COLUMN_TYPE.
type myCol struct {
	family   string // "int", "varchar", "decimal", "datetime", …
	unsigned bool
	a, b     int // modifiers: length, precision/scale or fractional digits; -1 when absent
	notNull  bool
	hasDef   bool
	typ      string // COLUMN_TYPE as the server prints it
}

func parseMyType(columnType string) myCol {
	c := myCol{typ: columnType, a: -1, b: -1}
	s := strings.ToLower(columnType)
	c.unsigned = strings.Contains(s, "unsigned")
	if i := strings.IndexByte(s, '('); i >= 0 {
		c.family = s[:i]
		if j := strings.IndexByte(s[i:], ')'); j > 0 {
			mods := strings.Split(s[i+1:i+j], ",")
			c.a, _ = strconv.Atoi(strings.TrimSpace(mods[0]))
			if len(mods) > 1 {
				c.b, _ = strconv.Atoi(strings.TrimSpace(mods[1]))
			}
		}
	} else {
		c.family, _, _ = strings.Cut(s, " ")
	}
	if c.family == "enum" || c.family == "set" {
		c.a = -1 // the members, not a length
	}
	return c
}

var intBytes = map[string]int{"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 8}

// capacity is how many characters (bytes for binary types) a string column holds; -1
// when it is not a string type.
func (c myCol) capacity() int64 {
	switch c.family {
	case "varchar", "char", "varbinary", "binary":
		return int64(c.a)
	case "tinytext", "tinyblob":
		return 255
	case "text", "blob":
		return 65535
	case "mediumtext", "mediumblob":
		return 1 << 24
	case "longtext", "longblob", "json":
		return 1 << 32
	}
	return -1
}

func binaryFamily(f string) bool {
	return f == "varbinary" || f == "binary" || strings.HasSuffix(f, "blob")
}

// holds reports whether an existing column have can hold every value of the unified type
// want without loss.
func holds(have myCol, want types.Type) bool {
	var rowBytes int
	need := parseMyType(myType(want, 0, &rowBytes))
	switch want.Kind {
	case types.Boolean, types.Int8, types.Int16, types.Int32, types.Int64, types.Uint64:
		if hb, ok := intBytes[have.family]; ok {
			nb := intBytes[need.family]
			if need.unsigned {
				return hb == 8 && have.unsigned
			}
			return !have.unsigned && hb >= nb
		}
		if have.family == "decimal" {
			digits := map[int]int{1: 3, 2: 5, 4: 10, 8: 19}[intBytes[need.family]]
			if need.unsigned {
				digits = 20
			}
			return have.a-max(have.b, 0) >= digits
		}
		return false
	case types.Float32:
		return have.family == "float" || have.family == "double"
	case types.Float64:
		return have.family == "double"
	case types.Decimal:
		return have.family == "decimal" && max(have.b, 0) >= need.b && have.a-max(have.b, 0) >= need.a-need.b
	case types.String, types.Enum, types.Set, types.UUID, types.JSON, types.Array:
		if want.Kind == types.JSON || want.Kind == types.Array {
			return have.family == "json" || have.family == "longtext"
		}
		if binaryFamily(have.family) || have.capacity() < 0 {
			return false
		}
		n := int64(want.Length)
		switch want.Kind {
		case types.UUID:
			n = 36
		case types.Enum:
			n = 255
		case types.Set:
			n = 0
		}
		if n <= 0 {
			return have.capacity() >= 1<<32
		}
		if strings.HasSuffix(have.family, "text") {
			return have.capacity() >= n*4
		}
		return have.capacity() >= n
	case types.Bytes:
		if !binaryFamily(have.family) {
			return false
		}
		if want.Length <= 0 {
			return have.capacity() >= 1<<32
		}
		return have.capacity() >= int64(want.Length)
	case types.Date:
		return have.family == "date"
	case types.Time:
		return have.family == "time" && max(have.a, 0) >= need.a
	case types.Timestamp:
		return have.family == "datetime" && max(have.a, 0) >= need.a
	case types.TimestampLTZ:
		return (have.family == "datetime" || have.family == "timestamp") && max(have.a, 0) >= need.a
	}
	return false
}

// ColumnTypes is the type each column of s takes in a table the sink makes for it (in
// upsert mode): its own where the source is MySQL or MariaDB and native.go keeps the type,
// else myType's within the key's index budget.
func ColumnTypes(s *event.Schema, sourceType string) []string {
	budget, _ := keyBudget(s)
	rowBytes := 0
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		if sourceType == "mysql" || sourceType == "mariadb" {
			if n := nativeType(c); n != "" {
				out[i] = n
				continue
			}
		}
		out[i] = myType(c.Type, budget[i], &rowBytes)
	}
	return out
}
