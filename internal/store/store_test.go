package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/testenv"
)

// TestMigratesFromEveryVersion: a store left at any earlier schema version, with data
// in it, opens at the current one with its data kept, in SQLite and in PostgreSQL; a store
// from a newer weir is refused.
func TestMigratesFromEveryVersion(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	for _, kind := range []string{"sqlite", "postgres"} {
		for from := 0; from <= SchemaVersion; from++ {
			var old *Store
			var reopen func() (*Store, error)
			if kind == "sqlite" {
				dir := t.TempDir()
				db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "weir.db"))
				if err != nil {
					t.Fatal(err)
				}
				old = &Store{db: db}
				reopen = func() (*Store, error) { return OpenSQLite(ctx, dir) }
			} else {
				name := fmt.Sprintf("m%d", from)
				if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
					t.Fatal(err)
				}
				db, err := sql.Open("pgx", pg.URL(name))
				if err != nil {
					t.Fatal(err)
				}
				old = &Store{db: db, pg: true}
				reopen = func() (*Store, error) { return OpenPostgres(ctx, pg.URL(name)) }
			}
			saved := migrations
			migrations = migrations[:from]
			err := old.migrate(ctx)
			migrations = saved
			if err != nil {
				t.Fatalf("%s: to version %d: %v", kind, from, err)
			}
			if from >= 1 { // data of version 1's tables, as version 1 wrote them
				if _, err := old.exec(ctx, `INSERT INTO pipelines (name, version, desired, observed, last_error, created_at, updated_at) VALUES ('p', 1, 'RUNNING', 'CREATED', '', ?, ?)`,
					ts(now()), ts(now())); err != nil {
					t.Fatal(err)
				}
				if _, err := old.exec(ctx, `INSERT INTO pipeline_versions (pipeline, version, file, created_at) VALUES ('p', 1, 'file v1', ?)`, ts(now())); err != nil {
					t.Fatal(err)
				}
			}
			if from >= 2 { // and of version 2's
				if _, err := old.StartRun(ctx, "p", 1); err != nil {
					t.Fatal(err)
				}
			}
			if from >= 3 {
				if _, err := old.Fire(ctx, Alert{Rule: "failed", Pipeline: "p", Fired: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			old.Close()
			s, err := reopen()
			if err != nil {
				t.Fatalf("%s: from version %d: %v", kind, from, err)
			}
			if v, _ := s.schemaVersion(ctx); v != SchemaVersion {
				t.Fatalf("%s: from version %d: at %d, want %d", kind, from, v, SchemaVersion)
			}
			if from >= 1 {
				if p, err := s.Get(ctx, "p"); err != nil || p.Desired != Run || p.Workspace != DefaultWorkspace {
					t.Fatalf("%s: from version %d: the pipeline is %v, %v", kind, from, p, err)
				}
			}
			if as, err := s.Alerts(ctx, 10); err != nil || len(as) != min(max(from-2, 0), 1) {
				t.Fatalf("%s: from version %d: alerts %v, %v", kind, from, as, err)
			}
			if runs, err := s.Runs(ctx, "p", 10); err != nil || len(runs) != min(max(from-1, 0), 1) {
				t.Fatalf("%s: from version %d: runs %v, %v", kind, from, runs, err)
			}
			s.Close()
		}
	}
	dir := t.TempDir()
	s, _ := OpenSQLite(ctx, dir)
	s.db.Exec(`UPDATE weir_schema SET version = ?`, SchemaVersion+1)
	s.Close()
	if _, err := OpenSQLite(ctx, dir); err == nil {
		t.Fatal("a store of a newer schema opened")
	}
}

// stores opens a store of each kind, SQLite and PostgreSQL (a private server).
func stores(t *testing.T) map[string]*Store {
	t.Helper()
	ctx := context.Background()
	lite, err := OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE weir"); err != nil {
		t.Fatal(err)
	}
	shared, err := OpenPostgres(ctx, pg.URL("weir"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Close() })
	return map[string]*Store{"sqlite": lite, "postgres": shared}
}

// TestPipelinesVersionsEvents: the store's records, as the server uses them, in SQLite
// and in PostgreSQL.
func TestPipelinesVersionsEvents(t *testing.T) {
	for kind, s := range stores(t) {
		t.Run(kind, func(t *testing.T) { records(t, s) })
	}
}

func records(t *testing.T, s *Store) {
	ctx := context.Background()
	if _, err := s.Create(ctx, "a", "one", Run); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "a", "again", Run); !errors.Is(err, ErrExists) {
		t.Fatalf("a second pipeline a: %v", err)
	}
	if v, err := s.AddVersion(ctx, "a", "two"); err != nil || v != 2 {
		t.Fatalf("version %d, %v", v, err)
	}
	if v, _ := s.Version(ctx, "a", 0); v.File != "two" {
		t.Fatalf("in force: %q", v.File)
	}
	if err := s.SetVersion(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Version(ctx, "a", 0); v.File != "one" || v.Version != 1 {
		t.Fatalf("after the rollback: %+v", v)
	}
	if err := s.SetVersion(ctx, "a", 9); !IsNotFound(err) {
		t.Fatalf("version 9: %v", err)
	}
	for _, st := range []string{"STARTING", "RUNNING", "FAILED"} {
		e := Event{Pipeline: "a", Time: time.Now(), State: st, Reason: "r"}
		if st == "FAILED" {
			e.Error = "boom"
		}
		if err := s.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := s.Events(ctx, "a", 0, 2)
	if len(evs) != 2 || evs[0].State != "STARTING" {
		t.Fatalf("first page %+v", evs)
	}
	evs, _ = s.Events(ctx, "a", evs[1].ID, 10)
	if len(evs) != 1 || evs[0].Error != "boom" {
		t.Fatalf("second page %+v", evs)
	}
	if p, _ := s.Get(ctx, "a"); p.Observed != "FAILED" || p.LastError != "boom" {
		t.Fatalf("observed %+v", p)
	}
	id, err := s.StartRun(ctx, "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	s.StartRun(ctx, "a", 2)
	if err := s.EndRun(ctx, id, "STOPPED", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.EndLostRuns(ctx, "STOPPED", "lost"); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.Runs(ctx, "a", 10); len(runs) != 2 || runs[0].Error != "lost" || runs[1].Error != "" || runs[1].Ended.IsZero() {
		t.Fatalf("runs %+v", runs)
	}
	if err := s.SetDesired(ctx, "a", Suspend); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
	if evs, _ := s.Events(ctx, "a", 0, 10); len(evs) != 0 {
		t.Fatalf("events after delete: %v", evs)
	}
}

// TestLeases: a lease is taken when free, renewed by its holder, refused to another while
// it lasts, taken over (a new generation) once it has expired, and then the old holder
// can no longer renew it.
func TestLeases(t *testing.T) {
	for kind, s := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			l, ok, err := s.Claim(ctx, "p", "a", 200*time.Millisecond)
			if err != nil || !ok || l.Generation != 1 {
				t.Fatalf("a free lease: %+v %v %v", l, ok, err)
			}
			if _, ok, _ := s.Claim(ctx, "p", "b", time.Second); ok {
				t.Fatal("b took a lease a holds")
			}
			if ok, err := s.Renew(ctx, "p", "a", 1, 50*time.Millisecond); !ok || err != nil {
				t.Fatalf("renew: %v %v", ok, err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				l, ok, err = s.Claim(ctx, "p", "b", time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("b never took the expired lease")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if l.Holder != "b" || l.Generation != 2 {
				t.Fatalf("taken over: %+v", l)
			}
			if ok, _ := s.Renew(ctx, "p", "a", 1, time.Second); ok {
				t.Fatal("a renewed a lease b took over")
			}
			if err := s.Yield(ctx, "p", "b"); err != nil {
				t.Fatal(err)
			}
			if l, ok, _ := s.Claim(ctx, "p", "a", time.Second); !ok || l.Generation != 3 {
				t.Fatalf("after b yielded: %+v %v", l, ok)
			}
		})
	}
}

// TestAccessRecords: users, workspaces, members, tokens and the audit log, in SQLite and
// in PostgreSQL.
func TestAccessRecords(t *testing.T) {
	for kind, s := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			if n, _ := s.CountUsers(ctx); n != 0 {
				t.Fatalf("%d users in a new store", n)
			}
			if err := s.CreateUser(ctx, User{Name: "ana", Password: "h1", ServerAdmin: true}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateUser(ctx, User{Name: "ana", Password: "h2"}); !errors.Is(err, ErrExists) {
				t.Fatalf("a second ana: %v", err)
			}
			if u, err := s.GetUser(ctx, "ana"); err != nil || u.Password != "h1" || !u.ServerAdmin {
				t.Fatalf("ana: %+v %v", u, err)
			}
			if _, err := s.GetUser(ctx, "bob"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("bob: %v", err)
			}
			if err := s.CreateWorkspace(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if ws, _ := s.Workspaces(ctx); len(ws) != 2 || ws[0] != "a" || ws[1] != DefaultWorkspace {
				t.Fatalf("workspaces %v", ws)
			}
			if _, err := s.CreateIn(ctx, "a", "pa", "file", Stop); err != nil {
				t.Fatal(err)
			}
			if p, _ := s.Get(ctx, "pa"); p.Workspace != "a" {
				t.Fatalf("pipeline pa in workspace %q", p.Workspace)
			}
			s.SetMember(ctx, Member{Workspace: "a", User: "ana", Role: "viewer"})
			s.SetMember(ctx, Member{Workspace: "a", User: "ana", Role: "editor"})
			if r, _ := s.RoleOf(ctx, "a", "ana"); r != "editor" {
				t.Fatalf("ana's role in a: %q", r)
			}
			if r, _ := s.RoleOf(ctx, DefaultWorkspace, "ana"); r != "" {
				t.Fatalf("ana's role in default: %q", r)
			}
			exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
			if err := s.AddToken(ctx, TokenRecord{ID: "0123456789ab", Hash: "hh", Kind: "service", Name: "ci", Workspace: "a", Role: "operator", Expires: exp, CreatedBy: "ana"}); err != nil {
				t.Fatal(err)
			}
			if tk, err := s.Token(ctx, "0123456789ab"); err != nil || tk.Hash != "hh" || !tk.Expires.Equal(exp) || !tk.Revoked.IsZero() {
				t.Fatalf("token %+v %v", tk, err)
			}
			if err := s.RevokeToken(ctx, DefaultWorkspace, "0123456789ab"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("revoked from another workspace: %v", err)
			}
			if err := s.RevokeToken(ctx, "a", "0123456789ab"); err != nil {
				t.Fatal(err)
			}
			if tk, _ := s.Token(ctx, "0123456789ab"); tk.Revoked.IsZero() {
				t.Fatal("not revoked")
			}
			for _, ws := range []string{"a", "a", DefaultWorkspace} {
				if err := s.Audit(ctx, AuditEntry{Who: "ana", Workspace: ws, Action: "POST /x", Outcome: "ok", From: "127.0.0.1"}); err != nil {
					t.Fatal(err)
				}
			}
			if log, _ := s.AuditLog(ctx, "a", 0, 10); len(log) != 2 || log[0].Who != "ana" {
				t.Fatalf("audit of a: %+v", log)
			}
			if log, _ := s.AuditLog(ctx, "", 1, 10); len(log) != 2 {
				t.Fatalf("audit after 1: %+v", log)
			}
			if err := s.DeleteUser(ctx, "ana"); err != nil {
				t.Fatal(err)
			}
			if ms, _ := s.Members(ctx, "a", ""); len(ms) != 0 {
				t.Fatalf("members after ana left: %v", ms)
			}
		})
	}
}
