package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/fault"
)

// The slot and publication lifecycle.
//
//	Position (fresh start)  create the publication (FOR TABLE the selected tables,
//	                        publish_via_partition_root) unless publication.create is false,
//	                        then the slot (pgoutput) unless it exists: its consistent
//	                        point is where the stream starts
//	Stream                  keep the publication's tables the selected ones; the slot must
//	                        exist and hold the WAL from the checkpoint on
//	Drop                    removes both: when the pipeline is deleted, never on a stop
//
// A slot or a publication made by hand is used as it is (set slot.name and
// publication.name, and publication.create: false for the publication).

var _ connector.Dropper = (*Source)(nil)

// replConn opens a replication connection (replication=database) with weir's session
// settings.
func (s *Source) replConn(ctx context.Context) (*pgconn.PgConn, error) {
	conn, err := pgconn.ConnectConfig(ctx, s.replConfig)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			return nil, fault.AsFatal(fmt.Errorf("open a replication connection as %s: %w; run ALTER ROLE %s REPLICATION", s.o.User, err, pgx.Identifier{s.o.User}.Sanitize()))
		}
		return nil, classifyConnectError(err, s.addr(), s.o.User)
	}
	return conn, nil
}

// ensurePublication creates the publication, or sets its tables to the selected ones.
func (s *Source) ensurePublication(ctx context.Context) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", s.pub).Scan(&exists); err != nil {
		return fmt.Errorf("look up publication %s: %w", s.pub, err)
	}
	if s.o.NoCreatePublication {
		if !exists {
			return fault.AsFatal(fmt.Errorf("publication %s does not exist and publication.create is false; create it: "+
				"CREATE PUBLICATION %s FOR TABLE … WITH (publish_via_partition_root = true)", s.pub, pgx.Identifier{s.pub}.Sanitize()))
		}
		return nil
	}
	tables, err := s.discover(ctx, s.pool)
	if err != nil {
		return fault.AsFatal(err)
	}
	if len(tables) == 0 {
		return fault.AsFatal(fmt.Errorf("no table of database %s matches tables: %s", s.database, patternList(s.patterns)))
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = quoteTable(t.schema.ID)
	}
	list := strings.Join(names, ", ")
	pub := pgx.Identifier{s.pub}.Sanitize()
	if !exists {
		err = s.exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+list+" WITH (publish_via_partition_root = true)")
	} else {
		err = s.exec(ctx, "ALTER PUBLICATION "+pub+" SET TABLE "+list)
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			return fault.AsFatal(fmt.Errorf("create publication %s: %w; a publication FOR TABLE needs the owner of the tables: "+
				"have their owner run CREATE PUBLICATION %s FOR TABLE %s WITH (publish_via_partition_root = true), and set publication.create: false",
				s.pub, err, pub, list))
		}
		return fmt.Errorf("create publication %s: %w", s.pub, err)
	}
	return nil
}

// slotState is what pg_replication_slots says of the slot.
type slotState struct {
	exists    bool
	plugin    string
	confirmed pglogrepl.LSN
	walStatus string // reserved, extended, unreserved, lost (PostgreSQL 13+)
	active    bool
}

func (s *Source) slotState(ctx context.Context) (slotState, error) {
	var st slotState
	var confirmed, database *string
	err := s.pool.QueryRow(ctx, `SELECT plugin, confirmed_flush_lsn::text, COALESCE(wal_status, ''), active, database::text
		FROM pg_replication_slots WHERE slot_name = $1`, s.slot).Scan(&st.plugin, &confirmed, &st.walStatus, &st.active, &database)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("look up replication slot %s: %w", s.slot, err)
	}
	st.exists = true
	if st.plugin != "pgoutput" || database == nil || *database != s.database {
		return st, fault.AsFatal(fmt.Errorf("replication slot %s exists but is not a pgoutput slot of database %s; choose another slot.name", s.slot, s.database))
	}
	if confirmed != nil {
		st.confirmed, _ = pglogrepl.ParseLSN(*confirmed)
	}
	return st, nil
}

// ensureSlot creates the slot unless it exists, and returns where it starts.
func (s *Source) ensureSlot(ctx context.Context) (pglogrepl.LSN, error) {
	st, err := s.slotState(ctx)
	if err != nil {
		return 0, err
	}
	if st.exists {
		if st.walStatus == "lost" {
			return 0, errSlotLost(s.slot)
		}
		s.log.Info("using the existing replication slot", "slot", s.slot, "confirmed_flush_lsn", st.confirmed)
		return st.confirmed, nil
	}
	conn, err := s.replConn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, s.slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	if err != nil {
		return 0, classifySlotError(err, s.slot)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, fmt.Errorf("slot %s: consistent point %q: %w", s.slot, res.ConsistentPoint, err)
	}
	s.log.Info("created the replication slot", "slot", s.slot, "consistent_point", lsn)
	return lsn, nil
}

func classifySlotError(err error, slot string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "53400": // configuration_limit_exceeded: all replication slots are in use
			return fault.AsFatal(fmt.Errorf("create replication slot %s: %w; raise max_replication_slots or drop unused slots", slot, err))
		case "55000": // object_not_in_prerequisite_state: wal_level
			return fault.AsFatal(fmt.Errorf("create replication slot %s: %w; set wal_level = logical in postgresql.conf and restart the server", slot, err))
		case "42501":
			return fault.AsFatal(fmt.Errorf("create replication slot %s: %w; the user needs the REPLICATION attribute", slot, err))
		}
	}
	return fmt.Errorf("create replication slot %s: %w", slot, err)
}

func errSlotLost(slot string) error {
	return fault.AsFatal(fmt.Errorf("replication slot %s was invalidated: the server removed WAL it still needed (max_slot_wal_keep_size); "+
		"changes since the last checkpoint are lost to it, so the pipeline must start over: `weir reset PIPELINE.yaml` drops the slot and the checkpoints, "+
		"then run it again for a new snapshot", slot))
}

// Traces names the slot and the publication weir made, where they exist.
func (s *Source) Traces(ctx context.Context) ([]string, error) {
	st, err := s.slotState(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	if st.exists {
		out = append(out, fmt.Sprintf("replication slot %s on %s (it holds WAL from %s)", s.slot, s.addr(), st.confirmed))
	}
	if !s.o.NoCreatePublication {
		var exists bool
		if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", s.pub).Scan(&exists); err != nil {
			return nil, fmt.Errorf("look up publication %s: %w", s.pub, err)
		}
		if exists {
			out = append(out, fmt.Sprintf("publication %s in database %s", s.pub, s.database))
		}
	}
	return out, nil
}

// Drop removes the slot and, when weir made it, the publication: the pipeline is reset or
// deleted.
func (s *Source) Drop(ctx context.Context) error {
	st, err := s.slotState(ctx)
	if err != nil {
		return err
	}
	if st.exists {
		if err := s.exec(ctx, "SELECT pg_drop_replication_slot($1)", s.slot); err != nil {
			return fmt.Errorf("drop replication slot %s: %w (is a pipeline still reading it?)", s.slot, err)
		}
	}
	if !s.o.NoCreatePublication {
		if err := s.exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{s.pub}.Sanitize()); err != nil {
			return fmt.Errorf("drop publication %s: %w", s.pub, err)
		}
	}
	return nil
}

// tempSlot is a temporary slot made for the exact point of a snapshot chunk: its
// consistent point and the name of the snapshot exported at it, valid while conn stays
// open and idle.
type tempSlot struct {
	conn     *pgconn.PgConn
	point    pglogrepl.LSN
	snapshot string
}

// createTempSlot creates a temporary slot that exports its snapshot.
func (s *Source) createTempSlot(ctx context.Context, conn *pgconn.PgConn, name string) (*tempSlot, error) {
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, name, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return nil, classifySlotError(err, name)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return nil, fmt.Errorf("slot %s: consistent point %q: %w", name, res.ConsistentPoint, err)
	}
	return &tempSlot{conn: conn, point: lsn, snapshot: res.SnapshotName}, nil
}

// drop ends the export and drops the temporary slot, leaving conn for another one.
func (t *tempSlot) drop(ctx context.Context, name string) error {
	return pglogrepl.DropReplicationSlot(ctx, t.conn, name, pglogrepl.DropReplicationSlotOptions{})
}
