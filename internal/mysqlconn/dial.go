// Package mysqlconn opens the MySQL / MariaDB connections every part of weir uses (the
// source's snapshot, schema and position queries, the sink, verify, discover, preview) and
// decodes text by the character set it was stored in.
//
// Every connection talks utf8mb4, whatever the server's defaults. The client library sends
// collation 255 (utf8mb4_0900_ai_ci) in its handshake unless told otherwise; MariaDB does
// not know that collation and falls back to its server default (latin1 on a stock server),
// and the library's own SetCharset then does nothing because it believes the connection is
// utf8mb4 already. So the handshake names utf8mb4_general_ci (id 45, known to every MySQL
// since 5.5 and every MariaDB) and the session is set up with SET NAMES utf8mb4 as well,
// which costs one round trip that the session set-up makes anyway.
package mysqlconn

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/fault"
)

// HandshakeCollation is the collation a connection asks for in its handshake.
const HandshakeCollation = "utf8mb4_general_ci"

// Config says where and how to connect.
type Config struct {
	Addr     string // host:port
	User     string
	Password string
	DB       string // "" for none
	Timeout  time.Duration
	// MultiStatements lets one Execute run several statements.
	MultiStatements bool
	// Session is assignments added to the SET that starts every session, such as
	// "time_zone = '+00:00', SESSION sql_mode = ''".
	Session string
	// Fix is the advice added to an "Access denied" error, such as "check the user and
	// password in url".
	Fix string
}

// Dial connects and sets the session up: utf8mb4 both ways, then cfg.Session.
func Dial(ctx context.Context, cfg Config) (*client.Conn, error) {
	c, err := client.ConnectWithContext(ctx, cfg.Addr, cfg.User, cfg.Password, cfg.DB, cfg.Timeout, func(c *client.Conn) error {
		if cfg.MultiStatements {
			if err := c.SetCapability(gomysql.CLIENT_MULTI_STATEMENTS); err != nil {
				return err
			}
		}
		return c.SetCollation(HandshakeCollation)
	})
	if err != nil {
		return nil, ConnectError(err, cfg.Addr, cfg.User, cfg.Fix)
	}
	set := "SET NAMES utf8mb4"
	if cfg.Session != "" {
		set += ", " + cfg.Session
	}
	if _, err := c.Execute(set); err != nil {
		c.Close()
		return nil, fmt.Errorf("set up the session on %s: %w", cfg.Addr, err)
	}
	return c, nil
}

// ConnectError classifies an error of connecting: wrong credentials are fatal (with fix,
// the advice for where they are set); anything else (a server unreachable, restarting or
// out of connections) is retryable, within the pipeline's restart attempts.
func ConnectError(err error, addr, user, fix string) error {
	if strings.Contains(err.Error(), "Access denied") {
		if fix == "" {
			fix = "check username and password"
		}
		return fault.AsFatal(fmt.Errorf("connect to %s as %s: %w; %s", addr, user, err, fix))
	}
	return fault.AsRetryable(fault.WithReachHint(fmt.Errorf("connect to %s: %w", addr, err)))
}

// Identity names the server c is connected to: its host name, port and data directory
// (connector.Identified), the same from every connection to it.
func Identity(c *client.Conn) (string, error) {
	res, err := c.Execute("SELECT @@hostname, @@port, @@datadir")
	if err != nil {
		return "", fmt.Errorf("read the server's identity: %w", err)
	}
	defer res.Close()
	host, _ := res.GetString(0, 0)
	port, _ := res.GetInt(0, 1)
	dir, _ := res.GetString(0, 2)
	return fmt.Sprintf("mysql://%s:%d%s", host, port, dir), nil
}
