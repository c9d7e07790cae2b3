package avro

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/hamba/avro/v2"

	"github.com/weir-data/weir/internal/event"
)

// Encode appends the Avro binary encoding, under schema s (from FromConnect), of a value
// in Connect's JSON (the payload debezium-json writes): numbers as they are; bytes, and so
// a Decimal's unscaled value, as base64; NaN and ±Infinity as strings.
func Encode(b []byte, s avro.Schema, connectJSON []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(connectJSON))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return b, fmt.Errorf("read the value to encode: %w", err)
	}
	return encode(b, s, v)
}

func encode(b []byte, s avro.Schema, v any) ([]byte, error) {
	switch t := s.(type) {
	case *avro.RefSchema: // a named type used again
		return encode(b, t.Schema(), v)
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return b, fmt.Errorf("record %s: the value is %T, not an object", t.FullName(), v)
		}
		for _, f := range t.Fields() {
			fv, ok := m[f.Name()]
			if !ok { // a name Avro could not hold, made clean (cleanName)
				for k, x := range m {
					if cleanName(k, false) == f.Name() {
						fv = x
						break
					}
				}
			}
			var err error
			if b, err = encode(b, f.Type(), fv); err != nil {
				return b, fmt.Errorf("%s: %w", f.Name(), err)
			}
		}
		return b, nil
	case *avro.UnionSchema:
		for i, u := range t.Types() {
			if (v == nil) == (u.Type() == avro.Null) {
				b = binary.AppendVarint(b, int64(i))
				return encode(b, u, v)
			}
		}
		return b, fmt.Errorf("no branch of the union takes %v", v)
	case *avro.ArraySchema:
		items, ok := v.([]any)
		if !ok {
			return b, fmt.Errorf("an array's value is %T", v)
		}
		if len(items) > 0 {
			b = binary.AppendVarint(b, int64(len(items)))
			for _, it := range items {
				var err error
				if b, err = encode(b, t.Items(), it); err != nil {
					return b, err
				}
			}
		}
		return append(b, 0), nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return b, fmt.Errorf("a map's value is %T", v)
		}
		if len(m) > 0 {
			b = binary.AppendVarint(b, int64(len(m)))
			for k, x := range m {
				b = appendString(b, k)
				var err error
				if b, err = encode(b, t.Values(), x); err != nil {
					return b, err
				}
			}
		}
		return append(b, 0), nil
	}
	switch s.Type() {
	case avro.Null:
		if v != nil {
			return b, fmt.Errorf("%v for null", v)
		}
		return b, nil
	case avro.Boolean:
		x, ok := v.(bool)
		if !ok {
			return b, fmt.Errorf("%v is not a boolean", v)
		}
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case avro.Int, avro.Long:
		n, ok := v.(json.Number)
		if !ok {
			return b, fmt.Errorf("%v is not an integer", v)
		}
		x, err := n.Int64()
		if err != nil {
			return b, err
		}
		return binary.AppendVarint(b, x), nil
	case avro.Float, avro.Double:
		var x float64
		switch n := v.(type) {
		case json.Number:
			var err error
			if x, err = n.Float64(); err != nil {
				return b, err
			}
		case string: // NaN, Infinity, -Infinity
			var err error
			if x, err = strconv.ParseFloat(n, 64); err != nil {
				return b, fmt.Errorf("%q is not a number", n)
			}
		default:
			return b, fmt.Errorf("%v is not a number", v)
		}
		if s.Type() == avro.Float {
			return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(x))), nil
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)), nil
	case avro.Bytes:
		str, ok := v.(string)
		if !ok {
			return b, fmt.Errorf("%v is not base64 bytes", v)
		}
		raw, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return b, err
		}
		b = binary.AppendVarint(b, int64(len(raw)))
		return append(b, raw...), nil
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return b, fmt.Errorf("%v is not a string", v)
		}
		return appendString(b, str), nil
	}
	return b, fmt.Errorf("Avro type %s is not one weir writes", s.Type())
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}

// Decode appends, as Connect's JSON, the value that data holds in Avro binary under
// schema s; rest is what follows it.
func Decode(out []byte, s avro.Schema, data []byte) (_ []byte, rest []byte, err error) {
	r := &reader{b: data}
	out = r.value(out, s)
	return out, r.b, r.err
}

var errShort = errors.New("the Avro value ends early")

type reader struct {
	b   []byte
	err error
}

func (r *reader) long() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) take(n int64) []byte {
	if n < 0 || n > int64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	x := r.b[:n]
	r.b = r.b[n:]
	return x
}

func (r *reader) value(out []byte, s avro.Schema) []byte {
	if r.err != nil {
		return out
	}
	switch t := s.(type) {
	case *avro.RefSchema:
		return r.value(out, t.Schema())
	case *avro.RecordSchema:
		out = append(out, '{')
		for i, f := range t.Fields() {
			if i > 0 {
				out = append(out, ',')
			}
			out = event.AppendJSONString(out, f.Name())
			out = append(out, ':')
			out = r.value(out, f.Type())
		}
		return append(out, '}')
	case *avro.UnionSchema:
		i := r.long()
		if i < 0 || int(i) >= len(t.Types()) {
			r.fail(fmt.Errorf("union branch %d of %d", i, len(t.Types())))
			return out
		}
		return r.value(out, t.Types()[i])
	case *avro.ArraySchema:
		out = append(out, '[')
		first := true
		r.blocks(func() {
			if !first {
				out = append(out, ',')
			}
			first = false
			out = r.value(out, t.Items())
		})
		return append(out, ']')
	case *avro.MapSchema:
		out = append(out, '{')
		first := true
		r.blocks(func() {
			if !first {
				out = append(out, ',')
			}
			first = false
			out = event.AppendJSONString(out, string(r.take(r.long())))
			out = append(out, ':')
			out = r.value(out, t.Values())
		})
		return append(out, '}')
	case *avro.EnumSchema:
		i := r.long()
		if i < 0 || int(i) >= len(t.Symbols()) {
			r.fail(fmt.Errorf("enum symbol %d of %d", i, len(t.Symbols())))
			return out
		}
		return event.AppendJSONString(out, t.Symbols()[i])
	case *avro.FixedSchema:
		return appendBase64(out, r.take(int64(t.Size())))
	}
	switch s.Type() {
	case avro.Null:
		return append(out, "null"...)
	case avro.Boolean:
		x := r.take(1)
		if len(x) == 1 && x[0] != 0 {
			return append(out, "true"...)
		}
		return append(out, "false"...)
	case avro.Int, avro.Long:
		return strconv.AppendInt(out, r.long(), 10)
	case avro.Float:
		x := r.take(4)
		if len(x) < 4 {
			return out
		}
		return appendFloat(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(x))), 32)
	case avro.Double:
		x := r.take(8)
		if len(x) < 8 {
			return out
		}
		return appendFloat(out, math.Float64frombits(binary.LittleEndian.Uint64(x)), 64)
	case avro.Bytes:
		return appendBase64(out, r.take(r.long()))
	case avro.String:
		return event.AppendJSONString(out, string(r.take(r.long())))
	}
	r.fail(fmt.Errorf("Avro type %s", s.Type()))
	return out
}

// blocks reads an array's or map's blocks, calling item for each item.
func (r *reader) blocks(item func()) {
	for r.err == nil {
		n := r.long()
		if n == 0 {
			return
		}
		if n < 0 { // a block with its size in bytes
			n = -n
			r.long()
		}
		for ; n > 0 && r.err == nil; n-- {
			item()
		}
	}
}

func appendBase64(out, raw []byte) []byte {
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, raw)
	return append(out, '"')
}

func appendFloat(out []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(out, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(out, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(out, `"-Infinity"`...)
	}
	return strconv.AppendFloat(out, f, 'g', -1, bits)
}
