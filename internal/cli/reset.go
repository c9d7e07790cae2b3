package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/spec"
)

func resetCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var (
		f   runFlags
		yes bool
	)
	cmd := &cobra.Command{
		Use:   "reset FILE.yaml",
		Short: "Remove every trace of a pipeline (checkpoint, the sink's checkpoint row, replication slot and publication), so that its next run starts over",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return resetPipeline(cmd.Context(), g, reg, args[0], f, yes)
		},
	}
	cmd.Flags().StringVar(&f.state, "state", ".weir", "directory of local state (checkpoints)")
	cmd.Flags().StringVar(&f.store, "checkpoint-store", "", "the PostgreSQL checkpoint store the pipeline runs with: postgres://user@host/db")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask; remove at once (for scripts)")
	return cmd
}

// resetPipeline lists what the pipeline keeps, asks, and removes it. It claims the
// pipeline first, so a running process of it is named and nothing is removed.
func resetPipeline(ctx context.Context, g *globals, reg *connector.Registry, file string, f runFlags, yes bool) error {
	st, err := claimStopped(ctx, g, reg, file, f, "stop it before resetting it")
	if err != nil {
		return err
	}
	defer st.close()
	ctx, log, p, store, gen := st.ctx, st.log, st.p, st.store, st.gen

	env := connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, StateDir: f.state, Parallelism: p.Parallelism,
		SchemaChangeBehavior: p.SchemaChangeBehavior, Role: "reset"}
	where := "in " + filepath.Join(f.state, "pipelines", p.Name)
	if f.store != "" {
		where = "in the PostgreSQL checkpoint store"
	}
	traces, closeTraces, err := runtime.Traces(ctx, reg, p, env, store, gen, where)
	if err != nil {
		return failed(err)
	}
	defer closeTraces()
	if len(traces) == 0 {
		fmt.Fprintf(g.stdout, "pipeline %q keeps nothing: there is nothing to reset\n", p.Name)
		return nil
	}
	fmt.Fprintf(g.stdout, "reset of pipeline %q removes:\n", p.Name)
	for _, t := range traces {
		fmt.Fprintf(g.stdout, "  - %s\n", t.What)
	}
	fmt.Fprintln(g.stdout, "its next run starts over: a new snapshot, then the changes from then on.")
	if !yes {
		in, ok := g.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) {
			return invalid(errors.New("reset asks before it removes anything, and standard input is not a terminal: run it with --yes to confirm"))
		}
		fmt.Fprintf(g.stdout, "type the pipeline's name (%s) to confirm: ", p.Name)
		answer, _ := bufio.NewReader(in).ReadString('\n')
		if strings.TrimSpace(answer) != p.Name {
			return failed(errors.New("not confirmed: nothing was removed"))
		}
	}
	if err := runtime.DropTraces(ctx, traces); err != nil {
		return failed(fmt.Errorf("reset: %w (what is listed before it is removed; run reset again once this is fixed)", err))
	}
	fmt.Fprintf(g.stdout, "pipeline %q is reset\n", p.Name)
	return nil
}

// stopped is a pipeline claimed by a command that works on it while it does not run.
type stopped struct {
	ctx   context.Context
	log   *slog.Logger
	p     *spec.Pipeline
	store checkpoint.Store
	gen   int64
}

func (s *stopped) close() {
	s.store.Release(s.ctx, s.p.Name)
	s.store.Close()
}

// claimStopped loads a pipeline file and claims the pipeline in its checkpoint store, so
// that a process running it is named (with advice, what to do) and nothing is changed.
func claimStopped(ctx context.Context, g *globals, reg *connector.Registry, file string, f runFlags, advice string) (*stopped, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	p, err := loadPipeline(g, reg, file)
	if err != nil {
		return nil, err
	}
	store, err := runtime.OpenStore(ctx, f.state, f.store)
	if err != nil {
		return nil, failed(err)
	}
	gen, err := store.Acquire(ctx, p.Name)
	if err != nil {
		store.Close()
		return nil, failed(fmt.Errorf("claim pipeline %q: %w; %s", p.Name, err, advice))
	}
	return &stopped{ctx: ctx, log: log, p: p, store: store, gen: gen}, nil
}
