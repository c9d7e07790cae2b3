package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// canalJSON reads canal-json, as Canal writes it and weir's canal-json format does:
//
//	{"data":[{"id":"1","name":"a"}],"database":"shop","table":"orders","pkNames":["id"],
//	 "mysqlType":{"id":"int(11)","name":"varchar(20)"},"old":[{"name":"b"}],
//	 "type":"UPDATE","isDdl":false,"es":1589373560000,"ts":1589373560798}
//
// One record holds the rows of one statement. The table's columns are mysqlType's, in its
// order, with their types read from MySQL's names (types.ParseSQL; a type weir has no
// kind for is read as its text); its key is pkNames.
// Values are text (numbers too; bytes as ISO-8859-1 characters), null for NULL. An
// update's old holds the changed columns' values before; the rest of its before image is
// data's. DDL records (isDdl) carry no rows: the next record's mysqlType shows the new
// shape, which is announced then.
type canalJSON struct{}

type canalRecord struct {
	Data      []map[string]json.RawMessage `json:"data"`
	Old       []map[string]json.RawMessage `json:"old"`
	Database  string                       `json:"database"`
	Table     string                       `json:"table"`
	PkNames   []string                     `json:"pkNames"`
	MysqlType json.RawMessage              `json:"mysqlType"`
	Type      string                       `json:"type"`
	IsDdl     bool                         `json:"isDdl"`
	Es        int64                        `json:"es"`
}

func (canalJSON) decode(r *kgo.Record, known map[event.TableID]*table) ([]event.Change, *event.SchemaChange, error) {
	var rec canalRecord
	if err := json.Unmarshal(r.Value, &rec); err != nil {
		return nil, nil, fmt.Errorf("not canal-json: %w", err)
	}
	if rec.IsDdl {
		return nil, nil, nil
	}
	if rec.Table == "" {
		return nil, nil, errors.New("canal-json: the record names no table")
	}
	var op event.Op
	switch rec.Type {
	case "INSERT":
		op = event.OpInsert
	case "UPDATE":
		op = event.OpUpdate
	case "DELETE":
		op = event.OpDelete
	default:
		return nil, nil, fmt.Errorf("canal-json: type %q is none of INSERT, UPDATE, DELETE", rec.Type)
	}
	if len(rec.MysqlType) == 0 || string(rec.MysqlType) == "null" {
		return nil, nil, errors.New("canal-json: the record has no mysqlType, which weir reads the columns' types from")
	}
	id := event.TableID{Schema: rec.Database, Table: rec.Table}
	shape := string(rec.MysqlType) + strings.Join(rec.PkNames, ",")
	t, announce, err := learn(known, id, shape, func() (*event.Schema, any, error) {
		s, err := canalSchema(id, rec.MysqlType, rec.PkNames)
		return s, nil, err
	})
	if err != nil {
		return nil, nil, err
	}
	out := make([]event.Change, 0, len(rec.Data))
	for i, data := range rec.Data {
		row, err := canalRow(t.schema, data, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("canal-json: row %d: %w", i, err)
		}
		c := event.Change{Schema: t.schema, Op: op, CommitMicros: rec.Es * 1000}
		switch op {
		case event.OpInsert:
			c.After = row
		case event.OpDelete:
			c.Before = row
		case event.OpUpdate:
			c.After = row
			if i < len(rec.Old) && rec.Old[i] != nil {
				if c.Before, err = canalRow(t.schema, rec.Old[i], row); err != nil {
					return nil, nil, fmt.Errorf("canal-json: old %d: %w", i, err)
				}
			}
		}
		out = append(out, c)
	}
	return out, announce, nil
}

// canalSchema builds a table from mysqlType, keeping its order, and pkNames.
func canalSchema(id event.TableID, mysqlType json.RawMessage, pk []string) (*event.Schema, error) {
	names, err := objectKeys(mysqlType)
	if err != nil {
		return nil, fmt.Errorf("canal-json: mysqlType: %w", err)
	}
	var typeNames map[string]string
	if err := json.Unmarshal(mysqlType, &typeNames); err != nil {
		return nil, fmt.Errorf("canal-json: mysqlType: %w", err)
	}
	s := &event.Schema{ID: id}
	for _, n := range names {
		t, err := types.ParseSQL(typeNames[n])
		if err != nil { // a type weir has no kind for (inet, geometry…): its text, as Canal gives it
			t = types.Type{Kind: types.String}
		}
		s.Columns = append(s.Columns, event.Column{Name: n, Type: t, Nullable: true, SourceType: typeNames[n]})
	}
	for _, k := range pk {
		i := s.ColumnIndex(k)
		if i < 0 {
			return nil, fmt.Errorf("canal-json: table %s: pkNames names %s, which mysqlType does not", id, k)
		}
		s.Key = append(s.Key, i)
		s.Columns[i].Nullable = false
	}
	return s, nil
}

// canalRow reads an image; with base, the columns img lacks are base's (an update's old).
func canalRow(s *event.Schema, img map[string]json.RawMessage, base event.Row) (event.Row, error) {
	row := make(event.Row, len(s.Columns))
	for i := range s.Columns {
		col := &s.Columns[i]
		raw, ok := img[col.Name]
		if !ok && base != nil {
			row[i] = base[i]
			continue
		}
		v, err := textValue(raw, col.Type, true)
		if err != nil {
			return nil, fmt.Errorf("column %s (%s): %w", col.Name, col.SourceType, err)
		}
		row[i] = v
	}
	return row, nil
}

// textValue reads a JSON value of a column of type t: a string is the value's text
// (event.ParseText), a number or boolean its literal, an object or array JSON text.
func textValue(raw json.RawMessage, t types.Type, latin1 bool) (event.Value, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return event.Null(), nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return event.Value{}, err
		}
		return event.ParseText(t, s, latin1)
	case raw[0] == '{' || raw[0] == '[':
		if t.Kind != types.JSON && t.Kind != types.Array {
			return event.Value{}, fmt.Errorf("an object or array for a column of type %s", t)
		}
		return event.JSON(string(raw)), nil
	}
	return event.ParseText(t, string(raw), latin1)
}

// objectKeys lists a JSON object's keys in their order.
func objectKeys(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
