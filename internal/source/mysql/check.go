package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/weir-data/weir/internal/connector"
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
	if _, err := s.Tables(ctx); err != nil {
		problems = append(problems, err)
	}
	return problems
}
