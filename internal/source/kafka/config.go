package kafka

import "github.com/weir-data/weir/internal/connector"

// Spec declares the Kafka source, with Flink's Kafka connector's option names.
var Spec = connector.Spec{
	Type:    "kafka",
	Summary: "Reads change records from Kafka topics (debezium-json, as Debezium and weir's Kafka sink write them) as a stream of changes of the tables they name; the offsets are kept in weir's checkpoint.",
	Fields: []connector.Field{
		{Name: "properties.bootstrap.servers", Type: connector.TypeString, Required: true, Example: "127.0.0.1:9092",
			Description: "The brokers to start from, comma-separated host:port."},
		{Name: "topic", Type: connector.TypeString, Example: "shop.orders;shop.users",
			Description: "The topics to read, separated by semicolons or commas (or topic-pattern)."},
		{Name: "topic-pattern", Type: connector.TypeString, Example: `shop\..*`,
			Description: "A regular expression of the topics to read, instead of topic."},
		{Name: "value.format", Type: connector.TypeEnum, Default: "debezium-json", Enum: []string{"debezium-json", "canal-json", "json"},
			Description: "debezium-json with its Kafka Connect schema (schemas.enable, weir's Kafka sink's default): each record names its table (source.db, source.table) and its columns' types; canal-json: each record names its table (database, table), its columns' MySQL types (mysqlType) and key (pkNames); json: each record is one row of json.table (else the topic's name), upserted (deleted where json.op-field says d)."},
		{Name: "json.table", Type: connector.TypeString, Example: "shop.orders",
			Description: "value.format json: the table the rows are of (db.table); unset: the topic's name."},
		{Name: "json.columns", Type: connector.TypeString, Example: "id int64, name string(64), amount decimal(12,2), at timestamp(6)",
			Description: "value.format json: the columns and their types (weir's types, or MySQL's or PostgreSQL's names); unset: inferred from the first record and widened by later ones (`weir discover` shows them)."},
		{Name: "json.key", Type: connector.TypeString, Example: "id",
			Description: "value.format json: the key columns, comma-separated; unset: the record key's fields (a JSON object)."},
		{Name: "json.op-field", Type: connector.TypeString, Example: "op",
			Description: "value.format json: a field whose value d makes the row a delete (weir's json format writes it with json.op-field); unset: every row is an upsert."},
		{Name: "scan.startup.mode", Type: connector.TypeEnum, Default: "earliest-offset", Enum: []string{"earliest-offset", "latest-offset", "group-offsets", "timestamp", "specific-offsets"},
			Description: "Where a pipeline with no checkpoint starts: each partition's first record; its end; the offsets committed by properties.group.id (a partition without one: its first record); the first record at or after scan.startup.timestamp-millis; or scan.startup.specific-offsets (other partitions: their first record)."},
		{Name: "scan.startup.timestamp-millis", Type: connector.TypeInt, Min: connector.Int64(0), Example: "1700000000000",
			Description: "scan.startup.mode timestamp: milliseconds since the epoch."},
		{Name: "scan.startup.specific-offsets", Type: connector.TypeString, Example: "partition:0,offset:42;partition:1,offset:300",
			Description: "scan.startup.mode specific-offsets: the offset to start each partition of each topic at."},
		{Name: "scan.topic-partition-discovery.interval", Type: connector.TypeDuration, Default: "30s",
			Description: "How often partitions added to the topics, and topics that come to match topic-pattern, are looked for; they are read from their first record."},
		{Name: "bad-record.policy", Type: connector.TypeEnum, Default: "fail", Enum: []string{"fail", "skip", "dead-letter"},
			Description: "A record that does not decode (not debezium-json, no schema, a value its type cannot hold): fail stops the pipeline with its topic, partition, offset and the reason; skip counts it (weir_source_bad_records_total) and logs it; dead-letter writes it to bad-record.topic with the reason in its headers, and goes on."},
		{Name: "bad-record.topic", Type: connector.TypeString, Example: "weir_dead_letters",
			Description: "The topic of dead-letter records (bad-record.policy: dead-letter)."},
		{Name: "properties.group.id", Type: connector.TypeString,
			Description: "A consumer group the offsets of each checkpoint are committed to as well, for the lag tools people run (weir resumes from its own checkpoint)."},
		{Name: "properties.*", Type: connector.TypeString, Ignored: "weir's Kafka client (franz-go) takes the properties above; others have no equivalent it uses",
			Description: "Other Kafka client properties: accepted, not used."},
	},
}
