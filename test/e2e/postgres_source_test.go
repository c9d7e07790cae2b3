package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/testenv"
)

// pgSourceTypes is a table of PostgreSQL types weir maps, for the type test below; the
// rows each target can hold. $EXTRA$ is where rows only PostgreSQL can hold go.
const pgSourceTypes = `
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE t (id int PRIMARY KEY, i2 smallint, i8 bigint, num numeric(20,6), numany numeric, r real, d double precision,
  m money, txt text, vc varchar(20), ch char(5), b bytea, bo boolean, dt date, tm time(3), tmtz timetz, ts timestamp(6),
  tstz timestamptz, iv interval, u uuid, j json, jb jsonb, ip inet, mc macaddr, md mood, pi posint, ia int[], ta text[],
  hs hstore, bits bit varying(8));
INSERT INTO t VALUES
 (1, -32768, 9223372036854775807, 12345678901234.123456, 1.5, 3.25, -1e300, 12.34, 'tab	and
newline \ back', 'ünïcödé', 'ab', '\x00ff', true, '2024-02-29', '23:59:59.999', '12:00:00+05:30', '1999-12-31 23:59:59.123456',
  '2024-06-01 12:00:00+02', '1 year 2 days 03:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1, "a": [1, null]}', '{"k": "v"}',
  '10.0.0.1/8', '08:00:2b:01:02:03', 'happy', 42, '{{1,2},{3,4}}', ARRAY['a,b', NULL], 'a=>1, b=>NULL', B'101'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
 $EXTRA$;`

// pgOnlyRows are values a MySQL target cannot hold: ±infinity, NaN, dates BC.
const pgOnlyRows = `, (3, 0, 0, 0, 'NaN', 'NaN', '-Infinity', 0, '', '', '', '', false, 'infinity', '00:00', '00:00+00', '-infinity',
  'infinity', '0', '00000000-0000-0000-0000-000000000000', '[]', '[]', '::1', '00:00:00:00:00:00', 'sad', 1, '{}', '{}', '', B''),
 (4, 1, 1, 1, 1, 1, 1, 1, 'x', 'x', 'x', '\x01', true, '0044-03-15 BC', '01:00', '01:00+01', '0100-01-01 00:00:00 BC',
  '1900-01-01 00:00:00+00', '-1 day', '00000000-0000-0000-0000-000000000001', '1', '1', '::2', '00:00:00:00:00:01', 'ok', 2, '{5}', '{"q\"t"}', 'k=>v', B'1')`

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
			// The stream: a copy of every row under a new key, and an update of row 1.
			time.Sleep(2 * time.Second)
			if err := src.Exec(ctx, db, "INSERT INTO t SELECT id + 100, i2, i8, num, numany, r, d, m, txt, vc, ch, b, bo, dt, tm, tmtz, ts, tstz, iv, u, j, jb, ip, mc, md, pi, ia, ta, hs, bits FROM t; "+
				"UPDATE t SET txt = 'updated', ia = '{9}' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			var out string
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
				var code int
				code, out = runWeir(t, dir, "verify", "p.yaml")
				if code == 0 {
					break
				}
				if time.Now().After(deadline) || p.exited() {
					t.Fatalf("the target does not equal the source:\n%s\nweir's log:\n%s", out, p.stderr)
				}
			}
			rows := 4
			if extra == "" {
				rows = 2
			}
			t.Log(strings.TrimSpace(out))
			if !strings.Contains(out, fmt.Sprintf("source %d rows, sink %d rows: equal", 2*rows, 2*rows)) {
				t.Fatalf("verify: %s", out)
			}
		})
	}
}
