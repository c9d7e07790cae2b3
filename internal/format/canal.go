package format

import (
	"strconv"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// canal-json, as Canal writes a row change to its message queues and Flink's canal-json
// format reads it:
//
//	{"data":[{"id":"1","name":"a"}],"database":"shop","es":1589373560000,"id":0,
//	 "isDdl":false,"mysqlType":{"id":"int(11)",…},"old":[{"name":"b"}],"pkNames":["id"],
//	 "sql":"","sqlType":{"id":4,…},"table":"orders","ts":1589373560798,"type":"UPDATE"}
//
// Values are strings, as Canal's (NULL is null): numbers in their decimal text, dates
// 2006-01-02, times and timestamps with a space (2006-01-02 15:04:05.999999), bytes as
// ISO-8859-1 text, as Canal writes them. old holds, for an update, the columns whose
// values changed, with their values before. A snapshot row is an INSERT, a delete's data
// the row deleted. sqlType is the column's java.sql.Types code.
func (w *Writer) appendCanal(b []byte, c *event.Change, now int64) []byte {
	s := c.Schema
	row, typ := c.After, "INSERT"
	switch c.Op {
	case event.OpUpdate:
		typ = "UPDATE"
	case event.OpDelete:
		row, typ = c.Before, "DELETE"
	}
	b = append(b, `{"data":[`...)
	b = canalRow(b, s, row, nil)
	b = append(b, `],"database":`...)
	b = event.AppendJSONString(b, database(s.ID))
	b = append(b, `,"es":`...)
	b = strconv.AppendInt(b, c.CommitMicros/1000, 10)
	b = append(b, `,"id":0,"isDdl":false,"mysqlType":{`...)
	for i, col := range s.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendJSONString(b, col.Name)
		b = append(b, ':')
		st := col.SourceType
		if st == "" {
			st = col.Type.String()
		}
		b = event.AppendJSONString(b, st)
	}
	b = append(b, `},"old":`...)
	if c.Op == event.OpUpdate && c.Before != nil {
		b = append(b, '[')
		b = canalRow(b, s, c.Before, c.After)
		b = append(b, ']')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"pkNames":[`...)
	for i, k := range s.Key {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendJSONString(b, s.Columns[k].Name)
	}
	b = append(b, `],"sql":"","sqlType":{`...)
	for i, col := range s.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendJSONString(b, col.Name)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(sqlType(col.Type)), 10)
	}
	b = append(b, `},"table":`...)
	b = event.AppendJSONString(b, s.ID.Table)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, `,"type":"`...)
	b = append(b, typ...)
	return append(b, `"}`...)
}

// canalRow appends row r as Canal's object of strings; with changed set, only the columns
// whose value differs from changed's.
func canalRow(b []byte, s *event.Schema, r, changed event.Row) []byte {
	b = append(b, '{')
	first := true
	for i, col := range s.Columns {
		if i >= len(r) || r[i].Rep() == event.RepUnchanged {
			continue
		}
		if changed != nil && i < len(changed) && r[i].Equal(changed[i]) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = event.AppendJSONString(b, col.Name)
		b = append(b, ':')
		b = canalValue(b, r[i], col.Type.Kind)
	}
	return append(b, '}')
}

func canalValue(b []byte, v event.Value, k types.Kind) []byte {
	var text []byte
	switch v.Rep() {
	case event.RepNull:
		return append(b, "null"...)
	case event.RepBool:
		if v.Bool() {
			return append(b, `"1"`...)
		}
		return append(b, `"0"`...)
	case event.RepInt:
		text = strconv.AppendInt(nil, v.Int(), 10)
	case event.RepUint:
		text = strconv.AppendUint(nil, v.Uint(), 10)
	case event.RepFloat:
		bits := 64
		if k == types.Float32 {
			bits = 32
		}
		text = strconv.AppendFloat(nil, v.Float(), 'g', -1, bits)
	case event.RepBytes: // ISO-8859-1, as Canal: each byte one character
		rs := make([]rune, len(v.Str()))
		for i := 0; i < len(v.Str()); i++ {
			rs[i] = rune(v.Str()[i])
		}
		return event.AppendJSONString(b, string(rs))
	case event.RepDate:
		text = event.AppendDay(nil, v.Days())
	case event.RepTime:
		text = []byte(v.String())
	case event.RepTimestamp:
		text = event.AppendDateTime(nil, v.Micros())
		for i := range text {
			if text[i] == 'T' {
				text[i] = ' '
			}
		}
	default:
		return event.AppendJSONString(b, v.Str())
	}
	return event.AppendJSONString(b, string(text))
}

// sqlType is the java.sql.Types code Canal gives a column of type t.
func sqlType(t types.Type) int {
	switch t.Kind {
	case types.Boolean:
		return -7 // BIT, as Canal gives TINYINT(1) and BIT(1)
	case types.Int8:
		return -6
	case types.Int16:
		return 5
	case types.Int32:
		return 4
	case types.Int64, types.Uint64:
		return -5
	case types.Float32:
		return 7
	case types.Float64:
		return 8
	case types.Decimal:
		return 3
	case types.String, types.Enum, types.Set, types.UUID, types.JSON, types.Array:
		if t.Fixed {
			return 1
		}
		return 12
	case types.Bytes:
		if t.Length == 0 {
			return 2004 // BLOB
		}
		return -3
	case types.Date:
		return 91
	case types.Time:
		return 92
	case types.Timestamp, types.TimestampLTZ:
		return 93
	}
	return 12
}
