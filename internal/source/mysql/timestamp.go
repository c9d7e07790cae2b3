package mysql

import (
	"context"
	"fmt"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/mysqlconn"
)

// positionAt finds where to read the binlog from for scan.startup.mode timestamp: the
// last binlog file that began at or before the moment (each file's first event carries
// its start time), from its start, leaving out transactions committed earlier.
func (s *Source) positionAt(ctx context.Context, millis int64) (position, error) {
	conn, err := s.pool.get(ctx)
	if err != nil {
		return position{}, err
	}
	res, err := conn.Execute("SHOW BINARY LOGS")
	s.pool.put(conn)
	if err != nil {
		return position{}, fmt.Errorf("list the binlog files: %w", err)
	}
	var files []string
	for i := range res.RowNumber() {
		name, _ := res.GetString(i, 0)
		files = append(files, name)
	}
	if len(files) == 0 {
		return position{}, fault.AsFatal(fmt.Errorf("the server has no binlog files"))
	}
	chosen := files[0]
	for _, f := range files {
		started, err := s.fileStart(ctx, f)
		if err != nil {
			return position{}, err
		}
		if started.UnixMilli() > millis {
			break
		}
		chosen = f
	}
	if first, _ := s.fileStart(ctx, files[0]); first.UnixMilli() > millis {
		s.log.Warn("the oldest binlog starts after scan.startup.timestamp-millis: reading from its start",
			"file", files[0], "starts", first, "asked", time.UnixMilli(millis))
	}
	return position{File: chosen, Pos: 4, SinceMillis: millis}, nil
}

// fileStart returns the time a binlog file began: its format description event's time.
func (s *Source) fileStart(ctx context.Context, file string) (time.Time, error) {
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: s.serverID + 1, Flavor: s.flavor, Host: s.host, Port: uint16(s.port),
		User: s.user, Password: s.password, Logger: mysqlconn.LibraryLogger(s.log.With("component", "binlog-search")),
	})
	defer syncer.Close()
	streamer, err := syncer.StartSync(gomysql.Position{Name: file, Pos: 4})
	if err != nil {
		return time.Time{}, fmt.Errorf("open binlog %s: %w", file, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("read the start of binlog %s: %w", file, err)
		}
		if _, ok := ev.Event.(*replication.FormatDescriptionEvent); ok && ev.Header.Timestamp > 0 {
			return time.Unix(int64(ev.Header.Timestamp), 0), nil
		}
	}
}
