package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/spec"
)

func validateCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "validate FILE.yaml",
		Short: "Check a pipeline file (and, unless --offline, that its source and sink are reachable and set up)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPipeline(g, reg, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: the file is valid\n\n%s\n", args[0], p.Redacted())
			if offline {
				return nil
			}
			return checkConnectors(cmd.Context(), g, reg, p)
		},
	}
	cmd.Flags().BoolVar(&offline, "offline", false, "check the file only; do not connect")
	return cmd
}

// checkConnectors opens the source and the sink and runs their checks.
func checkConnectors(ctx context.Context, g *globals, reg *connector.Registry, p *spec.Pipeline) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	env := connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, Parallelism: p.Parallelism, SchemaChangeBehavior: p.SchemaChangeBehavior}
	var problems []error
	if check := reg.Sources[p.Source.Type].Check; check != nil {
		for _, e := range check(ctx, p.Source.Config, env) {
			problems = append(problems, fmt.Errorf("source %s: %w", p.Source.Type, e))
		}
	}
	if check := reg.Sinks[p.Sink.Type].Check; check != nil {
		for _, e := range check(ctx, p.Sink.Config, env) {
			problems = append(problems, fmt.Errorf("sink %s: %w", p.Sink.Type, e))
		}
	}
	for _, e := range problems {
		fmt.Fprintln(g.stderr, "problem:", e)
	}
	if len(problems) > 0 {
		return failed(fmt.Errorf("%d problem(s) with the source or sink", len(problems)))
	}
	fmt.Fprintln(g.stdout, "source and sink: ok")
	if advise := reg.Sinks[p.Sink.Type].Advise; advise != nil {
		schemas, err := sourceTables(ctx, reg, p, env)
		if err != nil {
			return failed(err)
		}
		for _, w := range advise(schemas, p.Sink.Config, env) {
			fmt.Fprintf(g.stdout, "warning: sink %s: %s\n", p.Sink.Type, w)
		}
	}
	return nil
}

// sourceTables opens the source and resolves its table selection, for the sink's advice.
func sourceTables(ctx context.Context, reg *connector.Registry, p *spec.Pipeline, env connector.Env) ([]*event.Schema, error) {
	src, err := reg.Sources[p.Source.Type].Open(ctx, p.Source.Config, env)
	if err != nil {
		return nil, fmt.Errorf("source %s: open: %w", p.Source.Type, err)
	}
	defer src.Close()
	schemas, err := src.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("source %s: resolve the tables: %w", p.Source.Type, err)
	}
	return schemas, nil
}

func docsCommand(g *globals, reg *connector.Registry) *cobra.Command {
	return &cobra.Command{
		Use:   "docs",
		Short: "Print the reference of the pipeline file and of every connector, as Markdown",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(g.stdout, spec.Docs(reg))
			return nil
		},
	}
}
