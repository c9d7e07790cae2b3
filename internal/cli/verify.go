package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/verify"
)

func verifyCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var (
		asJSON bool
		state  string
		o      verify.Options
	)
	cmd := &cobra.Command{
		Use:   "verify FILE.yaml",
		Short: "Compare the pipeline's sink with its source, table by table and key by key; exit 1 on any difference",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPipeline(g, reg, args[0])
			if err != nil {
				return err
			}
			ctx, log, err := g.commandContext(cmd)
			if err != nil {
				return err
			}
			if o.Parallelism <= 0 {
				o.Parallelism = p.Parallelism
			}
			o.Pipeline = p.Name
			o.ProgressFile = filepath.Join(state, "verify", p.Name+".json")
			env := connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, Parallelism: o.Parallelism, Verifying: true, Role: "verify"}
			opened, err := reg.Sources[p.Source.Type].Open(ctx, p.Source.Config, env)
			if err != nil {
				return failed(fmt.Errorf("open source %s: %w", p.Source.Type, err))
			}
			defer opened.Close()
			src, ok := opened.(verify.Source)
			if !ok {
				return failed(connector.Unsupported(p.Source.Type, "verify (reading tables in chunks and by key)"))
			}
			openReader := reg.Sinks[p.Sink.Type].Reader
			if openReader == nil {
				return failed(connector.Unsupported(p.Sink.Type, "verify (reading its tables back)"))
			}
			sink, err := openReader(ctx, p.Sink.Config, env)
			if err != nil {
				return failed(fmt.Errorf("open sink %s for reading: %w", p.Sink.Type, err))
			}
			defer sink.Close()
			schemas, err := src.Tables(ctx)
			if err != nil {
				return failed(fmt.Errorf("resolve the source's tables: %w", err))
			}
			if o.ChunkRows <= 0 {
				const chunkKey = "scan.incremental.snapshot.chunk.size"
				if p.Source.Config.Spec.Field(chunkKey) != nil {
					o.ChunkRows = int(p.Source.Config.Int(chunkKey))
				}
			}
			tf, err := runtime.Transformer(p, log)
			if err != nil {
				return invalid(err)
			}
			o.Gone = goneTables(ctx, sink, state, p.Name, schemas)
			var rep *verify.Report
			if tf != nil { // the sink's tables are what the transforms and routes make
				rep, err = verify.RunMapped(ctx, src, sink, schemas, tf, o)
			} else {
				rep, err = verify.Run(ctx, src, sink, schemas, o)
			}
			if err != nil {
				return failed(err)
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(g, rep)
			}
			if rep.Differences > 0 {
				return failed(fmt.Errorf("the sink differs from the source in %d row(s)", rep.Differences))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().DurationVar(&o.Settle, "settle", 0, "while the pipeline runs: compare differing keys again, once the sink has caught up with where they were seen, for up to this long")
	cmd.Flags().IntVar(&o.RowsPerSecond, "rows-per-second", 0, "most rows read per second from source and sink together (0: no limit)")
	cmd.Flags().IntVar(&o.Parallelism, "parallelism", 0, "chunks compared at once (default: pipeline.parallelism)")
	cmd.Flags().IntVar(&o.ChunkRows, "chunk-rows", 0, "rows per chunk (default: the source's scan.incremental.snapshot.chunk.size)")
	cmd.Flags().IntVar(&o.MaxKeys, "max-keys", 100, "differing keys listed per table (all are counted)")
	cmd.Flags().StringVar(&state, "state", ".weir", "directory of local state: the comparison's progress is kept in verify/PIPELINE.json until it ends")
	cmd.Flags().BoolVar(&o.NoDigest, "no-digest", false, "compare every chunk row by row, even where source and sink could digest it on their servers")
	cmd.Flags().BoolVar(&o.Resume, "resume", false, "go on with an interrupted comparison from where it stopped")
	return cmd
}

// printReport prints one line per table, then its differing keys.
func printReport(g *globals, rep *verify.Report) {
	for _, t := range rep.Tables {
		fmt.Fprintf(g.stdout, "%s: source %d rows, sink %d rows: ", t.Table, t.SourceRows, t.SinkRows)
		switch {
		case t.Note != "" && t.Missing+t.Extra+t.Different == 0:
			fmt.Fprintln(g.stdout, t.Note)
			continue
		case t.Missing+t.Extra+t.Different == 0 && t.Digested > 0:
			fmt.Fprintf(g.stdout, "equal (%d rows by digest)\n", t.Digested)
			continue
		case t.Missing+t.Extra+t.Different == 0:
			fmt.Fprintln(g.stdout, "equal")
			continue
		}
		fmt.Fprintf(g.stdout, "%d missing, %d extra, %d different", t.Missing, t.Extra, t.Different)
		if t.Note != "" {
			fmt.Fprintf(g.stdout, " (%s)", t.Note)
		}
		fmt.Fprintln(g.stdout)
		for _, d := range t.Keys {
			fmt.Fprintf(g.stdout, "  %-9s %s", d.Kind, keyText(d.Key))
			for i, c := range d.Columns {
				sep := ": "
				if i > 0 {
					sep = ", "
				}
				fmt.Fprintf(g.stdout, "%s%s (source %s, sink %s)", sep, c.Column, c.Source, c.Sink)
			}
			fmt.Fprintln(g.stdout)
		}
		if n := t.Missing + t.Extra + t.Different; n > int64(len(t.Keys)) && len(t.Keys) > 0 {
			fmt.Fprintf(g.stdout, "  … and %d more (--max-keys)\n", n-int64(len(t.Keys)))
		}
	}
	if rep.Differences == 0 {
		fmt.Fprintln(g.stdout, "the sink equals the source")
	}
}

func keyText(key map[string]any) string {
	b, _ := json.Marshal(key)
	return strings.Trim(string(b), "{}")
}

// goneTables are the tables of the pipeline's newest checkpoint (the sink's or the local
// store's) that the source no longer has.
func goneTables(ctx context.Context, sink connector.TableReader, state, pipeline string, now []*event.Schema) []*event.Schema {
	cp, _ := sink.LoadCheckpoint(ctx, pipeline)
	if store, err := checkpoint.OpenLocal(state); err == nil {
		local, _ := store.Load(ctx, pipeline)
		store.Close()
		cp = checkpoint.Newest(cp, local)
	}
	if cp == nil {
		return nil
	}
	have := map[event.TableID]bool{}
	for _, s := range now {
		have[s.ID] = true
	}
	var gone []*event.Schema
	for _, s := range cp.Schemas {
		if !have[s.ID] {
			gone = append(gone, s)
		}
	}
	return gone
}
