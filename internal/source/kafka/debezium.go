package kafka

import (
	"bytes"
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
		switch string(raw) {
		case "true":
			return event.Bool(true), nil
		case "false":
			return event.Bool(false), nil
		}
		return event.Value{}, fmt.Errorf("%s is not a boolean", raw)
	case types.Int8, types.Int16, types.Int32, types.Int64:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		return event.Int(n), err
	case types.Float32, types.Float64:
		if raw[0] == '"' { // NaN, Infinity: JsonConverter writes them as strings
			s, err := jsonString(raw)
			if err != nil {
				return event.Value{}, err
			}
			x, err := strconv.ParseFloat(s, 64)
			return event.Float(x), err
		}
		x, err := strconv.ParseFloat(string(raw), 64)
		return event.Float(x), err
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
		s, err := jsonString(raw)
		if err != nil {
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
		s, err := jsonString(raw)
		if err != nil {
			return event.Value{}, err
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		return event.TimestampOf(ts), err
	case types.Bytes:
		s, err := jsonString(raw)
		if err != nil {
			return event.Value{}, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		return event.Bytes(b), err
	case types.JSON:
		s, err := jsonString(raw)
		return event.JSON(s), err
	case types.Array:
		return event.JSON(string(raw)), nil
	}
	s, err := jsonString(raw)
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

// debeziumJSON reads debezium-json with its Connect schema. A record's schema part is
// decoded once per distinct schema (shapes); each record's payload is walked once
// (jsonscan.go), its images' values decoded straight into the row.
//
// Records without a schema part (schemas.enable=false: the payload alone, or a null
// schema) are read with the columns declared in json.columns (and json.key), their values
// as Debezium writes a column of that type; without a declaration the columns are
// inferred from the images' JSON values, as for json (rows.go): exact only where JSON's
// own types are the columns' (a Decimal's base64 stays text; declare such columns).
type debeziumJSON struct {
	shapes map[string]*dbzShape // by the schema part's bytes
	last   *dbzShape            // the last record's: records of a table come in runs
	// declared is json.columns (nil: none), declaredRow its Connect shape; key json.key.
	declared    *event.Schema
	declaredRow *connectField
	key         []string
}

// dbzShape is what a Connect schema says of the records that carry it.
type dbzShape struct {
	schema []byte        // the schema part, as records carry it
	row    *connectField // the before/after struct
	raw    string        // row as JSON, the shape a table was learnt from
	cols   *event.Schema // the columns row gives, what images are decoded with
}

// maxShapes bounds the schemas remembered (tables × versions); past it they are forgotten.
const maxShapes = 4096

func newDebeziumJSON() *debeziumJSON { return &debeziumJSON{shapes: map[string]*dbzShape{}} }

// withDeclared sets the columns of records without a schema part.
func (d *debeziumJSON) withDeclared(declared *event.Schema, key []string) *debeziumJSON {
	d.declared, d.key = declared, key
	if declared != nil {
		d.declaredRow = &connectField{Type: "struct"}
		for _, col := range declared.Columns {
			d.declaredRow.Fields = append(d.declaredRow.Fields, connectOf(col))
		}
	}
	return d
}

// connectOf is the Connect field Debezium gives a column of col's type (as weir's
// debezium-json writer types it), for reading values written without their schema.
func connectOf(col event.Column) connectField {
	f := connectField{Field: col.Name, Optional: col.Nullable}
	t := col.Type
	switch t.Kind {
	case types.Boolean:
		f.Type = "boolean"
	case types.Int8, types.Int16:
		f.Type = "int16"
	case types.Int32:
		f.Type = "int32"
	case types.Int64, types.Uint64:
		f.Type = "int64"
	case types.Float32:
		f.Type = "float"
	case types.Float64:
		f.Type = "double"
	case types.Decimal:
		f.Type, f.Name, f.Parameters = "bytes", "org.apache.kafka.connect.data.Decimal", map[string]string{"scale": strconv.Itoa(t.Scale)}
	case types.Bytes:
		f.Type = "bytes"
	case types.Date:
		f.Type, f.Name = "int32", "io.debezium.time.Date"
	case types.Time:
		f.Type, f.Name = "int64", "io.debezium.time.MicroTime"
	case types.Timestamp:
		f.Type, f.Name = "int64", "io.debezium.time.MicroTimestamp"
		if t.Precision <= 3 {
			f.Name = "io.debezium.time.Timestamp"
		}
	case types.TimestampLTZ:
		f.Type, f.Name = "string", "io.debezium.time.ZonedTimestamp"
	case types.JSON:
		f.Type, f.Name = "string", "io.debezium.data.Json"
	case types.Array:
		f.Type = "array"
	default:
		f.Type = "string"
	}
	return f
}

func (d *debeziumJSON) decode(r *kgo.Record, known map[event.TableID]*table) ([]event.Change, *event.SchemaChange, error) {
	c, announce, err := d.decodeOne(r, known)
	if err != nil {
		return nil, nil, err
	}
	return []event.Change{c}, announce, nil
}

func (d *debeziumJSON) decodeOne(r *kgo.Record, known map[event.TableID]*table) (c event.Change, announce *event.SchemaChange, err error) {
	shape, payload := d.sameShape(r.Value)
	if shape == nil {
		var schema []byte
		bare := false // the payload alone
		if err := members(r.Value, func(name, v []byte) error {
			switch string(name) {
			case "schema":
				schema = v
			case "payload":
				payload = v
			case "op", "before", "after":
				bare = true
			}
			return nil
		}); err != nil {
			return c, nil, fmt.Errorf("not debezium-json: %w", err)
		}
		if payload == nil && bare {
			payload = r.Value
		}
		if payload == nil {
			return c, nil, errors.New("not debezium-json: neither a payload nor a change (op, before, after)")
		}
		if schema != nil && string(schema) != "null" {
			if shape, err = d.shape(schema); err != nil {
				return c, nil, err
			}
			d.last = shape
		}
	}
	var before, after, source, op []byte
	var beforeRow, afterRow event.Row
	var tsMs int64
	if _, err := object(payload, func(name, at []byte) (int, error) {
		switch string(name) {
		case "before", "after":
			if shape != nil { // decoded as it is passed
				row, n, err := imageAt(at, shape.cols, shape.row)
				if err != nil {
					return 0, fmt.Errorf("%s: %w", name, err)
				}
				if string(name) == "before" {
					beforeRow = row
				} else {
					afterRow = row
				}
				return n, nil
			}
		}
		n, err := skipValue(at, 0)
		if err != nil {
			return 0, err
		}
		v := at[:n]
		switch string(name) {
		case "before":
			before = v
		case "after":
			after = v
		case "source":
			source = v
		case "op":
			op = v
		case "ts_ms":
			tsMs, _ = jsonInt(v)
		}
		return n, nil
	}); err != nil {
		return c, nil, fmt.Errorf("not debezium-json: the payload: %w", err)
	}
	var db, sch, tbl string
	if source != nil {
		if err := members(source, func(name, v []byte) (err error) {
			switch string(name) {
			case "db":
				db, err = jsonString(v)
			case "schema":
				sch, err = jsonString(v)
			case "table":
				tbl, err = jsonString(v)
			case "ts_ms": // the change's commit time at the source
				if n, err := jsonInt(v); err == nil && n > 0 {
					tsMs = n
				}
			}
			return err
		}); err != nil {
			return c, nil, fmt.Errorf("its source block: %w", err)
		}
	}
	id := event.TableID{Schema: db, Table: tbl}
	if sch != "" { // PostgreSQL: db.schema.table
		id = event.TableID{Namespace: db, Schema: sch, Table: tbl}
	}
	if id.Table == "" {
		return c, nil, errors.New("its source block names no table")
	}
	var t *table
	if shape != nil {
		t, announce, err = learn(known, id, shape.raw, func() (*event.Schema, any, error) {
			s, err := schemaOf(id, shape.row, keyFields(r.Key))
			return s, shape.row, err
		})
	} else {
		t, announce, err = d.schemaless(r, known, id, before, after)
	}
	if err != nil {
		return c, nil, err
	}
	tr, _ := t.shape.(*connectField) // nil: inferred columns, read as JSON's own values
	c.Schema = t.schema
	c.CommitMicros = tsMs * 1000
	switch string(op) {
	case `"c"`, `"r"`:
		c.Op = event.OpInsert
	case `"u"`:
		c.Op = event.OpUpdate
	case `"d"`:
		c.Op = event.OpDelete
	default:
		return c, nil, fmt.Errorf("op %s is none of c, u, d, r", op)
	}
	if shape != nil {
		c.Before, c.After = beforeRow, afterRow
		return c, announce, nil
	}
	if c.Before, err = imageOf(before, t.schema, tr); err != nil {
		return c, nil, fmt.Errorf("before: %w", err)
	}
	if c.After, err = imageOf(after, t.schema, tr); err != nil {
		return c, nil, fmt.Errorf("after: %w", err)
	}
	return c, announce, nil
}

// sameShape is the fast path of a record whose schema part is the last record's, written
// first as weir's sink and Kafka Connect's JsonConverter write it: that shape, and the
// payload; nil when the record is not so.
func (d *debeziumJSON) sameShape(v []byte) (*dbzShape, []byte) {
	const head, mid = `{"schema":`, `,"payload":`
	if d.last == nil || !bytes.HasPrefix(v, []byte(head)) || !bytes.HasPrefix(v[len(head):], d.last.schema) {
		return nil, nil
	}
	rest := v[len(head)+len(d.last.schema):]
	if !bytes.HasPrefix(rest, []byte(mid)) {
		return nil, nil
	}
	payload := bytes.TrimRight(rest[len(mid):], " \t\r\n")
	if len(payload) < 2 || payload[len(payload)-1] != '}' {
		return nil, nil
	}
	return d.last, payload[:len(payload)-1]
}

// shape returns what a schema part says, decoding it the first time it is seen.
func (d *debeziumJSON) shape(schema []byte) (*dbzShape, error) {
	if sh, ok := d.shapes[string(schema)]; ok {
		return sh, nil
	}
	var env connectField
	if err := json.Unmarshal(schema, &env); err != nil {
		return nil, fmt.Errorf("not debezium-json: its schema: %w", err)
	}
	row := rowStruct(&env)
	if row == nil {
		return nil, errors.New("no schema: write debezium-json with its schema (schemas.enable=true; weir's debezium-json.schema-include)")
	}
	raw, _ := json.Marshal(row)
	cols, err := schemaOf(event.TableID{}, row, nil)
	if err != nil {
		return nil, err
	}
	if len(d.shapes) >= maxShapes {
		clear(d.shapes)
	}
	sh := &dbzShape{schema: bytes.Clone(schema), row: row, raw: string(raw), cols: cols}
	d.shapes[string(schema)] = sh
	return sh, nil
}

// schemaless returns the table of a record without a schema part: of the declared
// columns, else of columns inferred from its image.
func (d *debeziumJSON) schemaless(r *kgo.Record, known map[event.TableID]*table, id event.TableID, before, after []byte) (*table, *event.SchemaChange, error) {
	if d.declared != nil {
		return learn(known, id, "declared", func() (*event.Schema, any, error) {
			s := *d.declared
			s.ID = id
			if len(d.key) == 0 { // the record key's fields
				s.Columns = slices.Clone(s.Columns)
				for i, col := range s.Columns {
					if slices.Contains(keyFields(r.Key), col.Name) {
						s.Key = append(s.Key, i)
						s.Columns[i].Nullable = false
					}
				}
			}
			return &s, d.declaredRow, nil
		})
	}
	img := after
	if img == nil || string(img) == "null" {
		img = before
	}
	var names []string
	obj := map[string]json.RawMessage{}
	if err := members(img, func(name, v []byte) error {
		names = append(names, string(name))
		obj[string(name)] = v
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("no schema, and its image is %w", err)
	}
	return inferTable(known, id, names, obj, d.key, r.Key)
}

// imageAt decodes the image at the start of at (a JSON object, or null) under schema s
// and its row struct, and says how many bytes it took.
func imageAt(at []byte, s *event.Schema, row *connectField) (event.Row, int, error) {
	if bytes.HasPrefix(at, []byte("null")) {
		return nil, 4, nil
	}
	r := make(event.Row, len(s.Columns))
	i := 0
	n, err := object(at, func(name, vat []byte) (int, error) {
		n, err := skipValue(vat, 0)
		if err != nil {
			return 0, err
		}
		k := i
		if k >= len(s.Columns) || s.Columns[k].Name != string(name) {
			if k = s.ColumnIndex(string(name)); k < 0 {
				return n, nil // a field the schema does not name
			}
		}
		i = k + 1
		if r[k], err = value(vat[:n], &row.Fields[k], s.Columns[k].Type); err != nil {
			return 0, fmt.Errorf("column %s: %w", s.Columns[k].Name, err)
		}
		return n, nil
	})
	return r, n, err
}

// imageOf decodes an image (a JSON object, or null) under schema s, whose columns are the
// row struct's fields: found in their order first, by name else. Without a row struct
// (inferred columns) the values are read as JSON's own.
func imageOf(img []byte, s *event.Schema, row *connectField) (event.Row, error) {
	if img == nil || string(img) == "null" {
		return nil, nil
	}
	r := make(event.Row, len(s.Columns))
	i := 0
	err := members(img, func(name, v []byte) error {
		k := i
		if k >= len(s.Columns) || s.Columns[k].Name != string(name) {
			if k = s.ColumnIndex(string(name)); k < 0 {
				return nil // a field the table has not (yet): the schema says which it has
			}
		}
		i = k + 1
		var val event.Value
		var err error
		if row == nil {
			val, err = textValue(v, s.Columns[k].Type, false)
		} else {
			val, err = value(v, &row.Fields[k], s.Columns[k].Type)
		}
		if err != nil {
			return fmt.Errorf("column %s: %w", s.Columns[k].Name, err)
		}
		r[k] = val
		return nil
	})
	return r, err
}
