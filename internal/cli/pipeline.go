package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/textdiff"
)

// client talks to a weir server's API.
type client struct {
	base      string
	workspace string
	output    string // table, json, yaml
	g         *globals
	http      *http.Client
}

func newClient(g *globals) *client {
	return &client{g: g, http: &http.Client{Timeout: 2 * time.Minute}}
}

// flags are a client command's: the server and the workspace.
func (c *client) flags(cmd *cobra.Command) {
	def := os.Getenv("WEIR_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	cmd.PersistentFlags().StringVar(&c.base, "server", def, "the server's URL (or $WEIR_SERVER)")
	cmd.PersistentFlags().StringVar(&c.workspace, "workspace", os.Getenv("WEIR_WORKSPACE"), "the workspace to act in (or $WEIR_WORKSPACE; default: default)")
}

func pipelineCommand(g *globals) *cobra.Command {
	c := newClient(g)
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Manage the pipelines of a weir server (its API's client; weir login first where it asks for a token)",
	}
	c.flags(cmd)
	cmd.PersistentFlags().StringVarP(&c.output, "output", "o", "table", "table, json or yaml")

	var file string
	var noStart bool
	create := &cobra.Command{
		Use:   "create -f FILE.yaml",
		Short: "Create a pipeline from its file, and start it (--start=false: not yet)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return invalid(err)
			}
			start := !noStart
			var p server.Pipeline
			if err := c.do("POST", "/api/v1/pipelines", server.CreateRequest{File: string(data), Start: &start}, &p); err != nil {
				return err
			}
			return c.print(p, []server.Pipeline{p})
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", "the pipeline file")
	create.Flags().BoolVar(&noStart, "no-start", false, "create it stopped")
	create.MarkFlagRequired("file")

	var state string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the pipelines",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			q := url.Values{}
			if state != "" {
				q.Set("state", state)
			}
			path := "/api/v1/pipelines"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var l server.PipelineList
			if err := c.do("GET", path, nil, &l); err != nil {
				return err
			}
			return c.print(l, l.Pipelines)
		},
	}
	list.Flags().StringVar(&state, "state", "", "only those in this state")

	get := &cobra.Command{
		Use:   "get NAME",
		Short: "A pipeline's file, state, phase and counters",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var p server.Pipeline
			if err := c.do("GET", "/api/v1/pipelines/"+url.PathEscape(args[0]), nil, &p); err != nil {
				return err
			}
			return c.print(p, []server.Pipeline{p})
		},
	}
	cmd.AddCommand(create, list, get)
	for _, a := range []string{"start", "stop", "suspend", "resume", "restart"} {
		cmd.AddCommand(&cobra.Command{
			Use:   a + " NAME",
			Short: strings.ToUpper(a[:1]) + a[1:] + " a pipeline",
			Args:  cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				var p server.Pipeline
				if err := c.do("POST", "/api/v1/pipelines/"+url.PathEscape(args[0])+"/"+a, nil, &p); err != nil {
					return err
				}
				return c.print(p, []server.Pipeline{p})
			},
		})
	}
	var drop bool
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Stop a pipeline at a checkpoint and delete it (--drop-state: its checkpoint too)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return c.do("DELETE", fmt.Sprintf("/api/v1/pipelines/%s?drop_state=%t", url.PathEscape(args[0]), drop), nil, nil)
		},
	}
	del.Flags().BoolVar(&drop, "drop-state", false, "drop its checkpoint too: created again, it starts over")
	var after int64
	events := &cobra.Command{
		Use:   "events NAME",
		Short: "A pipeline's events, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var ev server.Events
			if err := c.do("GET", fmt.Sprintf("/api/v1/pipelines/%s/events?after=%d&limit=1000", url.PathEscape(args[0]), after), nil, &ev); err != nil {
				return err
			}
			if c.output != "table" {
				return c.print(ev, nil)
			}
			tw := tabwriter.NewWriter(c.g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tSTATE\tPHASE\tREASON\tERROR")
			for _, e := range ev.Events {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.Local().Format(time.DateTime), e.State, e.Phase, e.Reason, e.Error)
			}
			return tw.Flush()
		},
	}
	events.Flags().Int64Var(&after, "after", 0, "only the events after this id")
	cmd.AddCommand(del, events, c.applyCommand(), c.versionsCommand(), c.rollbackCommand(), c.logsCommand(), c.resetCommand(), c.resnapshotCommand(), c.pauseTablesCommand())
	return cmd
}

// applyCommand creates or upgrades a pipeline from its file (config as code): the plan
// first (create, or the diff and what the upgrade does), a question on a terminal, then
// the change.
func (c *client) applyCommand() *cobra.Command {
	var file string
	var yes, reset bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE.yaml",
		Short: "Create or upgrade a pipeline from its file: prints the plan, asks on a terminal (--yes: does not), applies",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return invalid(err)
			}
			// The server checks the file (with its connections); here only its name is read.
			var named struct {
				Pipeline struct {
					Name string `yaml:"name"`
				} `yaml:"pipeline"`
			}
			if err := yaml.Unmarshal(data, &named); err != nil {
				return invalid(fmt.Errorf("%s: %w; nothing was applied", file, err))
			}
			p := struct{ Name string }{spec.PipelineID(named.Pipeline.Name)}
			if p.Name == "" {
				return invalid(fmt.Errorf("%s: pipeline.name: a pipeline on a server needs a name; nothing was applied", file))
			}
			var cur server.VersionList
			err = c.do("GET", "/api/v1/pipelines/"+url.PathEscape(p.Name)+"/versions", nil, &cur)
			exists := err == nil
			if err != nil && !strings.Contains(err.Error(), "not found") {
				return err
			}
			var plan string
			switch {
			case !exists:
				plan = fmt.Sprintf("create pipeline %q and start it", p.Name)
			default:
				var inForce server.VersionFile
				for _, v := range cur.Versions {
					if v.InForce {
						inForce = v
					}
				}
				if strings.TrimSpace(inForce.File) == strings.TrimSpace(string(data)) && !reset {
					fmt.Fprintf(c.g.stdout, "pipeline %q: no change (version %d is this file)\n", p.Name, inForce.Version)
					return nil
				}
				how := "a pipeline that runs is suspended at a checkpoint and resumes from it"
				if reset {
					how = "its checkpoint is dropped: it starts over"
				}
				plan = fmt.Sprintf("upgrade pipeline %q from version %d to %d (%s):\n%s", p.Name, inForce.Version, cur.Versions[len(cur.Versions)-1].Version+1, how,
					textdiff.Context(inForce.File, string(data)))
			}
			fmt.Fprintln(c.g.stdout, "plan:", plan)
			if !yes {
				in, ok := c.g.stdin.(*os.File)
				if ok && term.IsTerminal(int(in.Fd())) {
					fmt.Fprint(c.g.stdout, "apply? [y/N] ")
					answer, _ := bufio.NewReader(in).ReadString('\n')
					if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
						return failed(errors.New("not applied"))
					}
				}
			}
			if !exists {
				start := true
				var out server.Pipeline
				if err := c.do("POST", "/api/v1/pipelines", server.CreateRequest{File: string(data), Start: &start}, &out); err != nil {
					return err
				}
				return c.print(out, []server.Pipeline{out})
			}
			var res server.ApplyResult
			if err := c.do("PUT", "/api/v1/pipelines/"+url.PathEscape(p.Name), server.ApplyRequest{File: string(data), Reset: reset}, &res); err != nil {
				return err
			}
			if c.output != "table" {
				return c.print(res, nil)
			}
			fmt.Fprintf(c.g.stdout, "pipeline %q at version %d\n", p.Name, res.Version)
			return c.print(res.Pipeline, []server.Pipeline{res.Pipeline})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the pipeline file")
	cmd.Flags().BoolVar(&yes, "yes", false, "apply without asking")
	cmd.Flags().BoolVar(&reset, "reset", false, "drop the pipeline's checkpoint: it starts over (needed where the change cannot keep its state)")
	cmd.MarkFlagRequired("file")
	return cmd
}

func (c *client) versionsCommand() *cobra.Command {
	var diff int
	cmd := &cobra.Command{
		Use:   "versions NAME",
		Short: "A pipeline's versions (--diff N: what version N changed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var vl server.VersionList
			if err := c.do("GET", "/api/v1/pipelines/"+url.PathEscape(args[0])+"/versions", nil, &vl); err != nil {
				return err
			}
			if diff > 0 {
				prev, this := "", ""
				found := false
				for _, v := range vl.Versions {
					if v.Version == diff-1 {
						prev = v.File
					}
					if v.Version == diff {
						this, found = v.File, true
					}
				}
				if !found {
					return invalid(fmt.Errorf("--diff %d: pipeline %q has no version %d", diff, args[0], diff))
				}
				_, err := fmt.Fprint(c.g.stdout, textdiff.Context(prev, this))
				return err
			}
			if c.output != "table" {
				return c.print(vl, nil)
			}
			tw := tabwriter.NewWriter(c.g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tCREATED\tIN FORCE")
			for _, v := range vl.Versions {
				mark := ""
				if v.InForce {
					mark = "*"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\n", v.Version, v.Created.Local().Format(time.DateTime), mark)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&diff, "diff", 0, "print what this version changed from the one before")
	return cmd
}

func (c *client) rollbackCommand() *cobra.Command {
	var to int
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Put an earlier version of a pipeline in force (--to N; by default the one before); a running pipeline resumes with it from a checkpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var p server.Pipeline
			if err := c.do("POST", "/api/v1/pipelines/"+url.PathEscape(args[0])+"/rollback", server.RollbackRequest{Version: to}, &p); err != nil {
				return err
			}
			return c.print(p, []server.Pipeline{p})
		},
	}
	cmd.Flags().IntVar(&to, "to", 0, "the version to put in force")
	return cmd
}

// do sends a request and decodes the answer into out; an error answer becomes an error
// that says what the server said (a file's problems one per line), exit 2 for a request
// the server refused as invalid, 1 else.
func (c *client) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimRight(c.base, "/")+path, body)
	if err != nil {
		return invalid(fmt.Errorf("--server %s: %w", c.base, err))
	}
	req.Header.Set("Content-Type", "application/json")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return failed(fmt.Errorf("reach the server at %s: %w (start one with `weir server`, or point --server or $WEIR_SERVER at it)", c.base, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return failed(err)
	}
	if resp.StatusCode >= 300 {
		var e server.Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			return failed(fmt.Errorf("%s %s: %s", method, path, resp.Status))
		}
		msg := e.Error
		for _, p := range e.Problems {
			loc := "pipeline file"
			if p.Line > 0 {
				loc = fmt.Sprintf("line %d", p.Line)
				if p.Column > 0 {
					loc += fmt.Sprintf(", column %d", p.Column)
				}
			}
			msg += fmt.Sprintf("\n  %s: %s: %s", loc, p.Path, p.Message)
		}
		if e.State != "" && !strings.Contains(msg, e.State) {
			msg += " (it is " + e.State + ")"
		}
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity {
			return invalid(errors.New(msg))
		}
		return failed(errors.New(msg))
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// print writes v as asked: json or yaml whole, else a table of rows.
func (c *client) print(v any, rows []server.Pipeline) error {
	switch c.output {
	case "json":
		enc := json.NewEncoder(c.g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := json.Marshal(v) // through JSON, so the field names are the API's
		if err != nil {
			return err
		}
		var m any
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		out, err := yaml.Marshal(m)
		if err != nil {
			return err
		}
		_, err = c.g.stdout.Write(out)
		return err
	case "table":
	default:
		return invalid(fmt.Errorf("-o %s: want table, json or yaml", c.output))
	}
	tw := tabwriter.NewWriter(c.g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPHASE\tDESIRED\tVERSION\tROWS IN\tROWS OUT\tLAST CHECKPOINT\tERROR")
	for _, p := range rows {
		cp := "-"
		if p.LastCheckpoint != nil {
			cp = time.Since(*p.LastCheckpoint).Round(time.Second).String() + " ago"
		}
		errText := p.LastError
		if len(errText) > 60 {
			errText = errText[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", p.Name, p.State, p.Phase, p.Desired, p.Version, p.RowsIn, p.RowsOut, cp, errText)
	}
	return tw.Flush()
}

func (c *client) logsCommand() *cobra.Command {
	var follow bool
	var tail int
	var level string
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "The tail of a pipeline's log (-f: and each new line as it comes)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := fmt.Sprintf("/api/v1/pipelines/%s/logs?tail=%d&level=%s", url.PathEscape(args[0]), tail, url.QueryEscape(level))
			if !follow {
				var l server.Logs
				if err := c.do("GET", path, nil, &l); err != nil {
					return err
				}
				for _, line := range l.Lines {
					c.printLine(line)
				}
				return nil
			}
			req, err := http.NewRequestWithContext(cmd.Context(), "GET", strings.TrimRight(c.base, "/")+path+"&follow=true", nil)
			if err != nil {
				return invalid(err)
			}
			c.authorize(req)
			resp, err := (&http.Client{}).Do(req) // no timeout: it follows until stopped
			if err != nil {
				return failed(fmt.Errorf("reach the server at %s: %w", c.base, err))
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				var e server.Error
				json.NewDecoder(resp.Body).Decode(&e)
				return failed(fmt.Errorf("%s", e.Error))
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				var line server.LogLine
				if json.Unmarshal([]byte(data), &line) == nil {
					c.printLine(line)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log")
	cmd.Flags().IntVar(&tail, "tail", 100, "lines of the tail")
	cmd.Flags().StringVar(&level, "level", "info", "debug, info, warn or error: that level and above")
	return cmd
}

func (c *client) printLine(l server.LogLine) {
	if c.output == "json" {
		b, _ := json.Marshal(l)
		fmt.Fprintf(c.g.stdout, "%s\n", b)
		return
	}
	keys := make([]string, 0, len(l.Attrs))
	for k := range l.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		v := l.Attrs[k]
		if strings.ContainsAny(v, " \"=") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&sb, " %s=%s", k, v)
	}
	fmt.Fprintf(c.g.stdout, "%s %-5s %s%s\n", l.Time.Local().Format("2006-01-02 15:04:05.000"), l.Level, l.Msg, sb.String())
}

func (c *client) resetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reset NAME",
		Short: "Remove everything a stopped pipeline keeps (checkpoint, replication slot, the sink's checkpoint row): started again, it starts over",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var res server.ResetResult
			if err := c.do("POST", "/api/v1/pipelines/"+url.PathEscape(args[0])+"/reset", nil, &res); err != nil {
				return err
			}
			if c.output != "table" {
				return c.print(res, nil)
			}
			if len(res.Removed) == 0 {
				fmt.Fprintf(c.g.stdout, "pipeline %q kept nothing\n", args[0])
			}
			for _, r := range res.Removed {
				fmt.Fprintf(c.g.stdout, "removed %s\n", r)
			}
			return nil
		},
	}
}

func (c *client) resnapshotCommand() *cobra.Command {
	return c.tablesCommand("resnapshot NAME --table T", "Copy tables of a pipeline again beside its stream (this resumes a paused table)", "resnapshot", "copy %s again")
}

func (c *client) pauseTablesCommand() *cobra.Command {
	return c.tablesCommand("pause-tables NAME --table T", "Pause tables of a pipeline while the others go on; resnapshot resumes them", "pause-tables", "pause %s")
}

// tablesCommand is a command that posts a request naming tables to the pipeline's action.
func (c *client) tablesCommand(use, short, action, asked string) *cobra.Command {
	var tables []string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(tables) == 0 {
				return invalid(errors.New("name the tables with --table"))
			}
			if err := c.do("POST", "/api/v1/pipelines/"+url.PathEscape(args[0])+"/"+action, server.ResnapshotRequest{Tables: tables}, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.g.stdout, "asked pipeline %q to "+asked+": a running pipeline takes it at its next checkpoint, a stopped one when it next starts\n",
				args[0], strings.Join(tables, ", "))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&tables, "table", nil, "a source table, as db.table (MySQL) or schema.table (PostgreSQL); repeat or separate with commas")
	return cmd
}
