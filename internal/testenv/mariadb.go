package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// MariaDB is a private MariaDB server with the binary log on (ROW format, FULL row
// image, GTIDs), user root without a password, listening on 127.0.0.1:Port.
type MariaDB struct {
	Port   int
	stock  bool // MariaDB's built-in charset defaults (latin1), as most servers have them
	dir    string
	server string
	client string
	proc   *process
}

// StartMariaDB initialises and starts a server whose charset is utf8mb4.
func StartMariaDB() (*MariaDB, error) { return startMariaDB(false) }

// StartStockMariaDB starts a server with MariaDB's built-in charset defaults, as most
// users' servers are: character_set_server latin1, collation latin1_swedish_ci (and so
// every database and table created without a charset is latin1). The binary log is on as
// for StartMariaDB, since CDC needs it.
func StartStockMariaDB() (*MariaDB, error) { return startMariaDB(true) }

// Stock reports whether the server has the built-in charset defaults.
func (m *MariaDB) Stock() bool { return m.stock }

func startMariaDB(stock bool) (*MariaDB, error) {
	sbin := []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}
	server, err := findBinary("mariadbd", "mariadb-server", sbin...)
	if err != nil {
		return nil, err
	}
	install, err := findBinary("mariadb-install-db", "mariadb-server", sbin...)
	if err != nil {
		return nil, err
	}
	client, err := findBinary("mariadb", "mariadb-client", sbin...)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "weir-mariadb-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Port: port, stock: stock, dir: dir, server: server, client: client}
	// Each server has a temporary directory of its own: servers bootstrapped at once in the
	// shared /tmp collided on their temporary tables' names and failed to install.
	if err := os.MkdirAll(m.tmpDir(), 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := []string{"--no-defaults", "--datadir=" + m.dataDir(), "--tmpdir=" + m.tmpDir(), "--auth-root-authentication-method=normal", "--skip-test-db"}
	if isRoot() {
		args = append(args, "--user=root")
	}
	if err := run(exec.Command(install, args...)); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: mariadb-install-db: %w", err)
	}
	if err := m.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return m, nil
}

func (m *MariaDB) dataDir() string { return filepath.Join(m.dir, "data") }
func (m *MariaDB) tmpDir() string  { return filepath.Join(m.dir, "tmp") }
func (m *MariaDB) logPath() string { return filepath.Join(m.dir, "error.log") }
func (m *MariaDB) socket() string  { return filepath.Join(m.dir, "mysqld.sock") }

func (m *MariaDB) start() error {
	args := []string{"--no-defaults", "--datadir=" + m.dataDir(), "--tmpdir=" + m.tmpDir(),
		"--port=" + strconv.Itoa(m.Port), "--bind-address=127.0.0.1", "--socket=" + m.socket(),
		"--pid-file=" + filepath.Join(m.dir, "mysqld.pid"), "--log-error=" + m.logPath(),
		"--log-bin=" + filepath.Join(m.dataDir(), "mysql-bin"), "--binlog-format=ROW",
		"--binlog-row-image=FULL", "--server-id=1", "--log-slave-updates", "--binlog-checksum=CRC32",
		"--gtid-strict-mode=ON", "--max-connections=500", "--skip-name-resolve", "--innodb-buffer-pool-size=256M",
		"--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0", "--max-recursive-iterations=100000000"}
	if !m.stock {
		args = append(args, "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci")
	}
	if isRoot() {
		args = append(args, "--user=root")
	}
	var err error
	m.proc, err = startProcess(exec.Command(m.server, args...), syscall.SIGTERM)
	if err != nil {
		return fmt.Errorf("testenv: start mariadbd: %w", err)
	}
	if err := m.waitReady(60 * time.Second); err != nil {
		m.proc.kill()
		return fmt.Errorf("testenv: mariadbd on port %d did not start: %w\n%s", m.Port, err, tail(m.logPath(), 2000))
	}
	return nil
}

func (m *MariaDB) waitReady(timeout time.Duration) error {
	return waitReady(m.Port, timeout, m.proc.exited, func() error {
		_, err := m.Query("", "SELECT 1")
		return err
	})
}

// Exec runs SQL statements in database db ("" for none) with the mariadb client.
func (m *MariaDB) Exec(db, sql string) error {
	_, err := m.Query(db, sql)
	return err
}

// Query runs SQL and returns the client's tab-separated output without headers.
func (m *MariaDB) Query(db, sql string) (string, error) {
	args := []string{"--no-defaults", "--protocol=TCP", "-h127.0.0.1", "-P" + strconv.Itoa(m.Port), "-uroot",
		"--default-character-set=utf8mb4", "--batch", "--skip-column-names", "-e", sql}
	if db != "" {
		args = append(args, db)
	}
	out, err := exec.Command(m.client, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("mariadb: %w: %s", err, out)
	}
	return string(out), nil
}

// DSN returns a go-sql-driver style address for database db.
func (m *MariaDB) DSN(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", m.Port, db)
}

// Restart stops the server cleanly and starts it again on the same port with its data.
func (m *MariaDB) Restart() error {
	m.proc.stop(60 * time.Second)
	return m.start()
}

// Kill crashes the server (SIGKILL) and starts it again: it recovers.
func (m *MariaDB) Kill() error {
	m.proc.kill()
	return m.start()
}

// Pause stops the server cleanly and keeps its data: Resume starts it again.
func (m *MariaDB) Pause() { m.proc.stop(60 * time.Second) }

// Resume starts a paused server again on the same port with its data.
func (m *MariaDB) Resume() error { return m.start() }

// Stop stops the server and removes its directory.
func (m *MariaDB) Stop() error {
	m.proc.stop(60 * time.Second)
	return os.RemoveAll(m.dir)
}
