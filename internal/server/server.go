// Package server is `weir server`: the control plane's HTTP API (api.go, described by
// openapi.go) over a Controller that runs many pipelines in this process through
// internal/runtime, with the store (internal/store) as the source of truth of what
// should run.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/metrics"
	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/store"
)

// Config configures a server.
type Config struct {
	Addr    string // listen address; loopback unless told otherwise
	DataDir string // the store, the pipelines' state and their files
	// StoreURL, when set, is a PostgreSQL store (and checkpoint store) several servers
	// share; else the store is embedded SQLite under DataDir.
	StoreURL string
	LeaseTTL time.Duration
	// RelaunchAfter: see Options.RelaunchAfter.
	RelaunchAfter time.Duration
	Memory        int64 // bytes for all pipelines' queues
	Version       string
	Logger        *slog.Logger
	Registry      *connector.Registry
	// StopBound is how long a graceful stop waits for the pipelines' final checkpoints
	// before it kills them.
	StopBound time.Duration
	Alerts    AlertConfig
	// Keys seal connections' credentials (--key-file, $WEIR_KEYS); nil: connections
	// cannot be given credentials.
	Keys *auth.Keyring
	// AllowEnv: see Options.AllowEnv.
	AllowEnv []string
	// LineageURL: see Options.LineageURL (--openlineage-url).
	LineageURL string
	OIDC       OIDCConfig
	// RequireConnections: see Options.RequireConnections.
	RequireConnections bool
	// Console, when set, makes the web console served at / over the API handler it is given
	// (closing is closed as the server stops).
	Console func(api http.Handler, oidc bool, closing <-chan struct{}) (http.Handler, error)
	// MetricsPublic: /metrics answers anyone, every workspace's series (else as
	// metricsHandler says).
	MetricsPublic bool
}

// Server is a running control plane.
type Server struct {
	cfg  Config
	st   *store.Store
	cps  checkpoint.Store
	c    *Controller
	http *http.Server
	ln   net.Listener
	stop context.CancelFunc
	done chan error

	alertsDone chan struct{}
}

// Start opens the store, resumes every pipeline that should run and serves the API.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StopBound <= 0 {
		cfg.StopBound = 30 * time.Second
	}
	var st *store.Store
	var cps checkpoint.Store
	var err error
	if cfg.StoreURL != "" {
		if st, err = store.OpenPostgres(ctx, cfg.StoreURL); err != nil {
			return nil, err
		}
		cps, err = checkpoint.OpenPostgres(ctx, cfg.StoreURL, "weir_checkpoints")
	} else {
		if st, err = store.OpenSQLite(ctx, cfg.DataDir); err != nil {
			return nil, err
		}
		cps, err = checkpoint.OpenLocal(filepath.Join(cfg.DataDir, "state"))
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	c := NewController(life, Options{Store: st, Registry: cfg.Registry, Checkpoints: cps, DataDir: cfg.DataDir, Logger: cfg.Logger,
		Metrics: metrics.New(promReg), Memory: &runtime.Memory{Total: cfg.Memory}, LeaseTTL: cfg.LeaseTTL, RelaunchAfter: cfg.RelaunchAfter, Keys: cfg.Keys, AllowEnv: cfg.AllowEnv, LineageURL: cfg.LineageURL, RequireConnections: cfg.RequireConnections})
	var ln net.Listener
	abort := func(err error) (*Server, error) { // what was opened so far, closed
		stop()
		if ln != nil {
			ln.Close()
		}
		cps.Close()
		st.Close()
		return nil, err
	}
	ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return abort(fmt.Errorf("--addr %s: %w", cfg.Addr, err))
	}
	doc, err := DocumentJSON()
	if err != nil {
		return abort(err)
	}
	s := &Server{cfg: cfg, st: st, cps: cps, c: c, ln: ln, stop: stop, done: make(chan error, 1), alertsDone: make(chan struct{})}
	mux := http.NewServeMux()
	closing := make(chan struct{})
	a := &api{c: c, closing: closing, loopback: isLoopback(ln.Addr())}
	if cfg.OIDC.Issuer != "" {
		a.oidc = &oidcLogin{cfg: cfg.OIDC, pending: map[string]oidcState{}}
	}
	apiHandler := a.handler()
	mux.Handle("/api/", apiHandler)
	if cfg.Console != nil {
		ui, err := cfg.Console(apiHandler, a.oidc != nil, closing)
		if err != nil {
			return abort(err)
		}
		mux.Handle("/", ui)
	}
	mux.Handle("GET /metrics", a.metricsHandler(promReg, cfg.MetricsPublic))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := st.List(r.Context()); err != nil {
			http.Error(w, "not ready: the store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	s.http.RegisterOnShutdown(func() { close(closing) })
	if err := c.Boot(ctx); err != nil {
		s.Close()
		return nil, err
	}
	al := newAlerter(c, cfg.Alerts, cfg.Logger)
	go func() {
		defer close(s.alertsDone)
		al.run(life)
	}()
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	cfg.Logger.Info("serving the control plane", "addr", ln.Addr().String(), "data", cfg.DataDir)
	return s, nil
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Done receives the serving loop's error when it ends.
func (s *Server) Done() <-chan error { return s.done }

// Close stops the API, then every pipeline at a checkpoint (killing those that outlast
// the bound), then closes the store.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.c.Shutdown(s.cfg.StopBound)
	s.stop()
	<-s.alertsDone
	s.cps.Close()
	return errors.Join(err, s.st.Close())
}

// isLoopback reports whether addr is a loopback address (not a wildcard one).
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
