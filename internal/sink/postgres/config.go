package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/fault"
)

// Spec declares the PostgreSQL sink.
var Spec = connector.Spec{
	Type: "postgres",
	Summary: "Writes into PostgreSQL tables it creates and evolves: snapshots by COPY, changes as set-based upserts and deletes " +
		"from parallel writers. Exactly once: the checkpoint is committed in the target with the data (see docs/sink-postgres.md).",
	Fields: []connector.Field{
		{Name: "url", Type: connector.TypeString, Required: true, Secret: true, Example: "postgres://weir@127.0.0.1:5432/dw",
			Description: "Connection URL of the target database; the user needs CREATE on it (tables and schemas are created as needed)."},
		{Name: "sink.mode", Type: connector.TypeEnum, Default: "upsert", Enum: []string{"upsert", "changelog"},
			Description: "upsert: one row per key, as the source has it; changelog: one row per change, with _weir_op, _weir_pos, _weir_commit_ts and _weir_seq (an audit table)."},
		{Name: "sink.delete-mode", Type: connector.TypeEnum, Default: "hard", Enum: []string{"hard", "soft"},
			Description: "hard: a delete removes the row; soft: the row stays with _weir_deleted = true."},
		{Name: "sink.create-indexes", Type: connector.TypeBool, Default: "true",
			Description: "Make the source tables' secondary indexes in the tables weir creates, once each table's snapshot is in (a unique one as a plain index; see docs/sink-postgres.md)."},
		{Name: "checkpoint.table", Type: connector.TypeString, Default: "weir_checkpoints",
			Description: "[schema.]name of the table in the target where the pipeline's position is committed with the data."},
	},
}

// Check connects and checks that the user can create tables, for `weir validate`.
func Check(ctx context.Context, cfg *connector.Config, env connector.Env) []error {
	return check(ctx, cfg.String("url"), cfg.Where("url"), cfg.String("checkpoint.table"))
}

func check(ctx context.Context, url, where, cpTable string) []error {
	if _, err := quoteQualified(cpTable); err != nil {
		return []error{fmt.Errorf("checkpoint.table: %w", err)}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return []error{fault.WithReachHint(fmt.Errorf("url (%s): cannot connect: %w", where, err))}
	}
	defer conn.Close(ctx)
	var canCreate bool
	if err := conn.QueryRow(ctx, `SELECT has_database_privilege(current_database(), 'CREATE')`).Scan(&canCreate); err != nil {
		return []error{fmt.Errorf("url (%s): check privileges: %w", where, err)}
	}
	if !canCreate {
		return []error{fmt.Errorf("url (%s): the user may not create schemas in this database; run: GRANT CREATE ON DATABASE <db> TO <user>", where)}
	}
	return nil
}
