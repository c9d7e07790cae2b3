package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a private PostgreSQL server with wal_level=logical, trust authentication,
// user postgres, listening on 127.0.0.1:Port. Durability is traded for speed (fsync off):
// Restart stops it cleanly, Kill crashes it. It is set up as a bulk-load target would be
// (wal_buffers 32MB, max_wal_size 2GB, no zero-filled WAL segments): with the defaults,
// parallel COPY streams wait on WAL writes more than they work.
type Postgres struct {
	Port int
	dir  string
	bin  string
	proc *process
}

// StartPostgres initialises and starts a server.
func StartPostgres() (*Postgres, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "weir-pg-")
	if err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o755)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Port: port, dir: dir, bin: bin}
	if isRoot() {
		if err := chownTo(dir, "postgres"); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	initdb := pg.command(filepath.Join(bin, "initdb"), "-D", pg.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	if err := run(initdb); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: initdb: %w", err)
	}
	if err := pg.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return pg, nil
}

// command runs a PostgreSQL binary, as user postgres when the test runs as root.
func (pg *Postgres) command(name string, args ...string) *exec.Cmd {
	if isRoot() {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func (pg *Postgres) dataDir() string { return filepath.Join(pg.dir, "data") }
func (pg *Postgres) logPath() string { return filepath.Join(pg.dir, "server.log") }

func (pg *Postgres) start() error {
	log, err := os.OpenFile(pg.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o666)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := pg.command(filepath.Join(pg.bin, "postgres"), "-D", pg.dataDir(),
		"-p", strconv.Itoa(pg.Port), "-k", pg.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "wal_level=logical", "-c", "max_replication_slots=20", "-c", "max_wal_senders=20",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=128MB", "-c", "max_prepared_transactions=64",
		"-c", "wal_buffers=32MB", "-c", "max_wal_size=2GB", "-c", "wal_init_zero=off")
	cmd.Stdout, cmd.Stderr = log, log
	pg.proc, err = startProcess(cmd, syscall.SIGINT) // SIGINT: fast shutdown
	if err != nil {
		return fmt.Errorf("testenv: start postgres: %w", err)
	}
	if err := pg.waitReady(60 * time.Second); err != nil {
		pg.proc.kill()
		return fmt.Errorf("testenv: postgres on port %d did not start: %w\n%s", pg.Port, err, tail(pg.logPath(), 2000))
	}
	return nil
}

func (pg *Postgres) waitReady(timeout time.Duration) error {
	return waitReady(pg.Port, timeout, pg.proc.exited, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
		}
		return err
	})
}

// URL returns a connection URL for database db.
func (pg *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.Port, db)
}

// Exec runs SQL statements in database db.
func (pg *Postgres) Exec(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, pg.URL(db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Restart stops the server cleanly and starts it again on the same port with its data.
func (pg *Postgres) Restart() error {
	pg.proc.stop(30 * time.Second)
	return pg.start()
}

// Kill crashes the server (SIGKILL) and starts it again: it recovers from its WAL.
func (pg *Postgres) Kill() error {
	pg.proc.kill()
	return pg.start()
}

// Stop stops the server and removes its directory.
func (pg *Postgres) Stop() error {
	pg.proc.stop(30 * time.Second)
	return os.RemoveAll(pg.dir)
}
