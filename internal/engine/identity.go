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
	routes, _ := tf.(SinkTabler)
	for _, s := range schemas {
		targets := []event.TableID{s.ID}
		if routes != nil {
			out, err := routes.SinkSchemas(s)
			if err != nil {
				return err
			}
			targets = targets[:0]
			for _, o := range out {
				targets = append(targets, o.ID)
			}
		}
		for _, id := range targets {
			if id == s.ID {
				return fault.AsFatal(fmt.Errorf("the sink is the source's own server and table %s would be written into itself; "+
					"route it to another table or database (route: - source-table: %s, sink-table: OTHERDB.%s), or point the sink at another server",
					s.ID, s.ID, s.ID.Table))
			}
		}
	}
	return nil
}
