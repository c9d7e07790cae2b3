package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/testenv"
)

// TestSinkExcludesSchemaChanges runs MariaDB → PostgreSQL under schema.change.behavior
// evolve with the sink excluding drop.column: an added column reaches the sink table, a
// dropped one stays there (evolve would drop it), the rows after both arrive, and the
// log says what was left out. A bad type name is refused with the valid ones.
func TestSinkExcludesSchemaChanges(t *testing.T) {
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
	if err := db.Exec("", `CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b INT);
		INSERT INTO shop.t VALUES (1, 10, 100)`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := `
source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.t
  heartbeat.interval: 200ms
sink:
  type: postgres
  url: %s
  exclude.schema.changes: %s
pipeline:
  name: excl
  checkpoint.interval: 200ms
  schema.change.behavior: evolve
`
	writeFile(t, filepath.Join(dir, "bad.yaml"), fmt.Sprintf(file, db.Port, pg.URL("dw"), "drop.columns"))
	if code, out := runWeir(t, dir, "validate", "--offline", "bad.yaml"); code != 2 || !strings.Contains(out, `"drop.columns" is not a schema change type; use add, alter, create, drop, rename, truncate, column, table, create.table`) {
		t.Errorf("a bad type: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(file, db.Port, pg.URL("dw"), "drop.column"))
	p := start(t, dir, "run", "p.yaml")
	columns := func() []string {
		cols, err := pgLines(ctx, pg.URL("dw"), `SELECT column_name FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 't' ORDER BY ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		return cols
	}
	waitFor(t, "the snapshot in PostgreSQL", 30*time.Second, func() bool { return len(columns()) == 3 })
	if err := db.Exec("", `ALTER TABLE shop.t ADD COLUMN c INT; ALTER TABLE shop.t DROP COLUMN b; INSERT INTO shop.t VALUES (2, 20, 200)`); err != nil {
		t.Fatal(err)
	}
	var rows []string
	waitFor(t, "the row after the changes", 30*time.Second, func() bool {
		rows, err = pgLines(ctx, pg.URL("dw"), `SELECT concat_ws(',', id, a, coalesce(b::text, 'null'), coalesce(c::text, 'null')) FROM shop.t ORDER BY id`)
		return err == nil && len(rows) == 2
	})
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	if got := columns(); !slices.Equal(got, []string{"id", "a", "b", "c"}) {
		t.Errorf("the sink table's columns are %v, want b kept and c added", got)
	}
	if !slices.Equal(rows, []string{"1,10,100,null", "2,20,null,200"}) {
		t.Errorf("rows %v", rows)
	}
	if !strings.Contains(p.stderr.String(), `schema change left out (sink.include/exclude.schema.changes)" pipeline=excl change="drop column shop.t.b"`) {
		t.Errorf("the log does not say the drop was left out:\n%s", p.stderr)
	}
}
