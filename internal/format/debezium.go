package format

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// debezium-json, as Debezium's MySQL and PostgreSQL connectors write a change at their
// defaults (time.precision.mode adaptive_time_microseconds for MySQL, adaptive for
// PostgreSQL; decimal.handling.mode precise; bigint.unsigned.handling.mode long), through
// Kafka Connect's JsonConverter (schemas.enable true unless Options.NoSchema):
//
//	{"schema":{…Envelope…},"payload":{"before":…,"after":…,"source":{…},"op":"c",
//	 "ts_ms":…,"transaction":null}}
//
// Column values by the type Debezium gives them (debeziumType):
//
//	boolean                 boolean
//	int8, int16             int16 (MySQL's TINYINT and SMALLINT)
//	int32, int64            int32, int64; uint64 as int64 (long mode: above 2^63 wraps)
//	YEAR                    int32 io.debezium.time.Year
//	float32, float64        float, double
//	decimal                 bytes org.apache.kafka.connect.data.Decimal: base64 of the
//	                        unscaled value, two's complement, big-endian
//	string, enum, set, uuid string (io.debezium.data.Enum / EnumSet / Uuid)
//	bytes                   bytes: base64 (BIT(n>1): io.debezium.data.Bits)
//	date                    int32 io.debezium.time.Date: days since the epoch
//	time                    int64 io.debezium.time.MicroTime (PostgreSQL TIME(0-3):
//	                        int32 io.debezium.time.Time, milliseconds)
//	timestamp               int64 io.debezium.time.Timestamp (ms, precision 0-3) or
//	                        MicroTimestamp (µs, 4-6)
//	timestamp_ltz           string io.debezium.time.ZonedTimestamp, ISO 8601 in UTC
//	±infinity (PostgreSQL)  the integer type's ends; "infinity" in a ZonedTimestamp;
//	                        a decimal's NaN and ±Infinity are null (no Decimal holds them)
//	json                    string io.debezium.data.Json
//	array                   array of the element's type
//
// A value the source did not send (unchanged TOAST) is __debezium_unavailable_value, shaped
// for its column as Debezium shapes it (appendUnavailable).
//
// source: MySQL's version, connector "mysql", name, ts_ms, snapshot (snapshotValue), db, sequence, table, server_id, gtid, file, pos, row, thread,
// query; PostgreSQL's version, connector "postgresql", name, ts_ms, snapshot, db,
// sequence, schema, table, txId, lsn, xmin. What weir does not know (server_id, thread,
// query, txId, xmin) is 0 or null, as Debezium writes it when it does not know either.
func (w *Writer) appendDebezium(b []byte, c *event.Change, now int64) []byte {
	if !w.o.NoSchema {
		b = append(b, `{"schema":`...)
		b = append(b, w.debeziumSchema(c.Schema)...)
		b = append(b, `,"payload":`...)
	}
	b = append(b, `{"before":`...)
	b = w.debeziumImage(b, c.Schema, c.Before)
	b = append(b, `,"after":`...)
	b = w.debeziumImage(b, c.Schema, c.After)
	b = append(b, `,"source":`...)
	b = w.debeziumSource(b, c)
	b = append(b, `,"op":"`...)
	b = append(b, c.Op.Letter()...)
	b = append(b, `","ts_ms":`...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, `,"transaction":`...)
	b = w.debeziumTransaction(b, c)
	b = append(b, '}')
	if !w.o.NoSchema {
		b = append(b, '}')
	}
	return b
}

const unavailable = "__debezium_unavailable_value"

// appendUnavailable appends the placeholder of a value the source did not send (unchanged
// TOAST), shaped as Debezium's PostgreSQL connector shapes it for the column's type: the
// text in a string; its bytes in bytes; a one-element array of either in an array of
// them; an array of its bytes in an array of integers.
func (w *Writer) appendUnavailable(b []byte, col *event.Column) []byte {
	typ, _, _ := w.debeziumType(col)
	switch typ {
	case "bytes":
		return event.AppendJSONString(b, base64.StdEncoding.EncodeToString([]byte(unavailable)))
	case "array":
		elem := event.Column{Type: types.Type{Kind: types.String}}
		if col.Type.Elem != nil {
			elem.Type = *col.Type.Elem
		}
		switch et, _, _ := w.debeziumType(&elem); et {
		case "int8", "int16", "int32", "int64":
			b = append(b, '[')
			for i := range len(unavailable) {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(unavailable[i]), 10)
			}
			return append(b, ']')
		default:
			b = append(b, '[')
			b = w.appendUnavailable(b, &elem)
			return append(b, ']')
		}
	}
	return event.AppendJSONString(b, unavailable)
}

// snapshotValue is source.snapshot: "false" for the stream's changes; for snapshot reads
// the mark the engine set, by Debezium's precedence (last, first, last of its table, first
// of its table) or "true".
func snapshotValue(c *event.Change) string {
	m := c.Mark
	switch {
	case c.Op != event.OpRead:
		return "false"
	case m&event.LastInSnapshot != 0:
		return "last"
	case m&event.FirstInSnapshot != 0:
		return "first"
	case m&event.LastInTable != 0:
		return "last_in_data_collection"
	case m&event.FirstInTable != 0:
		return "first_in_data_collection"
	}
	return "true"
}

// debeziumTransaction appends the transaction block: null unless Options.Transactions
// (Debezium's provide.transaction.metadata), and null for snapshot reads, as Debezium
// writes them. id is the transaction's place in the source's log: MySQL's GTID (or
// binlog file@position where GTIDs are off), PostgreSQL's commit LSN (Debezium writes
// txId:LSN there; weir does not read the transaction id). total_order is the change's
// place among the transaction's changes, data_collection_order among its table's.
func (w *Writer) debeziumTransaction(b []byte, c *event.Change) []byte {
	if !w.o.Transactions || c.Op == event.OpRead || c.Pos.Log == "" {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = event.AppendJSONString(b, c.Pos.Log)
	b = append(b, `,"total_order":`...)
	b = strconv.AppendUint(b, c.Pos.Off+1, 10)
	b = append(b, `,"data_collection_order":`...)
	b = strconv.AppendUint(b, uint64(c.TableSeq), 10)
	return append(b, '}')
}

func (w *Writer) debeziumImage(b []byte, s *event.Schema, r event.Row) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, col := range s.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendJSONString(b, col.Name)
		b = append(b, ':')
		var v event.Value
		if i < len(r) {
			v = r[i]
		}
		b = w.debeziumValue(b, v, &s.Columns[i])
	}
	return append(b, '}')
}

// debeziumValue appends v as Debezium writes a value of col.
func (w *Writer) debeziumValue(b []byte, v event.Value, col *event.Column) []byte {
	switch v.Rep() {
	case event.RepNull:
		return append(b, "null"...)
	case event.RepUnchanged:
		return w.appendUnavailable(b, col)
	}
	t := col.Type
	switch {
	case t.Kind == types.Decimal && w.o.DecimalMode == "string" || t.Kind == types.Uint64 && w.o.UnsignedMode == "precise" && w.o.DecimalMode == "string":
		return event.AppendJSONString(b, v.String())
	case t.Kind == types.Decimal && w.o.DecimalMode == "double":
		f, err := strconv.ParseFloat(v.Str(), 64)
		if err != nil {
			return event.AppendJSONString(b, v.Str()) // NaN, Infinity: JsonConverter writes them as strings
		}
		return event.AppendJSONValue(b, event.Float(f), types.Float64)
	case t.Kind == types.Uint64 && w.o.UnsignedMode == "precise":
		return appendDecimalBytes(b, v.String(), 0)
	case w.connectTime() && t.Kind == types.Time:
		return strconv.AppendInt(b, floorDiv(v.Micros(), 1000), 10)
	case w.connectTime() && t.Kind == types.Timestamp && v.Rep() == event.RepTimestamp && !infinite(v):
		return strconv.AppendInt(b, floorDiv(v.Micros(), 1000), 10)
	case t.Kind == types.Decimal && !isDecimalNumber(v.Str()):
		return append(b, "null"...) // NaN, ±Infinity: no Decimal holds them; Debezium writes null too
	case w.variableScale(col) && v.Rep() == event.RepDecimal:
		scale := 0
		if _, frac, ok := strings.Cut(v.Str(), "."); ok {
			scale = len(frac)
		}
		b = append(b, `{"scale":`...)
		b = strconv.AppendInt(b, int64(scale), 10)
		b = append(b, `,"value":`...)
		b = appendDecimalBytes(b, v.Str(), scale)
		return append(b, '}')
	case w.interval(col) && v.Rep() == event.RepString:
		if us, ok := microDuration(v.Str()); ok {
			return strconv.AppendInt(b, us, 10)
		}
	}
	switch t.Kind {
	case types.Decimal:
		return appendDecimalBytes(b, v.Str(), t.Scale)
	case types.Uint64:
		return strconv.AppendInt(b, int64(v.Uint()), 10) // long mode: wraps above 2^63
	case types.Date:
		switch {
		case v.Micros() == event.PosInfinity: // PostgreSQL's infinity: the type's ends
			return strconv.AppendInt(b, math.MaxInt32, 10)
		case v.Micros() == event.NegInfinity:
			return strconv.AppendInt(b, math.MinInt32, 10)
		case v.Rep() == event.RepDate:
			return strconv.AppendInt(b, v.Days(), 10)
		}
	case types.Time:
		if w.millisTime(t) {
			return strconv.AppendInt(b, v.Micros()/1000, 10)
		}
		return strconv.AppendInt(b, v.Micros(), 10)
	case types.Timestamp:
		switch v.Micros() {
		case event.PosInfinity:
			return strconv.AppendInt(b, math.MaxInt64, 10)
		case event.NegInfinity:
			return strconv.AppendInt(b, math.MinInt64, 10)
		}
		if v.Rep() == event.RepTimestamp {
			if t.Precision <= 3 {
				return strconv.AppendInt(b, floorDiv(v.Micros(), 1000), 10)
			}
			return strconv.AppendInt(b, v.Micros(), 10)
		}
	case types.TimestampLTZ:
		if v.Rep() == event.RepTimestamp && !infinite(v) {
			b = append(b, '"')
			b = event.AppendDateTime(b, v.Micros())
			return append(b, `Z"`...)
		}
	case types.JSON:
		return event.AppendJSONString(b, v.Str())
	case types.Array:
		return appendFlatArray(b, v.Str()) // Connect's arrays have one dimension
	case types.Float32, types.Float64:
		if f := v.Float(); v.Rep() == event.RepFloat && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return event.AppendJSONValue(b, v, t.Kind) // "NaN", "Infinity": as JsonConverter writes them
		}
	}
	return event.AppendJSONValue(b, v, t.Kind)
}

func infinite(v event.Value) bool {
	return v.Micros() == event.PosInfinity || v.Micros() == event.NegInfinity
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendDecimalBytes appends decimal text as Connect's Decimal in JSON: the base64 of the
// unscaled value at scale, two's complement, big-endian, in the fewest bytes.
func appendDecimalBytes(b []byte, text string, scale int) []byte {
	neg := strings.HasPrefix(text, "-")
	text = strings.TrimLeft(text, "+-")
	whole, frac, _ := strings.Cut(text, ".")
	if len(frac) < scale {
		frac += strings.Repeat("0", scale-len(frac))
	} else {
		frac = frac[:scale]
	}
	n, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		return event.AppendJSONString(b, text) // NaN, Infinity: not a number Connect can hold
	}
	if neg {
		n.Neg(n)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, twosComplement(n))
	return append(b, '"')
}

// twosComplement is n in two's complement, big-endian, in the fewest bytes (as Java's
// BigInteger.toByteArray).
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		raw := n.Bytes()
		if len(raw) == 0 || raw[0]&0x80 != 0 {
			raw = append([]byte{0}, raw...)
		}
		return raw
	}
	// -n = ^(n-1): the bytes of |n|-1, inverted, with a sign bit set.
	m := new(big.Int).Sub(new(big.Int).Neg(n), big.NewInt(1))
	raw := m.Bytes()
	if len(raw) == 0 || raw[0]&0x80 != 0 {
		raw = append([]byte{0}, raw...)
	}
	for i := range raw {
		raw[i] = ^raw[i]
	}
	return raw
}

func (w *Writer) debeziumSource(b []byte, c *event.Change) []byte {
	id := c.Schema.ID
	b = append(b, `{"version":`...)
	b = event.AppendJSONString(b, w.version)
	b = append(b, `,"connector":`...)
	if w.postgres() {
		b = append(b, `"postgresql"`...)
	} else {
		b = append(b, `"mysql"`...)
	}
	b = append(b, `,"name":`...)
	b = event.AppendJSONString(b, w.o.Name)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, c.CommitMicros/1000, 10)
	b = append(b, `,"snapshot":"`...)
	b = append(b, snapshotValue(c)...)
	b = append(b, '"')
	b = append(b, `,"db":`...)
	b = event.AppendJSONString(b, database(id))
	b = append(b, `,"sequence":null`...)
	if w.postgres() {
		b = append(b, `,"schema":`...)
		b = event.AppendJSONString(b, id.Schema)
		b = append(b, `,"table":`...)
		b = event.AppendJSONString(b, id.Table)
		b = append(b, `,"txId":null,"lsn":`...)
		if lsn, ok := parseLSN(c.Pos.Log); ok {
			b = strconv.AppendUint(b, lsn, 10)
		} else {
			b = append(b, "null"...)
		}
		return append(b, `,"xmin":null}`...)
	}
	b = append(b, `,"table":`...)
	b = event.AppendJSONString(b, id.Table)
	b = append(b, `,"server_id":0,"gtid":`...)
	file, pos, isFile := strings.Cut(c.Pos.Log, "@") // "file@pos" without GTIDs, else the GTID
	if isFile || c.Pos.Log == "" {
		b = append(b, "null"...)
	} else {
		b = event.AppendJSONString(b, c.Pos.Log)
	}
	b = append(b, `,"file":`...)
	b = event.AppendJSONString(b, file)
	b = append(b, `,"pos":`...)
	if p, err := strconv.ParseInt(pos, 10, 64); isFile && err == nil {
		b = strconv.AppendInt(b, p, 10)
	} else {
		b = append(b, '0')
	}
	b = append(b, `,"row":`...)
	b = strconv.AppendUint(b, c.Pos.Off, 10)
	return append(b, `,"thread":null,"query":null}`...)
}

// parseLSN reads PostgreSQL's X/Y text as the number Debezium writes.
func parseLSN(s string) (uint64, bool) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, false
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	return h<<32 | l, err1 == nil && err2 == nil
}

// debeziumSchema is the Connect schema of a change of table schema s (cached).
func (w *Writer) debeziumSchema(s *event.Schema) []byte {
	if b, ok := w.dbz[s]; ok {
		return b
	}
	prefix := w.topicPrefix(s.ID)
	row := func(field string) []byte {
		b := []byte(`{"type":"struct","fields":[`)
		for i := range s.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = w.fieldSchema(b, &s.Columns[i], s.Columns[i].Name)
		}
		b = append(b, `],"optional":true,"name":`...)
		b = event.AppendJSONString(b, prefix+".Value")
		b = append(b, `,"field":`...)
		b = event.AppendJSONString(b, field)
		return append(b, '}')
	}
	var b []byte
	b = append(b, `{"type":"struct","fields":[`...)
	b = append(b, row("before")...)
	b = append(b, ',')
	b = append(b, row("after")...)
	b = append(b, ',')
	b = append(b, w.sourceSchema()...)
	b = append(b, `,{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},`...)
	b = append(b, transactionSchema...)
	b = append(b, `],"optional":false,"name":`...)
	b = event.AppendJSONString(b, prefix+".Envelope")
	b = append(b, `,"version":1}`...)
	w.dbz[s] = b
	return b
}

// topicPrefix is the name Debezium gives a table's records: server.db.table (PostgreSQL:
// server.db.schema.table).
func (w *Writer) topicPrefix(id event.TableID) string {
	prefix := w.o.Name + "." + database(id) + "."
	if id.Namespace != "" {
		prefix += id.Schema + "."
	}
	return prefix + id.Table
}

// fieldSchema appends the Connect schema of column col (debeziumType).
func (w *Writer) fieldSchema(b []byte, col *event.Column, field string) []byte {
	typ, name, params := w.debeziumType(col)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if typ == "struct" { // VariableScaleDecimal
		b = append(b, `,"fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}]`...)
	}
	if typ == "array" {
		elem := event.Column{Name: "", Type: types.Type{Kind: types.String}, Nullable: true}
		if col.Type.Elem != nil {
			elem.Type = *col.Type.Elem
		}
		b = append(b, `,"items":`...)
		b = w.fieldSchema(b, &elem, "")
	}
	b = append(b, `,"optional":`...)
	b = strconv.AppendBool(b, col.Nullable)
	if name != "" {
		b = append(b, `,"name":`...)
		b = event.AppendJSONString(b, name)
		b = append(b, `,"version":1`...)
	}
	if len(params) > 0 {
		b = append(b, `,"parameters":{`...)
		for i := 0; i+1 < len(params); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = event.AppendJSONString(b, params[i])
			b = append(b, ':')
			b = event.AppendJSONString(b, params[i+1])
		}
		b = append(b, '}')
	}
	if field != "" {
		b = append(b, `,"field":`...)
		b = event.AppendJSONString(b, field)
	}
	return append(b, '}')
}

// debeziumType is the Connect type, logical name and parameters Debezium gives a column
// (see the table at the top of this file).
func (w *Writer) debeziumType(col *event.Column) (typ, name string, params []string) {
	t := col.Type
	src := strings.ToLower(col.SourceType)
	switch {
	case t.Kind == types.Decimal && w.o.DecimalMode == "string":
		return "string", "", nil
	case t.Kind == types.Decimal && w.o.DecimalMode == "double":
		return "double", "", nil
	case t.Kind == types.Uint64 && w.o.UnsignedMode == "precise":
		return "bytes", "org.apache.kafka.connect.data.Decimal", []string{"scale", "0", "connect.decimal.precision", "20"}
	case w.connectTime() && t.Kind == types.Date:
		return "int32", "org.apache.kafka.connect.data.Date", nil
	case w.connectTime() && t.Kind == types.Time:
		return "int32", "org.apache.kafka.connect.data.Time", nil
	case w.connectTime() && t.Kind == types.Timestamp:
		return "int64", "org.apache.kafka.connect.data.Timestamp", nil
	case w.variableScale(col):
		return "struct", "io.debezium.data.VariableScaleDecimal", nil
	case w.interval(col):
		return "int64", "io.debezium.time.MicroDuration", nil
	}
	switch t.Kind {
	case types.Boolean:
		return "boolean", "", nil
	case types.Int8, types.Int16:
		if strings.HasPrefix(src, "year") {
			return "int32", "io.debezium.time.Year", nil
		}
		return "int16", "", nil
	case types.Int32:
		return "int32", "", nil
	case types.Int64, types.Uint64:
		return "int64", "", nil
	case types.Float32:
		return "float", "", nil
	case types.Float64:
		return "double", "", nil
	case types.Decimal:
		params = []string{"scale", strconv.Itoa(t.Scale)}
		if t.Precision > 0 {
			params = append(params, "connect.decimal.precision", strconv.Itoa(t.Precision))
		}
		return "bytes", "org.apache.kafka.connect.data.Decimal", params
	case types.Bytes:
		if strings.HasPrefix(src, "bit") {
			return "bytes", "io.debezium.data.Bits", []string{"length", strconv.Itoa(bitLength(src))}
		}
		return "bytes", "", nil
	case types.Date:
		return "int32", "io.debezium.time.Date", nil
	case types.Time:
		if w.millisTime(t) {
			return "int32", "io.debezium.time.Time", nil
		}
		return "int64", "io.debezium.time.MicroTime", nil
	case types.Timestamp:
		if t.Precision <= 3 {
			return "int64", "io.debezium.time.Timestamp", nil
		}
		return "int64", "io.debezium.time.MicroTimestamp", nil
	case types.TimestampLTZ:
		return "string", "io.debezium.time.ZonedTimestamp", nil
	case types.JSON:
		return "string", "io.debezium.data.Json", nil
	case types.UUID:
		return "string", "io.debezium.data.Uuid", nil
	case types.Enum:
		return "string", "io.debezium.data.Enum", []string{"allowed", strings.Join(t.Values, ",")}
	case types.Set:
		return "string", "io.debezium.data.EnumSet", []string{"allowed", strings.Join(t.Values, ",")}
	case types.Array:
		return "array", "", nil
	}
	return "string", "", nil
}

// bitLength is n of "bit(n)".
func bitLength(src string) int {
	open, close := strings.IndexByte(src, '('), strings.IndexByte(src, ')')
	if open < 0 || close < open {
		return 1
	}
	n, _ := strconv.Atoi(src[open+1 : close])
	return n
}

// sourceSchema is the Connect schema of the source block.
func (w *Writer) sourceSchema() []byte {
	fields := []string{`{"type":"string","optional":false,"field":"version"}`, `{"type":"string","optional":false,"field":"connector"}`,
		`{"type":"string","optional":false,"field":"name"}`, `{"type":"int64","optional":false,"field":"ts_ms"}`,
		`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"}`,
		`{"type":"string","optional":false,"field":"db"}`, `{"type":"string","optional":true,"field":"sequence"}`}
	name := "io.debezium.connector.mysql.Source"
	if w.postgres() {
		name = "io.debezium.connector.postgresql.Source"
		fields = append(fields, `{"type":"string","optional":false,"field":"schema"}`, `{"type":"string","optional":false,"field":"table"}`,
			`{"type":"int64","optional":true,"field":"txId"}`, `{"type":"int64","optional":true,"field":"lsn"}`, `{"type":"int64","optional":true,"field":"xmin"}`)
	} else {
		fields = append(fields, `{"type":"string","optional":true,"field":"table"}`, `{"type":"int64","optional":false,"field":"server_id"}`,
			`{"type":"string","optional":true,"field":"gtid"}`, `{"type":"string","optional":false,"field":"file"}`,
			`{"type":"int64","optional":false,"field":"pos"}`, `{"type":"int32","optional":false,"field":"row"}`,
			`{"type":"int64","optional":true,"field":"thread"}`, `{"type":"string","optional":true,"field":"query"}`)
	}
	return []byte(`{"type":"struct","fields":[` + strings.Join(fields, ",") + `],"optional":false,"name":"` + name + `","field":"source"}`)
}

// transactionSchema is the Connect schema of the (optional) transaction block.
const transactionSchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},` +
	`{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],` +
	`"optional":true,"name":"event.block","version":1,"field":"transaction"}`

// variableScale reports whether col is PostgreSQL's NUMERIC without a precision, which
// Debezium writes as a VariableScaleDecimal: {"scale": s, "value": unscaled bytes}.
func (w *Writer) variableScale(col *event.Column) bool {
	return w.postgres() && col.Type.Kind == types.Decimal && col.Type.Precision == 0 && !strings.HasPrefix(col.SourceType, "money")
}

// interval reports whether col is PostgreSQL's INTERVAL, which Debezium writes as a
// MicroDuration (interval.handling.mode numeric).
func (w *Writer) interval(col *event.Column) bool {
	return w.postgres() && strings.HasPrefix(strings.ToLower(col.SourceType), "interval")
}

// microDuration is an ISO 8601 duration (P1Y2M3DT4H5M6.5S, as weir writes an interval)
// in microseconds as Debezium counts them: a month is 365.25/12 days.
func microDuration(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if !strings.HasPrefix(s, "P") {
		return 0, false
	}
	var total float64
	inTime := false
	num := ""
	for _, r := range s[1:] {
		switch {
		case r == 'T':
			inTime = true
		case r >= '0' && r <= '9' || r == '.' || r == '-':
			num += string(r)
		default:
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, false
			}
			num = ""
			switch {
			case r == 'Y':
				total += n * 365.25 * 86400
			case r == 'M' && !inTime:
				total += n * 365.25 / 12 * 86400
			case r == 'W':
				total += n * 7 * 86400
			case r == 'D':
				total += n * 86400
			case r == 'H':
				total += n * 3600
			case r == 'M':
				total += n * 60
			case r == 'S':
				total += n
			default:
				return 0, false
			}
		}
	}
	us := int64(math.Round(total * 1e6))
	if neg {
		us = -us
	}
	return us, true
}

// isDecimalNumber reports whether decimal text is a number (not NaN or ±Infinity).
func isDecimalNumber(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == '.')
}

// appendFlatArray appends an array value (JSON of nested arrays) flattened in row-major
// order: Connect's arrays have one dimension, so a PostgreSQL int[][] {{1,2},{3,4}} is
// written [1,2,3,4].
func appendFlatArray(b []byte, doc string) []byte {
	if !strings.Contains(strings.TrimSpace(doc)[1:], "[") {
		return append(b, doc...)
	}
	var v any
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return append(b, doc...)
	}
	var flat []any
	var walk func(x any)
	walk = func(x any) {
		if xs, ok := x.([]any); ok {
			for _, e := range xs {
				walk(e)
			}
			return
		}
		flat = append(flat, x)
	}
	walk(v)
	if flat == nil {
		flat = []any{}
	}
	out, _ := json.Marshal(flat)
	return append(b, out...)
}

// timeMode is the time.precision.mode in force: the option, else the connector's default.
func (w *Writer) timeMode() string {
	switch {
	case w.o.TimeMode != "":
		return w.o.TimeMode
	case w.postgres():
		return "adaptive"
	}
	return "adaptive_time_microseconds"
}

func (w *Writer) connectTime() bool { return w.timeMode() == "connect" }

// millisTime reports whether a TIME of type t is written in milliseconds
// (io.debezium.time.Time): in adaptive mode, for 0 to 3 fractional digits.
func (w *Writer) millisTime(t types.Type) bool {
	return w.timeMode() == "adaptive" && t.Precision <= 3
}

// AppendDebeziumSchemaChange appends schema change c as Debezium writes it on its schema
// change topic (the payload; its key is DebeziumSchemaChangeKey): source, databaseName,
// schemaName, ddl and tableChanges, each table change with its type (CREATE, ALTER,
// DROP), id and the table's columns and primary key after the change.
func (w *Writer) AppendDebeziumSchemaChange(b []byte, c *event.SchemaChange, now int64) []byte {
	id := c.Table
	b = append(b, `{"source":`...)
	b = w.debeziumSource(b, &event.Change{Op: event.OpUpdate, Schema: &event.Schema{ID: id}, Pos: c.Pos, CommitMicros: now * 1000})
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, `,"databaseName":`...)
	b = event.AppendJSONString(b, database(id))
	b = append(b, `,"schemaName":`...)
	if w.postgres() {
		b = event.AppendJSONString(b, id.Schema)
	} else {
		b = append(b, "null"...)
	}
	ddl := c.DDL
	if ddl == "" {
		ddl = c.String()
	}
	b = append(b, `,"ddl":`...)
	b = event.AppendJSONString(b, ddl)
	kind := "ALTER"
	switch c.Kind {
	case event.CreateTable:
		kind = "CREATE"
	case event.DropTable:
		kind = "DROP"
	}
	b = append(b, `,"tableChanges":[{"type":"`...)
	b = append(b, kind...)
	b = append(b, `","id":`...)
	quoted := `"` + database(id) + `"."` + id.Table + `"`
	if w.postgres() {
		quoted = `"` + id.Schema + `"."` + id.Table + `"`
	}
	b = event.AppendJSONString(b, quoted)
	b = append(b, `,"table":`...)
	s := c.After
	if s == nil {
		s = c.Before
	}
	if s == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"primaryKeyColumnNames":[`...)
		for i, k := range s.Key {
			if i > 0 {
				b = append(b, ',')
			}
			b = event.AppendJSONString(b, s.Columns[k].Name)
		}
		b = append(b, `],"columns":[`...)
		for i, col := range s.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			typeName := col.SourceType
			if typeName == "" {
				typeName = col.Type.String()
			}
			b = append(b, `{"name":`...)
			b = event.AppendJSONString(b, col.Name)
			b = append(b, `,"jdbcType":`...)
			b = strconv.AppendInt(b, int64(sqlType(col.Type)), 10)
			b = append(b, `,"typeName":`...)
			b = event.AppendJSONString(b, strings.ToUpper(typeName))
			b = append(b, `,"position":`...)
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, `,"optional":`...)
			b = strconv.AppendBool(b, col.Nullable)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	return append(b, "}]}"...)
}

// DebeziumSchemaChangeKey is the key of a schema change's record: the database's name.
func DebeziumSchemaChangeKey(id event.TableID) []byte {
	return append(event.AppendJSONString([]byte(`{"databaseName":`), database(id)), '}')
}

// DebeziumSchema is the Connect schema of a debezium-json value of table s, as the
// record's "schema" part holds it (cached: the same slice for the same *event.Schema).
// The Avro formats convert it as Kafka Connect's AvroConverter does.
func (w *Writer) DebeziumSchema(s *event.Schema) []byte { return w.debeziumSchema(s) }

// DebeziumKeySchema is the Connect schema of a record key of table s: a struct of its
// key columns named server.db.table.Key, as Debezium writes it.
func (w *Writer) DebeziumKeySchema(s *event.Schema) []byte {
	b := []byte(`{"type":"struct","fields":[`)
	for i, k := range s.Key {
		if i > 0 {
			b = append(b, ',')
		}
		col := s.Columns[k]
		col.Nullable = false
		b = w.fieldSchema(b, &col, col.Name)
	}
	b = append(b, `],"optional":false,"name":`...)
	b = event.AppendJSONString(b, w.topicPrefix(s.ID)+".Key")
	return append(b, '}')
}

// AppendDebeziumKey appends the payload of c's record key: its key columns' values as
// debezium-json writes them.
func (w *Writer) AppendDebeziumKey(b []byte, c *event.Change) []byte {
	row := c.Row()
	b = append(b, '{')
	for i, k := range c.Schema.Key {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendJSONString(b, c.Schema.Columns[k].Name)
		b = append(b, ':')
		var v event.Value
		if k < len(row) {
			v = row[k]
		}
		b = w.debeziumValue(b, v, &c.Schema.Columns[k])
	}
	return append(b, '}')
}

// TableCount is how many changes of one table a transaction holds.
type TableCount struct {
	Table string
	Count int64
}

// Debezium's transaction metadata records (provide.transaction.metadata), written to the
// transaction topic: a BEGIN before a transaction's changes and an END, with the number
// of its changes in all and per table, after them; the key is {"id": …}.
const (
	transactionValueSchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},` +
		`{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},` +
		`{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},` +
		`{"type":"int64","optional":false,"field":"event_count"}],"optional":false},"optional":true,"field":"data_collections"},` +
		`{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}`
	transactionKeySchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,` +
		`"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}`
)

// TransactionSchemas are the Connect schemas of the transaction topic's values and keys.
func TransactionSchemas() (value, key []byte) {
	return []byte(transactionValueSchema), []byte(transactionKeySchema)
}

// AppendTransactionEvent appends a transaction topic's record value: BEGIN when tables is
// nil, else END with the counts. With schema, in the schema/payload wrapper.
func AppendTransactionEvent(b []byte, id string, tables []TableCount, nowMillis int64, schema bool) []byte {
	if schema {
		b = append(b, `{"schema":`+transactionValueSchema+`,"payload":`...)
	}
	status := "BEGIN"
	if tables != nil {
		status = "END"
	}
	b = append(b, `{"status":"`...)
	b = append(b, status...)
	b = append(b, `","id":`...)
	b = event.AppendJSONString(b, id)
	if tables == nil {
		b = append(b, `,"event_count":null,"data_collections":null`...)
	} else {
		var total int64
		for _, t := range tables {
			total += t.Count
		}
		b = append(b, `,"event_count":`...)
		b = strconv.AppendInt(b, total, 10)
		b = append(b, `,"data_collections":[`...)
		for i, t := range tables {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"data_collection":`...)
			b = event.AppendJSONString(b, t.Table)
			b = append(b, `,"event_count":`...)
			b = strconv.AppendInt(b, t.Count, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, nowMillis, 10)
	b = append(b, '}')
	if schema {
		b = append(b, '}')
	}
	return b
}

// AppendTransactionKey appends a transaction topic's record key.
func AppendTransactionKey(b []byte, id string, schema bool) []byte {
	if schema {
		b = append(b, `{"schema":`+transactionKeySchema+`,"payload":`...)
	}
	b = append(b, `{"id":`...)
	b = event.AppendJSONString(b, id)
	b = append(b, '}')
	if schema {
		b = append(b, '}')
	}
	return b
}

// DataCollection is the name Debezium gives a table in transaction records: db.table
// (PostgreSQL: schema.table).
func DataCollection(id event.TableID) string {
	if id.Namespace != "" {
		return id.Schema + "." + id.Table
	}
	return database(id) + "." + id.Table
}
