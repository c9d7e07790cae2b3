package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/transform"
)

func validateCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "validate FILE.yaml",
		Short: "Check a pipeline file (and, unless --offline, that its source and sink are reachable and set up)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			load := spec.Load
			if offline {
				load = spec.LoadUnset
			}
			p, err := loadPipelineWith(g, reg, args[0], load)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: the file is valid\n", args[0])
			if p.Name != p.Title {
				fmt.Fprintf(g.stdout, "pipeline %q goes by %s in state, slots, server-ids and metrics\n", p.Title, p.Name)
			}
			for _, n := range p.Notes {
				fmt.Fprintf(g.stdout, "note: %s\n", n)
			}
			fmt.Fprintf(g.stdout, "\n%s\n", p.Redacted())
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
	if err := reportProblems(g, problems); err != nil {
		return err
	}
	src, err := reg.Sources[p.Source.Type].Open(ctx, p.Source.Config, env)
	if err != nil {
		return failed(fmt.Errorf("source %s: open: %w", p.Source.Type, err))
	}
	defer src.Close()
	schemas, err := src.Tables(ctx)
	if err != nil {
		return failed(fmt.Errorf("source %s: resolve the tables: %w", p.Source.Type, err))
	}
	tf, err := runtime.Transformer(p, log)
	if err != nil {
		return invalid(err)
	}
	if tf != nil {
		if err := tf.Prepare(schemas); err != nil { // compiled against the real tables: the file is wrong
			return invalid(fmt.Errorf("transform: %w", err))
		}
	}
	if err := sinkIsNotSource(ctx, reg, p, env, src, schemas, tf); err != nil {
		problems = append(problems, err)
	}
	if check := reg.Sinks[p.Sink.Type].CheckTables; check != nil {
		sinkSchemas := schemas
		if tf != nil {
			sinkSchemas = nil
			for _, s := range schemas {
				out, err := tf.SinkSchemas(s)
				if err != nil {
					return failed(err)
				}
				sinkSchemas = append(sinkSchemas, out...)
			}
		}
		for _, e := range check(sinkSchemas, p.Sink.Config, env) {
			problems = append(problems, fmt.Errorf("sink %s: %w", p.Sink.Type, e))
		}
	}
	if err := reportProblems(g, problems); err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, "source and sink: ok")
	if advise := reg.Sinks[p.Sink.Type].Advise; advise != nil {
		for _, w := range advise(schemas, p.Sink.Config, env) {
			fmt.Fprintf(g.stdout, "warning: sink %s: %s\n", p.Sink.Type, w)
		}
	}
	return nil
}

// reportProblems prints each problem and fails when there is one.
func reportProblems(g *globals, problems []error) error {
	for _, e := range problems {
		fmt.Fprintln(g.stderr, "problem:", e)
	}
	if len(problems) > 0 {
		return failed(fmt.Errorf("%d problem(s) with the source or sink", len(problems)))
	}
	return nil
}

// sinkIsNotSource refuses a sink that is the source (engine.SinkIsNotSource), through the
// sink's reader, which connects without writing anything.
func sinkIsNotSource(ctx context.Context, reg *connector.Registry, p *spec.Pipeline, env connector.Env, src connector.Source, schemas []*event.Schema, tf *transform.Transformer) error {
	openReader := reg.Sinks[p.Sink.Type].Reader
	if openReader == nil {
		return nil
	}
	reader, err := openReader(ctx, p.Sink.Config, env)
	if err != nil {
		return fmt.Errorf("sink %s: open for reading: %w", p.Sink.Type, err)
	}
	defer reader.Close()
	if tf == nil {
		return engine.SinkIsNotSource(ctx, src, reader, schemas, nil)
	}
	return engine.SinkIsNotSource(ctx, src, reader, schemas, tf)
}

func docsCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var openapi bool
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Print the reference of the pipeline file and of every connector, as Markdown (--openapi: the server API's OpenAPI document)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if openapi {
				doc, err := server.DocumentJSON()
				if err != nil {
					return failed(err)
				}
				_, err = g.stdout.Write(doc)
				return err
			}
			fmt.Fprint(g.stdout, spec.Docs(reg))
			return nil
		},
	}
	cmd.Flags().BoolVar(&openapi, "openapi", false, "print the OpenAPI 3 document of weir server's API instead")
	return cmd
}
