package cli

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/console"
	"github.com/weir-data/weir/internal/server"
)

func serverCommand(g *globals, reg *connector.Registry) *cobra.Command {
	var (
		addr, data, storeURL string
		memory               int64
		stopBound            time.Duration
		alerts               server.AlertConfig
		rulesFile            string
		leaseTTL             time.Duration
		relaunchAfter        time.Duration
		keyFile              string
		allowEnv             []string
		lineageURL           string
		oidcIssuer           string
		oidcClient           string
		oidcRedirect         string
		requireConns         bool
		metricsPublic        bool
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: an HTTP API over the pipelines it runs, resumed after a restart (weir pipeline … is its client)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if storeURL != "" && !strings.HasPrefix(storeURL, "postgres://") && !strings.HasPrefix(storeURL, "postgresql://") {
				return invalid(errors.New("--store: want a PostgreSQL URL, postgres://user@host/db; leave it out for the embedded store under --data"))
			}
			if !slices.Contains(server.AlertFormats, alerts.Format) {
				return invalid(fmt.Errorf("--alert-format %q: want one of %s", alerts.Format, strings.Join(server.AlertFormats, ", ")))
			}
			if rulesFile != "" {
				if alerts.Rules, err = server.LoadRules(rulesFile); err != nil {
					return invalid(err)
				}
			}
			if oidcIssuer != "" && oidcRedirect == "" {
				oidcRedirect = "http://" + addr + "/api/v1/oidc/callback"
			}
			keys, err := auth.LoadKeyring(keyFile, "WEIR_KEYS")
			if err != nil {
				return invalid(err)
			}
			srv, err := server.Start(cmd.Context(), server.Config{Addr: addr, DataDir: data, StoreURL: storeURL, LeaseTTL: leaseTTL, RelaunchAfter: relaunchAfter, Memory: memory, Version: Version,
				Logger: log, Registry: reg, StopBound: stopBound, Alerts: alerts, Keys: keys, AllowEnv: allowEnv, LineageURL: lineageURL,
				RequireConnections: requireConns,
				MetricsPublic:      metricsPublic,
				Console: func(api http.Handler, oidc bool, closing <-chan struct{}) (http.Handler, error) {
					return console.New(api, console.Options{OIDC: oidc, Closing: closing, Registry: reg})
				},
				OIDC: server.OIDCConfig{Issuer: oidcIssuer, ClientID: oidcClient, ClientSecret: os.Getenv("WEIR_OIDC_CLIENT_SECRET"), RedirectURL: oidcRedirect}})
			if err != nil {
				return failed(err)
			}
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
			defer signal.Stop(sigs)
			select {
			case s := <-sigs:
				log.Info("stopping: every pipeline stops at a checkpoint (signal again to quit at once)", "signal", s.String(), "bound", stopBound)
				go func() {
					<-sigs
					fmt.Fprintln(g.stderr, "weir: quitting without final checkpoints")
					os.Exit(ExitFailure)
				}()
				if err := srv.Close(); err != nil {
					return failed(err)
				}
				return nil
			case err := <-srv.Done():
				srv.Close()
				if err != nil {
					return failed(err)
				}
				return nil
			}
		},
	}
	cmd.AddCommand(serverUserCommand(g), rotateKeyCommand(g))
	cmd.Flags().BoolVar(&metricsPublic, "metrics-public", false, "/metrics answers without a token, with every workspace's series (pipeline names included); else a token gets its workspace's, a server admin's all")
	cmd.Flags().BoolVar(&requireConns, "require-connections", false, "pipeline files reach their servers only through connections: a host, URL or password in a file is refused")
	cmd.Flags().StringVar(&oidcIssuer, "oidc-issuer", "", "log users in with this OpenID Connect provider as well (its issuer URL); the client secret from $WEIR_OIDC_CLIENT_SECRET")
	cmd.Flags().StringVar(&oidcClient, "oidc-client-id", "weir", "the client id the OIDC provider knows this server by")
	cmd.Flags().StringVar(&oidcRedirect, "oidc-redirect-url", "", "this server's /api/v1/oidc/callback as the provider reaches it (default http://ADDR/api/v1/oidc/callback)")
	cmd.Flags().StringVar(&lineageURL, "openlineage-url", "", "post each pipeline run's OpenLineage events (START, COMPLETE, FAIL, ABORT) here, e.g. Marquez's http://host:5000/api/v1/lineage")
	cmd.Flags().StringSliceVar(&allowEnv, "allow-env", nil, "environment variables pipeline files may read with ${NAME} (none by default: they would read the server's own secrets)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the keyring that seals connections' credentials: lines id=<base64 of 32 bytes>, the first sealing (or $WEIR_KEYS)")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address of the HTTP API (loopback unless told otherwise)")
	cmd.Flags().StringVar(&data, "data", ".weir", "directory of the embedded store, the pipelines' state and their files")
	cmd.Flags().StringVar(&storeURL, "store", "", "a PostgreSQL store several servers share (postgres://…); the checkpoints go there too")
	cmd.Flags().DurationVar(&leaseTTL, "lease-ttl", 15*time.Second, "with a shared store: how long a server's hold on a pipeline lasts without renewal (its pipelines move to another server within about this long after it dies)")
	cmd.Flags().Int64Var(&memory, "memory", 1<<30, "bytes for the queues of all pipelines together; each gets at most an equal share")
	cmd.Flags().DurationVar(&stopBound, "stop-timeout", 30*time.Second, "how long a stop waits for the pipelines' final checkpoints before it kills them")
	cmd.Flags().DurationVar(&relaunchAfter, "relaunch-after", time.Minute, "how long after a pipeline that should run FAILED it is started again (the wait doubles at each failure, to an hour); 0: never")
	cmd.Flags().StringArrayVar(&alerts.Webhooks, "alert-webhook", nil, "deliver alerts (firing and resolved) to this URL by POST; repeat for several")
	cmd.Flags().StringVar(&alerts.Format, "alert-format", "json", "the webhooks' body: "+strings.Join(server.AlertFormats, ", "))
	cmd.Flags().StringVar(&rulesFile, "alert-rules", "", "a YAML file of alert rules over the defaults (docs: deploy/alert-rules.example.yml)")
	cmd.Flags().DurationVar(&alerts.Interval, "alert-interval", 10*time.Second, "how often the alert rules are evaluated")
	return cmd
}
