package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/store"
)

// grantCommand is the client of a server's grants: asking for another workspace's
// connection, and deciding on those asked of one's own.
func grantCommand(g *globals) *cobra.Command {
	c := newClient(g)
	cmd := &cobra.Command{Use: "grant", Short: "Ask for, approve, deny and list the use of connections across workspaces"}
	c.flags(cmd)
	show := func(gr store.Grant) {
		tables := gr.Tables
		if tables == "" {
			tables = "(all)"
		}
		for _, t := range slices.Sorted(maps.Keys(gr.Columns)) {
			tables += fmt.Sprintf(" [%s: %s]", t, strings.Join(gr.Columns[t], ", "))
		}
		fmt.Fprintf(g.stdout, "%d\t%s\tfor %s\t%s\t%s\tuntil %s\t%s\n", gr.ID, gr.Connection, gr.Workspace, tables, gr.State,
			gr.Expires.Local().Format("2006-01-02 15:04"), gr.Reason)
	}
	var tables, reason, expires string
	var columns []string
	request := &cobra.Command{
		Use:   "request CONNECTION --tables LIST [--columns TABLE=COL,COL]… --reason TEXT",
		Short: "Ask to use another workspace's connection for some tables",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			req := server.GrantRequest{Connection: args[0], Tables: tables, Reason: reason, ExpiresIn: expires}
			for _, c := range columns {
				table, cols, ok := strings.Cut(c, "=")
				if !ok || strings.TrimSpace(cols) == "" {
					return fmt.Errorf("--columns %q: write TABLE=COLUMN,COLUMN (the table as --tables names it)", c)
				}
				if req.Columns == nil {
					req.Columns = map[string][]string{}
				}
				req.Columns[strings.TrimSpace(table)] = strings.Split(cols, ",")
			}
			var gr store.Grant
			if err := c.do("POST", "/api/v1/grants", req, &gr); err != nil {
				return err
			}
			show(gr)
			return nil
		},
	}
	request.Flags().StringVar(&tables, "tables", "", "the tables, as a source's tables setting lists them")
	request.Flags().StringArrayVar(&columns, "columns", nil, "narrow a table of --tables to some of its columns: TABLE=COL,COL (repeatable)")
	request.Flags().StringVar(&reason, "reason", "", "what the connection is wanted for")
	request.Flags().StringVar(&expires, "expires-in", "", "how long the grant lasts (default 720h)")
	list := &cobra.Command{
		Use:   "list",
		Short: "The grants this workspace asked for, and those asked of its connections",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var l server.GrantList
			if err := c.do("GET", "/api/v1/grants", nil, &l); err != nil {
				return err
			}
			for _, gr := range l.Grants {
				show(gr)
			}
			return nil
		},
	}
	cmd.AddCommand(request, list)
	for _, verb := range []string{"approve", "deny", "revoke"} {
		var why string
		sub := &cobra.Command{
			Use: verb + " ID [--why TEXT]",
			Short: map[string]string{"approve": "Approve a grant asked of this workspace's connection", "deny": "Deny a grant asked of this workspace's connection",
				"revoke": "Revoke a grant: the pipelines that use it are suspended"}[verb],
			Args: cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				var gr store.Grant
				if err := c.do("POST", "/api/v1/grants/"+args[0]+"/"+verb, server.Decision{Why: why}, &gr); err != nil {
					return err
				}
				show(gr)
				return nil
			},
		}
		sub.Flags().StringVar(&why, "why", "", "the reason, kept with the decision")
		cmd.AddCommand(sub)
	}
	return cmd
}
