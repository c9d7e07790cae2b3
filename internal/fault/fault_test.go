package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/weir-data/weir/internal/checkpoint"
)

type pgErr string

func (e pgErr) Error() string    { return "pg " + string(e) }
func (e pgErr) SQLState() string { return string(e) }

func TestClassify(t *testing.T) {
	_, dialErr := net.Dial("tcp", "127.0.0.1:1")
	mkdirErr := os.MkdirAll("/proc/weir-no/x", 0o755)
	// pgx's error for a request on a connection it has not (or no longer) open, such as
	// "conn closed" after a network failure: the server never saw it.
	_, unusedErr := new(pgconn.PgConn).Prepare(context.Background(), "", "SELECT 1", nil)
	cases := []struct {
		err  error
		want Class
	}{
		{dialErr, Retryable},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), Retryable},
		{syscall.ECONNRESET, Retryable},
		{context.DeadlineExceeded, Retryable},
		{pgErr("40P01"), Retryable}, // deadlock
		{pgErr("40001"), Retryable}, // serialization failure
		{pgErr("08006"), Retryable}, // connection failure
		{pgErr("28P01"), Fatal},     // bad password
		{fmt.Errorf("begin a transaction: %w", unusedErr), Retryable},
		{pgErr("42501"), Fatal}, // insufficient privilege
		{mkdirErr, Fatal},
		{fmt.Errorf("x: %w", checkpoint.ErrFenced), Fatal},
		{AsRetryable(errors.New("flaky")), Retryable},
		{fmt.Errorf("wrapped: %w", AsUserAction(errors.New("ddl"))), UserAction},
		{AsFatal(syscall.ECONNRESET), Fatal},
		{errors.New("something new"), Fatal},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// TestReachHint: a refused connection gets advice on what to check; other errors none.
func TestReachHint(t *testing.T) {
	_, refused := net.Dial("tcp", "127.0.0.1:1")
	if got := WithReachHint(fmt.Errorf("connect to 127.0.0.1:1: %w", refused)).Error(); !strings.HasSuffix(got, "is the server running, and are the host and port right?") {
		t.Errorf("refused: %s", got)
	}
	if got := ReachHint(&net.DNSError{Err: "no such host", Name: "nohost.invalid", IsNotFound: true}); !strings.Contains(got, "does not resolve") {
		t.Errorf("unknown host: %q", got)
	}
	if got := ReachHint(errors.New("Access denied for user")); got != "" {
		t.Errorf("access denied: %q", got)
	}
}
