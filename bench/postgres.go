package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgPipeline is a pipeline from the PostgreSQL source database src.
const pgPipeline = `
source:
  type: postgres
  hostname: 127.0.0.1
  port: %d
  username: postgres
  database-name: src
  tables: public.sbtest1, public.probe
  heartbeat.interval: 1s
sink:
%s
pipeline:
  name: %s
  parallelism: %d
  checkpoint.interval: 1s
`

// postgresSource runs the PostgreSQL-source scenarios on database src of the same server.
func (e *env) postgresSource(ctx context.Context) error {
	if err := e.pg.Exec(ctx, "postgres", "CREATE DATABASE src"); err != nil {
		return err
	}
	log("filling src.public.sbtest1 with %d rows", *rows)
	if err := e.pg.Exec(ctx, "src", fmt.Sprintf(`
		CREATE TABLE sbtest1 (id integer PRIMARY KEY, k integer NOT NULL, c char(120) NOT NULL, pad char(60) NOT NULL);
		CREATE TABLE probe (id bigint PRIMARY KEY, sent bigint NOT NULL);
		INSERT INTO sbtest1 SELECT g, g %% 100000,
		  concat_ws('-', md5(g::text), md5((g+1)::text), md5((g+2)::text), left(md5((g+3)::text), 21)),
		  concat_ws('-', md5((g+4)::text), left(md5((g+5)::text), 27)) FROM generate_series(1, %d) g;
		CREATE INDEX k_1 ON sbtest1 (k)`, *rows)); err != nil {
		return err
	}
	if err := e.pg.Exec(ctx, "src", "VACUUM ANALYZE sbtest1"); err != nil {
		return err
	}
	// Raw: the client's read of the table, into nothing; read beside each of weir's
	// snapshots into nothing, below, on one connection that has read the table once
	// already (a backend's later reads are a few per cent faster than its first).
	conn, err := pgx.Connect(ctx, e.pg.URL("src"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rawRead := func() (float64, error) {
		t0 := time.Now()
		if _, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY (SELECT id, k, c, pad FROM sbtest1) TO STDOUT"); err != nil {
			return 0, err
		}
		return float64(*rows) / time.Since(t0).Seconds(), nil
	}
	if _, err := rawRead(); err != nil { // the warm-up
		return err
	}
	piped, err := e.pgPipe(ctx)
	if err != nil {
		return err
	}
	load, err := e.mariadbLoad(ctx)
	if err != nil {
		return err
	}
	log("raw: PostgreSQL read piped into COPY then key %.0f rows/s, LOAD DATA into MariaDB %.0f rows/s", piped, load)

	// weir's snapshot into nothing, into PostgreSQL and into MariaDB; phase is its rate in
	// its snapshot phase, by its own log (its start, its connections and the slot's
	// creation left out).
	phase := map[string]float64{}
	snap := func(name, sink string, done func(w *weirRun) bool) (rate, cpu, rss float64, err error) {
		w, err := e.launch(fmt.Sprintf(pgPipeline, e.pg.Port, sink, name, *par), fmt.Sprintf("state-%s-%d", name, runs+1))
		if err != nil {
			return 0, 0, 0, err
		}
		for !done(w) {
			if w.cmd.ProcessState != nil {
				return 0, 0, 0, fmt.Errorf("weir exited:\n%s", w.log)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(w.start)
		cpu, rss, err = w.stop()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("stop weir: %v\n%s", err, w.log)
		}
		if d, ok := w.logSpan("starting fresh", "snapshot finished"); ok {
			phase[name] = float64(*rows) / d.Seconds()
		}
		return float64(*rows) / took.Seconds(), cpu, rss, e.pg.Exec(ctx, "src", "SELECT pg_drop_replication_slot('weir_"+name+"')")
	}
	// Into nothing, the snapshot's end is in weir's log: polling /metrics every few
	// milliseconds would cost weir a share of its CPU.
	// Three rounds of the raw read and weir's snapshot, one after the other, and the
	// medians of each: a read of a second or so moves by a third with what else the
	// machine does, and a round keeps both under the same conditions.
	var reads, discards, dcpus, drsss, phases []float64
	for range 3 {
		read, err := rawRead()
		if err != nil {
			return err
		}
		discard, dcpu, drss, err := snap("pg_discard", "  type: discard", func(w *weirRun) bool { return w.log.has(`msg="snapshot finished"`) })
		if err != nil {
			return err
		}
		reads, discards, dcpus, drsss, phases = append(reads, read), append(discards, discard), append(dcpus, dcpu), append(drsss, drss), append(phases, phase["pg_discard"])
		log("PostgreSQL → discard: the raw read %.0f rows/s, weir %.0f rows/s (%.2f)", read, discard, discard/read)
	}
	readRate, discard, dcpu, drss := median(reads), median(discards), median(dcpus), median(drsss)
	phase["pg_discard"] = median(phases)
	if err := e.pg.Exec(ctx, "postgres", "CREATE DATABASE dw2"); err != nil {
		return err
	}
	// Done when the rows are in and so is the index on k (weir builds it after them).
	intoPG, pcpu, prss, err := snap("pg_pg", "  type: postgres\n  url: "+e.pg.URL("dw2"), func(w *weirRun) bool {
		if !w.log.has("built an index of the source table") {
			return false
		}
		n, _ := e.count(ctx, "dw2", "public.sbtest1")
		return n == *rows
	})
	if err != nil {
		return err
	}
	intoMariaDB, mcpu, mrss, err := snap("pg_mariadb", fmt.Sprintf("  type: mariadb\n  url: mysql://root@127.0.0.1:%d/weir", e.db.Port), func(w *weirRun) bool {
		if !w.log.has("built an index of the source table") {
			return false
		}
		out, err := e.db.Query("", "SELECT COUNT(*) FROM public.sbtest1")
		n, _ := strconv.Atoi(firstField(out))
		return err == nil && n == *rows
	})
	if err != nil {
		return err
	}
	e.results = append(e.results,
		result{Scenario: fmt.Sprintf("snapshot %d rows PostgreSQL → discard", *rows), Weir: discard, Unit: "rows/s",
			Raw: readRate, RawName: "COPY (SELECT …) TO STDOUT into nothing; medians of 3 rounds of both", CPU: dcpu, RSSMB: drss},
		result{Scenario: "  same, its snapshot phase (weir's log: starting fresh → snapshot finished)", Weir: phase["pg_discard"], Unit: "rows/s",
			Raw: readRate, RawName: "COPY (SELECT …) TO STDOUT into nothing"},
		result{Scenario: fmt.Sprintf("snapshot %d rows PostgreSQL → PostgreSQL", *rows), Weir: intoPG, Unit: "rows/s",
			Raw: piped, RawName: "COPY TO STDOUT piped into COPY FROM STDIN, then the key and the index on k", CPU: pcpu, RSSMB: prss},
		result{Scenario: fmt.Sprintf("snapshot %d rows PostgreSQL → MariaDB", *rows), Weir: intoMariaDB, Unit: "rows/s",
			Raw: load, RawName: "LOAD DATA LOCAL INFILE of the same rows into the keyed table, then ALTER TABLE ADD INDEX on k", CPU: mcpu, RSSMB: mrss})
	return e.pgBacklog(ctx)
}

// mariadbLoad writes the table to a file with COPY and loads the file into a MariaDB
// table with its key (the bulk load alone, the read not counted).
func (e *env) mariadbLoad(ctx context.Context) (float64, error) {
	path := filepath.Join(e.dir, "pg-sbtest1.tsv")
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, e.pg.URL("src"))
	if err != nil {
		return 0, err
	}
	_, err = conn.PgConn().CopyTo(ctx, f, "COPY (SELECT id, k, c, pad FROM sbtest1) TO STDOUT")
	conn.Close(ctx)
	f.Close()
	if err != nil {
		return 0, err
	}
	if err := e.db.Exec("", "CREATE DATABASE IF NOT EXISTS rawload; USE rawload; DROP TABLE IF EXISTS sbtest1; "+
		"CREATE TABLE sbtest1 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL)"); err != nil {
		return 0, err
	}
	t0 := time.Now()
	cmd := exec.Command("mariadb", "-h127.0.0.1", fmt.Sprintf("-P%d", e.db.Port), "-uroot", "--local-infile=1", "rawload",
		"-e", "LOAD DATA LOCAL INFILE '"+path+"' INTO TABLE sbtest1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("LOAD DATA: %v\n%s", err, out)
	}
	if err := e.db.Exec("rawload", "ALTER TABLE sbtest1 ADD INDEX k_1 (k)"); err != nil {
		return 0, err
	}
	took := time.Since(t0)
	os.Remove(path)
	return float64(*rows) / took.Seconds(), nil
}

func firstField(s string) string {
	for i, c := range s {
		if c == '\n' || c == '\t' || c == ' ' {
			return s[:i]
		}
	}
	return s
}

// pgPipe copies the table from src into an unindexed table of raw with both ends at once,
// then builds the key.
func (e *env) pgPipe(ctx context.Context) (float64, error) {
	from, err := pgx.Connect(ctx, e.pg.URL("src"))
	if err != nil {
		return 0, err
	}
	defer from.Close(ctx)
	to, err := pgx.Connect(ctx, e.pg.URL("raw"))
	if err != nil {
		return 0, err
	}
	defer to.Close(ctx)
	if _, err := to.Exec(ctx, "DROP TABLE IF EXISTS sbtest1; CREATE TABLE sbtest1 (id integer NOT NULL, k integer NOT NULL, c char(120) NOT NULL, pad char(60) NOT NULL)"); err != nil {
		return 0, err
	}
	r, w := io.Pipe()
	t0 := time.Now()
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, readErr = from.PgConn().CopyTo(ctx, w, "COPY (SELECT id, k, c, pad FROM sbtest1) TO STDOUT")
		w.CloseWithError(readErr)
	}()
	_, err = to.PgConn().CopyFrom(ctx, r, "COPY sbtest1 FROM STDIN")
	wg.Wait()
	if err == nil {
		err = readErr
	}
	if err != nil {
		return 0, err
	}
	if err := keyAndIndex(ctx, to); err != nil {
		return 0, err
	}
	return float64(*rows) / time.Since(t0).Seconds(), nil
}

// pgBacklog: weir's slot is made and the table copied; weir stops; -changes single-row
// changes are made; then weir catches up into discard, and pg_recvlogical reads the same
// changes through a slot of its own made at the same point.
func (e *env) pgBacklog(ctx context.Context) error {
	name := "pg_backlog"
	file := fmt.Sprintf(pgPipeline, e.pg.Port, "  type: discard", name, *par)
	w, err := e.launch(file, "state-"+name)
	if err != nil {
		return err
	}
	for w.rowsOut("src.public.sbtest1") < float64(*rows) {
		if w.cmd.ProcessState != nil {
			return fmt.Errorf("weir exited:\n%s", w.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a checkpoint after the snapshot
	if _, _, err := w.stop(); err != nil {
		return fmt.Errorf("stop weir: %v\n%s", err, w.log)
	}
	if err := e.pg.Exec(ctx, "src", "SELECT pg_create_logical_replication_slot('raw_recv', 'pgoutput')"); err != nil {
		return err
	}
	list := backlogChanges(*changes, *rows)
	log("applying %d single-row changes to PostgreSQL", len(list))
	if err := e.applyToPostgres(ctx, list); err != nil {
		return err
	}
	if err := e.pg.Exec(ctx, "src", "INSERT INTO probe VALUES (-1, 0)"); err != nil { // the sentinel: the last change
		return err
	}
	var end string
	conn, err := pgx.Connect(ctx, e.pg.URL("src"))
	if err != nil {
		return err
	}
	err = conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&end)
	conn.Close(ctx)
	if err != nil {
		return err
	}

	t0 := time.Now()
	recv := exec.Command(pgBin("pg_recvlogical"), "-h", "127.0.0.1", "-p", strconv.Itoa(e.pg.Port), "-U", "postgres", "-d", "src",
		"--slot", "raw_recv", "--start", "--no-loop", "--endpos", end, "-f", "/dev/null",
		"-o", "proto_version=1", "-o", "publication_names=weir_"+name)
	if out, err := recv.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_recvlogical: %v\n%s", err, out)
	}
	rawRead := float64(len(list)) / time.Since(t0).Seconds()

	d, err := e.launch(file, "state-"+name)
	if err != nil {
		return err
	}
	for d.rowsOut("src.public.probe") < 1 {
		if d.cmd.ProcessState != nil {
			return fmt.Errorf("weir exited:\n%s", d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(d.start)
	cpu, rss, err := d.stop()
	if err != nil {
		return fmt.Errorf("stop weir: %v\n%s", err, d.log)
	}
	e.results = append(e.results, result{Scenario: fmt.Sprintf("backlog of %d single-row changes PostgreSQL → discard", len(list)),
		Weir: float64(len(list)) / took.Seconds(), Unit: "changes/s", Raw: rawRead,
		RawName: "pg_recvlogical (pgoutput) of the same changes into /dev/null", CPU: cpu, RSSMB: rss, Note: "weir's time includes its start"})
	return nil
}

// applyToPostgres applies the changes to src on 8 connections, each key's on one.
func (e *env) applyToPostgres(ctx context.Context, list []change) error {
	const conns = 8
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, e.pg.URL("src"))
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(ctx)
			for _, ch := range list {
				if ch.id%conns != c {
					continue
				}
				if _, err := conn.Exec(ctx, ch.sql()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// pgBin finds a PostgreSQL client program in Debian's versioned directory.
func pgBin(name string) string {
	for _, v := range []string{"17", "16", "15", "14", "13"} {
		p := "/usr/lib/postgresql/" + v + "/bin/" + name
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	return name
}
