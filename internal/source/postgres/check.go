package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/connector"
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
	if _, err := s.Tables(ctx); err != nil {
		problems = append(problems, err)
	}
	return problems
}
