package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/testenv"
)

// TestShardsMergedIntoPostgres merges 8 MariaDB shards in 2 databases — shop1's with
// VARCHAR(10) names and INT amounts, shop2's with VARCHAR(40), BIGINT and a column of
// their own — into one PostgreSQL table, through a transform with computed columns, a
// filter and a masked column, and a route that keeps the shards' colliding keys apart
// with a source-table column. Concurrent transactions on every shard move rows into and
// out of the filter; weir is SIGKILLed once. Once caught up, the PostgreSQL table equals
// the shards' rows transformed by the test itself.
func TestShardsMergedIntoPostgres(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE dw"); err != nil {
		t.Fatal(err)
	}
	const rows = 2000
	var shards []string
	for _, d := range []struct{ db, cols, values string }{
		{"shop1", "name VARCHAR(10) NOT NULL, amount INT NOT NULL, phone VARCHAR(20)", "CONCAT('n', seq), seq % 100, CONCAT('1380000', LPAD(seq, 4, '0'))"},
		{"shop2", "name VARCHAR(40) NOT NULL, amount BIGINT NOT NULL, phone VARCHAR(20), region CHAR(2)", "CONCAT('name ', seq), seq % 97, CONCAT('1390000', LPAD(seq, 4, '0')), 'cn'"},
	} {
		ddl := fmt.Sprintf("CREATE DATABASE %s; USE %s;", d.db, d.db)
		for i := 1; i <= 4; i++ {
			ddl += fmt.Sprintf("CREATE TABLE orders_%d (id INT PRIMARY KEY, %s); INSERT INTO orders_%d SELECT seq, %s FROM seq_1_to_%d;",
				i, d.cols, i, d.values, rows)
			shards = append(shards, fmt.Sprintf("%s.orders_%d", d.db, i))
		}
		if err := db.Exec("", ddl); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop\d.orders_\d
  heartbeat.interval: 300ms
  scan.incremental.snapshot.chunk.size: 500
sink:
  type: postgres
  url: %s
transform:
  - source-table: shop\d.orders_\d
    projection: "*, amount * 2 AS twice, UPPER(name) AS name_uc"
    filter: amount >= 50
    mask: phone = partial(4)
route:
  - source-table: shop\d.orders_\d
    sink-table: dw.orders
    source-table-column: src
pipeline:
  name: shards
  parallelism: 2
  checkpoint.interval: 200ms
`, db.Port, pg.URL("dw")))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	txns := 0
	for i, shard := range shards {
		dbName, table, _ := strings.Cut(shard, ".")
		conn, err := client.Connect(fmt.Sprintf("127.0.0.1:%d", db.Port), "root", "", dbName)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		insert := func(n int) string { return fmt.Sprintf("(%d, 'new %d', %d, '13700001234')", n, n, n%100) }
		if dbName == "shop2" {
			insert = func(n int) string { return fmt.Sprintf("(%d, 'new %d', %d, '13700001234', 'us')", n, n, n%100) }
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := testenv.Workload{Conn: conn, Table: table, Existing: rows, Seed: uint64(i + 1), Pause: 5 * time.Millisecond,
				Insert: insert,
				Where:  func(n int) string { return fmt.Sprintf("id = %d", n) },
				MoveTo: func(n int) string { return fmt.Sprintf("id = %d", n) },
				Update: "amount = (amount + 37) % 100, name = CONCAT(LEFT(name, 6), 'x')"} // in and out of the filter
			n, err := w.Run(stop)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			txns += n
			mu.Unlock()
		}()
	}
	p := start(t, dir, "run", "p.yaml")
	time.Sleep(1500 * time.Millisecond)
	if p.exited() {
		t.Fatalf("weir exited:\n%s", p.stderr)
	}
	p.signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	final := start(t, dir, "run", "p.yaml")
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// The expected table, transformed here: the filter, the computed columns, the mask,
	// the source column, the union of the columns.
	var want []string
	for _, shard := range shards {
		region := "NULL"
		if strings.HasPrefix(shard, "shop2") {
			region = "IFNULL(region, '<null>')"
		}
		out, err := db.Query("", fmt.Sprintf("SELECT id, name, amount, IFNULL(phone, '<null>'), %s FROM %s WHERE amount >= 50", region, shard))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 5 {
				continue
			}
			var amount int
			fmt.Sscan(f[2], &amount)
			phone := f[3]
			if phone != "<null>" {
				phone = strings.Repeat("*", len(phone)-4) + phone[len(phone)-4:]
			}
			if f[4] == "NULL" {
				f[4] = "<null>"
			}
			want = append(want, strings.Join([]string{shard, f[0], f[1], f[2], phone, fmt.Sprint(2 * amount), strings.ToUpper(f[1]), f[4]}, "|"))
		}
	}
	slices.Sort(want)

	var got []string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if got, err = pgLines(ctx, pg.URL("dw"), `SELECT src || '|' || id || '|' || name || '|' || amount || '|' || coalesce(phone, '<null>') || '|' ||
			twice || '|' || name_uc || '|' || coalesce(region, '<null>') FROM dw.orders`); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			break
		}
	}
	final.signal(syscall.SIGTERM)
	if code := final.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, final.stderr)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after %d concurrent transactions the merged table differs from the shards transformed: %s", txns, lineDiff(want, got, 8))
	}
	cols, err := pgLines(ctx, pg.URL("dw"), `SELECT column_name || ' ' || data_type || coalesce('(' || character_maximum_length || ')', '') || ' ' || is_nullable
		FROM information_schema.columns WHERE table_schema = 'dw' AND table_name = 'orders' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"id integer NO", "name character varying(40) NO", "amount bigint NO", "phone text YES",
		"twice bigint YES", "name_uc text YES", "src text NO", "region character varying(2) YES"}
	if !slices.Equal(cols, wantCols) {
		t.Errorf("merged table columns:\n got %q\nwant %q", cols, wantCols)
	}
	t.Logf("%d concurrent transactions on 8 shards, 1 kill: dw.orders holds the %d rows that pass the filter, transformed and masked", txns, len(want))

	// weir verify compares through the transform and the route: equal now; then each
	// difference planted in the merged table is found, by its key.
	if code, out := runWeir(t, dir, "verify", "p.yaml"); code != 0 || !strings.Contains(out, "dw.orders (from shop1.orders_1, shop1.orders_2") || !strings.Contains(out, "the sink equals the source") {
		t.Fatalf("verify of the converged pipeline: exit %d\n%s", code, out)
	}
	var inFilter, outOfFilter int
	out, err := db.Query("", "SELECT (SELECT MIN(id) FROM shop2.orders_3 WHERE amount >= 50), (SELECT MIN(id) FROM shop2.orders_3 WHERE amount < 50)")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(out, &inFilter, &outOfFilter)
	for _, q := range []string{
		fmt.Sprintf("DELETE FROM dw.orders WHERE src = 'shop2.orders_3' AND id = %d", inFilter),                                                                     // missing
		"UPDATE dw.orders SET name_uc = 'X' WHERE (src, id) = (SELECT src, id FROM dw.orders WHERE src = 'shop1.orders_2' ORDER BY id LIMIT 1)",                     // different
		"UPDATE dw.orders SET phone = '0' WHERE (src, id) = (SELECT src, id FROM dw.orders WHERE src = 'shop2.orders_4' AND phone IS NOT NULL ORDER BY id LIMIT 1)", // a masked column
		"INSERT INTO dw.orders (id, name, amount, src) VALUES (999999, 'ghost', 60, 'shop1.orders_1')",                                                              // extra
		fmt.Sprintf("INSERT INTO dw.orders (id, name, amount, src) VALUES (%d, 'x', 1, 'shop2.orders_3')", outOfFilter),                                             // extra: its source row is filtered out
	} {
		if err := pg.Exec(ctx, "dw", q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	code, report := runWeir(t, dir, "verify", "--json", "p.yaml")
	if code != 1 {
		t.Fatalf("verify after planting differences: exit %d\n%s", code, report)
	}
	for _, want := range []string{
		`"missing": 1`, `"extra": 2`, `"different": 2`,
		fmt.Sprintf(`"kind": "missing",
          "key": {
            "id": %d,
            "src": "shop2.orders_3"`, inFilter),
		`"kind": "extra",
          "key": {
            "id": 999999,
            "src": "shop1.orders_1"`,
		fmt.Sprintf(`"id": %d,
            "src": "shop2.orders_3"`, outOfFilter),
		`"column": "name_uc"`, `"column": "phone"`,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %s:\n%s", want, report)
		}
	}

	// Interrupted, then resumed: the same differences.
	slow := start(t, dir, "verify", "p.yaml", "--rows-per-second", "2000", "--chunk-rows", "200", "--parallelism", "1")
	time.Sleep(1500 * time.Millisecond)
	slow.signal(syscall.SIGKILL)
	slow.wait(t, 10*time.Second)
	progress, err := os.ReadFile(filepath.Join(dir, ".weir", "verify", "shards.json"))
	if err != nil || !strings.Contains(string(progress), `"next_index"`) {
		t.Fatalf("no progress saved by the interrupted verify: %v %s", err, progress)
	}
	code, resumed := runWeir(t, dir, "verify", "--json", "--resume", "p.yaml")
	if code != 1 || !strings.Contains(resumed, `"missing": 1`) || !strings.Contains(resumed, `"extra": 2`) || !strings.Contains(resumed, `"different": 2`) ||
		!strings.Contains(resumed, fmt.Sprintf(`"source_rows": %d`, len(want))) {
		t.Fatalf("resumed verify: exit %d\n%s", code, resumed)
	}
}

// pgLines runs a query of one text column and returns its rows.
func pgLines(ctx context.Context, url, q string) ([]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// lineDiff lists up to n lines only in want, and only in got.
func lineDiff(want, got []string, n int) string {
	var missing, extra []string
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok && len(missing) < n {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok && len(extra) < n {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("%d rows wanted, %d there; missing %q; unexpected %q", len(want), len(got), missing, extra)
}

// TestPreview previews a pipeline of two MariaDB shards merged by a route, with a
// computed column, a filter part of which the source evaluates, and a masked column: it
// shows the sink table's merged schema and the first rows it would receive, says where
// each part of the filter runs, and writes nothing.
func TestPreview(t *testing.T) {
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec("", `CREATE DATABASE s1; CREATE DATABASE s2;
		CREATE TABLE s1.users (id INT PRIMARY KEY, name VARCHAR(10) NOT NULL, phone VARCHAR(20), age TINYINT);
		CREATE TABLE s2.users (id INT PRIMARY KEY, name VARCHAR(30) NOT NULL, phone VARCHAR(20), age INT, city VARCHAR(8));
		USE s1; INSERT INTO s1.users SELECT seq, CONCAT('a', seq), CONCAT('1380000', LPAD(seq, 4, '0')), seq % 90 FROM seq_1_to_100;
		INSERT INTO s2.users SELECT seq, CONCAT('b', seq), NULL, seq % 90, 'paris' FROM seq_1_to_100`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: s\d.users
sink:
  type: file
  path: out
transform:
  - source-table: s\d.users
    projection: id, name, phone, age, UPPER(name) AS shout
    filter: age >= 18 AND age < 20 AND name LIKE '%%1%%'
    mask: phone = partial(3)
route:
  - source-table: s\d.users
    sink-table: dw.users
    source-table-column: shard
`, db.Port))
	code, out := runWeir(t, dir, "preview", "--limit", "2", "--explain", "p.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"source table s1.users → dw.users",
		"  age int8 = age\n    shout string = UPPER(name)",
		"phone string = phone masked by partial",
		"filter, in the source's snapshot queries: (`age` >= 18) AND (`age` < 20) AND (`name` LIKE _utf8mb4 X'253125')",
		"dw.users  (from s1.users; 2 rows shown)", // s1 fills the limit: s2 is not read
		"  id int32 key not null\n  name string(30) not null\n  phone string\n  age int32\n  shout string\n  shard string key not null\n",
		`{"id":18,"name":"a18","phone":"********018","age":18,"shout":"A18","shard":"s1.users"}`,
		`{"id":19,"name":"a19","phone":"********019","age":19,"shout":"A19","shard":"s1.users"}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the preview lacks %q:\n%s", want, out)
		}
	}
	for _, p := range []string{"out", ".weir"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("preview wrote %s", p)
		}
	}

	// --follow: the changes logged from now on, transformed, until --limit of them.
	f := start(t, dir, "preview", "--follow", "--limit", "3", "p.yaml")
	for id := 1000; !f.exited(); id++ {
		if id > 1100 {
			t.Fatalf("preview --follow did not stop after 3 changes:\n%s", f.stderr)
		}
		// age 18 passes the filter; age 50 does not.
		if err := db.Exec("", fmt.Sprintf("INSERT INTO s2.users VALUES (%d, 'c1%d', '13900001111', 50, 'rome'), (%d, 'd1%d', '13900002222', 18, 'oslo')", id, id, id+5000, id)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := f.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("preview --follow: exit %d\n%s", code, f.stderr)
	}
	lines := 0
	for _, line := range strings.Split(f.stderr.String(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		lines++
		if !strings.Contains(line, `"op":"c"`) || !strings.Contains(line, `"phone":"********111"`) && !strings.Contains(line, `"phone":"********222"`) ||
			!strings.Contains(line, `"age":18`) || !strings.Contains(line, `"shard":"s2.users"`) || !strings.Contains(line, `"table":"users"`) {
			t.Errorf("a followed change is not the transformed insert: %s", line)
		}
	}
	if lines != 3 {
		t.Errorf("preview --follow --limit 3 showed %d changes:\n%s", lines, f.stderr)
	}
	pgLike, _ := os.ReadDir(dir)
	for _, e := range pgLike {
		if e.Name() == ".weir" || e.Name() == "out" {
			t.Errorf("preview --follow wrote %s", e.Name())
		}
	}
}

// TestDiscoverSensitive lists the columns of a MariaDB table that look like personal data
// — by name, and by sampled values under names that say nothing — with the masks for them.
func TestDiscoverSensitive(t *testing.T) {
	db, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec("", `CREATE DATABASE crm; USE crm;
		CREATE TABLE people (id INT PRIMARY KEY, contact VARCHAR(80), mobile VARCHAR(20), f3 CHAR(18), note VARCHAR(40), card_no VARCHAR(24));
		INSERT INTO people SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('1380013', LPAD(seq, 4, '0')),
		  '11010519491231002X', CONCAT('visit ', seq), '4111 1111 1111 1111' FROM seq_1_to_300;
		CREATE TABLE orders (id INT PRIMARY KEY, total DECIMAL(10,2));
		INSERT INTO orders SELECT seq, seq * 1.5 FROM seq_1_to_10`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: crm.\.*
sink:
  type: console
`, db.Port))
	code, out := runWeir(t, dir, "discover", "--source", "p.yaml", "--sensitive", "--sample", "100")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"crm.people  contact  email       100 of 100 sampled values",
		"crm.people  mobile   phone       its name; 100 of 100 sampled values",
		"crm.people  f3       id-number   100 of 100 sampled values",
		"crm.people  card_no  bank-card   its name; 100 of 100 sampled values",
		"  - source-table: crm.people\n    mask:\n      - contact = hash\n      - mobile = partial(4)\n      - f3 = encrypt\n      - card_no = partial(4)\n    mask.key: ${WEIR_MASK_KEY}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "note") || strings.Contains(out, "orders") {
		t.Errorf("a column that is not personal data is flagged:\n%s", out)
	}
}

// TestTransformOfUnsentTOASTValues runs PostgreSQL (REPLICA IDENTITY DEFAULT, a TOASTed
// text column) → PostgreSQL through a projection: an update that leaves the large value
// alone does not send it, and the column computed from it alone keeps its value in the
// sink while the others change. A projection that mixes the unsent value with a sent one
// stops the pipeline with the fix in the message.
func TestTransformOfUnsentTOASTValues(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	for _, d := range []string{"src", "dw", "dw2"} {
		if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+d); err != nil {
			t.Fatal(err)
		}
	}
	if err := pg.Exec(ctx, "src", `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, big text NOT NULL);
		ALTER TABLE t ALTER COLUMN big SET STORAGE EXTERNAL;
		INSERT INTO t SELECT g, g, 'big' || g || repeat(md5(g::text), 200) FROM generate_series(1, 20) g`); err != nil {
		t.Fatal(err)
	}
	file := `
source:
  type: postgres
  hostname: 127.0.0.1
  port: %d
  username: postgres
  database-name: src
  tables: public.t
  heartbeat.interval: 200ms
sink:
  type: postgres
  url: %s
transform:
  - source-table: public.t
    projection: "id, v, UPPER(LEFT(big, 6)) AS head, CHAR_LENGTH(big) AS size%s"
pipeline:
  name: %s
  checkpoint.interval: 200ms
`
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(file, pg.Port, pg.URL("dw"), "", "toast"))
	p := start(t, dir, "run", "p.yaml")
	rows := func() []string {
		out, err := pgLines(ctx, pg.URL("dw"), `SELECT id || ',' || v || ',' || head || ',' || size FROM public.t ORDER BY id LIMIT 3`)
		if err != nil {
			return nil
		}
		return out
	}
	waitFor(t, "the snapshot", 30*time.Second, func() bool { return len(rows()) == 3 })
	if err := pg.Exec(ctx, "src", "UPDATE t SET v = v + 100 WHERE id <= 2"); err != nil {
		t.Fatal(err)
	}
	want := []string{"1,101,BIG1C4,6404", "2,102,BIG2C8,6404", "3,3,BIG3EC,6404"}
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = rows(); slices.Equal(got, want) {
			break
		}
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q\n%s", got, want, p.stderr)
	}

	// Mixing the unsent value with a sent one cannot be computed: the pipeline stops.
	writeFile(t, filepath.Join(dir, "mixed.yaml"), fmt.Sprintf(file, pg.Port, pg.URL("dw2"), ", CONCAT(v, LEFT(big, 3)) AS tag", "toast-mixed"))
	m := start(t, dir, "run", "mixed.yaml")
	time.Sleep(2 * time.Second) // its snapshot
	if err := pg.Exec(ctx, "src", "UPDATE t SET v = v + 100 WHERE id = 3"); err != nil {
		t.Fatal(err)
	}
	if code := m.wait(t, 30*time.Second); code != 1 || !strings.Contains(m.stderr.String(), "column tag (CONCAT(v, LEFT(big, 3))) of src.public.t reads column big, which this update of the source did not send") ||
		!strings.Contains(m.stderr.String(), "set REPLICA IDENTITY FULL on the table") {
		t.Fatalf("mixed: exit %d\n%s", code, m.stderr.String())
	}
	pg.Exec(ctx, "src", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active")
}
