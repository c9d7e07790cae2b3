package event

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/weir-data/weir/internal/types"
)

// Rep is how a Value holds its data in memory. Several unified type kinds share a Rep:
// an int32 and an int64 column both hold RepInt. The column's types.Type says what it means.
type Rep uint8

// The value representations.
const (
	RepNull      Rep = iota // SQL NULL
	RepBool                 // n: 0 or 1
	RepInt                  // n: int64 bits
	RepUint                 // n: uint64
	RepFloat                // n: float64 bits
	RepDecimal              // s: decimal text, exact ("-12.50")
	RepString               // s: UTF-8 text
	RepBytes                // s: raw bytes
	RepDate                 // n: days since 1970-01-01 (int64 bits)
	RepTime                 // n: microseconds since midnight (int64 bits, may be negative)
	RepTimestamp            // n: microseconds since 1970-01-01T00:00:00 (int64 bits)
	RepJSON                 // s: JSON text
	RepUnchanged            // the source did not send this value (unchanged TOAST): keep the target's
)

// Value is one column value. It is 32 bytes, holds numbers and times without allocating,
// and shares string data with whatever produced it. The zero Value is NULL.
type Value struct {
	n   uint64
	s   string
	rep Rep
}

// Constructors. None of them allocates.

func Null() Value             { return Value{} }
func Unchanged() Value        { return Value{rep: RepUnchanged} }
func Int(v int64) Value       { return Value{rep: RepInt, n: uint64(v)} }
func Uint(v uint64) Value     { return Value{rep: RepUint, n: v} }
func Float(v float64) Value   { return Value{rep: RepFloat, n: math.Float64bits(v)} }
func Decimal(s string) Value  { return Value{rep: RepDecimal, s: s} }
func String(s string) Value   { return Value{rep: RepString, s: s} }
func JSON(s string) Value     { return Value{rep: RepJSON, s: s} }
func Date(days int64) Value   { return Value{rep: RepDate, n: uint64(days)} }
func Time(micros int64) Value { return Value{rep: RepTime, n: uint64(micros)} }

// Bytes wraps b; the Value shares no memory with b (one copy).
func Bytes(b []byte) Value { return Value{rep: RepBytes, s: string(b)} }

// BytesString wraps bytes already held in a string, without copying.
func BytesString(s string) Value { return Value{rep: RepBytes, s: s} }

// Bool returns a boolean Value.
func Bool(v bool) Value {
	if v {
		return Value{rep: RepBool, n: 1}
	}
	return Value{rep: RepBool}
}

// PosInfinity and NegInfinity stand for PostgreSQL's ±infinity in a Date's days and a
// Timestamp's microseconds.
const (
	PosInfinity = math.MaxInt64
	NegInfinity = math.MinInt64
)

// Timestamp holds micros since the epoch (a wall clock or an instant, per the column type).
func Timestamp(micros int64) Value { return Value{rep: RepTimestamp, n: uint64(micros)} }

// TimestampOf converts t to a Timestamp value with microsecond precision.
func TimestampOf(t time.Time) Value { return Timestamp(t.UnixMicro()) }

// Accessors. Each returns the zero of its type when the representation differs.

func (v Value) Rep() Rep           { return v.rep }
func (v Value) IsNull() bool       { return v.rep == RepNull }
func (v Value) Bool() bool         { return v.rep == RepBool && v.n != 0 }
func (v Value) Int() int64         { return int64(v.n) }
func (v Value) Uint() uint64       { return v.n }
func (v Value) Float() float64     { return math.Float64frombits(v.n) }
func (v Value) Str() string        { return v.s }
func (v Value) Micros() int64      { return int64(v.n) }
func (v Value) Days() int64        { return int64(v.n) }
func (v Value) Time() time.Time    { return time.UnixMicro(int64(v.n)).UTC() }
func (v Value) Equal(o Value) bool { return v == o }

// Size is an estimate of the memory the value holds, used for byte-bounded queues.
func (v Value) Size() int { return 32 + len(v.s) }

// AppendKey appends a stable binary encoding of v, used for key hashing and comparison of
// keys (a key equal in two rows encodes to equal bytes).
func (v Value) AppendKey(b []byte) []byte {
	b = append(b, byte(v.rep))
	switch v.rep {
	case RepNull, RepUnchanged:
		return b
	case RepDecimal, RepString, RepBytes, RepJSON:
		b = binary.AppendUvarint(b, uint64(len(v.s)))
		return append(b, v.s...)
	}
	return binary.BigEndian.AppendUint64(b, v.n)
}

// String renders v for messages and logs (never for data exchange).
func (v Value) String() string {
	switch v.rep {
	case RepNull:
		return "NULL"
	case RepUnchanged:
		return "<unchanged>"
	case RepBool:
		return strconv.FormatBool(v.Bool())
	case RepInt:
		return strconv.FormatInt(v.Int(), 10)
	case RepUint:
		return strconv.FormatUint(v.n, 10)
	case RepFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case RepDate:
		return time.Unix(v.Days()*86400, 0).UTC().Format(time.DateOnly)
	case RepTime:
		return string(appendTime(nil, v.Micros()))
	case RepTimestamp:
		return v.Time().Format("2006-01-02T15:04:05.999999")
	}
	return v.s
}

// RepOf is the representation a column of type kind k holds.
func RepOf(k types.Kind) Rep {
	switch k {
	case types.Boolean:
		return RepBool
	case types.Int8, types.Int16, types.Int32, types.Int64:
		return RepInt
	case types.Uint64:
		return RepUint
	case types.Float32, types.Float64:
		return RepFloat
	case types.Decimal:
		return RepDecimal
	case types.Bytes:
		return RepBytes
	case types.Date:
		return RepDate
	case types.Time:
		return RepTime
	case types.Timestamp, types.TimestampLTZ:
		return RepTimestamp
	case types.JSON, types.Array:
		return RepJSON
	}
	return RepString
}

func appendTime(b []byte, micros int64) []byte {
	if micros < 0 {
		b = append(b, '-')
		micros = -micros
	}
	h := micros / 3_600_000_000
	m := micros / 60_000_000 % 60
	s := micros / 1_000_000 % 60
	us := micros % 1_000_000
	if h < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, h, 10)
	b = append(b, ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	if us != 0 {
		b = append(b, '.')
		var d [6]byte
		for i := 5; i >= 0; i-- {
			d[i] = byte('0' + us%10)
			us /= 10
		}
		b = append(b, d[:]...)
	}
	return b
}
