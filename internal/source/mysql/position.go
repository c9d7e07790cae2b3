package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// position is where the binlog is read: after the transactions of GTID (the executed set,
// MySQL or MariaDB flavour) or, without GTIDs, at File:Pos. It is kept as JSON in
// checkpoints: {"gtid":"0-1-42","file":"mysql-bin.000003","pos":1234}.
type position struct {
	GTID string `json:"gtid,omitempty"`
	File string `json:"file,omitempty"`
	Pos  uint32 `json:"pos,omitempty"`
	// SinceMillis, set by scan.startup.mode timestamp, leaves out the transactions
	// committed before it (the binlog is searched by file, then by commit time).
	SinceMillis int64 `json:"since_ms,omitempty"`
	// XA are the XA transactions prepared before this position and not yet committed or
	// rolled back: a stream from here reads their groups again first (xa.go).
	XA []xaPending `json:"xa,omitempty"`
}

func (p position) encode() event.Position {
	b, _ := json.Marshal(p)
	return event.Position(b)
}

func decodePosition(s event.Position) (position, error) {
	var p position
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("bad mysql position %q: %w", s, err)
	}
	if p.GTID == "" && p.File == "" {
		return p, fmt.Errorf("bad mysql position %q: neither a GTID set nor a binlog file", s)
	}
	return p, nil
}

// currentPosition reads the server's end of binlog now. On MariaDB it is the position of a
// consistent snapshot, with its GTID position: every transaction before it is visible to
// snapshots taken after, so a stream from it and chunks read later join exactly (join.go).
func currentPosition(conn *client.Conn, flavor string) (position, error) {
	var p position
	if flavor == "mariadb" {
		return snapshotPosition(conn)
	}
	res, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
		return p, fmt.Errorf("read the binlog position (SHOW MASTER STATUS; needs REPLICATION CLIENT): %w", err)
	}
	if res.RowNumber() == 0 {
		return p, fmt.Errorf("the binary log is off on the server: start it with log_bin, binlog_format=ROW and binlog_row_image=FULL")
	}
	p.File, _ = res.GetString(0, 0)
	pos, _ := res.GetUint(0, 1)
	p.Pos = uint32(pos)
	q := "SELECT @@GLOBAL.gtid_executed"
	if flavor == "mariadb" {
		q = "SELECT @@GLOBAL.gtid_binlog_pos"
	}
	res, err = conn.Execute(q)
	if err != nil {
		return p, fmt.Errorf("read the executed GTID set: %w", err)
	}
	p.GTID, _ = res.GetString(0, 0)
	p.GTID = strings.ReplaceAll(strings.TrimSpace(p.GTID), "\n", "")
	return p, nil
}

func snapshotPosition(conn *client.Conn) (position, error) {
	var p position
	if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return p, fmt.Errorf("start a consistent snapshot to read the binlog position: %w", err)
	}
	at, err := snapshotPlace(conn)
	if _, cerr := conn.Execute("COMMIT"); err == nil {
		err = cerr
	}
	if err != nil {
		return p, err
	}
	res, err := conn.Execute("SELECT BINLOG_GTID_POS(?, ?)", at.file, at.pos)
	if err != nil {
		return p, fmt.Errorf("read the GTID position of %s:%d: %w", at.file, at.pos, err)
	}
	p.File, p.Pos = at.file, at.pos
	p.GTID, _ = res.GetString(0, 0)
	return p, nil
}

// Includes reports whether position durable has everything up to target
// (connector.PositionComparer): by GTID sets when both have one, else by binlog file and
// offset.
func (s *Source) Includes(durable, target event.Position) (bool, error) {
	d, err := decodePosition(durable)
	if err != nil {
		return false, err
	}
	t, err := decodePosition(target)
	if err != nil {
		return false, err
	}
	if d.GTID != "" && t.GTID != "" {
		dg, err := gomysql.ParseGTIDSet(s.flavor, d.GTID)
		if err != nil {
			return false, err
		}
		tg, err := gomysql.ParseGTIDSet(s.flavor, t.GTID)
		if err != nil {
			return false, err
		}
		return dg.Contain(tg), nil
	}
	if d.File != t.File {
		return d.File > t.File, nil // binlog files are numbered with a fixed width
	}
	return d.Pos >= t.Pos, nil
}

// LogEnd is the server's end of binlog now (connector.PositionComparer).
func (s *Source) LogEnd(ctx context.Context) (event.Position, error) {
	conn, err := s.pool.get(ctx)
	if err != nil {
		return "", err
	}
	defer s.pool.put(conn)
	p, err := currentPosition(conn, s.flavor)
	if err != nil {
		return "", err
	}
	return p.encode(), nil
}

// earliest is the start of the oldest binlog file the server keeps (scan.startup.mode
// earliest-offset), with the GTID position there on MariaDB.
func (s *Source) earliest(ctx context.Context) (position, error) {
	var p position
	conn, err := s.pool.get(ctx)
	if err != nil {
		return p, err
	}
	defer s.pool.put(conn)
	res, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return p, fmt.Errorf("list the binlog files (SHOW BINARY LOGS; needs REPLICATION CLIENT, BINLOG MONITOR on MariaDB): %w", err)
	}
	if res.RowNumber() == 0 {
		return p, fault.AsFatal(errors.New("the binary log is off on the server: start it with log_bin, binlog_format=ROW and binlog_row_image=FULL"))
	}
	p.File, _ = res.GetString(0, 0)
	p.Pos = 4 // after the file's magic number
	if s.flavor == "mariadb" {
		if res, err = conn.Execute("SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Pos); err == nil {
			p.GTID, _ = res.GetString(0, 0)
		}
	}
	return p, nil
}
