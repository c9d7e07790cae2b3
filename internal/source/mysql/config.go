package mysql

import "github.com/weir-data/weir/internal/connector"

// Spec declares the MySQL/MariaDB source; the types "mysql" and "mariadb" share it.
func Spec(typ string) connector.Spec {
	return connector.Spec{
		Type: typ,
		Summary: "Reads MySQL 5.7/8.x or MariaDB 10.x: a lock-free chunked snapshot of the selected tables and every change " +
			"from the binary log (ROW format, FULL row image); the two run together and join exactly (on MySQL without GTIDs, " +
			"all but a change in the binlog and not yet visible at the instant a chunk is read: turn gtid_mode on). XA transactions " +
			"are copied at their XA COMMIT, none at an XA ROLLBACK.",
		Fields: append([]connector.Field{
			{Name: "hostname", Type: connector.TypeString, Required: true, Example: "127.0.0.1", Description: "Server host."},
			{Name: "port", Type: connector.TypeInt, Default: "3306", Min: connector.Int64(1), Max: connector.Int64(65535), Description: "Server port."},
			{Name: "username", Type: connector.TypeString, Required: true, Example: "cdc",
				Description: "User with SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE and REPLICATION CLIENT."},
			{Name: "password", Type: connector.TypeString, Secret: true, Description: "The user's password."},
			{Name: "tables", Type: connector.TypeTables, Required: true, Example: `shop.orders_\d+, shop.customers`,
				Description: "Tables to read: db.table regexes, comma-separated, split at the first unescaped dot; as in Flink CDC, `\\.` is the regex . (any character: `shop.\\.*` is every table of shop) and `[.]` a literal dot."},
			{Name: "server-id", Type: connector.TypeString, Default: "",
				Description: "Replica server id for the binlog connection (a number or a range such as 5400-5404: the pipeline takes the first, `weir preview --follow` the last); default: derived from the pipeline name. One reader at a time holds an id: a second is refused, naming the connection that holds it."},
			{Name: "server-time-zone", Type: connector.TypeString, Default: "UTC",
				Description: "The server's time zone, used to read TIMESTAMP values in the binlog of servers older than MySQL 5.6.4."},
			{Name: "metadata.list", Type: connector.TypeList, Example: "op_ts",
				Description: "Flink CDC's list of metadata for transforms: op_ts (commit time, ms; 0 for snapshot rows). weir's transforms have it whether listed or not."},
			{Name: "scan.startup.mode", Type: connector.TypeEnum, Default: "initial",
				Enum:        []string{"initial", "snapshot", "latest-offset", "earliest-offset", "specific-offset", "timestamp"},
				Description: "initial: snapshot, then the binlog; snapshot: the snapshot only; latest-offset: the binlog from now; earliest-offset: the binlog from the oldest file the server keeps; specific-offset: the binlog from scan.startup.specific-offset.*; timestamp: the binlog from the transactions committed at or after scan.startup.timestamp-millis."},
			{Name: "scan.startup.timestamp-millis", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
				Description: "For scan.startup.mode timestamp: milliseconds since the epoch; the binlog files that still hold that moment must exist."},
			{Name: "scan.startup.specific-offset.gtid-set", Type: connector.TypeString,
				Description: "GTID set to start after, e.g. 0-1-1000 (MariaDB) or 3E11FA47-…:1-1000 (MySQL)."},
			{Name: "scan.startup.specific-offset.file", Type: connector.TypeString, Description: "Binlog file to start at."},
			{Name: "scan.startup.specific-offset.pos", Type: connector.TypeInt, Default: "4", Description: "Position in that file."},
			{Name: "scan.startup.specific-offset.skip-events", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
				Description: "Binlog events to skip after the specific offset before reading (Flink CDC's and Debezium's, for an offset inside a transaction)."},
			{Name: "scan.startup.specific-offset.skip-rows", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
				Description: "Rows to skip after those events (Flink CDC's and Debezium's, for an offset inside a rows event)."},
			{Name: "scan.incremental.snapshot.chunk.size", Type: connector.TypeInt, Default: "8096", Min: connector.Int64(1),
				Description: "Rows per snapshot chunk."},
			{Name: "scan.incremental.snapshot.chunk.key-column", Type: connector.TypeString,
				Description: "For tables without a primary key: a unique NOT NULL column to split and key them by, or one per table as Flink CDC writes it: db.table:column, … (tables as in tables)."},
			{Name: "scan.snapshot.join", Type: connector.TypeEnum, Default: "auto", Enum: []string{"auto", "consistent-snapshot", "watermark"},
				Description: "How snapshot chunks join the binlog stream, each change reaching the sink once: consistent-snapshot reads each chunk in a consistent snapshot whose binlog position MariaDB reports; watermark reads the binlog position before and after a chunk and puts the chunk right with the changes between them (DBLog, Flink CDC's incremental snapshot), on any server; auto: consistent-snapshot on MariaDB, watermark on MySQL."},
			{Name: "scan.newly-added-table.enabled", Type: connector.TypeBool, Default: "true",
				Description: "Snapshot tables that join the selection while the pipeline runs (renamed in, created from another table) or between runs (a widened `tables`), beside the stream (MariaDB); false: only their changes from then on are read."},
			{Name: "scan.binlog.newly-added-table.enabled", Type: connector.TypeBool, Default: "false",
				Description: "Flink CDC's: true reads the changes of tables that join the selection while the pipeline runs from then on, without snapshotting them (scan.newly-added-table.enabled: false, which it cannot be set with)."},
			{Name: "treat-tinyint1-as-boolean.enabled", Type: connector.TypeBool, Default: "false",
				Description: "TINYINT(1) as a boolean (Flink CDC's default is true; weir's, as Debezium's, keeps it a small integer: set true for Flink's types)."},
			{Name: "scan.rate-limit.rows-per-second", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
				Description: "Most rows per second read from the source, snapshot and binlog together (0: no limit)."},
			{Name: "scan.rate-limit.bytes-per-second", Type: connector.TypeBytes, Default: "0",
				Description: "Most bytes per second read (estimated in memory), snapshot and binlog together (0: no limit)."},
			{Name: "connect.max-connections", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
				Description: "Most query connections to the server (0: pipeline.parallelism + 1); the binlog uses one more."},
			{Name: "connect.timeout", Type: connector.TypeDuration, Default: "30s", Description: "Timeout of connecting and of each query."},
			{Name: "heartbeat.interval", Type: connector.TypeDuration, Default: "30s",
				Description: "Binlog heartbeat period: an idle server still tells its position this often."},
			{Name: "scan.parse.online.schema.changes.enabled", Type: connector.TypeBool, Ignored: "weir does not parse gh-ost's and pt-online-schema-change's shadow tables; the table such a tool swaps in by RENAME is taken up as a table renamed into the selection, snapshotted beside the stream",
				Description: "Flink CDC's; weir takes up the table an online schema change tool swaps in by RENAME as a table renamed into the selection, snapshotted beside the stream."},
		}, connector.FlinkSourceOptions()...),
		Lint: func(cfg *connector.Config) []connector.FieldProblem {
			out := append(connector.MetadataList(cfg, "op_ts"), connector.LintFlink(cfg)...)
			if cfg.Bool("scan.binlog.newly-added-table.enabled") && cfg.IsSet("scan.newly-added-table.enabled") && cfg.Bool("scan.newly-added-table.enabled") {
				out = append(out, connector.FieldProblem{Field: "scan.binlog.newly-added-table.enabled",
					Msg: "true takes new tables without a snapshot, scan.newly-added-table.enabled: true with one; set one of them"})
			}
			return out
		},
	}
}
