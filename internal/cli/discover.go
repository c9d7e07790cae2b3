package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

func discoverCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "discover --source FILE.yaml",
		Short: "List the tables, columns, keys and mapped types the pipeline's source would emit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, _ := cmd.Flags().GetString("source")
			if file == "" {
				return invalid(fmt.Errorf("--source FILE.yaml is required"))
			}
			p, err := loadPipeline(g, reg, file)
			if err != nil {
				return err
			}
			ctx, log, err := g.commandContext(cmd)
			if err != nil {
				return err
			}
			src, err := reg.Sources[p.Source.Type].Open(ctx, p.Source.Config, connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, Parallelism: 1})
			if err != nil {
				return failed(fmt.Errorf("open source %s: %w", p.Source.Type, err))
			}
			defer src.Close()
			tables, err := src.Tables(ctx)
			if err != nil {
				return failed(fmt.Errorf("resolve the source's tables: %w", err))
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
	cmd.Flags().String("source", "", "the pipeline file whose source to discover")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the schemas as JSON")
	return cmd
}

func printTables(g *globals, tables []*event.Schema) {
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(g.stdout)
		}
		key := strings.Join(t.KeyNames(), ", ")
		if key == "" {
			key = "none"
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
