package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/testenv"
)

// TestSinkIsSourceIsRefused: a MariaDB sink on the source's own server without a route
// would write each table into itself (and, with soft deletes, add a column to the source
// table): validate and run both refuse it with the fix, exit 1, and the source table is
// left as it was. With a route to another database the same servers are fine.
func TestSinkIsSourceIsRefused(t *testing.T) {
	m, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if err := m.Exec("", "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.items VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pipeline := func(route string) string {
		return fmt.Sprintf(`source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.items
  scan.startup.mode: snapshot
sink:
  type: mariadb
  url: mysql://root@localhost:%d/shop
  sink.delete-mode: soft
%spipeline:
  name: self
`, m.Port, m.Port, route)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), pipeline(""))
	for _, cmd := range []string{"validate", "run"} {
		code, out := runWeir(t, dir, cmd, "p.yaml")
		if code != 1 || !strings.Contains(out, "table shop.items would be written into itself") || !strings.Contains(out, "route it to another table") {
			t.Fatalf("weir %s: exit %d\n%s", cmd, code, out)
		}
	}
	cols, err := m.Query("", "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items'")
	if err != nil || strings.TrimSpace(cols) != "id,name" {
		t.Fatalf("the source table's columns are now %q (%v)", cols, err)
	}
	writeFile(t, filepath.Join(dir, "p.yaml"), pipeline("route:\n  - source-table: shop.items\n    sink-table: copy.items\n"))
	if code, out := runWeir(t, dir, "run", "p.yaml"); code != 0 {
		t.Fatalf("with a route: exit %d\n%s", code, out)
	}
	if n, err := m.Query("", "SELECT COUNT(*) FROM copy.items"); err != nil || strings.TrimSpace(n) != "1" {
		t.Fatalf("copy.items: %q %v", n, err)
	}
}
