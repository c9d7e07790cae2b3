package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/store"
)

// catalogCommand is the client of a server's catalog.
func catalogCommand(g *globals) *cobra.Command {
	c := newClient(g)
	cmd := &cobra.Command{Use: "catalog", Short: "Scan, search and preview the tables of a server's connections (the data map)"}
	c.flags(cmd)
	scan := &cobra.Command{
		Use:   "scan CONNECTION",
		Short: "Scan the tables a connection reaches into the catalog",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var res server.ScanResult
			if err := c.do("POST", "/api/v1/connections/"+url.PathEscape(args[0])+"/scan", nil, &res); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%d table(s); added %s; removed %s; changed %s\n", res.Tables, list(res.Added), list(res.Removed), list(res.Changed))
			return nil
		},
	}
	search := &cobra.Command{
		Use:   "search [WORD]",
		Short: "The catalog's tables whose name, columns or descriptions hold WORD (all without one)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			q := ""
			if len(args) == 1 {
				q = "?q=" + url.QueryEscape(args[0])
			}
			var l server.CatalogList
			if err := c.do("GET", "/api/v1/catalog"+q, nil, &l); err != nil {
				return err
			}
			for _, e := range l.Tables {
				fmt.Fprintf(g.stdout, "%s\t%s\t%d column(s)\t%s\n", e.Connection, e.Name, len(e.Columns), e.Description)
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show CONNECTION TABLE",
		Short: "A table's columns: types, keys, descriptions, security levels",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			var e store.CatalogEntry
			if err := c.do("GET", "/api/v1/catalog/"+url.PathEscape(args[0])+"/"+url.PathEscape(args[1]), nil, &e); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s (%s) %s\n", e.Name, e.Connection, e.Description)
			if e.RowEstimate >= 0 {
				fmt.Fprintf(g.stdout, "about %d row(s) at the scan of %s\n", e.RowEstimate, e.Scanned.Format(time.RFC3339))
			}
			for _, src := range e.Sources {
				from := src.Namespace
				if src.Connection != "" {
					from = "connection " + src.Connection
				}
				fmt.Fprintf(g.stdout, "written by pipeline %s from %s of %s\n", src.Pipeline, src.Table, from)
			}
			w := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "column\ttype\tkey\tlevel\tproposed\tdescription")
			for _, col := range e.Columns {
				level := col.Level
				if !col.Confirmed {
					level += " (unconfirmed)"
				}
				fmt.Fprintf(w, "%s\t%s\t%v\t%s\t%s\t%s\n", col.Name, col.Type, col.Key, level, col.Proposed, col.Description)
			}
			return w.Flush()
		},
	}
	var limit int
	preview := &cobra.Command{
		Use:   "preview CONNECTION TABLE",
		Short: "A table's first rows, masked above the workspace's clearance",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			var p server.Preview
			if err := c.do("GET", fmt.Sprintf("/api/v1/catalog/%s/%s/preview?limit=%d", url.PathEscape(args[0]), url.PathEscape(args[1]), limit), nil, &p); err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, strings.Join(p.Columns, "\t"))
			for _, r := range p.Rows {
				fmt.Fprintln(w, strings.Join(r, "\t"))
			}
			return w.Flush()
		},
	}
	preview.Flags().IntVar(&limit, "limit", 20, "rows (1-200)")
	cmd.AddCommand(scan, search, show, preview)
	return cmd
}

func list(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}
