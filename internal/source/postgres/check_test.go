package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// TestChecksSayWhatToRun: validate's checks and discovery name the fix — a user without
// REPLICATION, a table without a key, a key column without REPLICA IDENTITY FULL, REPLICA
// IDENTITY NOTHING — and a table with a configured key column and FULL is read.
func TestChecksSayWhatToRun(t *testing.T) {
	createDB(t, "checks", `CREATE TABLE nokey (a INT NOT NULL UNIQUE, v INT);
		CREATE TABLE keyed (id INT PRIMARY KEY);
		CREATE TABLE nothing (id INT PRIMARY KEY); ALTER TABLE nothing REPLICA IDENTITY NOTHING;
		DROP ROLE IF EXISTS plain; CREATE ROLE plain LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO plain`)
	ctx := context.Background()
	problems := func(o Options) string {
		s := open(t, o, "checks", 1)
		var out []string
		for _, err := range s.check(ctx) {
			out = append(out, err.Error())
		}
		return strings.Join(out, "\n")
	}
	if got := problems(options("checks", "public.keyed")); got != "" {
		t.Fatalf("a ready setup has problems: %s", got)
	}
	o := options("checks", "public.keyed")
	o.User = "plain"
	if got := problems(o); !strings.Contains(got, `ALTER ROLE "plain" REPLICATION`) {
		t.Errorf("a user without REPLICATION: %q", got)
	}
	if got := problems(options("checks", "public.nokey")); !strings.Contains(got, "has no primary key: add one, or set scan.incremental.snapshot.chunk.key-column") {
		t.Errorf("a table without a key: %q", got)
	}
	o = options("checks", "public.nokey")
	o.KeyColumn = "a"
	if got := problems(o); !strings.Contains(got, `REPLICA IDENTITY FULL`) {
		t.Errorf("a key column without REPLICA IDENTITY FULL: %q", got)
	}
	exec(t, "checks", "ALTER TABLE nokey REPLICA IDENTITY FULL")
	if got := problems(o); got != "" {
		t.Errorf("a key column with REPLICA IDENTITY FULL: %q", got)
	}
	if got := problems(options("checks", "public.nothing")); !strings.Contains(got, "REPLICA IDENTITY DEFAULT") {
		t.Errorf("REPLICA IDENTITY NOTHING: %q", got)
	}
}

// TestInvalidatedSlot: a slot the server invalidated (max_slot_wal_keep_size) stops the
// stream with a fatal error that says so and what to do.
func TestInvalidatedSlot(t *testing.T) {
	createDB(t, "lost", `CREATE TABLE t (id INT PRIMARY KEY, pad TEXT)`)
	admin := connect(t, "lost")
	ctx := context.Background()
	for _, q := range []string{"ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", "SELECT pg_reload_conf()"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		admin.Exec(ctx, "ALTER SYSTEM RESET max_slot_wal_keep_size")
		admin.Exec(ctx, "SELECT pg_reload_conf()")
	}()
	s := open(t, options("lost", "public.t"), "lost", 1)
	tables, pos := tablesAndStart(t, s)
	for i := range 60 { // WAL past the limit, then checkpoints that remove it
		exec(t, "lost", "INSERT INTO t SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 20000) g; TRUNCATE t; CHECKPOINT")
		var status string
		admin.QueryRow(ctx, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'weir_lost'").Scan(&status)
		if status == "lost" {
			break
		}
		if i == 59 {
			t.Fatalf("the slot is %q after all that WAL; the test cannot invalidate it", status)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := s.Stream(sctx, pos, tables, func(context.Context, event.Batch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "was invalidated") || fault.Classify(err) != fault.Fatal {
		t.Fatalf("streaming from an invalidated slot: %v (class %v); want a fatal error saying it was invalidated", err, fault.Classify(err))
	}
}

// TestCheckGrants: a replication user that may read one table but not another, owns
// neither and may not create a publication is told each GRANT (and that the tables' owner
// must make the publication); with publication.create false only the SELECT remains.
func TestCheckGrants(t *testing.T) {
	createDB(t, "grants", `CREATE TABLE a (id INT PRIMARY KEY); CREATE TABLE b (id INT PRIMARY KEY);
		DROP ROLE IF EXISTS repl; CREATE ROLE repl LOGIN REPLICATION; GRANT SELECT ON a TO repl;
		REVOKE CREATE ON DATABASE grants FROM PUBLIC`)
	ctx := context.Background()
	problems := func(o Options) string {
		s := open(t, o, "grants", 1)
		var out []string
		for _, err := range s.check(ctx) {
			out = append(out, err.Error())
		}
		return strings.Join(out, "\n")
	}
	o := options("grants", "public.a, public.b")
	o.User = "repl"
	got := problems(o)
	for _, w := range []string{
		`GRANT SELECT ON "public"."b" TO "repl"`,
		`GRANT CREATE ON DATABASE "grants" TO "repl"`,
		`have the owner run CREATE PUBLICATION`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no %q among the problems:\n%s", w, got)
		}
	}
	if strings.Contains(got, `"public"."a" TO`) {
		t.Errorf("SELECT on a was granted:\n%s", got)
	}
	o.NoCreatePublication = true
	exec(t, "grants", "CREATE PUBLICATION "+pgx.Identifier{open(t, o, "grants", 1).pub}.Sanitize()+" FOR TABLE a, b")
	if got := problems(o); !strings.Contains(got, `GRANT SELECT ON "public"."b"`) || strings.Contains(got, "PUBLICATION") {
		t.Errorf("with publication.create false:\n%s", got)
	}
}
