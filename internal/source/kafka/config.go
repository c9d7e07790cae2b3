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
		{Name: "value.format", Type: connector.TypeEnum, Default: "debezium-json", Enum: []string{"debezium-json"},
			Description: "debezium-json with its Kafka Connect schema (schemas.enable, weir's Kafka sink's default): each record names its table (source.db, source.table) and its columns' types."},
		{Name: "scan.startup.mode", Type: connector.TypeEnum, Default: "earliest-offset", Enum: []string{"earliest-offset", "latest-offset"},
			Description: "Where a pipeline with no checkpoint starts: each partition's first record, or its end."},
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
