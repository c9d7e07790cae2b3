package kafka

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Reading debezium-json with its Kafka Connect schema (the inverse of internal/format's
// debezium-json): the envelope's before/after struct gives the table's columns and their
// types, the source block the table's name, the record key its key columns.

// connectField is a field of a Kafka Connect schema.
type connectField struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name"`
	Field      string            `json:"field"`
	Parameters map[string]string `json:"parameters"`
	Fields     []connectField    `json:"fields"`
	Items      *connectField     `json:"items"`
}

// envelope is a debezium-json record value with its schema.
type envelope struct {
	Schema  connectField `json:"schema"`
	Payload struct {
		Before map[string]json.RawMessage `json:"before"`
		After  map[string]json.RawMessage `json:"after"`
		Source struct {
			DB     string `json:"db"`
			Schema string `json:"schema"`
			Table  string `json:"table"`
		} `json:"source"`
		Op   string `json:"op"`
		TsMs int64  `json:"ts_ms"`
	} `json:"payload"`
}

// columnType maps a Connect field to weir's type.
func columnType(f *connectField) (types.Type, error) {
	switch f.Name {
	case "org.apache.kafka.connect.data.Decimal":
		scale, _ := strconv.Atoi(f.Parameters["scale"])
		prec, _ := strconv.Atoi(f.Parameters["connect.decimal.precision"])
		return types.Type{Kind: types.Decimal, Precision: prec, Scale: scale}, nil
	case "io.debezium.data.VariableScaleDecimal":
		return types.Type{Kind: types.Decimal}, nil
	case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date":
		return types.Type{Kind: types.Date}, nil
	case "io.debezium.time.Time", "org.apache.kafka.connect.data.Time":
		return types.Type{Kind: types.Time, Precision: 3}, nil
	case "io.debezium.time.MicroTime":
		return types.Type{Kind: types.Time, Precision: 6}, nil
	case "io.debezium.time.NanoTime":
		return types.Type{Kind: types.Time, Precision: 6}, nil
	case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
		return types.Type{Kind: types.Timestamp, Precision: 3}, nil
	case "io.debezium.time.MicroTimestamp", "io.debezium.time.NanoTimestamp":
		return types.Type{Kind: types.Timestamp, Precision: 6}, nil
	case "io.debezium.time.ZonedTimestamp":
		return types.Type{Kind: types.TimestampLTZ, Precision: 6}, nil
	case "io.debezium.data.Json":
		return types.Type{Kind: types.JSON}, nil
	case "io.debezium.data.Uuid":
		return types.Type{Kind: types.UUID}, nil
	case "io.debezium.data.Enum":
		t := types.Type{Kind: types.Enum}
		if a := f.Parameters["allowed"]; a != "" {
			t.Values = strings.Split(a, ",")
		}
		return t, nil
	}
	switch f.Type {
	case "boolean":
		return types.Type{Kind: types.Boolean}, nil
	case "int8":
		return types.Type{Kind: types.Int8}, nil
	case "int16":
		return types.Type{Kind: types.Int16}, nil
	case "int32":
		return types.Type{Kind: types.Int32}, nil
	case "int64":
		return types.Type{Kind: types.Int64}, nil
	case "float", "float32":
		return types.Type{Kind: types.Float32}, nil
	case "double", "float64":
		return types.Type{Kind: types.Float64}, nil
	case "string":
		return types.Type{Kind: types.String}, nil
	case "bytes":
		return types.Type{Kind: types.Bytes}, nil
	case "array":
		if f.Items == nil {
			return types.Type{}, fmt.Errorf("field %s: an array without items", f.Field)
		}
		elem, err := columnType(f.Items)
		if err != nil {
			return types.Type{}, err
		}
		return types.Type{Kind: types.Array, Elem: &elem}, nil
	}
	return types.Type{}, fmt.Errorf("field %s: Connect type %s (%s) is not one weir reads", f.Field, f.Type, f.Name)
}

// schemaOf builds the table's schema from the envelope's row struct and the record
// key's fields.
func schemaOf(id event.TableID, row *connectField, keyFields []string) (*event.Schema, error) {
	s := &event.Schema{ID: id}
	for i := range row.Fields {
		f := &row.Fields[i]
		t, err := columnType(f)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		s.Columns = append(s.Columns, event.Column{Name: f.Field, Type: t, Nullable: f.Optional})
	}
	for i, c := range s.Columns {
		if slices.Contains(keyFields, c.Name) {
			s.Key = append(s.Key, i)
		}
	}
	return s, nil
}

// rowStruct finds the envelope's before/after struct schema.
func rowStruct(env *connectField) *connectField {
	for i := range env.Fields {
		if f := &env.Fields[i]; (f.Field == "after" || f.Field == "before") && f.Type == "struct" {
			return f
		}
	}
	return nil
}

// value decodes a JSON value of a column of type t as the Connect field f writes it.
func value(raw json.RawMessage, f *connectField, t types.Type) (event.Value, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return event.Null(), nil
	}
	switch t.Kind {
	case types.Boolean:
		var b bool
		err := json.Unmarshal(raw, &b)
		return event.Bool(b), err
	case types.Int8, types.Int16, types.Int32, types.Int64:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		return event.Int(n), err
	case types.Float32, types.Float64:
		var x float64
		if err := json.Unmarshal(raw, &x); err != nil {
			var s string // NaN, Infinity: JsonConverter writes them as strings
			if json.Unmarshal(raw, &s) != nil {
				return event.Value{}, err
			}
			x, err = strconv.ParseFloat(s, 64)
			return event.Float(x), err
		}
		return event.Float(x), nil
	case types.Decimal:
		if f.Name == "io.debezium.data.VariableScaleDecimal" {
			var v struct {
				Scale int    `json:"scale"`
				Value string `json:"value"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return event.Value{}, err
			}
			return decimalOf(v.Value, v.Scale)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return event.Value{}, err
		}
		return decimalOf(s, t.Scale)
	case types.Date:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		return event.Date(n), err
	case types.Time:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		switch f.Name {
		case "io.debezium.time.Time", "org.apache.kafka.connect.data.Time":
			n *= 1000
		case "io.debezium.time.NanoTime":
			n /= 1000
		}
		return event.Time(n), err
	case types.Timestamp:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		switch f.Name {
		case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
			n *= 1000
		case "io.debezium.time.NanoTimestamp":
			n /= 1000
		}
		return event.Timestamp(n), err
	case types.TimestampLTZ:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return event.Value{}, err
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		return event.TimestampOf(ts), err
	case types.Bytes:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return event.Value{}, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		return event.Bytes(b), err
	case types.JSON:
		var s string
		err := json.Unmarshal(raw, &s)
		return event.JSON(s), err
	case types.Array:
		return event.JSON(string(raw)), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return event.String(s), err
}

// decimalOf reads Connect's Decimal: base64 of the unscaled value, two's complement,
// big-endian.
func decimalOf(b64 string, scale int) (event.Value, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return event.Value{}, err
	}
	n := new(big.Int).SetBytes(raw)
	if len(raw) > 0 && raw[0]&0x80 != 0 { // negative: subtract 2^(8·len)
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	digits := n.String()
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	if scale > 0 {
		for len(digits) <= scale {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		digits = "-" + digits
	}
	return event.Decimal(digits), nil
}

// rowOf decodes an image under schema s.
func rowOf(img map[string]json.RawMessage, s *event.Schema, row *connectField) (event.Row, error) {
	if img == nil {
		return nil, nil
	}
	r := make(event.Row, len(s.Columns))
	for i := range s.Columns {
		v, err := value(img[s.Columns[i].Name], &row.Fields[i], s.Columns[i].Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", s.Columns[i].Name, err)
		}
		r[i] = v
	}
	return r, nil
}

// keyFields are the field names of a record key: a JSON object, or Connect's
// {"schema":…,"payload":{…}}.
func keyFields(key []byte) []string {
	if len(key) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(key, &m) != nil {
		return nil
	}
	if p, ok := m["payload"]; ok && len(m) == 2 {
		if _, ok := m["schema"]; ok {
			m = nil
			json.Unmarshal(p, &m)
		}
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// debeziumJSON reads debezium-json with its Connect schema.
type debeziumJSON struct{}

func (debeziumJSON) decode(r *kgo.Record, known map[event.TableID]*table) ([]event.Change, *event.SchemaChange, error) {
	c, announce, err := decodeDebezium(r, known)
	if err != nil {
		return nil, nil, err
	}
	return []event.Change{c}, announce, nil
}

func decodeDebezium(r *kgo.Record, known map[event.TableID]*table) (c event.Change, announce *event.SchemaChange, err error) {
	var env envelope
	if err := json.Unmarshal(r.Value, &env); err != nil {
		return c, nil, fmt.Errorf("not debezium-json: %w", err)
	}
	row := rowStruct(&env.Schema)
	if row == nil {
		return c, nil, errors.New("no schema: write debezium-json with its schema (schemas.enable=true; weir's debezium-json.schema-include)")
	}
	src := env.Payload.Source
	id := event.TableID{Schema: src.DB, Table: src.Table}
	if src.Schema != "" { // PostgreSQL: db.schema.table
		id = event.TableID{Namespace: src.DB, Schema: src.Schema, Table: src.Table}
	}
	if id.Table == "" {
		return c, nil, errors.New("its source block names no table")
	}
	rawRow, _ := json.Marshal(row)
	t, announce, err := learn(known, id, string(rawRow), func() (*event.Schema, any, error) {
		s, err := schemaOf(id, row, keyFields(r.Key))
		return s, row, err
	})
	if err != nil {
		return c, nil, err
	}
	tr := t.shape.(*connectField)
	c.Schema = t.schema
	c.CommitMicros = env.Payload.TsMs * 1000
	switch env.Payload.Op {
	case "c", "r":
		c.Op = event.OpInsert
	case "u":
		c.Op = event.OpUpdate
	case "d":
		c.Op = event.OpDelete
	default:
		return c, nil, fmt.Errorf("op %q is none of c, u, d, r", env.Payload.Op)
	}
	if c.Before, err = rowOf(env.Payload.Before, t.schema, tr); err != nil {
		return c, nil, err
	}
	if c.After, err = rowOf(env.Payload.After, t.schema, tr); err != nil {
		return c, nil, err
	}
	return c, announce, nil
}
