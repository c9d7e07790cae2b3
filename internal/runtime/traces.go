package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/spec"
)

// Trace is something a pipeline keeps between its runs, with how to remove it.
type Trace struct {
	What string
	// Drop removes it (nil: removed with the trace listed after it, the same
	// connector's last).
	Drop func(ctx context.Context) error
}

// Traces lists what pipeline p keeps: its checkpoint in store (where says where, for a
// person), what its source and sink keep on their servers (a replication slot and
// publication, the sink's checkpoint row; connector.Dropper), and an interrupted verify's
// progress under env.StateDir. The caller holds the pipeline's claim at generation gen;
// close closes the connectors opened to list them, after the drops.
func Traces(ctx context.Context, reg *connector.Registry, p *spec.Pipeline, env connector.Env, store checkpoint.Store, gen int64, where string) (traces []Trace, close func(), err error) {
	src, sink, err := OpenConnectors(ctx, reg, p, env)
	if err != nil {
		return nil, nil, err
	}
	close = func() {
		src.Close()
		sink.Close()
	}
	cp, err := store.Load(ctx, p.Name)
	if err != nil {
		close()
		return nil, nil, err
	}
	if cp != nil {
		traces = append(traces, Trace{fmt.Sprintf("checkpoint #%d at position %s, %s", cp.Seq, cp.Position, where),
			func(ctx context.Context) error { return store.Reset(ctx, p.Name, gen) }})
	}
	for _, c := range []struct {
		role string
		conn any
	}{{"source " + p.Source.Type, src}, {"sink " + p.Sink.Type, sink}} {
		d, ok := c.conn.(connector.Dropper)
		if !ok {
			continue
		}
		names, err := d.Traces(ctx)
		if err != nil {
			close()
			return nil, nil, fmt.Errorf("%s: %w", c.role, err)
		}
		for i, n := range names {
			tr := Trace{What: c.role + ": " + n}
			if i == len(names)-1 {
				tr.Drop = d.Drop
			}
			traces = append(traces, tr)
		}
	}
	progress := filepath.Join(env.StateDir, "verify", p.Name+".json")
	if _, err := os.Stat(progress); err == nil {
		traces = append(traces, Trace{"an interrupted verify's progress, " + progress, func(context.Context) error { return os.Remove(progress) }})
	}
	return traces, close, nil
}

// DropTraces removes traces in order; it stops at the first that fails.
func DropTraces(ctx context.Context, traces []Trace) error {
	for _, t := range traces {
		if t.Drop == nil {
			continue
		}
		if err := t.Drop(ctx); err != nil {
			return fmt.Errorf("remove %s: %w", t.What, err)
		}
	}
	return nil
}
