// Package fault classifies errors, in this one place, into what the engine does about
// them (DESIGN §3.7):
//
//   - Retryable: network trouble, lost connections, deadlocks, a server restarting. The
//     pipeline backs off and resumes from its last checkpoint.
//   - Fatal: bad credentials, a purged log, a missing privilege, a fenced writer, bad data
//     a connector cannot take. The pipeline stops as FAILED with the message.
//   - UserAction: a schema change the sink cannot take. The table pauses until a user acts.
//
// Connectors mark what they know with AsRetryable, AsFatal or AsUserAction; Classify recognises the
// rest by type and falls back to Fatal, so an unknown error never loops forever.
package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/weir-data/weir/internal/checkpoint"
)

// Class is what to do about an error.
type Class uint8

// The classes.
const (
	Fatal Class = iota
	Retryable
	UserAction
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case UserAction:
		return "user action"
	}
	return "fatal"
}

type classified struct {
	err   error
	class Class
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() error { return e.err }

// AsRetryable marks err as retryable.
func AsRetryable(err error) error { return mark(err, Retryable) }

// AsFatal marks err as fatal.
func AsFatal(err error) error { return mark(err, Fatal) }

// AsUserAction marks err as needing a user's action.
func AsUserAction(err error) error { return mark(err, UserAction) }

func mark(err error, c Class) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, class: c}
}

// sqlStater is implemented by PostgreSQL errors (pgconn.PgError).
type sqlStater interface{ SQLState() string }

// Classify says what to do about err.
func Classify(err error) Class {
	if err == nil {
		return Fatal
	}
	var c *classified
	if errors.As(err, &c) {
		return c.class
	}
	switch {
	case errors.Is(err, checkpoint.ErrFenced), errors.Is(err, checkpoint.ErrBusy):
		return Fatal
	case errors.Is(err, context.DeadlineExceeded):
		return Retryable
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Retryable
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ETIMEDOUT),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EHOSTUNREACH):
		return Retryable
	}
	// Network failures. (Not every net.Error: syscall.Errno implements that interface too,
	// and ENOENT or EACCES is not going to pass by waiting.)
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) {
		return Retryable
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return Retryable
	}
	// pgx says so of a request the server never saw, such as one on a connection that a
	// network failure closed before ("conn closed").
	var safe interface{ SafeToRetry() bool }
	if errors.As(err, &safe) && safe.SafeToRetry() {
		return Retryable
	}
	var st sqlStater
	if errors.As(err, &st) {
		return classifySQLState(st.SQLState())
	}
	return Fatal
}

// classifySQLState maps PostgreSQL SQLSTATE classes.
func classifySQLState(s string) Class {
	if len(s) < 2 {
		return Fatal
	}
	switch s[:2] {
	case "08", // connection exception
		"40", // transaction rollback: serialization failure, deadlock
		"53", // insufficient resources
		"57": // operator intervention: admin shutdown, cannot connect now
		return Retryable
	}
	return Fatal
}

// ReachHint is advice for an error of reaching a server over the network, "" when err is
// not one: what to check, as a clause to append to the error's message.
func ReachHint(err error) string {
	var dnsErr *net.DNSError
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: is the server running, and are the host and port right?"
	case errors.As(err, &dnsErr):
		return "the host name does not resolve: check it"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ETIMEDOUT),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &timeout) && timeout.Timeout():
		return "no answer: is the host up, and does a firewall let this machine in?"
	}
	return ""
}

// WithReachHint appends ReachHint's advice to err's message, where there is some.
func WithReachHint(err error) error {
	if h := ReachHint(err); h != "" {
		return fmt.Errorf("%w; %s", err, h)
	}
	return err
}
