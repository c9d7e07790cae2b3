package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// Check is `weir validate` for the source: it connects and checks, without changing
// anything, what the pipeline will need — wal_level, the REPLICATION attribute, a free
// replication slot, and that the selection matches tables weir can copy. Each problem
// names the fix.
func Check(ctx context.Context, cfg *connector.Config, env connector.Env) []error {
	src, err := Open(ctx, cfg, env)
	if err != nil {
		return []error{err}
	}
	defer src.Close()
	return src.(*Source).check(ctx)
}

func (s *Source) check(ctx context.Context) []error {
	var problems []error
	var level string
	if err := s.pool.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		problems = append(problems, fmt.Errorf("read wal_level: %w", err))
	} else if level != "logical" {
		problems = append(problems, fmt.Errorf("wal_level is %s; weir needs logical: set wal_level = logical in postgresql.conf and restart the server", level))
	}
	var repl bool
	if err := s.pool.QueryRow(ctx, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&repl); err != nil {
		problems = append(problems, fmt.Errorf("read the privileges of %s: %w", s.o.User, err))
	} else if !repl {
		problems = append(problems, fmt.Errorf("user %s may not replicate; run ALTER ROLE %s REPLICATION", s.o.User, pgx.Identifier{s.o.User}.Sanitize()))
	}
	st, err := s.slotState(ctx)
	if err != nil {
		problems = append(problems, err)
	} else if st.walStatus == "lost" {
		problems = append(problems, errSlotLost(s.slot))
	}
	if !st.exists {
		var free int
		err := s.pool.QueryRow(ctx, "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)").Scan(&free)
		if err == nil && free < 2 {
			problems = append(problems, fmt.Errorf("%d replication slots are free; weir needs one for the pipeline and one more while a snapshot chunk starts: raise max_replication_slots", free))
		}
	}
	if s.o.NoCreatePublication {
		var exists bool
		if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", s.pub).Scan(&exists); err == nil && !exists {
			problems = append(problems, fmt.Errorf("publication %s does not exist and publication.create is false; create it: CREATE PUBLICATION %s FOR TABLE … WITH (publish_via_partition_root = true)",
				s.pub, pgx.Identifier{s.pub}.Sanitize()))
		}
	}
	tables, err := s.Tables(ctx)
	if err != nil {
		problems = append(problems, err)
	}
	return append(problems, s.checkGrants(ctx, tables)...)
}

// checkGrants names each privilege the user lacks for the selected tables, with the
// statement that grants it: SELECT on each; and, where weir keeps the publication
// (publication.create), ownership of an existing publication, or else CREATE on the
// database and ownership of the tables (CREATE PUBLICATION … FOR TABLE needs both).
func (s *Source) checkGrants(ctx context.Context, tables []*event.Schema) []error {
	var problems []error
	user := pgx.Identifier{s.o.User}.Sanitize()
	var super bool
	if err := s.pool.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return []error{fmt.Errorf("read the privileges of %s: %w", s.o.User, err)}
	}
	if super {
		return nil
	}
	var notOwned []string
	for _, t := range tables {
		var sel, owns bool
		err := s.pool.QueryRow(ctx, `SELECT has_table_privilege($1, 'SELECT'), pg_has_role(c.relowner, 'USAGE')
			FROM pg_class c WHERE c.oid = $1::regclass`, quoteTable(t.ID)).Scan(&sel, &owns)
		if err != nil {
			problems = append(problems, fmt.Errorf("read the privileges on %s: %w", t.ID, err))
			continue
		}
		if !sel {
			problems = append(problems, fmt.Errorf("user %s may not read table %s: GRANT SELECT ON %s TO %s", s.o.User, t.ID, quoteTable(t.ID), user))
		}
		if !owns {
			notOwned = append(notOwned, quoteTable(t.ID))
		}
	}
	if s.o.NoCreatePublication {
		return problems
	}
	pub := pgx.Identifier{s.pub}.Sanitize()
	var exists, ownsPub bool
	err := s.pool.QueryRow(ctx, `SELECT true, pg_has_role(pubowner, 'USAGE') FROM pg_publication WHERE pubname = $1`, s.pub).Scan(&exists, &ownsPub)
	switch {
	case err != nil && err != pgx.ErrNoRows:
		problems = append(problems, fmt.Errorf("read publication %s: %w", s.pub, err))
	case exists && !ownsPub:
		problems = append(problems, fmt.Errorf("publication %s belongs to another user, and weir changes its tables (publication.create is true): "+
			"ALTER PUBLICATION %s OWNER TO %s, or set publication.create: false and keep its tables yourself", s.pub, pub, user))
	case !exists:
		var create bool
		if err := s.pool.QueryRow(ctx, "SELECT has_database_privilege(current_database(), 'CREATE')").Scan(&create); err == nil && !create {
			problems = append(problems, fmt.Errorf("user %s may not create publication %s in this database: GRANT CREATE ON DATABASE %s TO %s, "+
				"or have the tables' owner create it and set publication.create: false", s.o.User, s.pub, pgx.Identifier{s.o.Database}.Sanitize(), user))
		}
	}
	if len(notOwned) > 0 && (!exists || !ownsPub) {
		problems = append(problems, fmt.Errorf("user %s does not own %s, and only a table's owner may add it to a publication: "+
			"have the owner run CREATE PUBLICATION %s FOR TABLE %s WITH (publish_via_partition_root = true) and set publication.create: false, "+
			"or ALTER TABLE … OWNER TO %s", s.o.User, strings.Join(notOwned, ", "), pub, strings.Join(notOwned, ", "), user))
	}
	return problems
}
