package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/spec"
	"github.com/weir-data/weir/internal/transform"
)

type runFlags struct {
	state         string
	store         string
	metricsAddr   string
	progress      string
	progressEvery time.Duration
}

func runCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE.yaml",
		Short: "Run one pipeline in the foreground until it finishes or is stopped (Ctrl-C: final checkpoint, then exit)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPipeline(cmd.Context(), g, reg, args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.state, "state", ".weir", "directory of local state (checkpoints)")
	cmd.Flags().StringVar(&f.store, "checkpoint-store", "", "keep checkpoints in PostgreSQL instead of --state: postgres://user@host/db")
	cmd.Flags().StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz (liveness), /readyz (readiness) and Go's /debug/pprof profiles on this address, e.g. :9464")
	cmd.Flags().StringVar(&f.progress, "progress", "auto", "live progress line on standard error: auto (when it is a terminal; else a progress log line every --progress-interval), on, off")
	cmd.Flags().DurationVar(&f.progressEvery, "progress-interval", 10*time.Second, "how often the progress is logged where no progress line is drawn")
	return cmd
}

func runPipeline(ctx context.Context, g *globals, reg *connector.Registry, file string, f runFlags) error {
	// On a terminal a live line shows the progress, and log lines clear it first; else
	// (auto) the progress is logged every --progress-interval.
	var tty *terminal
	if showProgress(f.progress, g.stderr) {
		tty = &terminal{w: g.stderr}
		g.stderr = tty
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	p, err := loadPipeline(g, reg, file)
	if err != nil {
		return err
	}
	log = log.With("pipeline", p.Name)
	if limit := tuneGC(p.QueueMaxBytes); limit > 0 {
		log.Debug("Go heap limit set", "bytes", limit, "gc_percent", gcPercent)
	}

	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// The run group's interrupt: the first signal stops gracefully, a second quits at once.
	// A repeat within a second of the first is the same request (GNU timeout signals the
	// process and then its group), not a second one.
	go func() {
		var first time.Time
		select {
		case s := <-sigs:
			log.Info("stop requested: finishing in-flight work and taking a final checkpoint (signal again to quit at once)", "signal", s.String())
			first = time.Now()
			stop()
		case <-ctx.Done():
			return
		}
		for s := range sigs {
			if time.Since(first) < time.Second {
				continue
			}
			fmt.Fprintf(g.stderr, "weir: %s again: quitting without a final checkpoint\n", s)
			os.Exit(ExitFailure)
		}
	}()

	store, err := openStore(ctx, f)
	if err != nil {
		return failed(err)
	}
	defer store.Close()
	// Claim the pipeline before opening anything, so that a second process is refused
	// with a message about the pipeline rather than about one of its connectors.
	if _, err := store.Acquire(ctx, p.Name); err != nil {
		return failed(fmt.Errorf("claim pipeline %q: %w", p.Name, err))
	}

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ms := metrics.New(promReg)
	stats := &engine.Stats{}
	if f.metricsAddr != "" {
		srv, err := serveMetrics(f.metricsAddr, promReg, stats)
		if err != nil {
			return invalid(err)
		}
		defer srv.Close()
		log.Info("serving metrics", "addr", f.metricsAddr)
	}
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	stopProgress := sync.OnceFunc(func() { close(progressDone); progressWG.Wait() })
	defer stopProgress()
	switch {
	case tty != nil:
		progressWG.Go(func() { progressLoop(tty, stats, progressDone) })
	case f.progress == "auto":
		progressWG.Go(func() { progressLog(log, stats, max(f.progressEvery, 100*time.Millisecond), progressDone) })
	}

	cfg := engineConfig(p)
	tf, err := transformer(p, log)
	if err != nil {
		return invalid(err)
	}
	env := connector.Env{Pipeline: p.Name, SourceType: p.Source.Type, Logger: log, StateDir: f.state, Parallelism: p.Parallelism, Metrics: ms,
		SchemaChangeBehavior: p.SchemaChangeBehavior, Notices: &connector.Notices{}}
	var destination string
	hadCheckpoint := false
	if cp, err := store.Load(ctx, p.Name); err == nil && cp != nil {
		hadCheckpoint = true
	}
	policy := engine.RestartPolicy{Initial: p.RestartBackoffInitial, Max: p.RestartBackoffMax, MaxAttempts: p.RestartMaxAttempts,
		FirstRunMaxAttempts: firstRunMaxAttempts, Stats: stats,
		Checkpointed: func() bool { return hadCheckpoint || stats.Checkpoints.Load() > 0 }}
	started := time.Now()
	res, err := engine.Supervise(ctx, policy, log,
		func(error) { ms.Restarts.WithLabelValues(p.Name).Inc() },
		func(ctx context.Context) (*engine.Result, error) {
			src, sink, err := openConnectors(ctx, reg, p, env)
			if err != nil {
				return nil, err
			}
			defer src.Close()
			defer sink.Close()
			if d, ok := sink.(connector.Destination); ok {
				destination = d.Destination()
			}
			opts := engine.Options{Logger: log, Metrics: ms, Stats: stats}
			if tf != nil {
				opts.Transform = tf
			}
			e := engine.New(cfg, src, sink, store, opts)
			return e.Run(ctx)
		})
	stopProgress()
	if tty != nil {
		tty.clear()
	}
	if err != nil {
		if !hadCheckpoint && stats.Checkpoints.Load() == 0 {
			err = fmt.Errorf("%w%s", err, leftBehind(reg, p, env, file))
		}
		return failed(fmt.Errorf("pipeline %q: %w", p.Name, err))
	}
	how := "stopped"
	if res.Finished {
		how = "finished"
	}
	summary := fmt.Sprintf("pipeline %q %s after %s: %d changes read this run, %d durable in the sink in all",
		p.Name, how, time.Since(started).Round(time.Millisecond), stats.RowsIn.Load(), stats.Durable.Load())
	if res.Checkpoint != nil {
		summary += fmt.Sprintf("; last checkpoint #%d at position %s", res.Checkpoint.Seq, res.Checkpoint.Position)
	}
	fmt.Fprintln(g.stderr, summary)
	if destination != "" {
		fmt.Fprintln(g.stderr, "output:", destination)
	}
	return nil
}

// leftBehind says what a pipeline that failed before its first checkpoint keeps on its
// servers (a replication slot holds WAL until it is dropped), with the command that
// removes it; "" when nothing or when that cannot be learned now.
func leftBehind(reg *connector.Registry, p *spec.Pipeline, env connector.Env, file string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := reg.Sources[p.Source.Type].Open(ctx, p.Source.Config, env)
	if err != nil {
		return ""
	}
	defer src.Close()
	d, ok := src.(connector.Dropper)
	if !ok {
		return ""
	}
	traces, err := d.Traces(ctx)
	if err != nil || len(traces) == 0 {
		return ""
	}
	return fmt.Sprintf("; it failed before its first checkpoint and left behind %s: run `weir reset %s` to remove them, or fix the cause and run it again",
		strings.Join(traces, " and "), file)
}

// firstRunMaxAttempts is how many attempts a pipeline that has never taken a checkpoint
// makes before it fails, when restart.max-attempts is 0.
const firstRunMaxAttempts = 5

// loadPipeline reads and validates a pipeline file; problems are printed and make the
// command exit 2.
func loadPipeline(g *globals, reg *connector.Registry, file string) (*spec.Pipeline, error) {
	return loadPipelineWith(g, reg, file, spec.Load)
}

func loadPipelineWith(g *globals, reg *connector.Registry, file string, load func(string, *connector.Registry) (*spec.Pipeline, error)) (*spec.Pipeline, error) {
	p, err := load(file, reg)
	if err != nil {
		var probs spec.Problems
		if errors.As(err, &probs) {
			fmt.Fprintln(g.stderr, probs.Error())
			return nil, invalid(fmt.Errorf("%s: %d problem(s); nothing was run", file, len(probs)))
		}
		return nil, invalid(err)
	}
	return p, nil
}

func engineConfig(p *spec.Pipeline) engine.Config {
	cfg := engine.Config{
		Pipeline:             p.Name,
		Parallelism:          p.Parallelism,
		CheckpointInterval:   p.CheckpointInterval,
		SchemaChangeBehavior: p.SchemaChangeBehavior,
		IncludeSchemaChanges: p.Sink.IncludeSchemaChanges,
		ExcludeSchemaChanges: p.Sink.ExcludeSchemaChanges,
		BatchMaxRows:         p.BatchMaxRows,
		BatchMaxBytes:        p.BatchMaxBytes,
		BatchMaxDelay:        p.BatchMaxDelay,
		QueueMaxBytes:        p.QueueMaxBytes,
		Batch:                p.Batch,
	}
	cfg.SkipOps, _ = connector.SkippedOps(p.Source.Config) // checked by validate
	const chunkKey = "scan.incremental.snapshot.chunk.size"
	if p.Source.Config.Spec.Field(chunkKey) != nil {
		cfg.ChunkRows = int(p.Source.Config.Int(chunkKey))
	}
	return cfg
}

func openStore(ctx context.Context, f runFlags) (checkpoint.Store, error) {
	if f.store != "" {
		s, err := checkpoint.OpenPostgres(ctx, f.store, "weir_checkpoints")
		if err != nil {
			return nil, fmt.Errorf("open checkpoint store: %w", err)
		}
		return s, nil
	}
	return checkpoint.OpenLocal(f.state)
}

// transformer builds the pipeline's transform rules and routes (nil: none). The
// expressions are compiled per table when its schema is first seen.
func transformer(p *spec.Pipeline, log *slog.Logger) (*transform.Transformer, error) {
	if len(p.Transforms) == 0 && len(p.Routes) == 0 {
		return nil, nil
	}
	rules := make([]transform.Rule, len(p.Transforms))
	for i, t := range p.Transforms {
		if t.PartitionKeys != "" {
			return nil, fmt.Errorf("transform item %d (line %d) sets partition-keys, which no sink of this version uses (none partitions its output); remove it: %w",
				i+1, t.Line, errors.ErrUnsupported)
		}
		rules[i] = transform.Rule{Tables: t.SourceTables, Projection: t.Projection, Filter: t.Filter, Masks: t.Masks, SoftDelete: t.SoftDelete}
		if t.MaskKey != "" {
			rules[i].MaskKey = &transform.MaskKey{Secret: []byte(t.MaskKey), ID: t.MaskKeyID}
		}
		for _, k := range strings.Split(t.PrimaryKeys, ",") {
			if k = strings.TrimSpace(k); k != "" {
				rules[i].PrimaryKeys = append(rules[i].PrimaryKeys, k)
			}
		}
	}
	routes := make([]transform.Route, len(p.Routes))
	for i, r := range p.Routes {
		routes[i] = transform.Route{Tables: r.SourceTables, SinkTable: r.SinkTable, ReplaceSymbol: r.ReplaceSymbol, SourceColumn: r.SourceTableColumn}
	}
	return transform.New(rules, routes, transform.Options{TimeZone: p.LocalTimeZone, Log: log, NoPushdown: !p.FilterPushdown, FirstMatch: p.RouteFirstMatch, Functions: p.Functions}), nil
}

// openConnectors opens the pipeline's source and sink; it refuses pipelines that need
// what this version does not do yet.
func openConnectors(ctx context.Context, reg *connector.Registry, p *spec.Pipeline, env connector.Env) (connector.Source, connector.Sink, error) {
	srcDef, sinkDef := reg.Sources[p.Source.Type], reg.Sinks[p.Sink.Type]
	src, err := srcDef.Open(ctx, p.Source.Config, env)
	if err != nil {
		return nil, nil, fmt.Errorf("open source %s: %w", p.Source.Type, err)
	}
	sink, err := sinkDef.Open(ctx, p.Sink.Config, env)
	if err != nil {
		src.Close()
		return nil, nil, fmt.Errorf("open sink %s: %w", p.Sink.Type, err)
	}
	return src, sink, nil
}

func serveMetrics(addr string, reg *prometheus.Registry, stats *engine.Stats) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// /healthz is liveness: the process works (a restart loop with backoff still does).
	// /readyz is readiness: connected and moving, or finished; 503 with the reason else.
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, stats.Live())
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := stats.Ready(time.Now())
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	// Go's profiles, for `go tool pprof http://ADDR/debug/pprof/heap` on a running pipeline.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
