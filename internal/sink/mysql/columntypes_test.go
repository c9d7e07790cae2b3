package mysql

import (
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// TestColumnTypes: the types a table made for a schema has, as the wizard and `weir
// preview` show them: a MariaDB source's enum kept, another source's mapped, a text
// key within InnoDB's index.
func TestColumnTypes(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "shop", Table: "t"}, Key: []int{0}, Columns: []event.Column{
		{Name: "code", Type: types.Type{Kind: types.String}, SourceType: "text"},
		{Name: "n", Type: types.Type{Kind: types.Int32}, SourceType: "int"},
		{Name: "state", Type: types.Type{Kind: types.String}, SourceType: "enum('new','paid')"},
	}}
	got := strings.Join(ColumnTypes(s, "postgres"), ", ")
	if !strings.HasPrefix(got, "varchar(") || !strings.HasSuffix(got, ", int, longtext") {
		t.Errorf("from PostgreSQL: %s", got)
	}
	if got := ColumnTypes(s, "mariadb")[2]; got != "enum('new','paid')" {
		t.Errorf("from MariaDB, an enum: %s", got)
	}
}
