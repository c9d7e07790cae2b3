package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
)

func resnapshotCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var (
		f      runFlags
		tables []string
	)
	cmd := &cobra.Command{
		Use:   "resnapshot FILE.yaml --table DB.TABLE...",
		Short: "Copy tables again: their next run empties them in the sink and snapshots them beside the stream, which goes on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(tables) == 0 {
				return invalid(fmt.Errorf("name the tables to copy again: --table db.table (as many as needed)"))
			}
			return resnapshot(cmd.Context(), g, reg, args[0], f, tables)
		},
	}
	cmd.Flags().StringVar(&f.state, "state", ".weir", "directory of local state (checkpoints)")
	cmd.Flags().StringVar(&f.store, "checkpoint-store", "", "the PostgreSQL checkpoint store the pipeline runs with: postgres://user@host/db")
	cmd.Flags().StringSliceVar(&tables, "table", nil, "a table of the source to copy again, as db.table (MySQL) or schema.table (PostgreSQL); repeat or separate with commas")
	return cmd
}

// resnapshot marks tables in the pipeline's newest checkpoint (the store's or the sink's)
// for a new copy (checkpoint.MarkResnapshot) and stores it as the next checkpoint. The
// pipeline must be stopped: its next run takes the mark up.
func resnapshot(ctx context.Context, g *globals, reg *connector.Registry, file string, f runFlags, names []string) error {
	st, err := claimStopped(ctx, g, reg, file, f, "stop it, run resnapshot, then start it again: the tables are copied beside its stream")
	if err != nil {
		return err
	}
	defer st.close()
	ctx, log, p, store, gen := st.ctx, st.log, st.p, st.store, st.gen
	cp, err := store.Load(ctx, p.Name)
	if err != nil {
		return failed(err)
	}
	env := connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, StateDir: f.state, Parallelism: p.Parallelism,
		SchemaChangeBehavior: p.SchemaChangeBehavior, Role: "resnapshot"}
	sink, err := reg.Sinks[p.Sink.Type].Open(ctx, p.Sink.Config, env)
	if err != nil {
		return failed(fmt.Errorf("open sink %s: %w", p.Sink.Type, err))
	}
	if keeper, ok := sink.(connector.CheckpointKeeper); ok {
		kept, err := keeper.LoadCheckpoint(ctx, p.Name)
		if err != nil {
			sink.Close()
			return failed(fmt.Errorf("load the checkpoint kept by the sink: %w", err))
		}
		cp = checkpoint.Newest(cp, kept)
	}
	sink.Close()
	if cp == nil {
		return failed(fmt.Errorf("pipeline %q has no checkpoint: its first run copies every table anyway", p.Name))
	}
	if err := cp.MarkResnapshot(names); err != nil {
		return invalid(err)
	}
	cp.Seq++
	cp.Generation = gen
	cp.Time = time.Now()
	if err := store.Save(ctx, cp); err != nil {
		return failed(fmt.Errorf("store the marked checkpoint: %w", err))
	}
	fmt.Fprintf(g.stdout, "marked %s to be copied again: the next `weir run %s` empties them in the sink and snapshots them beside the stream\n",
		strings.Join(names, ", "), file)
	return nil
}
