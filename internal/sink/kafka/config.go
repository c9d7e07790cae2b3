package kafka

import (
	"github.com/weir-data/weir/internal/avro"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/format"
)

// Spec declares the Kafka sink, with Flink CDC's Kafka pipeline sink's option names
// where they exist.
var Spec = connector.Spec{
	Type:    "kafka",
	Summary: "Writes each change as a Kafka record: a topic per table (or one topic), the primary key as the record key, the value in a change format. Exactly once by default: Kafka transactions committed with weir's checkpoints, which the same transactions write into a compacted topic.",
	Fields: append([]connector.Field{
		{Name: "properties.bootstrap.servers", Type: connector.TypeString, Required: true, Example: "127.0.0.1:9092",
			Description: "The brokers to start from, comma-separated host:port."},
		{Name: "topic", Type: connector.TypeString,
			Description: "One topic for every table; unset: each table's own topic, named by its table id (db.table; PostgreSQL: schema.table)."},
		{Name: "sink.tableId-to-topic.mapping", Type: connector.TypeString, Example: "shop.orders:orders;shop.users:users",
			Description: "Topics of given tables, as table:topic pairs separated by semicolons; other tables follow topic."},
		{Name: "value.format", Type: connector.TypeEnum, Enum: append(append([]string(nil), format.Names...), AvroFormat),
			Description: "The record value's format (default debezium-json, as Flink CDC's); the same as format. debezium-avro-confluent: Debezium's change in Avro, as Kafka Connect's AvroConverter writes it, with its schema in the registry at debezium-avro-confluent.url (a new version registered before the first record of a table's new shape)."},
		{Name: "key.format", Type: connector.TypeEnum, Default: "json", Enum: []string{"json", "avro-confluent"},
			Description: "The record key: the primary key's columns as a JSON object; avro-confluent (with value.format debezium-avro-confluent): as an Avro record, its schema registered under the key subject. A table without a key: no key."},
		{Name: "debezium-avro-confluent.url", Type: connector.TypeString, Example: "http://127.0.0.1:8081", Secret: true,
			Description: "The Confluent-compatible schema registry of debezium-avro-confluent values (user:password@ in it for basic auth)."},
		{Name: "debezium-avro-confluent.subject-name-strategy", Type: connector.TypeEnum, Default: "topic-name", Enum: avro.Strategies,
			Description: "The subject a schema is registered under, as the Confluent serializers name it: topic-name (topic-value, topic-key), record-name (the record's full name), topic-record-name (topic-fullname)."},
		{Name: "partition.strategy", Type: connector.TypeEnum, Default: "hash-by-key", Enum: []string{"hash-by-key", "by-table", "round-robin", "all-to-zero"},
			Description: "hash-by-key: murmur2 of the record key, as the Java client's default partitioner, so each key keeps its order and lands where a Java producer's would; by-table: murmur2 of the table id (a table's changes in one partition, in order); round-robin: spread evenly (no order across a key's changes); all-to-zero: partition 0."},
		{Name: "sink.schema-change-topic", Type: connector.TypeString,
			Description: "Schema changes, as Debezium writes them on its schema change topic (key: the database's name; value: source, databaseName, schemaName, ddl, tableChanges), go to this topic; unset: not written."},
		{Name: "sink.transaction-topic", Type: connector.TypeString,
			Description: "With debezium-json.provide.transaction.metadata: the topic of Debezium's transaction records (BEGIN when a source transaction's first change is written, END with its change counts in all and per table once it is whole); unset: the pipeline's name + .transaction, as Debezium's topic.prefix.transaction."},
		{Name: "sink.delivery-guarantee", Type: connector.TypeEnum, Default: "exactly-once", Enum: []string{"exactly-once", "at-least-once"},
			Description: "exactly-once: transactions tied to checkpoints (read_committed consumers see each change once); at-least-once: the idempotent producer without transactions, faster, and a crash may repeat the changes since the last checkpoint."},
		{Name: "sink.checkpoint-topic", Type: connector.TypeString, Default: "weir_checkpoints",
			Description: "The compacted topic where the sink keeps each pipeline's checkpoint, written in the same transaction as the records."},
		{Name: "sink.tombstones", Type: connector.TypeBool, Default: "true",
			Description: "After a delete, a record with the key and no value, for compacted topics (tables with a key)."},
		{Name: "sink.add-tableId-to-header-enabled", Type: connector.TypeBool, Default: "false",
			Description: "Headers namespace, schemaName and tableName of the change's table, op (c, u, d, r) and position (its place in the source's log)."},
		{Name: "sink.custom-header", Type: connector.TypeString, Example: "env:prod,team:orders",
			Description: "Headers added to every record, as key:value pairs separated by commas."},
		{Name: "topic.create", Type: connector.TypeBool, Default: "true",
			Description: "Create a missing topic (with topic.partitions and topic.replication-factor)."},
		{Name: "topic.config", Type: connector.TypeString, Example: "retention.ms:604800000,cleanup.policy:compact",
			Description: "Configs of a table topic the sink creates, as key:value pairs separated by commas; a broker that refuses one says which."},
		{Name: "topic.partitions", Type: connector.TypeInt, Default: "1", Min: connector.Int64(1),
			Description: "Partitions of a topic the sink creates."},
		{Name: "topic.replication-factor", Type: connector.TypeInt, Default: "-1", Min: connector.Int64(-1),
			Description: "Replicas of a topic the sink creates; -1: the brokers' default."},
		{Name: "properties.compression.type", Type: connector.TypeEnum, Default: "none", Enum: []string{"none", "gzip", "snappy", "lz4", "zstd"},
			Description: "Compression of the record batches."},
		{Name: "properties.max.request.size", Type: connector.TypeBytes, Default: "1MiB", Min: connector.Int64(1024),
			Description: "Largest batch of records sent at once; a single record larger than it is refused with its table and key."},
		{Name: "properties.*", Type: connector.TypeString, Ignored: "weir's Kafka client (franz-go) takes the properties above; others have no equivalent it uses",
			Description: "Other Kafka client properties: accepted, not used."},
	}, format.Fields()...),
}
