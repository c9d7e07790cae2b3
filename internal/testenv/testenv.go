// Package testenv starts private database servers for integration tests, from the
// binaries installed on the machine, on free ports in temporary directories (DESIGN §5).
// It never uses the machine's own services and never skips: a missing binary is an error
// that names the Debian package to install (scripts/test installs them).
//
// A test package starts what it needs once, in TestMain, and stops it at the end:
//
//	func TestMain(m *testing.M) {
//		pg, err := testenv.StartPostgres()
//		if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }
//		code := m.Run()
//		pg.Stop()
//		os.Exit(code)
//	}
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// freePort returns a TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
	return "", fmt.Errorf("testenv: %s is not installed; install it with `apt-get install %s` (scripts/test does)", name, pkg)
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
	return "", fmt.Errorf("testenv: PostgreSQL's initdb is not installed; install it with `apt-get install postgresql` (scripts/test does)")
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

// process is a started server process, in its own process group: a server started
// through runuser is a child of it, and signals go to the whole group.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	stopSig syscall.Signal // the signal for a clean, quick shutdown
}

func startProcess(cmd *exec.Cmd, stopSig syscall.Signal) (*process, error) {
	// Its own process group, so that a signal to the test does not reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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

// waitGroupGone waits until no process of the group is left (the server may outlive the
// runuser that started it by a moment).
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

// chownTo gives dir to the named user (PostgreSQL refuses to run as root).
func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("testenv: user %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// waitReady waits until port accepts connections and then until probe succeeds (the
// server answers queries), for at most timeout each; it gives up early if the server
// process exits.
func waitReady(port int, timeout time.Duration, exited <-chan struct{}, probe func() error) error {
	if err := waitTCP(port, timeout, exited); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		err := probe()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
