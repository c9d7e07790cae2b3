package mysql

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// TestDDLCorpus follows the table DDL of MariaDB's own test suite (testdata/ddlcorpus:
// statements taken from its mysql-test files, each file naming its source), on the stock
// server: every statement the server accepts is run in order, each followed by a row in
// the table it names and a marker row, while weir streams the database. Each accepted
// statement is then one of:
//
//	followed   weir applied it to the schema it keeps
//	recovered  weir could not follow it and took the table's schema from the server, or
//	           snapshotted the table beside the stream (the log says which)
//	stopped    the stream ended with an error at it
//
// No statement may stop the stream, and at least 98% must be followed outright. The
// shares are logged (go test -run TestDDLCorpus -v).
func TestDDLCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/ddlcorpus/*.sql")
	if len(files) == 0 {
		t.Fatal("no corpus in testdata/ddlcorpus")
	}
	var accepted, followed, recovered int
	var notFollowed []string
	for i, f := range files {
		stmts := readCorpus(t, f)
		a, fo, re, why := runCorpus(t, fmt.Sprintf("corpus_%d", i), stmts)
		accepted, followed, recovered = accepted+a, followed+fo, recovered+re
		notFollowed = append(notFollowed, why...)
		t.Logf("%s: %d statements, %d accepted by the server, %d followed, %d recovered", filepath.Base(f), len(stmts), a, fo, re)
	}
	share := 100 * float64(followed) / float64(max(accepted, 1))
	t.Logf("corpus: %d statements accepted by the server; %d followed (%.1f%%), %d recovered, none stopped the stream",
		accepted, followed, share, recovered)
	sort.Strings(notFollowed)
	for _, w := range notFollowed {
		t.Logf("recovered: %s", w)
	}
	if share < 98 {
		t.Errorf("%.1f%% of the corpus followed, want at least 98%%", share)
	}
}

// readCorpus reads the statements of one corpus file (each ends with a line ";;").
func readCorpus(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == ";;":
			if s := strings.TrimSpace(cur.String()); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		case strings.HasPrefix(line, "-- from "):
		default:
			cur.WriteString(line + "\n")
		}
	}
	return out
}

var corpusTarget = regexp.MustCompile("(?is)^\\s*(?:CREATE\\s+(?:OR\\s+REPLACE\\s+)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?|ALTER\\s+(?:ONLINE\\s+)?(?:IGNORE\\s+)?TABLE\\s+|TRUNCATE\\s+(?:TABLE\\s+)?)(`[^`]+`|[A-Za-z0-9_$]+)")

// runCorpus runs stmts in database db of the stock server while a source streams it.
func runCorpus(t *testing.T, db string, stmts []string) (accepted, followed, recovered int, notFollowed []string) {
	t.Helper()
	execOn(t, stock, fmt.Sprintf("CREATE DATABASE %s; CREATE TABLE %s._mark (id INT PRIMARY KEY)", db, db))
	var mu sync.Mutex
	var events []string // in stream order: "mark N", "warn MSG"
	logger := slog.New(recordHandler{func(r slog.Record) {
		if r.Level >= slog.LevelWarn {
			mu.Lock()
			events = append(events, "warn "+r.Message)
			mu.Unlock()
		}
	}})
	s, err := New(context.Background(), Options{Host: "127.0.0.1", Port: stock.Port, User: "root", Tables: db + `.\.*`, Heartbeat: time.Second},
		connector.Env{Pipeline: "corpus-" + db, Parallelism: 1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start, err := s.Position(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", stock.Port), "root", "", db, func(c *client.Conn) error { return c.SetCollation("utf8mb4_general_ci") })
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Execute("SET SESSION sql_mode = ''"); err != nil {
		t.Fatal(err)
	}
	var ran []string // the accepted statements, by mark
	for _, st := range stmts {
		if _, err := conn.Execute(st); err != nil {
			continue
		}
		ran = append(ran, st)
		if m := corpusTarget.FindStringSubmatch(st); m != nil {
			conn.Execute("INSERT IGNORE INTO " + m[1] + " () VALUES ()")
		}
		if _, err := conn.Execute(fmt.Sprintf("INSERT INTO _mark VALUES (%d)", len(ran))); err != nil {
			t.Fatal(err)
		}
	}
	accepted = len(ran)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errDone := errors.New("done")
	last := 0
	err = s.Stream(ctx, start, tables, func(_ context.Context, b event.Batch) error {
		for _, c := range b.Changes {
			if c.Schema.ID.Table == "_mark" && c.After != nil {
				mu.Lock()
				last = int(c.After[0].Int())
				events = append(events, fmt.Sprintf("mark %d", last))
				mu.Unlock()
			}
		}
		if last == accepted {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Errorf("%s: the stream stopped after statement %d of %d: %v\nthe statement: %.300s", db, last, accepted, err, ran[min(last, len(ran)-1)])
	}
	// Attribute the warnings between marks to the statement before the mark.
	n := 1
	warned := map[int]string{}
	for _, e := range events {
		if strings.HasPrefix(e, "mark ") {
			fmt.Sscan(strings.TrimPrefix(e, "mark "), &n)
			n++
			continue
		}
		if strings.Contains(e, "cannot parse") || strings.Contains(e, "disagree") {
			warned[n] = strings.TrimPrefix(e, "warn ")
		}
	}
	for i := 1; i <= min(last, accepted); i++ {
		if w, ok := warned[i]; ok {
			recovered++
			notFollowed = append(notFollowed, fmt.Sprintf("%.160s  (%s)", strings.Join(strings.Fields(ran[i-1]), " "), w))
			continue
		}
		followed++
	}
	return accepted, followed, recovered, notFollowed
}

// recordHandler hands each log record to f.
type recordHandler struct{ f func(slog.Record) }

func (h recordHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error { h.f(r); return nil }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h recordHandler) WithGroup(string) slog.Handler                 { return h }
