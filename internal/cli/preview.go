package cli

import (
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/preview"
	"github.com/weir-data/weir/internal/runtime"
)

func previewCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var (
		o      preview.Options
		table  string
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "preview FILE.yaml",
		Short: "Show the rows and schema each sink table would receive from a sample of the source, writing nothing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Limit < 0 || o.Limit == 0 && !follow {
				return invalid(fmt.Errorf("--limit %d: want a number of rows above 0 (0, with --follow: no limit)", o.Limit))
			}
			if table != "" {
				re, err := regexp.Compile("^(?:" + table + ")$")
				if err != nil {
					return invalid(fmt.Errorf("--table %q: %v", table, connector.RegexpError(err)))
				}
				o.Table = re
			}
			p, err := loadPipeline(g, reg, args[0])
			if err != nil {
				return err
			}
			ctx, log, err := g.commandContext(cmd)
			if err != nil {
				return err
			}
			tf, err := runtime.Transformer(p, log)
			if err != nil {
				return invalid(err)
			}
			src, err := reg.Sources[p.Source.Type].Open(ctx, p.Source.Config, connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, Parallelism: 1, Role: "preview"})
			if err != nil {
				return failed(fmt.Errorf("open source %s: %w", p.Source.Type, err))
			}
			defer src.Close()
			if follow {
				ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
				if err := preview.Follow(ctx, src, p.Source.Type, tf, o, o.Limit, g.stdout); err != nil {
					return failed(err)
				}
				return nil
			}
			if sd := reg.Sinks[p.Sink.Type]; sd != nil && sd.ColumnTypes != nil {
				o.ColumnTypes = func(s *event.Schema) []string { return sd.ColumnTypes(s, p.Source.Type) }
			}
			if err := preview.Run(ctx, src, tf, o, g.stdout); err != nil {
				return failed(err)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Limit, "limit", 10, "rows to show per sink table")
	cmd.Flags().StringVar(&table, "table", "", "preview only the source tables this regex matches (db.table)")
	cmd.Flags().BoolVar(&follow, "follow", false, "show the changes the source logs from now on instead of a sample, until stopped or --limit changes")
	cmd.Flags().BoolVar(&o.Explain, "explain", false, "say, per source table, what its transform computes and which part of its filter the source evaluates")
	return cmd
}
