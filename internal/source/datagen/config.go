package datagen

import "github.com/weir-data/weir/internal/connector"

// Spec declares the datagen source.
var Spec = connector.Spec{
	Type:    "datagen",
	Summary: "Generates deterministic tables and a steady stream of inserts, updates and deletes, for trying weir and for tests. The same seed gives the same data and the same changes, across restarts.",
	Fields: []connector.Field{
		{Name: "tables", Type: connector.TypeList, Required: true, Example: "demo.orders, demo.users",
			Description: "Tables to generate, as db.table names, comma-separated."},
		{Name: "rows", Type: connector.TypeInt, Default: "1000", Min: connector.Int64(0),
			Description: "Rows per table in the snapshot."},
		{Name: "changes-per-second", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
			Description: "Rate of inserts, updates and deletes after the snapshot, over all tables (0: none)."},
		{Name: "max-changes", Type: connector.TypeInt, Default: "0", Min: connector.Int64(0),
			Description: "Stop after this many changes in total (0: never); the pipeline then finishes after a final checkpoint."},
		{Name: "transaction-size", Type: connector.TypeInt, Default: "1", Min: connector.Int64(1), Max: connector.Int64(100000),
			Description: "Changes per generated transaction; checkpoints fall only between transactions."},
		{Name: "seed", Type: connector.TypeInt, Default: "42",
			Description: "Seed of the generated data."},
		{Name: "scan.startup.mode", Type: connector.TypeEnum, Default: "initial", Enum: []string{"initial", "snapshot", "latest-offset"},
			Description: "initial: snapshot, then changes; snapshot: the snapshot only, then the pipeline finishes; latest-offset: changes only."},
		{Name: "scan.incremental.snapshot.chunk.size", Type: connector.TypeInt, Default: "8096", Min: connector.Int64(1),
			Description: "Rows per snapshot chunk."},
	},
}
