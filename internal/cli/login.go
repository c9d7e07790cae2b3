package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/server"
	"github.com/weir-data/weir/internal/store"
)

// A server's clients (weir pipeline …) send a token: $WEIR_TOKEN, else the one `weir
// login` saved for the server in the credentials file (the user's config directory,
// weir/credentials.json, mode 0600). $WEIR_WORKSPACE or --workspace names the workspace.

// credentialsPath is the credentials file.
func credentialsPath() (string, error) {
	dir := os.Getenv("WEIR_CONFIG_DIR")
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("find the config directory for the credentials (set $WEIR_CONFIG_DIR): %w", err)
		}
		dir = filepath.Join(base, "weir")
	}
	return filepath.Join(dir, "credentials.json"), nil
}

// savedTokens reads the credentials file: server URL → token.
func savedTokens() map[string]string {
	out := map[string]string{}
	path, err := credentialsPath()
	if err != nil {
		return out
	}
	b, err := os.ReadFile(path)
	if err == nil {
		json.Unmarshal(b, &out)
	}
	return out
}

func saveToken(base, token string) error {
	path, err := credentialsPath()
	if err != nil {
		return err
	}
	tokens := savedTokens()
	if token == "" {
		delete(tokens, base)
	} else {
		tokens[base] = token
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(tokens, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// tokenFor is the token the client sends to base.
func tokenFor(base string) string {
	if t := os.Getenv("WEIR_TOKEN"); t != "" {
		return t
	}
	return savedTokens()[strings.TrimRight(base, "/")]
}

// authorize sets the request's token and workspace.
func (c *client) authorize(req *http.Request) {
	if t := tokenFor(c.base); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	if c.workspace != "" {
		req.Header.Set(server.WorkspaceHeader, c.workspace)
	}
}

// readPassword reads a password: $WEIR_PASSWORD, else a line of standard input (not
// echoed on a terminal). It is never a flag: flags show in the process list.
func readPassword(g *globals, prompt string) (string, error) {
	if p := os.Getenv("WEIR_PASSWORD"); p != "" {
		return p, nil
	}
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(g.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func loginCommand(g *globals) *cobra.Command {
	c := newClient(g)
	var user string
	cmd := &cobra.Command{
		Use:   "login --user NAME",
		Short: "Log in to a weir server: the session token is kept for its clients (the password from $WEIR_PASSWORD or standard input)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			password, err := readPassword(g, "password for "+user+": ")
			if err != nil {
				return invalid(fmt.Errorf("read the password: %w", err))
			}
			var res server.LoginResult
			if err := c.do("POST", "/api/v1/login", server.LoginRequest{User: user, Password: password}, &res); err != nil {
				return err
			}
			if err := saveToken(strings.TrimRight(c.base, "/"), res.Token); err != nil {
				return failed(fmt.Errorf("keep the token: %w", err))
			}
			fmt.Fprintf(g.stdout, "logged in to %s as %s until %s\n", c.base, user, res.Expires.Local().Format("2006-01-02 15:04"))
			return nil
		},
	}
	c.flags(cmd)
	cmd.Flags().StringVar(&user, "user", os.Getenv("USER"), "the user")
	return cmd
}

func logoutCommand(g *globals) *cobra.Command {
	c := newClient(g)
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "End the session with a weir server and forget its token",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			err := c.do("POST", "/api/v1/logout", nil, nil)
			if serr := saveToken(strings.TrimRight(c.base, "/"), ""); serr != nil && err == nil {
				err = failed(serr)
			}
			return err
		},
	}
	c.flags(cmd)
	return cmd
}

// serverUserCommand adds users straight to a server's store (the first administrator of
// a server that does not listen on loopback, or one whose admins are all locked out).
func serverUserCommand(g *globals) *cobra.Command {
	var data, storeURL string
	var admin bool
	cmd := &cobra.Command{Use: "user", Short: "Manage a server's users in its store (for the first administrator; otherwise use the API)"}
	add := &cobra.Command{
		Use:   "add NAME [--admin]",
		Short: "Add a user (the password from $WEIR_PASSWORD or standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd, data, storeURL)
			if err != nil {
				return err
			}
			defer st.Close()
			password, err := readPassword(g, "password for "+args[0]+": ")
			if err != nil {
				return invalid(err)
			}
			if err := server.CreateUser(cmd.Context(), st, args[0], password, admin); err != nil {
				var bad *server.BadRequest
				if errors.As(err, &bad) || errors.Is(err, store.ErrExists) {
					return invalid(err)
				}
				return failed(err)
			}
			fmt.Fprintf(g.stdout, "user %s added%s\n", args[0], map[bool]string{true: " (server admin)"}[admin])
			return nil
		},
	}
	add.Flags().StringVar(&data, "data", ".weir", "the server's --data directory (its embedded store)")
	add.Flags().StringVar(&storeURL, "store", "", "the server's PostgreSQL store, if it has one")
	add.Flags().BoolVar(&admin, "admin", false, "a server admin: may do everything, in every workspace")
	cmd.AddCommand(add)
	return cmd
}

func openStore(cmd *cobra.Command, data, storeURL string) (*store.Store, error) {
	var st *store.Store
	var err error
	if storeURL != "" {
		st, err = store.OpenPostgres(cmd.Context(), storeURL)
	} else {
		st, err = store.OpenSQLite(cmd.Context(), data)
	}
	if err != nil {
		return nil, failed(err)
	}
	return st, nil
}

// rotateKeyCommand seals every connection's credentials again with the keyring's primary
// key, so that the keys before it can leave the ring.
func rotateKeyCommand(g *globals) *cobra.Command {
	var data, storeURL, keyFile string
	cmd := &cobra.Command{
		Use:   "rotate-key --key-file FILE",
		Short: "Seal every connection's credentials again with the keyring's first key (put a new key first, run this, then drop the old key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := auth.LoadKeyring(keyFile, "WEIR_KEYS")
			if err != nil {
				return invalid(err)
			}
			if keys == nil {
				return invalid(errors.New("no keyring: give --key-file or $WEIR_KEYS, the new key first"))
			}
			st, err := openStore(cmd, data, storeURL)
			if err != nil {
				return err
			}
			defer st.Close()
			n, chans, err := server.RotateKeys(cmd.Context(), st, keys)
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(g.stdout, "%d connection(s) sealed again with key %s, and %d alert channel(s); the other keys may leave the keyring\n", n, keys.Primary(), chans)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", ".weir", "the server's --data directory (its embedded store)")
	cmd.Flags().StringVar(&storeURL, "store", "", "the server's PostgreSQL store, if it has one")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the keyring (or $WEIR_KEYS)")
	return cmd
}
