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
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/spec"
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
	// Signals are caught from the start: one that comes while the pipeline starts stops it
	// gracefully once it has, rather than killing the process.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// On a terminal a live line shows the progress, and log lines clear it first; else
	// (auto) the progress is logged every --progress-interval.
	var tty *terminal
	if showProgress(f.progress, g.stderr) {
		tty = &terminal{w: g.stderr}
		g.stderr = tty
	}
	base, err := g.logger()
	if err != nil {
		return err
	}
	p, err := loadPipeline(g, reg, file)
	if err != nil {
		return err
	}
	log := base.With("pipeline", p.Name)
	if _, err := runtime.Transformer(p, log); err != nil {
		return invalid(err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	store, err := runtime.OpenStore(ctx, f.state, f.store)
	if err != nil {
		return failed(err)
	}
	defer store.Close()

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ms := metrics.New(promReg)
	pl := runtime.New(p, runtime.Options{Registry: reg, Store: store, StateDir: f.state, Logger: base,
		Metrics: ms, Removal: fmt.Sprintf("`weir reset %s`", file)})
	stats := pl.Stats()
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

	started := time.Now()
	if err := pl.Start(ctx); err != nil {
		return failed(err)
	}
	stopOnSignals(g, log, pl, sigs)
	res, err := pl.Wait()
	stopProgress()
	if tty != nil {
		tty.clear()
	}
	if err != nil {
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
	if out := pl.Status().Output; out != "" {
		fmt.Fprintln(g.stderr, "output:", out)
	}
	return nil
}

// stopOnSignals makes SIGINT and SIGTERM (caught on sigs) a run group's interrupt for pl: the first stops
// it gracefully, a second quits at once. A repeat within a second of the first is the same
// request (GNU timeout signals the process and then its group), not a second one.
func stopOnSignals(g *globals, log *slog.Logger, pl *runtime.Pipeline, sigs <-chan os.Signal) {
	go func() {
		var first time.Time
		select {
		case s := <-sigs:
			log.Info("stop requested: finishing in-flight work and taking a final checkpoint (signal again to quit at once)", "signal", s.String())
			first = time.Now()
			pl.Stop()
		case <-pl.Done():
			return
		}
		for {
			select {
			case s := <-sigs:
				if time.Since(first) < time.Second {
					continue
				}
				fmt.Fprintf(g.stderr, "weir: %s again: quitting without a final checkpoint\n", s)
				os.Exit(ExitFailure)
			case <-pl.Done():
				return
			}
		}
	}()
}

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
