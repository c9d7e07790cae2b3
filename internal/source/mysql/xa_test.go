package mysql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
)

// TestXATransactions: the changes of an XA transaction reach the stream when it commits
// (XA COMMIT, which comes later in the binlog than its XA PREPARE), once; those of one
// rolled back after its prepare never do.
func TestXATransactions(t *testing.T) {
	exec(t, "CREATE DATABASE IF NOT EXISTS xa")
	exec(t, "CREATE OR REPLACE TABLE xa.t (id INT PRIMARY KEY, v VARCHAR(10))")
	s, tables, start := openAt(t, "xa.t")
	exec(t, "XA START 'a'; INSERT INTO xa.t VALUES (1, 'a'); XA END 'a'; XA PREPARE 'a'")
	exec(t, "XA START 'b'; INSERT INTO xa.t VALUES (2, 'b'); XA END 'b'; XA PREPARE 'b'")
	exec(t, "INSERT INTO xa.t VALUES (3, 'plain')")
	exec(t, "XA ROLLBACK 'b'")
	exec(t, "XA COMMIT 'a'")
	exec(t, "INSERT INTO xa.t VALUES (4, 'last')")
	var got []string
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			got = append(got, fmt.Sprintf("%s %v", c.Op, c.After[0].Int()))
		}
		return len(got) > 0 && got[len(got)-1] == fmt.Sprintf("%s 4", event.OpInsert)
	})
	want := fmt.Sprintf("[%s 3 %s 1 %s 4]", event.OpInsert, event.OpInsert, event.OpInsert)
	if fmt.Sprint(got) != want {
		t.Fatalf("changes %v, want %s", got, want)
	}
}

// TestXAPreparedAcrossARestart: a stream resumed from a position taken while an XA
// transaction was prepared reads its prepare again, and emits its changes at its commit.
func TestXAPreparedAcrossARestart(t *testing.T) {
	exec(t, "CREATE DATABASE IF NOT EXISTS xa2")
	exec(t, "CREATE OR REPLACE TABLE xa2.t (id INT PRIMARY KEY, v VARCHAR(10))")
	s, tables, start := openAt(t, "xa2.t")
	exec(t, "XA START 'p'; INSERT INTO xa2.t VALUES (1, 'a'), (2, 'b'); XA END 'p'; XA PREPARE 'p'")
	exec(t, "INSERT INTO xa2.t VALUES (3, 'plain')")
	var at event.Position
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			if c.After[0].Int() == 3 {
				at = b.End
				return true
			}
			t.Fatalf("a change of the prepared transaction before its commit: %v", c.After)
		}
		return false
	})
	if !strings.Contains(string(at), `"xa":[{"xid":"X'70',X'',1"`) {
		t.Fatalf("the position after the prepare does not hold it: %s", at)
	}
	exec(t, "XA COMMIT 'p'")
	exec(t, "INSERT INTO xa2.t VALUES (4, 'last')")
	var got []int64
	var end event.Position
	streamUntil(t, s, at, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			got = append(got, c.After[0].Int())
		}
		end = b.End
		return len(got) > 0 && got[len(got)-1] == 4
	})
	if fmt.Sprint(got) != "[1 2 4]" {
		t.Fatalf("changes after the restart %v, want [1 2 4]", got)
	}
	if strings.Contains(string(end), `"xa"`) {
		t.Fatalf("the position after the commit still holds the transaction: %s", end)
	}
}
