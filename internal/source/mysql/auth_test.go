package mysql

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"

	"github.com/weir-data/weir/internal/fault"
)

// sessionHandler answers the session set-up a source sends after connecting.
type sessionHandler struct {
	server.EmptyHandler
	queries atomic.Int32
}

func (h *sessionHandler) HandleQuery(q string) (*gomysql.Result, error) {
	h.queries.Add(1)
	if strings.HasPrefix(strings.ToUpper(q), "SET ") {
		return nil, nil
	}
	return nil, errors.New("not supported by the test server")
}

// TestCachingSHA2Password connects the source to a server speaking MySQL 8's default
// authentication, caching_sha2_password, over plain TCP (the full authentication
// exchanges the password under the server's RSA key): the right password gets a session,
// a wrong one a fatal error that says to check the credentials. No MySQL 8 server runs
// here, so the server side is go-mysql's protocol implementation.
func TestCachingSHA2Password(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer("8.0.36", gomysql.DEFAULT_COLLATION_ID, gomysql.AUTH_CACHING_SHA2_PASSWORD, key, nil)
	auth := server.NewInMemoryAuthenticationHandler(gomysql.AUTH_CACHING_SHA2_PASSWORD)
	if err := auth.AddUser("weir", "s3cret", gomysql.AUTH_CACHING_SHA2_PASSWORD); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := &sessionHandler{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				conn, err := server.NewCustomizedConn(c, srv, auth, h)
				if err != nil {
					return
				}
				for !conn.Closed() {
					if conn.HandleCommand() != nil {
						return
					}
				}
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	src := func(password string) *Source {
		return &Source{host: "127.0.0.1", port: port, user: "weir", password: password, timeout: 5 * time.Second}
	}
	ctx := context.Background()
	for range 2 { // the second connection takes the server's cached fast path
		conn, err := src("s3cret").dial(ctx)
		if err != nil {
			t.Fatalf("connect with caching_sha2_password: %v", err)
		}
		conn.Close()
	}
	if h.queries.Load() == 0 {
		t.Fatal("the session set-up never reached the server")
	}
	_, err = src("wrong").dial(ctx)
	if err == nil || fault.Classify(err) != fault.Fatal || !strings.Contains(err.Error(), "check username and password") {
		t.Fatalf("a wrong password gave %v; want a fatal error saying to check the credentials", err)
	}
}
