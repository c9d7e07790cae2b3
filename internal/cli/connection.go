package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/server"
)

// connectionCommand is the client of a server's connections. Secret settings are never
// flags (the process list shows flags): --secret KEY=ENV reads KEY's value from the
// environment variable ENV.
func connectionCommand(g *globals) *cobra.Command {
	c := newClient(g)
	cmd := &cobra.Command{Use: "connection", Short: "Manage the connections of a weir server's workspace (servers whose credentials are sealed there)"}
	c.flags(cmd)
	var typ string
	var sets, secrets []string
	settings := func() (map[string]string, error) {
		out := map[string]string{}
		for _, s := range sets {
			k, v, ok := strings.Cut(s, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--set %q: write KEY=VALUE", s)
			}
			out[k] = v
		}
		for _, s := range secrets {
			k, env, ok := strings.Cut(s, "=")
			if !ok || k == "" || env == "" {
				return nil, fmt.Errorf("--secret %q: write KEY=ENVIRONMENT_VARIABLE", s)
			}
			v, set := os.LookupEnv(env)
			if !set {
				return nil, fmt.Errorf("--secret %s: $%s is not set", k, env)
			}
			out[k] = v
		}
		return out, nil
	}
	show := func(v server.ConnectionView) {
		keys := make([]string, 0, len(v.Settings))
		for k := range v.Settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(g.stdout, "%s\t%s\tworkspace %s", v.Name, v.Type, v.Workspace)
		for _, k := range keys {
			fmt.Fprintf(g.stdout, "\t%s=%s", k, v.Settings[k])
		}
		for _, k := range v.Secrets {
			fmt.Fprintf(g.stdout, "\t%s=(sealed)", k)
		}
		fmt.Fprintln(g.stdout)
	}
	create := &cobra.Command{
		Use:   "create NAME --type TYPE [--set KEY=VALUE]… [--secret KEY=ENV]…",
		Short: "Make a connection: its settings, and its secrets read from environment variables",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := settings()
			if err != nil {
				return invalid(err)
			}
			var v server.ConnectionView
			if err := c.do("POST", "/api/v1/connections", server.ConnectionRequest{Name: args[0], Type: typ, Settings: s}, &v); err != nil {
				return err
			}
			show(v)
			return nil
		},
	}
	create.Flags().StringVar(&typ, "type", "", "the connector type (mariadb, mysql, postgres, kafka…)")
	create.Flags().StringArrayVar(&sets, "set", nil, "a setting, KEY=VALUE")
	create.Flags().StringArrayVar(&secrets, "secret", nil, "a secret setting, KEY=ENVIRONMENT_VARIABLE holding its value")
	create.MarkFlagRequired("type")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's connections (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var l server.ConnectionList
			if err := c.do("GET", "/api/v1/connections", nil, &l); err != nil {
				return err
			}
			for _, v := range l.Connections {
				show(v)
			}
			return nil
		},
	}
	test := &cobra.Command{
		Use:   "test NAME",
		Short: "Check that a connection reaches its server with its credentials and the privileges weir needs",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var res server.ConnectionTest
			if err := c.do("POST", "/api/v1/connections/"+args[0]+"/test", nil, &res); err != nil {
				return err
			}
			if res.OK {
				fmt.Fprintf(g.stdout, "connection %s: ok\n", args[0])
				return nil
			}
			for _, p := range res.Problems {
				fmt.Fprintf(g.stdout, "connection %s: %s\n", args[0], p)
			}
			return failed(fmt.Errorf("connection %s: %d problem(s)", args[0], len(res.Problems)))
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a connection",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return c.do("DELETE", "/api/v1/connections/"+args[0], nil, nil)
		},
	}
	cmd.AddCommand(create, list, test, del)
	return cmd
}
