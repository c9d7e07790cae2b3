// Package avro writes and reads Debezium's changes as Avro with a Confluent-compatible
// schema registry, as Kafka Connect's AvroConverter does: a change's Connect schema (the
// one debezium-json carries) becomes an Avro schema (FromConnect), registered under a
// subject; the record is the magic byte 0, the schema's id (4 bytes, big-endian) and the
// Avro binary encoding of the Connect value (Encode). Reading is the inverse: the schema
// by its id, turned back into a Connect schema (ToConnect), the binary value into
// Connect's JSON (Decode), so that one reader of debezium-json reads both.
package avro

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// connectSchema is a Kafka Connect schema as JsonConverter writes it.
type connectSchema struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name,omitempty"`
	Version    int               `json:"version,omitempty"`
	Field      string            `json:"field,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Default    any               `json:"default,omitempty"`
	Fields     []connectSchema   `json:"fields,omitempty"`
	Items      *connectSchema    `json:"items,omitempty"`
	Keys       *connectSchema    `json:"keys,omitempty"`
	Values     *connectSchema    `json:"values,omitempty"`
}

// FromConnect converts a Connect schema (JSON) to an Avro schema, as AvroConverter does:
// a struct is a record named by its Connect name (namespace and name split at the last
// dot); an optional field a union of null and its type, defaulting to null; int8 and
// int16 are int with connect.type; the logical Decimal, Date, Time and Timestamp are
// Avro's decimal, date, time-millis and timestamp-millis; every named type keeps
// connect.name, connect.version and connect.parameters. Names Avro cannot hold (a dash,
// a leading digit) have those characters made underscores.
func FromConnect(connect []byte) (avro.Schema, error) {
	var c connectSchema
	if err := json.Unmarshal(connect, &c); err != nil {
		return nil, fmt.Errorf("read the Connect schema: %w", err)
	}
	defined := map[string]bool{}
	s, err := avro.Parse(string(mustJSON(fromConnect(&c, defined, true))))
	if err != nil {
		return nil, fmt.Errorf("the Avro schema of Connect schema %s: %w", c.Name, err)
	}
	return s, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// fromConnect is the Avro schema (as JSON-able values) of c; defined holds the record
// names written so far (a second use is by name); top: c is the value itself, not a
// field (its optionality is the union's business).
func fromConnect(c *connectSchema, defined map[string]bool, top bool) any {
	var t map[string]any
	switch c.Type {
	case "struct":
		full := c.Name
		if full == "" {
			full = "io.confluent.connect.avro.ConnectDefault"
		}
		full = cleanName(full, true)
		if defined[full] {
			return full
		}
		defined[full] = true
		ns, name := "", full
		if i := strings.LastIndexByte(full, '.'); i >= 0 {
			ns, name = full[:i], full[i+1:]
		}
		fields := make([]any, 0, len(c.Fields))
		for i := range c.Fields {
			f := &c.Fields[i]
			ft := fromConnect(f, defined, false)
			field := map[string]any{"name": cleanName(f.Field, false), "type": ft}
			if f.Optional {
				field["type"] = []any{"null", ft}
				field["default"] = nil
			}
			fields = append(fields, field)
		}
		t = map[string]any{"type": "record", "name": name, "fields": fields}
		if ns != "" {
			t["namespace"] = ns
		}
	case "array":
		items := any("string")
		if c.Items != nil {
			items = fromConnect(c.Items, defined, false)
			if c.Items.Optional {
				items = []any{"null", items}
			}
		}
		t = map[string]any{"type": "array", "items": items}
	case "map":
		values := any("string")
		if c.Values != nil {
			values = fromConnect(c.Values, defined, false)
			if c.Values.Optional {
				values = []any{"null", values}
			}
		}
		t = map[string]any{"type": "map", "values": values}
	case "int8", "int16":
		t = map[string]any{"type": "int", "connect.type": c.Type}
	case "int32":
		t = map[string]any{"type": "int"}
	case "int64":
		t = map[string]any{"type": "long"}
	case "float32", "float":
		t = map[string]any{"type": "float"}
	case "float64", "double":
		t = map[string]any{"type": "double"}
	default: // boolean, string, bytes
		t = map[string]any{"type": c.Type}
	}
	if c.Type != "struct" && c.Name != "" {
		t["connect.name"] = c.Name
		if c.Version > 0 {
			t["connect.version"] = c.Version
		}
		if len(c.Parameters) > 0 {
			t["connect.parameters"] = c.Parameters
		}
		switch c.Name {
		case "org.apache.kafka.connect.data.Decimal":
			var scale, prec int
			fmt.Sscan(c.Parameters["scale"], &scale)
			prec = 64 // AvroConverter's default when Connect gives none
			if p, ok := c.Parameters["connect.decimal.precision"]; ok {
				fmt.Sscan(p, &prec)
			}
			t["logicalType"], t["precision"], t["scale"] = "decimal", prec, scale
		case "org.apache.kafka.connect.data.Date":
			t["logicalType"] = "date"
		case "org.apache.kafka.connect.data.Time":
			t["logicalType"] = "time-millis"
		case "org.apache.kafka.connect.data.Timestamp":
			t["logicalType"] = "timestamp-millis"
		}
	}
	if c.Type == "struct" && c.Version > 0 {
		t["connect.version"] = c.Version
	}
	if c.Type == "struct" && c.Name != "" {
		t["connect.name"] = c.Name
	}
	return t
}

// cleanName makes a name Avro takes: letters, digits and underscores, not starting with a
// digit (dotted: each part so).
func cleanName(s string, dotted bool) string {
	parts := []string{s}
	if dotted {
		parts = strings.Split(s, ".")
	}
	for i, p := range parts {
		b := []byte(p)
		for j, c := range b {
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && c >= '0' && c <= '9') {
				b[j] = '_'
			}
		}
		if len(b) == 0 {
			b = []byte("_")
		}
		parts[i] = string(b)
	}
	return strings.Join(parts, ".")
}

// ToConnect is the Connect schema (JSON) of an Avro schema, as AvroConverter reads one:
// connect.name, connect.parameters and connect.type where the writer kept them, else the
// Avro type and its logical type (decimal, date, time-millis/micros,
// timestamp-millis/micros, uuid). A union of null and one type is that type, optional;
// an enum is a string; fixed is bytes.
func ToConnect(s avro.Schema) []byte {
	return mustJSON(toConnect(s, ""))
}

func toConnect(s avro.Schema, field string) *connectSchema {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	c := &connectSchema{Field: field}
	if u, ok := s.(*avro.UnionSchema); ok {
		var other []avro.Schema
		for _, t := range u.Types() {
			if t.Type() != avro.Null {
				other = append(other, t)
			}
		}
		if len(other) == 1 {
			c = toConnect(other[0], field)
			c.Optional = c.Optional || len(other) < len(u.Types())
			return c
		}
		c.Type = "string" // a union of several types: rare in change records; its JSON text
		return c
	}
	type propped interface{ Prop(string) any }
	if p, ok := s.(propped); ok {
		if n, ok := p.Prop("connect.name").(string); ok {
			c.Name = n
		}
		if m, ok := p.Prop("connect.parameters").(map[string]any); ok {
			c.Parameters = map[string]string{}
			for k, v := range m {
				c.Parameters[k] = fmt.Sprint(v)
			}
		}
		if v, ok := p.Prop("connect.version").(float64); ok {
			c.Version = int(v)
		}
	}
	switch t := s.(type) {
	case *avro.RecordSchema:
		c.Type = "struct"
		if c.Name == "" {
			c.Name = t.FullName()
		}
		for _, f := range t.Fields() {
			fc := toConnect(f.Type(), f.Name())
			c.Fields = append(c.Fields, *fc)
		}
		return c
	case *avro.ArraySchema:
		c.Type, c.Items = "array", toConnect(t.Items(), "")
		return c
	case *avro.MapSchema:
		c.Type, c.Keys, c.Values = "map", &connectSchema{Type: "string"}, toConnect(t.Values(), "")
		return c
	case *avro.EnumSchema:
		c.Type = "string"
		return c
	case *avro.FixedSchema:
		c.Type = "bytes"
		if l := t.Logical(); l != nil && l.Type() == avro.Decimal {
			d := l.(*avro.DecimalLogicalSchema)
			c.Name = "org.apache.kafka.connect.data.Decimal"
			c.Parameters = map[string]string{"scale": fmt.Sprint(d.Scale()), "connect.decimal.precision": fmt.Sprint(d.Precision())}
		}
		return c
	case *avro.PrimitiveSchema:
		switch t.Type() {
		case avro.Int:
			c.Type = "int32"
			if ct, ok := t.Prop("connect.type").(string); ok {
				c.Type = ct
			}
		case avro.Long:
			c.Type = "int64"
		case avro.Float:
			c.Type = "float"
		case avro.Double:
			c.Type = "double"
		default:
			c.Type = string(t.Type())
		}
		if l := t.Logical(); l != nil && c.Name == "" {
			switch l.Type() {
			case avro.Decimal:
				d := l.(*avro.DecimalLogicalSchema)
				c.Name = "org.apache.kafka.connect.data.Decimal"
				c.Parameters = map[string]string{"scale": fmt.Sprint(d.Scale()), "connect.decimal.precision": fmt.Sprint(d.Precision())}
			case avro.Date:
				c.Name = "org.apache.kafka.connect.data.Date"
			case avro.TimeMillis:
				c.Name = "org.apache.kafka.connect.data.Time"
			case avro.TimeMicros:
				c.Name = "io.debezium.time.MicroTime"
			case avro.TimestampMillis:
				c.Name = "org.apache.kafka.connect.data.Timestamp"
			case avro.TimestampMicros:
				c.Name = "io.debezium.time.MicroTimestamp"
			case avro.UUID:
				c.Name = "io.debezium.data.Uuid"
			}
		}
		if c.Name == "org.apache.kafka.connect.data.Decimal" {
			if l, ok := t.Logical().(*avro.DecimalLogicalSchema); ok && c.Parameters["scale"] == "" {
				c.Parameters = map[string]string{"scale": fmt.Sprint(l.Scale())}
			}
		}
		return c
	}
	c.Type = "string"
	return c
}
