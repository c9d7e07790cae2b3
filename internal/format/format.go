// Package format writes change records in the formats their consumers read (DESIGN
// §1.3), one JSON object per change:
//
//	weir-json      weir's envelope (event.AppendEnvelope), the default
//	debezium-json  as Debezium's MySQL and PostgreSQL connectors write it at their
//	               defaults, read by Kafka Connect's JsonConverter and Flink's
//	               debezium-json (debezium.go)
//	canal-json     as Canal writes it, read by Flink's canal-json (canal.go)
//	json           the row image alone (json.go)
//
// A Writer is used by one goroutine at a time; it caches what it derives per schema.
package format

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// The formats.
const (
	WeirJSON     = "weir-json"
	DebeziumJSON = "debezium-json"
	CanalJSON    = "canal-json"
	JSON         = "json"
)

// Names lists the formats, the default first.
var Names = []string{WeirJSON, DebeziumJSON, CanalJSON, JSON}

// Options choose and shape a format.
type Options struct {
	Format string
	// SourceType is the pipeline's source connector (mysql, mariadb, postgres, …): the
	// connector records name, and how Debezium types its values.
	SourceType string
	// Name is the logical name of the source (Debezium's topic.prefix): the pipeline's.
	Name string
	// NoSchema leaves debezium-json's schema out: the payload alone, as Kafka Connect's
	// JsonConverter writes with schemas.enable=false (and Flink's debezium-json reads
	// by default).
	NoSchema bool
	// Debezium's settings of how values are written (debezium.go), "" for its defaults:
	// DecimalMode precise | string | double, UnsignedMode long | precise, TimeMode
	// adaptive_time_microseconds (MySQL's default) | adaptive (PostgreSQL's) | connect.
	DecimalMode, UnsignedMode, TimeMode string
	// Transactions fills debezium-json's transaction block (Debezium's
	// provide.transaction.metadata); else it is null.
	Transactions bool
	// OpField names the field json adds with the change's kind (c, u, d, r); "" for none.
	OpField string
	// Version is weir's, for Debezium's source.version.
	Version string
}

// Writer appends changes in one format.
type Writer struct {
	o       Options
	version string                   // Debezium's source.version
	dbz     map[*event.Schema][]byte // debezium-json: the schema object per table schema
	appendF func(w *Writer, b []byte, c *event.Change, nowMillis int64) []byte
}

// New returns a Writer of o.Format ("" is weir-json).
func New(o Options) (*Writer, error) {
	w := &Writer{o: o, version: "weir-" + o.Version}
	switch strings.ToLower(o.Format) {
	case "", WeirJSON:
		w.appendF = func(w *Writer, b []byte, c *event.Change, now int64) []byte {
			return event.AppendEnvelope(b, c, w.o.SourceType, now)
		}
	case DebeziumJSON:
		w.dbz = map[*event.Schema][]byte{}
		w.appendF = (*Writer).appendDebezium
	case CanalJSON:
		w.appendF = (*Writer).appendCanal
	case JSON:
		w.appendF = (*Writer).appendJSON
	default:
		return nil, fmt.Errorf("unknown format %q; the formats are %s", o.Format, strings.Join(Names, ", "))
	}
	return w, nil
}

// Marks reports whether records of format tell a snapshot read's place (event.Change.Mark):
// debezium-json's source.snapshot.
func Marks(format string) bool { return strings.EqualFold(format, DebeziumJSON) }

// MarksSnapshot reports whether w's records tell a snapshot read's place.
func (w *Writer) MarksSnapshot() bool { return Marks(w.o.Format) }

// Append appends change c as one JSON object, without a newline. nowMillis is when weir
// wrote it (the records' own ts_ms / ts).
func (w *Writer) Append(b []byte, c *event.Change, nowMillis int64) []byte {
	return w.appendF(w, b, c, nowMillis)
}

// postgres reports whether the source is PostgreSQL (else MySQL's shapes apply).
func (w *Writer) postgres() bool { return strings.HasPrefix(w.o.SourceType, "postgres") }

// database is the database a table is in: PostgreSQL's (its namespace), else MySQL's.
func database(id event.TableID) string {
	if id.Namespace != "" {
		return id.Namespace
	}
	return id.Schema
}

// Version is weir's version, written as Debezium's source.version (set by the CLI).
var Version = "dev"

// Fields are the settings of a sink that writes records in these formats.
func Fields() []connector.Field {
	return []connector.Field{
		{Name: "format", Type: connector.TypeEnum, Default: WeirJSON, Enum: Names,
			Description: "How each change is written: weir-json (weir's envelope); debezium-json (as Debezium's MySQL and PostgreSQL connectors write it, for Kafka Connect's JsonConverter and Flink's debezium-json); canal-json (as Canal writes it, for Flink's canal-json); json (the row alone)."},
		{Name: "debezium-json.schema-include", Type: connector.TypeBool, Default: "true",
			Description: "debezium-json: the schema/payload wrapper, as Kafka Connect's JsonConverter writes it by default; false: the payload alone (what Flink's debezium-json reads by default)."},
		{Name: "debezium-json.decimal.handling.mode", Type: connector.TypeEnum, Default: "precise", Enum: []string{"precise", "string", "double"},
			Description: "debezium-json, as Debezium's decimal.handling.mode: precise (Connect's Decimal: bytes of the unscaled value), string (the digits as text) or double."},
		{Name: "debezium-json.bigint.unsigned.handling.mode", Type: connector.TypeEnum, Default: "long", Enum: []string{"long", "precise"},
			Description: "debezium-json, as Debezium's bigint.unsigned.handling.mode: long (int64; values above 2^63 wrap) or precise (a Decimal of scale 0)."},
		{Name: "debezium-json.time.precision.mode", Type: connector.TypeEnum, Enum: []string{"adaptive_time_microseconds", "adaptive", "connect"},
			Description: "debezium-json, as Debezium's time.precision.mode; default: the source connector's own (adaptive_time_microseconds for MySQL, adaptive for PostgreSQL); connect: Kafka Connect's Date, Time (ms) and Timestamp (ms)."},
		{Name: "debezium-json.provide.transaction.metadata", Type: connector.TypeBool, Default: "false",
			Description: "debezium-json, as Debezium's provide.transaction.metadata: each change of the stream carries its transaction's id, its place among the transaction's changes (total_order) and among its table's (data_collection_order); false: the transaction block is null."},
		{Name: "json.op-field", Type: connector.TypeString,
			Description: "json: a field of this name holding the change's kind (c, u, d, r); none when unset."},
	}
}

// FromConfig reads Fields' settings of a sink of the pipeline env describes.
func FromConfig(cfg *connector.Config, env connector.Env) Options {
	return Options{Format: cfg.String("format"), SourceType: env.SourceType, Name: env.Pipeline,
		NoSchema: !cfg.Bool("debezium-json.schema-include"), OpField: cfg.String("json.op-field"), Version: Version,
		DecimalMode: cfg.String("debezium-json.decimal.handling.mode"), UnsignedMode: cfg.String("debezium-json.bigint.unsigned.handling.mode"),
		TimeMode: cfg.String("debezium-json.time.precision.mode"), Transactions: cfg.Bool("debezium-json.provide.transaction.metadata")}
}

// AppendSchemaChange appends schema change c as this format writes one among the data
// records, and whether it does: weir-json as {"ddl": "…"}; canal-json as Canal's DDL
// record (isDdl true, the statement in sql, which Flink's canal-json skips); not
// debezium-json nor json, whose consumers read data only — Debezium puts schema changes
// on a topic of their own, which the Kafka sink will have.
func (w *Writer) AppendSchemaChange(b []byte, c *event.SchemaChange, nowMillis int64) ([]byte, bool) {
	switch strings.ToLower(w.o.Format) {
	case "", WeirJSON:
		b = append(b, `{"ddl":`...)
		b = event.AppendJSONString(b, c.String())
		return append(b, '}'), true
	case CanalJSON:
		ddl := c.DDL
		if ddl == "" {
			ddl = c.String()
		}
		b = append(b, `{"data":null,"database":`...)
		b = event.AppendJSONString(b, database(c.Table))
		b = append(b, `,"es":`...)
		b = strconv.AppendInt(b, nowMillis, 10)
		b = append(b, `,"id":0,"isDdl":true,"mysqlType":null,"old":null,"pkNames":null,"sql":`...)
		b = event.AppendJSONString(b, ddl)
		b = append(b, `,"sqlType":null,"table":`...)
		b = event.AppendJSONString(b, c.Table.Table)
		b = append(b, `,"ts":`...)
		b = strconv.AppendInt(b, nowMillis, 10)
		b = append(b, `,"type":`...)
		b = event.AppendJSONString(b, canalDDLType(ddl))
		return append(b, '}'), true
	}
	return b, false
}

// canalDDLType is the statement's kind as Canal names it (CREATE, ALTER, ERASE, …).
func canalDDLType(ddl string) string {
	f := strings.Fields(strings.ToUpper(ddl))
	if len(f) == 0 {
		return "QUERY"
	}
	switch f[0] {
	case "CREATE", "ALTER", "RENAME", "TRUNCATE":
		return f[0]
	case "DROP":
		return "ERASE"
	}
	return "QUERY"
}
