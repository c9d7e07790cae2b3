package mysqlconn

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/fault"

	"github.com/weir-data/weir/internal/testenv"
)

// db has MariaDB's stock charset defaults (latin1), as most servers do.
var db *testenv.MariaDB

func TestMain(m *testing.M) {
	var err error
	if db, err = testenv.StartStockMariaDB(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	db.Stop()
	os.Exit(code)
}

// TestDialTalksUTF8MB4: on a server whose default charset is latin1, a connection is
// utf8mb4 both ways, and text the server only has in utf8mb4 comes back whole.
func TestDialTalksUTF8MB4(t *testing.T) {
	c, err := Dial(context.Background(), Config{Addr: fmt.Sprintf("127.0.0.1:%d", db.Port), User: "root", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Execute("SELECT @@character_set_server, @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection, CONVERT(X'f09fa7a9' USING utf8mb4)")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range 6 {
		s, _ := res.GetString(0, i)
		got = append(got, s)
	}
	want := []string{"latin1", "utf8mb4", "utf8mb4", "utf8mb4", HandshakeCollation, "🧩"}
	if !slices.Equal(got, want) {
		t.Fatalf("session %q, want %q", got, want)
	}
}

// TestConnectErrors: wrong credentials are fatal and say where to fix them; a port where
// nothing listens is retryable. Neither error shows the password.
func TestConnectErrors(t *testing.T) {
	_, err := Dial(context.Background(), Config{Addr: fmt.Sprintf("127.0.0.1:%d", db.Port), User: "nobody", Password: "s3cret-pw",
		Timeout: 10 * time.Second, Fix: "check the user and password in url"})
	if err == nil || fault.Classify(err) != fault.Fatal || !strings.Contains(err.Error(), "check the user and password in url") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("bad credentials: %v (%v)", err, fault.Classify(err))
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err = Dial(context.Background(), Config{Addr: addr, User: "root", Password: "s3cret-pw", Timeout: 2 * time.Second})
	if err == nil || fault.Classify(err) != fault.Retryable || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("nothing listening: %v (%v)", err, fault.Classify(err))
	}
}
