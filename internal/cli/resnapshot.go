package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/runtime"
)

func resnapshotCommand(g *globals, reg *connector.Registry) *cobra.Command {
	return requestCommand(g, reg, "resnapshot",
		"Copy tables again beside the stream, which goes on: the pipeline empties them in the sink and snapshots them, running or at its next start",
		"copy again", checkpoint.NewRequest)
}

func pauseCommand(g *globals, reg *connector.Registry) *cobra.Command {
	return requestCommand(g, reg, "pause",
		"Pause tables while the others go on: their rows are not written from the pipeline's next checkpoint on, running or at its next start; "+
			"`weir resnapshot` resumes a table by copying it again",
		"pause", checkpoint.NewPauseRequest)
}

// requestCommand is a command that leaves a request naming tables for a pipeline (request).
func requestCommand(g *globals, reg *connector.Registry, name, short, verb string, newRequest func(tables []string) checkpoint.Request) *cobra.Command {
	var (
		f      runFlags
		tables []string
		wait   time.Duration
	)
	cmd := &cobra.Command{
		Use:   name + " FILE.yaml --table DB.TABLE...",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(tables) == 0 {
				return invalid(fmt.Errorf("name the tables to %s: --table db.table (as many as needed)", verb))
			}
			return request(cmd.Context(), g, reg, args[0], f, newRequest(tables), wait)
		},
	}
	cmd.Flags().StringVar(&f.state, "state", ".weir", "directory of local state (checkpoints)")
	cmd.Flags().StringVar(&f.store, "checkpoint-store", "", "the PostgreSQL checkpoint store the pipeline runs with: postgres://user@host/db")
	cmd.Flags().StringSliceVar(&tables, "table", nil, "a table of the source to "+verb+", as db.table (MySQL) or schema.table (PostgreSQL); repeat or separate with commas")
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for a running pipeline to take the request up")
	return cmd
}

// request leaves req in the pipeline's checkpoint store (checkpoint.Request): to copy
// tables again, or to pause them. The process running the pipeline takes it at its next
// checkpoint and resumes from there with the tables marked (engine.ErrRequested); a
// stopped pipeline takes it when it next starts. The names are checked against the
// pipeline's newest checkpoint first.
func request(ctx context.Context, g *globals, reg *connector.Registry, file string, f runFlags, req checkpoint.Request, wait time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	p, err := loadPipeline(g, reg, file)
	if err != nil {
		return err
	}
	store, err := runtime.OpenStore(ctx, f.state, f.store)
	if err != nil {
		return failed(err)
	}
	defer store.Close()
	rq, ok := store.(checkpoint.Requester)
	if !ok {
		return failed(fmt.Errorf("this checkpoint store cannot carry requests"))
	}
	cp, err := store.Load(ctx, p.Name)
	if err != nil {
		return failed(err)
	}
	// The sink's checkpoint, read through its TableReader: opening the sink itself would
	// claim the pipeline there and fence the process running it.
	if open := reg.Sinks[p.Sink.Type].Reader; open != nil {
		env := connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, StateDir: f.state, Parallelism: p.Parallelism,
			SchemaChangeBehavior: p.SchemaChangeBehavior, Role: "resnapshot"}
		reader, err := open(ctx, p.Sink.Config, env)
		if err != nil {
			return failed(fmt.Errorf("open sink %s to read its checkpoint: %w", p.Sink.Type, err))
		}
		kept, err := reader.LoadCheckpoint(ctx, p.Name)
		reader.Close()
		if err != nil {
			return failed(fmt.Errorf("load the checkpoint kept by the sink: %w", err))
		}
		cp = checkpoint.Newest(cp, kept)
	}
	if cp == nil {
		return failed(fmt.Errorf("pipeline %q: %s", p.Name, req.WithoutCheckpoint()))
	}
	if err := req.Mark(cp); err != nil { // only to check the names: cp is not stored
		return invalid(err)
	}
	if err := rq.Request(ctx, p.Name, req); err != nil {
		return failed(err)
	}
	running, err := rq.Running(ctx, p.Name)
	if err != nil {
		return failed(err)
	}
	tables := strings.Join(req.Tables(), ", ")
	asked, next, took := "copy "+tables+" again", "empties them in the sink and snapshots them beside the stream", "it is copying "+tables+" again beside its stream (its log says when the snapshot ends)"
	if len(req.Pause) > 0 {
		asked, next, took = "pause "+tables, "writes none of their rows until `weir resnapshot` copies them again", tables+" is paused: none of its rows is written until `weir resnapshot` copies it again"
	}
	if !running {
		fmt.Fprintf(g.stdout, "asked pipeline %q to %s: it is not running; its next `weir run %s` %s\n", p.Name, asked, file, next)
		return nil
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		pending, err := rq.Requests(ctx, p.Name)
		if err != nil {
			return failed(err)
		}
		if !slices.ContainsFunc(pending, func(r checkpoint.Request) bool { return r.ID == req.ID }) {
			fmt.Fprintf(g.stdout, "pipeline %q took the request: %s\n", p.Name, took)
			return nil
		}
		select {
		case <-ctx.Done():
			return failed(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	fmt.Fprintf(g.stdout, "asked pipeline %q to %s; no process took the request within %s: the one running it takes it at its next checkpoint, or its next run does\n",
		p.Name, asked, wait)
	return nil
}
