package netpace

import (
	"net"
	"testing"
	"time"
)

// script is a connection whose reads return the given sizes in turn.
type script struct {
	net.Conn
	sizes []int
}

func (s *script) Read(p []byte) (int, error) {
	n := min(s.sizes[0], len(p))
	s.sizes = s.sizes[1:]
	return n, nil
}

// TestPace: a read after one that did not fill the buffer waits out the pace since that
// read returned; a read after a full one (a backlog) does not wait.
func TestPace(t *testing.T) {
	c := New(&script{sizes: []int{10, 64, 64, 3, 64}}, time.Hour)
	var waits []time.Duration
	c.sleep = func(d time.Duration) { waits = append(waits, d) }
	buf := make([]byte, 64)
	var got []bool // whether each read waited
	for range 5 {
		n := len(waits)
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
		got = append(got, len(waits) > n)
	}
	want := []bool{false, true, false, false, true}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reads waited %v, want %v", got, want)
		}
	}
	for _, d := range waits {
		if d <= 0 || d > time.Hour {
			t.Errorf("waited %s: want at most the pace, and more than nothing", d)
		}
	}
}

// TestPacedDial: a dialed connection is paced and carries the data.
func TestPacedDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("binlog"))
			c.Close()
		}
	}()
	conn, err := Dialer((&net.Dialer{}).DialContext)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, ok := conn.(*Conn); !ok {
		t.Fatalf("dialed a %T, want a paced *Conn", conn)
	}
	buf := make([]byte, 6)
	n, err := conn.Read(buf)
	for n < 6 && err == nil {
		var m int
		m, err = conn.Read(buf[n:])
		n += m
	}
	if string(buf[:n]) != "binlog" {
		t.Fatalf("read %q (%v)", buf[:n], err)
	}
}
