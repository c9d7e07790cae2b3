package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/testenv"
)

// pgSourceTypes is a table of PostgreSQL types weir maps, for the type test below; the
// rows each target can hold. $EXTRA$ is where rows only PostgreSQL can hold go.
const pgSourceTypes = `
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE address AS (street text, zip integer);
CREATE TABLE t (id int PRIMARY KEY, i2 smallint, i8 bigint, num numeric(20,6), numany numeric, r real, d double precision,
  m money, txt text, vc varchar(20), ch char(5), b bytea, bo boolean, dt date, tm time(3), tmtz timetz, ts timestamp(6),
  tstz timestamptz, iv interval, u uuid, j json, jb jsonb, ip inet, mc macaddr, md mood, pi posint, ia int[], ta text[],
  hs hstore, bits bit varying(8), rg int4range, tv tsvector, pt point, mda mood[], ad address);
INSERT INTO t VALUES
 (1, -32768, 9223372036854775807, 12345678901234.123456, 1.5, 3.25, -1e300, 12.34, 'tab	and
newline \ back', 'ünïcödé', 'ab', '\x00ff', true, '2024-02-29', '23:59:59.999', '12:00:00+05:30', '1999-12-31 23:59:59.123456',
  '2024-06-01 12:00:00+02', '1 year 2 days 03:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1, "a": [1, null]}', '{"k": "v"}',
  '10.0.0.1/8', '08:00:2b:01:02:03', 'happy', 42, '{{1,2},{3,4}}', ARRAY['a,b', NULL], 'a=>1, b=>NULL', B'101',
  '[1,10)', 'a fat cat', '(1,2)', '{happy,sad}', ROW('Main St, 1', 12345)),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
 $EXTRA$;`

// pgOnlyRows are values a MySQL target cannot hold: ±infinity, NaN, dates BC.
const pgOnlyRows = `, (3, 0, 0, 0, 'NaN', 'NaN', '-Infinity', 0, '', '', '', '', false, 'infinity', '00:00', '00:00+00', '-infinity',
  'infinity', '0', '00000000-0000-0000-0000-000000000000', '[]', '[]', '::1', '00:00:00:00:00:00', 'sad', 1, '{}', '{}', '', B'',
  'empty', '', '(0,0)', '{}', '(,)'),
 (4, 1, 1, 1, 1, 1, 1, 1, 'x', 'x', 'x', '\x01', true, '0044-03-15 BC', '01:00', '01:00+01', '0100-01-01 00:00:00 BC',
  '1900-01-01 00:00:00+00', '-1 day', '00000000-0000-0000-0000-000000000001', '1', '1', '::2', '00:00:00:00:00:01', 'ok', 2, '{5}', '{"q\"t"}', 'k=>v', B'1',
  '[5,6]', 'x:1', '(3.5,-1)', '{ok}', '("q\"t",0)')`

// TestPostgresTypesIntoSQL: a table of PostgreSQL types reaches PostgreSQL and MariaDB by
// snapshot and by stream, and `weir verify` finds each target equal to the source through
// the unified types (±infinity, NaN and BC dates into PostgreSQL only).
func TestPostgresTypesIntoSQL(t *testing.T) {
	src, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	ctx := context.Background()
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) {
			db := "types_" + kind
			extra := pgOnlyRows
			if kind != "postgres" {
				extra = ""
			}
			if err := src.Exec(ctx, "postgres", "CREATE DATABASE "+db); err != nil {
				t.Fatal(err)
			}
			if err := src.Exec(ctx, db, strings.Replace(pgSourceTypes, "$EXTRA$", extra, 1)); err != nil {
				t.Fatal(err)
			}
			var tg target
			var pgURL string // the PostgreSQL target's
			switch kind {
			case "postgres":
				pg, err := testenv.StartPostgres()
				if err != nil {
					t.Fatal(err)
				}
				defer pg.Stop()
				if err := pg.Exec(ctx, "postgres", "CREATE DATABASE dw"); err != nil {
					t.Fatal(err)
				}
				tg = postgresTarget(pg, "upsert")
				pgURL = pg.URL("dw")
			default:
				m, err := testenv.StartMariaDB()
				if err != nil {
					t.Fatal(err)
				}
				defer m.Stop()
				tg = mariadbTarget(m, "upsert")
			}
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`
source:
  type: postgres
  hostname: 127.0.0.1
  port: %d
  username: postgres
  database-name: %s
  tables: public.t
  heartbeat.interval: 200ms
sink:
%s
pipeline:
  name: %s
  checkpoint.interval: 200ms
`, src.Port, db, tg.yaml, db))
			p := start(t, dir, "run", "p.yaml")
			defer p.signal(syscall.SIGKILL)
			// The stream, once the snapshot is in: a copy of every row under a new key, and an
			// update of row 1.
			waitFor(t, "the snapshot", time.Minute, func() bool { return strings.Contains(p.stderr.String(), "snapshot finished") })
			if err := src.Exec(ctx, db, "INSERT INTO t SELECT id + 100, i2, i8, num, numany, r, d, m, txt, vc, ch, b, bo, dt, tm, tmtz, ts, tstz, iv, u, j, jb, ip, mc, md, pi, ia, ta, hs, bits, rg, tv, pt, mda FROM t; "+
				"UPDATE t SET txt = 'updated', ia = '{9}' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			rows := 4
			if extra == "" {
				rows = 2
			}
			// Verify counts the sink's rows before it compares them: a pass while the stream's
			// rows were still arriving can show the count from before them. Until both counts
			// are the whole table's.
			counts := fmt.Sprintf("source %d rows, sink %d rows: equal", 2*rows, 2*rows)
			var out string
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
				var code int
				code, out = runWeir(t, dir, "verify", "p.yaml")
				if code == 0 && strings.Contains(out, counts) {
					break
				}
				if time.Now().After(deadline) || p.exited() {
					t.Fatalf("the target does not equal the source:\n%s\nweir's log:\n%s", out, p.stderr)
				}
			}
			t.Log(strings.TrimSpace(out))
			if kind == "postgres" { // same engine, same types
				conn, err := pgx.Connect(ctx, pgURL)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				rows, err := conn.Query(ctx, `SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
					WHERE attrelid = 'public.t'::regclass AND attnum > 0 AND NOT attisdropped`)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]string{}
				for rows.Next() {
					var n, ty string
					if err := rows.Scan(&n, &ty); err != nil {
						t.Fatal(err)
					}
					got[n] = ty
				}
				for col, want := range map[string]string{"m": "money", "iv": "interval", "ip": "inet", "mc": "macaddr", "md": "public.mood",
					"ia": "integer[]", "ta": "text[]", "bits": "bit varying(8)", "tmtz": "time with time zone", "ch": "character(5)",
					"rg": "int4range", "tv": "tsvector", "pt": "point", "mda": "public.mood[]", "pi": "public.posint", "ad": "public.address"} {
					if g := strings.TrimPrefix(got[col], "public."); g != strings.TrimPrefix(want, "public.") {
						t.Errorf("column %s is %s in the sink, want %s", col, got[col], want)
					}
				}
				// The domain keeps its constraint, the composite its fields.
				var check, fields string
				if err := conn.QueryRow(ctx, `SELECT (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contypid = 'public.posint'::regtype),
					(SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
						WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'public.address'::regtype))`).Scan(&check, &fields); err != nil ||
					check != "CHECK ((VALUE > 0))" || fields != "street text, zip integer" {
					t.Errorf("in the sink, posint is %q and address (%q) (%v)", check, fields, err)
				}
			}
		})
	}
}

// TestPostgresSIGKILLConverges is TestMariaDBSIGKILLConverges from a PostgreSQL source: a
// 200,000-row table under concurrent transactions (key moves, deletes), weir killed with
// SIGKILL 8 times in the snapshot and the stream, then the file sink's changelog folds to
// the table and holds each change once. Integer and uuid keys.
func TestPostgresSIGKILLConverges(t *testing.T) {
	uuidLit := func(n int) string { return fmt.Sprintf("'%08x-0000-4000-8000-%012x'", n, n) }
	for _, shape := range []struct {
		name, keyDDL, seqKey string
		lit                  func(int) string
	}{
		{"int", "id bigint PRIMARY KEY", "g", func(n int) string { return fmt.Sprint(n) }},
		{"uuid", "id uuid PRIMARY KEY", "(lpad(to_hex(g), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid", uuidLit},
	} {
		t.Run(shape.name, func(t *testing.T) {
			src := startPostgresChaosSource(t)
			if err := src.exec("", fmt.Sprintf(`CREATE SCHEMA shop; CREATE TABLE shop.t (%s, v int NOT NULL, note varchar(40), amount numeric(12,2));
				ALTER TABLE shop.t REPLICA IDENTITY FULL;
				INSERT INTO shop.t SELECT %s, g %% 100, 'order ' || g, g / 7.0 FROM generate_series(1, 200000) g`, shape.keyDDL, shape.seqKey)); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			// The rate limit keeps the snapshot long enough (about 5 s) for the early kills to
			// fall inside it, however fast the machine reads.
			writeFile(t, filepath.Join(dir, "p.yaml"), "source:\n"+src.block(src.port, "shop")+"  scan.rate-limit.rows-per-second: 40000\n"+
				"sink:\n"+fileTarget.yaml+"\npipeline:\n  name: pgkill\n  parallelism: 3\n  checkpoint.interval: 200ms\n")
			exec, closeConn, err := src.session("shop")
			if err != nil {
				t.Fatal(err)
			}
			defer closeConn()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			txns := 0
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := testenv.Workload{Exec: exec, Postgres: true, Table: "t", Existing: 200000, Seed: 11, Pause: time.Millisecond,
					Insert: func(n int) string { return fmt.Sprintf("(%s, 1, 'new', 2.5)", shape.lit(n)) },
					Where:  func(n int) string { return "id = " + shape.lit(n) },
					MoveTo: func(n int) string { return "id = " + shape.lit(n) },
					Update: "v = v + 1, note = 'upd'"}
				var err error
				if txns, err = w.Run(stop); err != nil {
					t.Error(err)
				}
			}()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
			inSnapshot := 0
			for kill := range 8 {
				p := start(t, dir, "run", "p.yaml")
				wait := 300 + rng.IntN(900)
				if kill < 3 {
					wait = 200 + rng.IntN(400) // early: inside the snapshot
				}
				time.Sleep(time.Duration(wait) * time.Millisecond)
				if p.exited() {
					t.Fatalf("weir exited before it was killed:\n%s", p.stderr)
				}
				p.signal(syscall.SIGKILL)
				p.wait(t, 10*time.Second)
				if !strings.Contains(p.stderr.String(), "snapshot finished") && !strings.Contains(p.stderr.String(), "snapshot=false") {
					inSnapshot++
				}
			}
			if inSnapshot == 0 {
				t.Fatal("no kill fell inside the snapshot; the test did not test it")
			}
			close(stop)
			wg.Wait()

			final := start(t, dir, "run", "p.yaml")
			s, err := src.open("shop")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tables, err := s.Tables(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var all []event.Row
			if err := s.(connector.ChunkReader).ReadChunk(context.Background(), tables[0], snapshot.Chunk{Table: tables[0].ID}, func(rs []event.Row) error {
				all = append(all, rs...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want, err := conformance.TableImage(tables[0], all)
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string][]string{tables[0].ID.String(): {"id"}}
			var diff string
			var recs []conformance.Record
			for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
				recs = fileTarget.records(t, dir, tables[0])
				got, err := conformance.Fold(recs, keys)
				if err != nil {
					t.Fatal(err)
				}
				if diff = conformance.DiffImages(want, got, 10); diff == "" {
					break
				}
			}
			final.signal(syscall.SIGTERM)
			if code := final.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("final run: exit %d\n%s", code, final.stderr)
			}
			if diff != "" {
				t.Fatalf("after 8 kills and %d concurrent transactions the sink differs from the source: %s", txns, diff)
			}
			if err := conformance.CheckChangelog(recs, keys); err != nil {
				t.Fatal(err)
			}
			t.Logf("8 kills (%d in the snapshot), %d concurrent transactions, %d rows: sink equals source, each change once", inSnapshot, txns, len(want))
		})
	}
}
