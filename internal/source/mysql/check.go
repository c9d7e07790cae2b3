package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// Check is `weir validate` for the source: it connects and checks, without changing
// anything, what the pipeline will need — the binlog settings, the privileges to read it,
// and that the selection matches tables weir can copy. Each problem names the fix.
func Check(ctx context.Context, cfg *connector.Config, env connector.Env) []error {
	src, err := Open(ctx, cfg, env)
	if err != nil {
		return []error{err}
	}
	defer src.Close()
	return src.(*Source).check(ctx)
}

func (s *Source) check(ctx context.Context) []error {
	var problems []error
	conn, err := s.pool.get(ctx)
	if err != nil {
		return []error{err}
	}
	defer s.pool.put(conn)
	want := map[string]string{"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL"}
	res, err := conn.Execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image')")
	if err != nil {
		problems = append(problems, fmt.Errorf("read the binlog settings: %w", err))
	} else {
		got := map[string]string{}
		for i := range res.RowNumber() {
			name, _ := res.GetString(i, 0)
			val, _ := res.GetString(i, 1)
			got[strings.ToLower(name)] = strings.ToUpper(val)
		}
		for _, name := range []string{"log_bin", "binlog_format", "binlog_row_image"} {
			if got[name] != want[name] {
				problems = append(problems, fmt.Errorf("server variable %s is %q; weir needs %s (set it in the server's configuration: %s=%s)",
					name, got[name], want[name], name, strings.ToLower(want[name])))
			}
		}
	}
	if _, err := currentPosition(conn, s.flavor); err != nil {
		problems = append(problems, fmt.Errorf("%w; grant REPLICATION CLIENT and REPLICATION SLAVE to %s", err, s.user))
	}
	tables, err := s.Tables(ctx)
	if err != nil {
		problems = append(problems, err)
	}
	return append(problems, s.checkGrants(conn, tables)...)
}

// checkGrants names each privilege the user lacks, with the GRANT that gives it:
// REPLICATION SLAVE (to read the binlog: without it MariaDB answers the binlog connection
// with "Access denied", which reads as a wrong password), REPLICATION CLIENT (BINLOG
// MONITOR in MariaDB 10.5+: the binlog's position), SELECT on each selected table. It
// reads the user's own privileges from information_schema; privileges that come through
// a role are not seen there, so with a role active it says nothing.
func (s *Source) checkGrants(conn *client.Conn, tables []*event.Schema) []error {
	res, err := conn.Execute("SELECT CURRENT_USER(), IFNULL(CURRENT_ROLE(), '')")
	if err != nil { // MySQL 5.7 has no roles
		if res, err = conn.Execute("SELECT CURRENT_USER(), ''"); err != nil {
			return []error{fmt.Errorf("read the current user: %w", err)}
		}
	}
	cu, _ := res.GetString(0, 0)
	if role, _ := res.GetString(0, 1); role != "" && role != "NONE" {
		return nil
	}
	at := strings.LastIndexByte(cu, '@')
	if at < 0 {
		return nil
	}
	grantee := fmt.Sprintf("'%s'@'%s'", cu[:at], cu[at+1:])
	global := map[string]bool{}
	if res, err = conn.Execute("SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?", grantee); err != nil {
		return []error{fmt.Errorf("read the privileges of %s: %w", grantee, err)}
	}
	for i := range res.RowNumber() {
		p, _ := res.GetString(i, 0)
		global[p] = true
	}
	schemas := map[string]bool{}
	if res, err = conn.Execute("SELECT TABLE_SCHEMA FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND PRIVILEGE_TYPE = 'SELECT'", grantee); err == nil {
		for i := range res.RowNumber() {
			db, _ := res.GetString(i, 0)
			schemas[db] = true
		}
	}
	tablesOK := map[string]bool{}
	if res, err = conn.Execute("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ? AND PRIVILEGE_TYPE = 'SELECT'", grantee); err == nil {
		for i := range res.RowNumber() {
			db, _ := res.GetString(i, 0)
			t, _ := res.GetString(i, 1)
			tablesOK[db+"."+t] = true
		}
	}
	var problems []error
	grant := func(what, on string) error {
		return fmt.Errorf("user %s lacks %s: GRANT %s ON %s TO %s", cu, what, what, on, grantee)
	}
	if !global["REPLICATION SLAVE"] {
		problems = append(problems, grant("REPLICATION SLAVE", "*.*"))
	}
	if !global["REPLICATION CLIENT"] && !global["BINLOG MONITOR"] {
		what := "REPLICATION CLIENT"
		if s.flavor == "mariadb" {
			what = "BINLOG MONITOR"
		}
		problems = append(problems, grant(what, "*.*"))
	}
	if !global["SELECT"] {
		for _, t := range tables {
			if !schemas[t.ID.Schema] && !tablesOK[t.ID.Schema+"."+t.ID.Table] {
				problems = append(problems, grant("SELECT", quoteIdent(t.ID.Schema)+"."+quoteIdent(t.ID.Table)))
			}
		}
	}
	return problems
}
