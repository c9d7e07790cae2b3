package mysql

import (
	"context"
	"errors"
	osexec "os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// BenchmarkBinlogStream reads 200,000 single-row updates from the binlog, decoded into
// changes, and reads the same binlog with `mariadb-binlog --read-from-remote-server` in the
// same run: it reports weir's changes/s and the ratio to the raw reader's rate.
// Run: go test -run '^$' -bench BinlogStream -benchtime 1x ./internal/source/mysql/
func BenchmarkBinlogStream(b *testing.B) {
	const n = 200000
	if err := db.Exec("", `CREATE DATABASE IF NOT EXISTS bench; USE bench; DROP TABLE IF EXISTS t;
		CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL);
		INSERT INTO t SELECT seq, seq, REPEAT('c', 120), REPEAT('p', 60) FROM seq_1_to_200000`); err != nil {
		b.Fatal(err)
	}
	s, err := New(context.Background(), Options{Host: "127.0.0.1", Port: db.Port, User: "root", Tables: "bench.t"}, connEnv("bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tables, _ := s.Tables(context.Background())
	from, _ := s.Position(context.Background())
	// 200,000 single-row transactions (autocommit), as an OLTP source would write them.
	if err := db.Exec("bench", "DROP PROCEDURE IF EXISTS upd;\nDELIMITER //\n"+
		"CREATE PROCEDURE upd() BEGIN DECLARE i INT DEFAULT 1; WHILE i <= 200000 DO UPDATE t SET k = k + 1 WHERE id = i; SET i = i + 1; END WHILE; END//\n"+
		"DELIMITER ;\nCALL upd();"); err != nil {
		b.Fatal(err)
	}
	p, _ := decodePosition(from)
	for b.Loop() {
		start := time.Now()
		got := 0
		errDone := errors.New("done")
		err := s.Stream(context.Background(), from, tables, func(_ context.Context, batch event.Batch) error {
			got += len(batch.Changes)
			if got >= n {
				return errDone
			}
			return nil
		})
		if !errors.Is(err, errDone) {
			b.Fatal(err)
		}
		weir := time.Since(start)

		start = time.Now()
		raw := osexec.Command("mariadb-binlog", "--read-from-remote-server", "--host=127.0.0.1", "--port="+strconv.Itoa(db.Port),
			"--user=root", "--start-position="+strconv.Itoa(int(p.Pos)), "--to-last-log", p.File)
		raw.Stdout = nil
		if out, err := raw.CombinedOutput(); err != nil {
			b.Fatalf("mariadb-binlog: %v %s", err, out)
		}
		rawTook := time.Since(start)
		b.ReportMetric(float64(n)/weir.Seconds(), "changes/s")
		b.ReportMetric(float64(n)/rawTook.Seconds(), "raw-changes/s")
		b.ReportMetric(rawTook.Seconds()/weir.Seconds(), "weir/raw")
	}
}

func connEnv(pipeline string) connector.Env { return connector.Env{Pipeline: pipeline} }
