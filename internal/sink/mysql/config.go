package mysql

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/fault"
)

// Spec declares the MySQL / MariaDB sink under type typ ("mysql" or "mariadb": the same
// sink; the server's flavour is read when it connects).
func Spec(typ string) connector.Spec {
	return connector.Spec{
		Type: typ,
		Summary: "Writes into MySQL or MariaDB tables it creates and evolves: multi-row INSERT … ON DUPLICATE KEY UPDATE and " +
			"set-based deletes from parallel writers. Exactly once: the checkpoint is committed in the target with the data " +
			"(see docs/sink-mysql.md).",
		Fields: []connector.Field{
			{Name: "url", Type: connector.TypeString, Required: true, Secret: true, Example: "mysql://weir:secret@127.0.0.1:3306/weir",
				Description: "Server address, user and password; the path names the database that keeps the checkpoint table " +
					"(created if missing; default weir). The user needs CREATE, ALTER, INSERT, UPDATE, DELETE and SELECT on the target databases (and XA_RECOVER_ADMIN on MySQL 8)."},
			{Name: "sink.mode", Type: connector.TypeEnum, Default: "upsert", Enum: []string{"upsert", "changelog"},
				Description: "upsert: one row per key, as the source has it; changelog: one row per change, with _weir_op, _weir_pos, _weir_commit_ts and _weir_seq (an audit table)."},
			{Name: "sink.delete-mode", Type: connector.TypeEnum, Default: "hard", Enum: []string{"hard", "soft"},
				Description: "hard: a delete removes the row; soft: the row stays with _weir_deleted = 1."},
			{Name: "sink.create-indexes", Type: connector.TypeBool, Default: "true",
				Description: "Make the source tables' secondary indexes in the tables weir creates, once each table's snapshot is in (a unique one as a plain index; see docs/sink-mysql.md)."},
			{Name: "checkpoint.table", Type: connector.TypeString, Default: "weir_checkpoints",
				Description: "[database.]name of the table in the target where the pipeline's position is committed with the data."},
			{Name: "connect.timeout", Type: connector.TypeDuration, Default: "30s", Description: "Timeout of connecting."},
		},
	}
}

// address is what the url field holds.
type address struct {
	host, user, password, db string
	port                     int
}

func (a address) hostPort() string { return net.JoinHostPort(a.host, strconv.Itoa(a.port)) }

// parseURL reads mysql://user:password@host:port/database (mariadb:// too).
func parseURL(raw string) (address, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return address{}, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return address{}, fmt.Errorf("%q: want mysql://user:password@host:port/database", u.Redacted())
	}
	a := address{host: u.Hostname(), port: 3306, db: strings.Trim(u.Path, "/")}
	if a.host == "" {
		a.host = "127.0.0.1"
	}
	if p := u.Port(); p != "" {
		if a.port, err = strconv.Atoi(p); err != nil || a.port < 1 || a.port > 65535 {
			return address{}, fmt.Errorf("port %q: want 1–65535", p)
		}
	}
	if u.User != nil {
		a.user = u.User.Username()
		a.password, _ = u.User.Password()
	}
	if a.user == "" {
		return address{}, fmt.Errorf("%q names no user: want mysql://user:password@host:port/database", u.Redacted())
	}
	if a.db == "" {
		a.db = "weir"
	}
	if strings.Contains(a.db, "/") {
		return address{}, fmt.Errorf("database %q: want one name", a.db)
	}
	return a, nil
}

// Check connects and checks what the sink needs, for `weir validate`.
func Check(ctx context.Context, cfg *connector.Config, env connector.Env) []error {
	return check(ctx, cfg.String("url"), cfg.Where("url"), cfg.String("checkpoint.table"))
}

func check(ctx context.Context, rawURL, where, cpTable string) []error {
	a, err := parseURL(rawURL)
	if err != nil {
		return []error{fmt.Errorf("url (%s): %w", where, err)}
	}
	if _, _, err := splitQualified(cpTable, a.db); err != nil {
		return []error{fmt.Errorf("checkpoint.table: %w", err)}
	}
	c, err := dial(ctx, a, "", 10e9)
	if err != nil {
		return []error{fault.WithReachHint(fmt.Errorf("url (%s): cannot connect: %w", where, err))}
	}
	defer c.Close()
	res, err := c.Execute("SHOW GRANTS")
	if err != nil {
		return []error{fmt.Errorf("url (%s): read the user's grants: %w", where, err)}
	}
	defer res.Close()
	var grants []string
	for i := range res.Values {
		g := str(res, i, 0)
		grants = append(grants, strings.ToUpper(g))
	}
	if !canCreate(grants) {
		return []error{fmt.Errorf("url (%s): the user may not create tables; run: GRANT ALL ON *.* TO <user> "+
			"(or CREATE, ALTER, INSERT, UPDATE, DELETE, SELECT ON each target database and on %s)", where, a.db)}
	}
	if res, err := c.Execute("XA RECOVER"); err != nil {
		return []error{fmt.Errorf("url (%s): the user may not list prepared XA transactions, which weir resolves after a crash "+
			"during a snapshot (%v); run: GRANT XA_RECOVER_ADMIN ON *.* TO <user> (MySQL 8)", where, err)}
	} else {
		res.Close()
	}
	return nil
}

// canCreate reports whether SHOW GRANTS gives CREATE somewhere: on *.* it covers every
// database; on one database, weir can at least start (a table elsewhere fails when it is
// first written, with the server's message).
func canCreate(grants []string) bool {
	for _, g := range grants {
		privs, _, ok := strings.Cut(strings.TrimPrefix(g, "GRANT "), " ON ")
		if !ok {
			continue
		}
		if strings.Contains(privs, "ALL PRIVILEGES") || strings.Contains(privs, "CREATE") {
			return true
		}
	}
	return false
}
