package testenv

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMariaDB(t *testing.T) {
	m, err := StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	dir := m.dir
	defer func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is left behind", dir)
		}
	}()
	vars, err := m.Query("", "SHOW VARIABLES WHERE Variable_name IN ('log_bin','binlog_format','binlog_row_image','gtid_strict_mode')")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"binlog_format\tROW", "binlog_row_image\tFULL", "gtid_strict_mode\tON", "log_bin\tON"} {
		if !strings.Contains(vars, want) {
			t.Errorf("variables lack %q:\n%s", want, vars)
		}
	}
	if err := m.Exec("", "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v TEXT); INSERT INTO shop.t VALUES (1, 'é')"); err != nil {
		t.Fatal(err)
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	got, err := m.Query("shop", "SELECT v FROM t WHERE id = 1")
	if err != nil || strings.TrimSpace(got) != "é" {
		t.Fatalf("after a restart: %q, %v", got, err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Query("shop", "SELECT COUNT(*) FROM t"); err != nil || strings.TrimSpace(got) != "1" {
		t.Fatalf("after a crash: %q, %v", got, err)
	}
}

func TestPostgres(t *testing.T) {
	pg, err := StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	dir := pg.dir
	defer func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is left behind", dir)
		}
	}()
	ctx := context.Background()
	query := func(sql string) string {
		conn, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var s string
		if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := query("SHOW wal_level"); got != "logical" {
		t.Fatalf("wal_level = %s", got)
	}
	if err := pg.Exec(ctx, "postgres", "CREATE TABLE t (id int primary key, v text); INSERT INTO t VALUES (1, 'é')"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT v FROM t WHERE id = 1"); got != "é" {
		t.Fatalf("after a restart: %q", got)
	}
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT count(*)::text FROM t"); got != "1" {
		t.Fatalf("after a crash: %q", got)
	}
}

func TestProxyCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // an echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	p, err := StartProxy(ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	echo := func(c net.Conn) error {
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err := io.ReadFull(c, buf)
		return err
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := echo(c); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	if n := p.Cut(); n != 1 {
		t.Fatalf("cut %d connections, want 1", n)
	}
	if err := echo(c); err == nil {
		t.Fatal("a cut connection still echoes")
	}
	c2, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := echo(c2); err != nil {
		t.Fatalf("a new connection after the cut: %v", err)
	}
}
