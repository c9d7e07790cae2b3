package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// SinkTabler is what SinkIsNotSource needs of the transforms: the sink tables a source
// table's rows go to (transform.Transformer has it).
type SinkTabler interface {
	SinkSchemas(s *event.Schema) ([]*event.Schema, error)
}

// SinkIsNotSource refuses a pipeline that would write into a table it reads: its source
// and sink (the sink or its reader) are one server (connector.Identified) and a selected table goes, through the
// routes (tf, nil or without SinkSchemas: none), to a sink table of the same name. Such a
// pipeline would feed its own output back to itself, and a sink that alters its tables
// (soft deletes, schema evolution) would alter the source. The error is fatal and names
// the table and the fix. Connectors that cannot tell their server pass.
func SinkIsNotSource(ctx context.Context, source, sink any, schemas []*event.Schema, tf any) error {
	si, ok1 := source.(connector.Identified)
	ki, ok2 := sink.(connector.Identified)
	if !ok1 || !ok2 {
		return nil
	}
	a, err := si.Identity(ctx)
	if err != nil {
		return err
	}
	b, err := ki.Identity(ctx)
	if err != nil {
		return err
	}
	if a != b {
		return nil
	}
	for _, s := range schemas {
		targets, err := sinkSchemas([]*event.Schema{s}, tf)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if t.ID == s.ID {
				return fault.AsFatal(fmt.Errorf("the sink is the source's own server and table %s would be written into itself; "+
					"route it to another table or database (route: - source-table: %s, sink-table: OTHERDB.%s), or point the sink at another server",
					s.ID, s.ID, s.ID.Table))
			}
		}
	}
	return nil
}

// sinkSchemas are the schemas of the sink tables that tables go to, through tf (nil or
// without SinkSchemas: the tables themselves).
func sinkSchemas(tables []*event.Schema, tf any) ([]*event.Schema, error) {
	routes, ok := tf.(SinkTabler)
	if !ok {
		return tables, nil
	}
	var out []*event.Schema
	for _, s := range tables {
		ss, err := routes.SinkSchemas(s)
		if err != nil {
			return nil, err
		}
		out = append(out, ss...)
	}
	return out, nil
}

// sinkCanMakeTables asks a sink that can tell (connector.TableChecker) whether it could
// make a table for each sink schema, before anything is written.
func sinkCanMakeTables(sink any, tables []*event.Schema, tf any) error {
	tc, ok := sink.(connector.TableChecker)
	if !ok {
		return nil
	}
	ss, err := sinkSchemas(tables, tf)
	if err != nil {
		return err
	}
	return tc.CheckTables(ss)
}

// emptyForResnapshot empties in the sink the tables `weir resnapshot` marked, before their
// new copy is read (checkpoint.Checkpoint.Resnapshot): a sink table that other source
// tables share (a route that merges shards) is left as it is, and the new copy is written
// over it. A sink that cannot empty a table (files, the console) keeps what it has.
func emptyForResnapshot(ctx context.Context, log *slog.Logger, sink any, schemas []*event.Schema, tables []event.TableID, tf any) error {
	tr, ok := sink.(connector.Truncater)
	if !ok {
		log.Info("copying tables again (weir resnapshot); this sink keeps what it already has of them", "tables", tables)
		return nil
	}
	users := map[event.TableID]int{} // sink table → how many source tables go to it
	for _, s := range schemas {
		out, err := sinkSchemas([]*event.Schema{s}, tf)
		if err != nil {
			return err
		}
		for _, o := range out {
			users[o.ID]++
		}
	}
	for _, id := range tables {
		for _, s := range schemas {
			if s.ID != id {
				continue
			}
			out, err := sinkSchemas([]*event.Schema{s}, tf)
			if err != nil {
				return err
			}
			for _, o := range out {
				if users[o.ID] > 1 {
					log.Warn("copying a table again (weir resnapshot) into a sink table other tables share: its rows are written over, none removed",
						"table", id, "sink_table", o.ID)
					continue
				}
				if err := tr.TruncateTable(ctx, o.ID); err != nil {
					return fmt.Errorf("empty sink table %s to copy %s again: %w", o.ID, id, err)
				}
				log.Info("emptied a sink table to copy its source table again (weir resnapshot)", "table", id, "sink_table", o.ID)
			}
		}
	}
	return nil
}
