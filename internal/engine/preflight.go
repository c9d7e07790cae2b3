package engine

import (
	"context"
	"fmt"

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
