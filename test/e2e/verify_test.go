package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/testenv"
	"github.com/weir-data/weir/internal/types"
	"github.com/weir-data/weir/internal/verify"
)

// TestVerify: `weir verify` finds nothing on a source and target that are equal across
// engines for every MariaDB type, then finds each difference planted directly in the
// target: a missing row, an extra row, a changed value in every column (so in every
// unified type the table has) and a changed NULL-ness, with the differing columns named.
func TestVerify(t *testing.T) {
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) { verifyInto(t, kind) })
	}
}

func verifyInto(t *testing.T, kind string) {
	e := startMariaTo(t, kind, fmt.Sprintf(pgTypeTable, pgTypeRows(1)), "types.t", "lenient")
	p := start(t, e.dir, "run", "p.yaml")
	defer p.signal(syscall.SIGKILL)
	if err := e.db.Exec("types", "SET SESSION sql_mode = ''; INSERT INTO types.t VALUES "+pgTypeRows(11)); err != nil {
		t.Fatal(err)
	}
	e.waitEqual(t, p, "types.t")
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}

	code, out := runWeir(t, e.dir, "verify", "p.yaml")
	if code != 0 || !strings.Contains(out, "types.t: source 6 rows, sink 6 rows: equal") {
		t.Fatalf("verify of an equal pair: exit %d\n%s", code, out)
	}

	// Plant the differences in the target: row 13 deleted, row 999 added (a copy of 11),
	// every column of row 1 given row 3's value, row 2's NULL vc given a value.
	schemas, rows := e.sourceTables(t, "types.t")
	s := schemas[0]
	var cols []string
	for _, c := range s.Columns[1:] {
		cols = append(cols, c.Name)
	}
	row := func(id int64) event.Row {
		for _, r := range rows[s.ID] {
			if r[0].Int() == id {
				return r
			}
		}
		t.Fatalf("no source row %d", id)
		return nil
	}
	var wantCols []string
	kinds := map[types.Kind]bool{}
	for i, c := range s.Columns[1:] {
		kinds[c.Type.Kind] = true
		if !verify.Equal(row(1)[i+1], row(3)[i+1], c.Type) {
			wantCols = append(wantCols, c.Name)
		}
	}
	e.plant(t, cols)

	code, out = runWeir(t, e.dir, "verify", "p.yaml", "--json")
	if code != 1 {
		t.Fatalf("verify of planted differences: exit %d, want 1\n%s", code, out)
	}
	var rep verify.Report
	dec := json.NewDecoder(strings.NewReader(out[strings.Index(out, "{") : strings.LastIndex(out, "}")+1]))
	dec.UseNumber()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	tr := rep.Tables[0]
	if tr.Missing != 1 || tr.Extra != 1 || tr.Different != 2 || rep.Differences != 4 || tr.SourceRows != 6 || tr.SinkRows != 6 {
		t.Fatalf("report: %+v, want 1 missing, 1 extra, 2 different, 6 rows each side\n%s", tr, out)
	}
	got := map[string][]string{}
	for _, d := range tr.Keys {
		var names []string
		for _, c := range d.Columns {
			names = append(names, c.Column)
		}
		got[d.Kind+" "+string(d.Key["id"].(json.Number))] = names
	}
	want := map[string][]string{"missing 13": nil, "extra 999": nil, "different 1": wantCols, "different 2": {"vc"}}
	for k, w := range want {
		if g, ok := got[k]; !ok || !slices.Equal(g, w) {
			t.Errorf("%s: got columns %q (listed: %v), want %q", k, g, ok, w)
		}
	}
	var covered []string
	for k := range kinds {
		found := false
		for _, name := range wantCols {
			if s.Columns[s.ColumnIndex(name)].Type.Kind == k {
				found = true
			}
		}
		if !found {
			covered = append(covered, k.String())
		}
	}
	if len(covered) > 0 {
		t.Errorf("no planted difference in a column of kind %v", covered)
	}
	if t.Failed() || testing.Verbose() {
		t.Log(out)
	}
}

// plant changes the target as TestVerify describes.
func (e *mariaTo) plant(t *testing.T, names []string) {
	t.Helper()
	if e.kind == "postgres" {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = pgx.Identifier{n}.Sanitize()
		}
		conn, err := pgx.Connect(context.Background(), e.pg.URL("dw"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		list := strings.Join(quoted, ", ")
		for _, q := range []string{
			"DELETE FROM types.t WHERE id = 13",
			"CREATE TEMP TABLE x AS SELECT * FROM types.t WHERE id = 11",
			"UPDATE x SET id = 999",
			"INSERT INTO types.t SELECT * FROM x",
			fmt.Sprintf("UPDATE types.t SET (%s) = (SELECT %s FROM types.t WHERE id = 3) WHERE id = 1", list, list),
			"UPDATE types.t SET vc = 'planted' WHERE id = 2",
		} {
			if _, err := conn.Exec(context.Background(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return
	}
	sets := make([]string, len(names))
	for i, n := range names {
		sets[i] = fmt.Sprintf("a.`%s` = b.`%s`", n, n)
	}
	q := strings.Join([]string{
		"DELETE FROM types.t WHERE id = 13",
		"CREATE TEMPORARY TABLE types.x AS SELECT * FROM types.t WHERE id = 11",
		"UPDATE types.x SET id = 999",
		"INSERT INTO types.t SELECT * FROM types.x",
		"UPDATE types.t a JOIN types.t b ON b.id = 3 SET " + strings.Join(sets, ", ") + " WHERE a.id = 1",
		"UPDATE types.t SET vc = 'planted' WHERE id = 2",
	}, "; ")
	if err := e.dst.Exec("", q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestVerifyWhileRunning: with --settle, `weir verify` beside a running pipeline and a
// source under concurrent transactions reports no difference (what it sees the sink lag
// behind goes away once the sink has caught up with where it was seen); a difference
// planted in the target once the writes stop is reported all the same.
func TestVerifyWhileRunning(t *testing.T) {
	e := startMariaTo(t, "postgres", `CREATE DATABASE live; USE live;
		CREATE TABLE t (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(64));
		INSERT INTO t SELECT seq, seq % 1000, CONCAT('row ', seq) FROM seq_1_to_20000`, "live.t", "lenient")
	p := start(t, e.dir, "run", "p.yaml")
	defer p.signal(syscall.SIGKILL)
	e.waitEqual(t, p, "live.t")

	conn := connectMariaDB(t, e.db)
	defer conn.Close()
	if _, err := conn.Execute("USE live"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		w := testenv.Workload{Conn: conn, Table: "t", Existing: 20000, Seed: 7, Pause: time.Millisecond,
			Insert: func(n int) string { return fmt.Sprintf("(%d, %d, 'new')", n, n%1000) },
			Where:  func(n int) string { return fmt.Sprintf("id = %d", n) },
			MoveTo: func(n int) string { return fmt.Sprintf("id = %d", n) },
			Update: "v = v + 1, note = 'updated'"}
		_, err := w.Run(stop)
		done <- err
	}()
	time.Sleep(time.Second)
	code, out := runWeir(t, e.dir, "verify", "p.yaml", "--settle", "60s")
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("verify --settle beside a running pipeline: exit %d\n%s", code, out)
	}

	e.waitEqual(t, p, "live.t")
	pg, err := pgx.Connect(context.Background(), e.pg.URL("dw"))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	if _, err := pg.Exec(context.Background(), "UPDATE live.t SET note = 'planted' WHERE id = 5"); err != nil {
		t.Fatal(err)
	}
	code, out = runWeir(t, e.dir, "verify", "p.yaml", "--settle", "2s")
	if code != 1 || !strings.Contains(out, `different "id":5: note (source `) {
		t.Fatalf("verify --settle of a planted difference: exit %d, want 1 and key 5\n%s", code, out)
	}
}

// TestVerifyResumes: a comparison killed halfway goes on with --resume from the chunk it
// had reached, keeping the difference it had found before the kill and finding the one
// after.
func TestVerifyResumes(t *testing.T) {
	e := startMariaTo(t, "postgres", `CREATE DATABASE res; USE res;
		CREATE TABLE t (id BIGINT PRIMARY KEY, v INT NOT NULL);
		INSERT INTO t SELECT seq, seq FROM seq_1_to_20000`, "res.t", "lenient")
	p := start(t, e.dir, "run", "p.yaml")
	defer p.signal(syscall.SIGKILL)
	e.waitEqual(t, p, "res.t")
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	pg, err := pgx.Connect(context.Background(), e.pg.URL("dw"))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	if _, err := pg.Exec(context.Background(), "DELETE FROM res.t WHERE id = 3; UPDATE res.t SET v = 0 WHERE id = 15000"); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "p.yaml", "--rows-per-second", "4000", "--chunk-rows", "1000", "--parallelism", "1"}
	first := start(t, e.dir, args...)
	time.Sleep(2500 * time.Millisecond)
	first.signal(syscall.SIGKILL)
	first.wait(t, 10*time.Second)

	code, out := runWeir(t, e.dir, append(args, "--resume", "--json", "--rows-per-second", "0")...)
	if code != 1 {
		t.Fatalf("resumed verify: exit %d, want 1\n%s", code, out)
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1]), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	tr := rep.Tables[0]
	if tr.ResumedAt == 0 || tr.ResumedAt >= 20 || tr.SourceRows != 20000 || tr.Missing != 1 || tr.Different != 1 || tr.Extra != 0 {
		t.Fatalf("resumed report: %+v; want it resumed inside the table, 20000 source rows, 1 missing, 1 different", tr)
	}
	// The comparison ended: the next one starts afresh.
	if code, out := runWeir(t, e.dir, "verify", "p.yaml", "--resume", "--json"); code != 1 || strings.Contains(out, "resumed_at_chunk") {
		t.Fatalf("a comparison after a finished one: exit %d, resumed?\n%s", code, out)
	}
}

// TestVerifyByDigest: where source and sink are the same engine, verify digests each
// chunk on both servers and reads rows only where the digests differ. On an equal pair
// every row is compared by digest; after a value is changed in one row of the sink, that
// row's chunk is read and the row reported, and the other chunks still go by digest.
func TestVerifyByDigest(t *testing.T) {
	ctx := context.Background()
	const rows, chunk = 20000, 2000
	for _, engine := range []string{"mariadb", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			var source, sinkURL string
			var change func(q string) error
			switch engine {
			case "mariadb":
				src, err := testenv.StartMariaDB()
				if err != nil {
					t.Fatal(err)
				}
				defer src.Stop()
				dst, err := testenv.StartMariaDB()
				if err != nil {
					t.Fatal(err)
				}
				defer dst.Stop()
				if err := src.Exec("", fmt.Sprintf(`CREATE DATABASE shop; USE shop;
					CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, amount DECIMAL(12,2), at DATETIME(6), n INT, code CHAR(3));
					INSERT INTO t SELECT seq, CONCAT('name ', seq), seq / 7, '2024-01-02 03:04:05.123456' + INTERVAL seq SECOND, IF(seq %% 3 = 0, NULL, seq), 'abc' FROM seq_1_to_%d`, rows)); err != nil {
					t.Fatal(err)
				}
				source = fmt.Sprintf("  type: mariadb\n  hostname: 127.0.0.1\n  port: %d\n  username: root\n  tables: shop.t", src.Port)
				sinkURL = fmt.Sprintf("  type: mariadb\n  url: mysql://root@127.0.0.1:%d/weir", dst.Port)
				change = func(q string) error { return dst.Exec("", q) }
			case "postgres":
				pg, err := testenv.StartPostgres()
				if err != nil {
					t.Fatal(err)
				}
				defer pg.Stop()
				for _, d := range []string{"shop", "dw"} {
					if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+d); err != nil {
						t.Fatal(err)
					}
				}
				if err := pg.Exec(ctx, "shop", fmt.Sprintf(`CREATE TABLE t (id int PRIMARY KEY, name varchar(40) NOT NULL, amount numeric(12,2), at timestamp(6), n int, code char(3), span interval, doc jsonb);
					INSERT INTO t SELECT g, 'name ' || g, round(g / 7.0, 2), '2024-01-02 03:04:05.123456'::timestamp + g * interval '1 second',
					  CASE WHEN g %% 3 = 0 THEN NULL ELSE g END, 'abc', g * interval '1 minute', jsonb_build_object('g', g) FROM generate_series(1, %d) g`, rows)); err != nil {
					t.Fatal(err)
				}
				source = fmt.Sprintf("  type: postgres\n  hostname: 127.0.0.1\n  port: %d\n  username: postgres\n  database-name: shop\n  tables: public.t", pg.Port)
				sinkURL = "  type: postgres\n  url: " + pg.URL("dw")
				change = func(q string) error { return pg.Exec(ctx, "dw", strings.ReplaceAll(q, "shop.t", "public.t")) }
			}
			writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf("source:\n%s\n  scan.startup.mode: snapshot\n  scan.incremental.snapshot.chunk.size: %d\nsink:\n%s\npipeline:\n  name: digest-%s\n",
				source, chunk, sinkURL, engine))
			if code, out := runWeir(t, dir, "run", "p.yaml"); code != 0 {
				t.Fatalf("run: exit %d\n%s", code, out)
			}
			report := func(args ...string) *verify.Report {
				_, out := runWeir(t, dir, append([]string{"verify", "--json"}, append(args, "p.yaml")...)...)
				var rep verify.Report
				if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				return &rep
			}
			rep := report()
			if rep.Differences != 0 || rep.Tables[0].Digested != rows {
				t.Fatalf("an equal pair: %d differences, %d of %d rows by digest", rep.Differences, rep.Tables[0].Digested, rows)
			}
			if rep := report("--no-digest"); rep.Differences != 0 || rep.Tables[0].Digested != 0 {
				t.Fatalf("--no-digest: %d differences, %d rows by digest", rep.Differences, rep.Tables[0].Digested)
			}
			if err := change("UPDATE shop.t SET n = 7 WHERE id = 4500"); err != nil {
				t.Fatal(err)
			}
			rep = report()
			tr := rep.Tables[0]
			if rep.Differences != 1 || len(tr.Keys) != 1 || tr.Keys[0].Kind != "different" || tr.Keys[0].Columns[0].Column != "n" ||
				tr.Digested < rows-2*chunk || tr.Digested >= rows {
				t.Fatalf("one changed row: %d differences (%+v), %d rows by digest", rep.Differences, tr.Keys, tr.Digested)
			}
			t.Logf("%s → %s: %d rows equal by digest; one changed row found by reading its chunk, %d rows by digest", engine, engine, rows, tr.Digested)
		})
	}
}
