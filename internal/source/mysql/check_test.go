package mysql

import (
	"context"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/connector"
)

// TestCheck: a well-set server passes; a wrong row image, a selection that matches
// nothing and a bad password are each reported with the fix.
func TestCheck(t *testing.T) {
	exec(t, `CREATE DATABASE chk; CREATE TABLE chk.t (id INT PRIMARY KEY)`)
	ctx := context.Background()
	s := open(t, "chk.t")
	if problems := s.check(ctx); len(problems) != 0 {
		t.Fatalf("a well-set server: %v", problems)
	}
	exec(t, "SET GLOBAL binlog_row_image = 'MINIMAL'")
	defer exec(t, "SET GLOBAL binlog_row_image = 'FULL'")
	empty := open(t, "chk.nothing_\\d+")
	problems := empty.check(ctx)
	text := ""
	for _, p := range problems {
		text += p.Error() + "\n"
	}
	if len(problems) != 2 || !strings.Contains(text, `binlog_row_image is "MINIMAL"; weir needs FULL`) || !strings.Contains(text, "no table matches") {
		t.Fatalf("problems:\n%s", text)
	}
	_, err := New(ctx, Options{Host: "127.0.0.1", Port: db.Port, User: "root", Password: "wrong", Tables: "chk.t"}, connector.Env{})
	if err == nil || !strings.Contains(err.Error(), "check username and password") {
		t.Fatalf("bad password: %v", err)
	}
}
