package postgres

import "github.com/weir-data/weir/internal/connector"

// Spec declares the PostgreSQL source.
func Spec() connector.Spec {
	return connector.Spec{
		Type: "postgres",
		Summary: "Reads PostgreSQL 10+ (wal_level = logical): a lock-free parallel snapshot of the selected tables, each chunk " +
			"read exactly at a point of the log, and every change through a replication slot (pgoutput) that only moves on " +
			"once the sink has committed.",
		Fields: []connector.Field{
			{Name: "hostname", Type: connector.TypeString, Required: true, Example: "127.0.0.1", Description: "Server host."},
			{Name: "port", Type: connector.TypeInt, Default: "5432", Min: connector.Int64(1), Max: connector.Int64(65535), Description: "Server port."},
			{Name: "username", Type: connector.TypeString, Required: true, Example: "cdc",
				Description: "A user with REPLICATION (or superuser), SELECT on the tables and, unless publication.create is false, ownership of them (CREATE PUBLICATION … FOR TABLE needs it)."},
			{Name: "password", Type: connector.TypeString, Secret: true, Description: "The user's password."},
			{Name: "database-name", Type: connector.TypeString, Example: "shop",
				Description: "The database to read; it may be left out when tables name it (db.schema.table)."},
			{Name: "tables", Type: connector.TypeTables, Required: true, Example: `shop.public.orders, shop.sales.\.*`,
				Description: "Tables to read: schema.table regexes, comma-separated, or db.schema.table as Flink CDC writes them (one database: a slot reads one); `\\.` does not split. A partitioned table is read through its root."},
			{Name: "decoding.plugin.name", Type: connector.TypeString, Default: "pgoutput",
				Description: "The logical decoding plugin: pgoutput, built into PostgreSQL 10+, is the one weir reads (Flink's decoderbufs and wal2json are refused)."},
			{Name: "schema-change.enabled", Type: connector.TypeBool, Default: "true",
				Description: "Flink CDC's switch for schema changes; in weir pipeline.schema.change.behavior says what they do (validate notes it)."},
			{Name: "server-time-zone", Type: connector.TypeString,
				Description: "Accepted for Flink CDC's files and not needed: timestamptz values come as instants (validate notes it)."},
			{Name: "slot.name", Type: connector.TypeString,
				Description: "The replication slot; default: weir_ and the pipeline name. An existing slot is used as it is."},
			{Name: "publication.name", Type: connector.TypeString,
				Description: "The publication; default: the slot name."},
			{Name: "publication.create", Type: connector.TypeBool, Default: "true",
				Description: "Create the publication and keep its tables the selected ones; false: use a publication made by hand, as it is."},
			{Name: "scan.startup.mode", Type: connector.TypeEnum, Default: "initial",
				Enum:        []string{"initial", "snapshot", "latest-offset", "earliest-offset"},
				Description: "initial: snapshot, then the changes; snapshot: the snapshot only; latest-offset: the changes from the slot's creation; earliest-offset: the changes from the slot's start, which is its creation too (a slot begins where it is made), or where an existing slot of the pipeline stands."},
			{Name: "scan.incremental.snapshot.chunk.size", Type: connector.TypeInt, Default: "8096", Min: connector.Int64(1),
				Description: "Rows per snapshot chunk."},
			{Name: "scan.incremental.snapshot.chunk.key-column", Type: connector.TypeString,
				Description: "For tables without a primary key: a unique NOT NULL column to split and key them by."},
			{Name: "scan.newly-added-table.enabled", Type: connector.TypeBool, Default: "true",
				Description: "Snapshot tables that join the selection while the pipeline runs or between runs, beside the stream; false: only their changes from then on."},
			{Name: "scan.rate-limit.rows-per-second", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
				Description: "Most rows per second read from the source, snapshot and changes together (0: no limit)."},
			{Name: "scan.rate-limit.bytes-per-second", Type: connector.TypeBytes, Default: "0",
				Description: "Most bytes per second read (estimated in memory), snapshot and changes together (0: no limit)."},
			{Name: "connect.max-connections", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
				Description: "Most query connections (0: pipeline.parallelism + 1); the stream uses one replication connection more, and each snapshot chunk one more while it starts."},
			{Name: "connect.timeout", Type: connector.TypeDuration, Default: "30s", Description: "Timeout of connecting."},
			{Name: "heartbeat.interval", Type: connector.TypeDuration, Default: "10s",
				Description: "How often the stream tells the server what is durable, idle or not, so the slot's WAL is released."},
			{Name: "heartbeat.emit-message", Type: connector.TypeBool, Default: "false",
				Description: "Also write a tiny logical message (pg_logical_emit_message) each heartbeat, so the slot moves on when this database is idle and others fill the WAL."},
			{Name: "slot.retained-wal.warn", Type: connector.TypeBytes, Default: "1GiB",
				Description: "Log a warning when the slot holds back more WAL than this (the metric weir_source_retained_bytes has it too)."},
			{Name: "decoding.stream-in-progress", Type: connector.TypeBool, Default: "true",
				Description: "On PostgreSQL 14+, have the server stream large transactions while they run (pgoutput protocol 2) into weir's temporary files, applied at their commit; false: protocol 1, the server spills them to its own disk until the commit."},
			{Name: "filter.origins", Type: connector.TypeList,
				Description: "Replication origins whose transactions are left out (changes another replication wrote here); `*`: every transaction that has an origin."},
		},
		Lint: lint,
	}
}
