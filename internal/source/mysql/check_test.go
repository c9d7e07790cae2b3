package mysql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
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

// TestCheckGrants: on the stock server, a user with only the documented grants passes;
// each missing grant is a problem with the GRANT that fixes it; a user without
// REPLICATION SLAVE that runs anyway is told it lacks the privilege, not that its
// password is wrong.
func TestCheckGrants(t *testing.T) {
	execOn(t, stock, `CREATE DATABASE grants; CREATE TABLE grants.a (id INT PRIMARY KEY); CREATE TABLE grants.b (id INT PRIMARY KEY);
		CREATE USER cdc_min IDENTIFIED BY 'pw'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cdc_min; GRANT SELECT ON grants.* TO cdc_min;
		CREATE USER cdc_norepl IDENTIFIED BY 'pw'; GRANT SELECT ON grants.a TO cdc_norepl; GRANT INSERT ON grants.b TO cdc_norepl`)
	ctx := context.Background()
	as := func(user string) *Source {
		s, err := New(ctx, Options{Host: "127.0.0.1", Port: stock.Port, User: user, Password: "pw", Tables: `grants.\.*`, Heartbeat: time.Second},
			connector.Env{Pipeline: "grants-" + user})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	if problems := as("cdc_min").check(ctx); len(problems) != 0 {
		t.Fatalf("a user with the documented grants: %v", problems)
	}
	var text []string
	for _, p := range as("cdc_norepl").check(ctx) {
		text = append(text, p.Error())
	}
	want := []string{
		"GRANT REPLICATION SLAVE ON *.* TO 'cdc_norepl'@'%'",
		"GRANT BINLOG MONITOR ON *.* TO 'cdc_norepl'@'%'",
		"GRANT SELECT ON `grants`.`b` TO 'cdc_norepl'@'%'",
	}
	all := strings.Join(text, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no %q among the problems:\n%s", w, all)
		}
	}
	if strings.Contains(all, "`grants`.`a`") {
		t.Errorf("SELECT on grants.a was granted:\n%s", all)
	}
	s := as("cdc_norepl")
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Stream(ctx, start, tables, func(context.Context, event.Batch) error { return nil })
	if err == nil || fault.Classify(err) != fault.Fatal || !strings.Contains(err.Error(), "may not read the binlog: GRANT REPLICATION SLAVE") {
		t.Fatalf("streaming without REPLICATION SLAVE: %v", err)
	}
}
