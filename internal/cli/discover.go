package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/preview"
	"github.com/weir-data/weir/internal/sensitive"
)

func discoverCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var (
		asJSON, sensitiveOnly bool
		sample                int
	)
	cmd := &cobra.Command{
		Use:   "discover FILE.yaml",
		Short: "List the tables, columns, keys and mapped types the pipeline's source would emit",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, _ := cmd.Flags().GetString("source")
			switch {
			case len(args) == 1 && file != "" && file != args[0]:
				return invalid(fmt.Errorf("two pipeline files (%s and --source %s): give one", args[0], file))
			case len(args) == 1:
				file = args[0]
			case file == "":
				return invalid(fmt.Errorf("the pipeline file is missing: weir discover FILE.yaml"))
			}
			p, err := loadPipeline(g, reg, file)
			if err != nil {
				return err
			}
			ctx, log, err := g.commandContext(cmd)
			if err != nil {
				return err
			}
			src, err := reg.Sources[p.Source.Type].Open(ctx, p.Source.Config, connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, Parallelism: 1, Role: "discover"})
			if err != nil {
				return failed(fmt.Errorf("open source %s: %w", p.Source.Type, err))
			}
			defer src.Close()
			tables, err := src.Tables(ctx)
			if err != nil {
				return failed(fmt.Errorf("resolve the source's tables: %w", err))
			}
			if sensitiveOnly {
				return discoverSensitive(ctx, g, src, tables, sample, asJSON)
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(tables)
			}
			printTables(g, tables)
			return nil
		},
	}
	cmd.Flags().String("source", "", "the pipeline file whose source to discover (the same as the argument; kept for scripts)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the schemas as JSON")
	cmd.Flags().BoolVar(&sensitiveOnly, "sensitive", false, "list the columns that look like personal data (by name, and by a sample of their values), with a mask for each")
	cmd.Flags().IntVar(&sample, "sample", 200, "with --sensitive: rows sampled per table (0: names only)")
	return cmd
}

// discoverSensitive prints the columns that look sensitive, and the transform items that
// would mask them.
func discoverSensitive(ctx context.Context, g *globals, src connector.Source, tables []*event.Schema, n int, asJSON bool) error {
	reader, canRead := src.(connector.ChunkReader)
	type tableFindings struct {
		Table    string              `json:"table"`
		Sampled  int                 `json:"sampled"`
		Findings []sensitive.Finding `json:"findings"`
	}
	var all []tableFindings
	for _, s := range tables {
		var rows []event.Row
		if canRead && n > 0 {
			var err error
			if rows, err = preview.Sample(ctx, reader, s, n); err != nil {
				return failed(err)
			}
		}
		if f := sensitive.Detect(s, rows); len(f) > 0 {
			all = append(all, tableFindings{Table: s.ID.Schema + "." + s.ID.Table, Sampled: len(rows), Findings: f})
		}
	}
	if asJSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	if len(all) == 0 {
		fmt.Fprintln(g.stdout, "no column looks sensitive (by name, or by its sampled values)")
		return nil
	}
	w := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "table\tcolumn\tlooks like\tbecause of")
	for _, t := range all {
		for _, f := range t.Findings {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Table, f.Column, f.Kind, f.Evidence)
		}
	}
	w.Flush()
	fmt.Fprintln(g.stdout, "\n# masks for them (hash and encrypt need mask.key; see docs/transform.md):\ntransform:")
	for _, t := range all {
		db, table, _ := strings.Cut(t.Table, ".")
		fmt.Fprintf(g.stdout, "  - source-table: %s.%s\n    mask:\n", regexp.QuoteMeta(db), regexp.QuoteMeta(table))
		for _, f := range t.Findings {
			fmt.Fprintf(g.stdout, "      - %s\n", f.Mask)
		}
		fmt.Fprintln(g.stdout, "    mask.key: ${WEIR_MASK_KEY}")
	}
	return nil
}

func printTables(g *globals, tables []*event.Schema) {
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(g.stdout)
		}
		key := strings.Join(t.KeyNames(), ", ")
		if key == "" {
			key = "none: it is not copied until it has a primary key or scan.incremental.snapshot.chunk.key-column names a unique NOT NULL column"
		}
		fmt.Fprintf(g.stdout, "%s  (key: %s)\n", t.ID, key)
		w := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  column\tsource type\tweir type\tnull")
		for _, c := range t.Columns {
			null := "NOT NULL"
			if c.Nullable {
				null = "NULL"
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", c.Name, c.SourceType, c.Type, null)
		}
		w.Flush()
	}
}
