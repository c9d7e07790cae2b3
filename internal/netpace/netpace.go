// Package netpace paces the reads of a source's change stream connection.
//
// A server committing a few thousand small transactions a second sends each as it
// commits. A reader that reads as soon as data comes pays, for every transaction, a read,
// a wake-up of its goroutine and a hand-off to the engine: at a steady 4k changes/s that
// was most of weir's CPU (issue 22: 5–6× the per-change cost of a backlog). A Conn that
// waits a little before reading again after a read that did not fill its buffer lets the
// transactions of that time arrive together and be handled in one go, for at most that
// much more latency (small beside the sink's batch delay). A backlog fills every read
// and is read without pause.
package netpace

import (
	"context"
	"net"
	"time"
)

// Pace is how long a change stream's read waits after one that found little to read.
const Pace = 5 * time.Millisecond

// Conn is a connection whose reads come at most once per pace while data trickles in.
// Like a net.Conn, it is read by one goroutine at a time.
type Conn struct {
	net.Conn
	pace  time.Duration
	last  time.Time // when the last read returned
	short bool      // it did not fill the buffer
	sleep func(time.Duration)
}

// New paces conn's reads.
func New(conn net.Conn, pace time.Duration) *Conn {
	return &Conn{Conn: conn, pace: pace, sleep: time.Sleep}
}

func (c *Conn) Read(p []byte) (int, error) {
	if c.short {
		if d := c.pace - time.Since(c.last); d > 0 {
			c.sleep(d)
		}
	}
	n, err := c.Conn.Read(p)
	c.last, c.short = time.Now(), n < len(p)
	return n, err
}

// DialFunc dials a connection, as net.Dialer.DialContext does.
type DialFunc = func(ctx context.Context, network, address string) (net.Conn, error)

// Dialer dials with dial and paces the connections' reads.
func Dialer(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		conn, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return New(conn, Pace), nil
	}
}
