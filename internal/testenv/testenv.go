// Package testenv starts private database servers for integration tests, from the
// binaries installed on the machine, on free ports in temporary directories (DESIGN §5).
// It never uses the machine's own services and never skips: a missing binary is an error
// that names the Debian package to install (scripts/test installs them).
//
// A test package starts what it needs once and stops it at the end. Either start servers
// in TestMain:
//
//	var pg *testenv.Postgres
//
//	func TestMain(m *testing.M) {
//		var err error
//		if pg, err = testenv.StartPostgres(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		os.Exit(testenv.Run(m)) // runs the tests, then stops every server still running
//	}
//
// or let the first test that needs one start it, shared by the package's tests:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
//
//	func TestX(t *testing.T) { pg := testenv.SharedPostgres(t); … }
//
// Tests sharing a server keep to their own databases or tables. A test that restarts or
// crashes a server starts its own (StartPostgres, then defer Stop).
//
// Servers die with the test binary: they are started with a parent-death signal, so a
// test that panics or times out (the process exits without running TestMain's cleanup)
// leaves no server running. Its temporary directory is left behind and removed by the
// next start of a server of the same kind.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Option configures a server at start.
type Option func(*options)

type options struct {
	serverID int
	args     []string
}

// WithServerID sets MariaDB's server_id (default 1); two servers that replicate from each
// other need distinct ones. PostgreSQL ignores it.
func WithServerID(id int) Option { return func(o *options) { o.serverID = id } }

// WithArgs appends arguments to the server's command line: "--name=value" for mariadbd,
// "-c", "name=value" for postgres. A later setting overrides an earlier one.
func WithArgs(args ...string) Option {
	return func(o *options) { o.args = append(o.args, args...) }
}

func buildOptions(opts []Option) options {
	o := options{serverID: 1}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// server is what Run and Cleanup stop.
type server interface{ Stop() error }

var (
	mu      sync.Mutex
	running = map[server]bool{} // started and not yet stopped

	// sharedMu guards the shared servers and is held while one starts (it is taken
	// before mu, never while holding mu).
	sharedMu         sync.Mutex
	sharedMariaDB    *MariaDB
	sharedMariaDBErr error
	sharedPostgres   *Postgres
	sharedPgErr      error
)

func register(s server)   { mu.Lock(); running[s] = true; mu.Unlock() }
func unregister(s server) { mu.Lock(); delete(running, s); mu.Unlock() }

// Run runs the tests and then stops every server of this package still running (shared
// ones included) and returns the exit code for os.Exit. Failing to stop a server turns a
// pass into a failure.
func Run(m *testing.M) int {
	code := m.Run()
	if err := Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Cleanup stops every server started by this process and not yet stopped, and forgets
// the shared ones.
func Cleanup() error {
	sharedMu.Lock()
	sharedMariaDB, sharedMariaDBErr, sharedPostgres, sharedPgErr = nil, nil, nil, nil
	sharedMu.Unlock()
	mu.Lock()
	var all []server
	for s := range running {
		all = append(all, s)
	}
	mu.Unlock()
	var errs []error
	for _, s := range all {
		errs = append(errs, s.Stop())
	}
	return errors.Join(errs...)
}

// SharedMariaDB returns the package's shared MariaDB, starting it on first use; it fails
// the test when the server cannot start (every later call fails the same way at once).
// Run or Cleanup stops it.
func SharedMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedMariaDB == nil && sharedMariaDBErr == nil {
		sharedMariaDB, sharedMariaDBErr = StartMariaDB()
	}
	if sharedMariaDBErr != nil {
		t.Fatal(sharedMariaDBErr)
	}
	return sharedMariaDB
}

// SharedPostgres is SharedMariaDB for PostgreSQL.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedPostgres == nil && sharedPgErr == nil {
		sharedPostgres, sharedPgErr = StartPostgres()
	}
	if sharedPgErr != nil {
		t.Fatal(sharedPgErr)
	}
	return sharedPostgres
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. It prefers ports
// below Linux's ephemeral range (32768–60999): a port from that range may be taken as the
// local port of some client connection between the check and the server's bind, or while
// a server restarts.
func freePort() (int, error) {
	for range 50 {
		port := 12000 + rand.IntN(32768-12000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portTaken reports whether a server's log says its port was in use (another process took
// the free port first): the start is then retried on another port.
func portTaken(log string) bool {
	return strings.Contains(log, "already in use") || strings.Contains(log, "Do you already have another")
}

// findBinary looks for name on PATH and in dirs; the error names the package.
func findBinary(name, pkg string, dirs ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("testenv: %s is not installed (looked on PATH and in %s); install it with `apt-get install %s` (scripts/test does)",
		name, strings.Join(dirs, ", "), pkg)
}

// postgresBinDir returns the bin directory of the newest installed PostgreSQL.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	// Not Debian's layout: initdb and postgres on PATH.
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("testenv: PostgreSQL's initdb is not installed (looked in /usr/lib/postgresql/*/bin and on PATH); install it with `apt-get install postgresql` (scripts/test does)")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// waitTCP waits until something accepts connections on port.
func waitTCP(port int, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("the server exited during start-up")
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on port %d after %s", port, timeout)
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

// run runs a command and returns its combined output in the error.
func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

// process is a started server process.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	stopSig syscall.Signal // the signal for a clean, quick shutdown
}

// startProcess starts cmd as a server: in its own process group (a ^C meant for the test
// reaches the test only; the servers then die with it), killed by the kernel when the test
// process dies (parent-death signal), and as cred's user when cred is set.
func startProcess(cmd *exec.Cmd, cred *syscall.Credential, stopSig syscall.Signal) (*process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), stopSig: stopSig}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop asks the server to shut down and waits; after timeout it kills.
func (p *process) stop(timeout time.Duration) {
	if p == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, p.stopSig)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	p.waitGroupGone(timeout)
}

// kill kills the whole group at once (a crash).
func (p *process) kill() {
	if p == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	p.waitGroupGone(10 * time.Second)
}

// waitGroupGone waits until no process of the group is left (PostgreSQL's backends
// outlive the postmaster by a moment).
func (p *process) waitGroupGone(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for syscall.Kill(-p.cmd.Process.Pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			time.Sleep(100 * time.Millisecond)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isRoot() bool { return os.Geteuid() == 0 }

// credential returns the credential to run a program as the named user, or nil when the
// test does not run as root (it then runs as the test's user).
func credential(name string) (*syscall.Credential, error) {
	if !isRoot() {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("testenv: user %s (created by the postgresql package): %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// tempRoot is where server directories go: /tmp when root (a directory under another
// $TMPDIR may not be reachable by user postgres), else the usual temporary directory.
func tempRoot() string {
	if isRoot() {
		return "/tmp"
	}
	return os.TempDir()
}

// makeDir creates a server's directory, named prefix*, and records the owning test
// process in it. It first removes directories of the same prefix whose owner is gone (a
// test binary that panicked or timed out: its servers died with it).
func makeDir(prefix string) (string, error) {
	old, _ := filepath.Glob(filepath.Join(tempRoot(), prefix+"*"))
	for _, d := range old {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue // being created, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp(tempRoot(), prefix)
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("testenv: %w", err)
	}
	return dir, nil
}
