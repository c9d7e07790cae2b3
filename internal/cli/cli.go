// Package cli holds weir's subcommands. It parses flags and wires packages together; the
// work itself is done elsewhere.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/weir-data/weir/internal/format"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/connectors"
)

// Exit codes (DESIGN §1.1).
const (
	ExitOK      = 0 // done, or stopped on request
	ExitFailure = 1 // the pipeline or a check failed at run time
	ExitInvalid = 2 // invalid input: a bad file or flag
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func invalid(err error) error { return &exitError{code: ExitInvalid, err: err} }
func failed(err error) error  { return &exitError{code: ExitFailure, err: err} }

type globals struct {
	logFormat string
	logLevel  string
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
}

// commandContext is what a command that connects needs: its context and the logger.
func (g *globals) commandContext(cmd *cobra.Command) (context.Context, *slog.Logger, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	log, err := g.logger()
	return ctx, log, err
}

func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, invalid(fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	}
	return nil, invalid(fmt.Errorf("--log-format %q: want text or json", g.logFormat))
}

// Main runs weir with args (without the program name) and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	format.Version = Version // Debezium's source.version
	g := &globals{stdin: os.Stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "weir",
		Short:         "weir copies databases and streams into other stores: a consistent snapshot, then every change",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	reg := connectors.Registry()
	root.AddCommand(runCommand(g, reg), validateCommand(g, reg), discoverCommand(g, reg), previewCommand(g, reg), verifyCommand(g, reg),
		resetCommand(g, reg), resnapshotCommand(g, reg), pauseCommand(g, reg), docsCommand(g, reg), versionCommand(g),
		serverCommand(g, reg), pipelineCommand(g), loginCommand(g), logoutCommand(g), connectionCommand(g), grantCommand(g), catalogCommand(g))
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	code := ExitInvalid // cobra's own errors: unknown command or flag
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if g.logFormat == "json" {
		// One JSON line, as the log before it, so that a collector reading the log reads
		// the reason too.
		line, _ := json.Marshal(struct {
			Time  string `json:"time"`
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Exit  int    `json:"exit"`
		}{time.Now().Format(time.RFC3339Nano), "ERROR", "weir: " + err.Error(), code})
		fmt.Fprintf(stderr, "%s\n", line)
	} else {
		fmt.Fprintln(stderr, "weir:", err)
	}
	return code
}

// Version is weir's version, set at build time (-ldflags "-X github.com/weir-data/weir/internal/cli.Version=v1.2.3").
var Version = "dev"

func versionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print weir's version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			commit, modified := "unknown", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						commit = s.Value
					case "vcs.modified":
						if s.Value == "true" {
							modified = " (modified)"
						}
					}
				}
			}
			fmt.Fprintf(g.stdout, "weir %s\ncommit %s%s\n%s %s/%s\n", Version, commit, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

// Run is main's entry: it exits the process with Main's code.
func Run() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) }
