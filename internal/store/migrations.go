package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations are the schema's versions: migrations[i] takes the schema from version i to
// i+1. A migration is never edited once released; a change is a new one. Each runs in
// one transaction with the version's update, so a crash leaves the schema at a version.
var migrations = []string{
	// 1: pipelines, their versions, their events.
	`CREATE TABLE pipelines (
		name       TEXT PRIMARY KEY,
		version    INTEGER NOT NULL,
		desired    TEXT NOT NULL,
		observed   TEXT NOT NULL,
		last_error TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE TABLE pipeline_versions (
		pipeline   TEXT NOT NULL,
		version    INTEGER NOT NULL,
		file       TEXT NOT NULL,
		created_at TEXT NOT NULL,
		PRIMARY KEY (pipeline, version)
	);
	CREATE TABLE events (
		id       {{id}},
		pipeline TEXT NOT NULL,
		time     TEXT NOT NULL,
		state    TEXT NOT NULL,
		phase    TEXT NOT NULL,
		reason   TEXT NOT NULL,
		error    TEXT NOT NULL
	);
	CREATE INDEX events_by_pipeline ON events (pipeline, id);`,
	// 2: runs: each start of a pipeline until it ends, with its version, end state and error.
	`CREATE TABLE runs (
		id         {{id}},
		pipeline   TEXT NOT NULL,
		version    INTEGER NOT NULL,
		started_at TEXT NOT NULL,
		ended_at   TEXT NOT NULL DEFAULT '',
		state      TEXT NOT NULL DEFAULT '',
		error      TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX runs_by_pipeline ON runs (pipeline, id);`,
	// 3: alerts: each firing of a rule for a pipeline, until it resolves.
	`CREATE TABLE alerts (
		id          {{id}},
		rule        TEXT NOT NULL,
		pipeline    TEXT NOT NULL,
		severity    TEXT NOT NULL,
		summary     TEXT NOT NULL,
		fired_at    TEXT NOT NULL,
		resolved_at TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX alerts_open ON alerts (resolved_at, rule, pipeline);`,
	// 4: leases: which server runs a pipeline, until when (several servers on one store).
	`CREATE TABLE leases (
		pipeline   TEXT PRIMARY KEY,
		holder     TEXT NOT NULL,
		generation BIGINT NOT NULL,
		expires_at TEXT NOT NULL
	);`,
	// 5: access: users, workspaces and their members, API tokens, the audit log; every
	// pipeline belongs to a workspace (those made before, to "default").
	`ALTER TABLE pipelines ADD COLUMN workspace TEXT NOT NULL DEFAULT 'default';
	CREATE TABLE users (
		name         TEXT PRIMARY KEY,
		password     TEXT NOT NULL,
		server_admin INTEGER NOT NULL,
		created_at   TEXT NOT NULL
	);
	CREATE TABLE workspaces (
		name       TEXT PRIMARY KEY,
		created_at TEXT NOT NULL
	);
	INSERT INTO workspaces (name, created_at) VALUES ('default', '');
	CREATE TABLE members (
		workspace TEXT NOT NULL,
		username  TEXT NOT NULL,
		role      TEXT NOT NULL,
		PRIMARY KEY (workspace, username)
	);
	CREATE TABLE tokens (
		id         TEXT PRIMARY KEY,
		hash       TEXT NOT NULL,
		kind       TEXT NOT NULL,
		name       TEXT NOT NULL,
		username   TEXT NOT NULL,
		workspace  TEXT NOT NULL,
		role       TEXT NOT NULL,
		expires_at TEXT NOT NULL,
		revoked_at TEXT NOT NULL DEFAULT '',
		created_by TEXT NOT NULL,
		created_at TEXT NOT NULL
	);
	CREATE TABLE audit (
		id        {{id}},
		at        TEXT NOT NULL,
		who       TEXT NOT NULL,
		workspace TEXT NOT NULL,
		action    TEXT NOT NULL,
		target    TEXT NOT NULL,
		outcome   TEXT NOT NULL,
		from_addr TEXT NOT NULL,
		detail    TEXT NOT NULL
	);
	CREATE INDEX audit_by_workspace ON audit (workspace, id);`,
	// 6: connections: a source or sink server, its settings, and its credentials sealed.
	`CREATE TABLE connections (
		name       TEXT PRIMARY KEY,
		workspace  TEXT NOT NULL,
		type       TEXT NOT NULL,
		settings   TEXT NOT NULL,
		secrets    TEXT NOT NULL,
		created_by TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);`,
	// 7: grants: a workspace's use of another's connection, requested and decided.
	`CREATE TABLE grants (
		id           {{id}},
		connection   TEXT NOT NULL,
		workspace    TEXT NOT NULL,
		tables       TEXT NOT NULL,
		reason       TEXT NOT NULL,
		state        TEXT NOT NULL,
		requested_by TEXT NOT NULL,
		decided_by   TEXT NOT NULL DEFAULT '',
		why          TEXT NOT NULL DEFAULT '',
		expires_at   TEXT NOT NULL,
		created_at   TEXT NOT NULL,
		decided_at   TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX grants_by_connection ON grants (connection, workspace);`,
	// 8: the catalog: the tables a connection reaches, their columns with descriptions and
	// security levels; each workspace's clearance.
	`CREATE TABLE catalog (
		connection  TEXT NOT NULL,
		name        TEXT NOT NULL,
		columns     TEXT NOT NULL,
		description TEXT NOT NULL DEFAULT '',
		owner       TEXT NOT NULL DEFAULT '',
		scanned_at  TEXT NOT NULL,
		PRIMARY KEY (connection, name)
	);
	ALTER TABLE workspaces ADD COLUMN clearance TEXT NOT NULL DEFAULT 'internal';`,
	// 9: the catalog's row estimates (-1: none), and the sources of the sink tables
	// pipelines write (a JSON list).
	`ALTER TABLE catalog ADD COLUMN row_estimate BIGINT NOT NULL DEFAULT -1;
	ALTER TABLE catalog ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';`,
	// 10: a grant narrowed to some columns of its tables (a JSON object table → columns).
	`ALTER TABLE grants ADD COLUMN columns TEXT NOT NULL DEFAULT '{}';`,
	// 11: a workspace's alert rules and channels (JSON; the channels' URLs sealed).
	`CREATE TABLE alert_settings (
		workspace TEXT PRIMARY KEY,
		rules     TEXT NOT NULL DEFAULT '[]',
		channels  TEXT NOT NULL DEFAULT '[]'
	);`,
}

// SchemaVersion is the schema version this build uses.
var SchemaVersion = len(migrations)

// dialect writes a migration for the store's database: {{id}} is a generated key.
func (s *Store) dialect(m string) string {
	if s.pg {
		return strings.ReplaceAll(m, "{{id}}", "BIGSERIAL PRIMARY KEY")
	}
	return strings.ReplaceAll(m, "{{id}}", "INTEGER PRIMARY KEY AUTOINCREMENT")
}

// migrate brings the schema to SchemaVersion; a store from a newer weir is refused.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.exec(ctx, `CREATE TABLE IF NOT EXISTS weir_schema (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create the schema table: %w", err)
	}
	v, err := s.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("the store's schema is at version %d, newer than this weir knows (%d): use a newer weir", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		err := s.tx(ctx, func(tx *txn) error {
			if s.pg { // servers that start together migrate one after the other
				if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(7305178)`); err != nil {
					return err
				}
				var now int
				if err := tx.queryRow(ctx, `SELECT coalesce(max(version), 0) FROM weir_schema`).Scan(&now); err != nil {
					return err
				}
				if now > v {
					return nil // another server took it there
				}
			}
			if _, err := tx.exec(ctx, s.dialect(migrations[v])); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `DELETE FROM weir_schema`); err != nil {
				return err
			}
			_, err := tx.exec(ctx, `INSERT INTO weir_schema (version) VALUES (?)`, v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate the schema to version %d: %w", v+1, err)
		}
	}
	return nil
}

func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.queryRow(ctx, `SELECT max(version) FROM weir_schema`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return int(v.Int64), nil
}
