package mysql

import (
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func TestAdvise(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "public", Table: "t"}, Key: []int{0, 1}, Columns: []event.Column{
		{Name: "code", Type: types.Type{Kind: types.String}},               // unbounded text key
		{Name: "short", Type: types.Type{Kind: types.String, Length: 768}}, // fits
		{Name: "f", Type: types.Type{Kind: types.Float64}},                 //
		{Name: "n", Type: types.Type{Kind: types.Decimal}},                 // numeric: unbounded
		{Name: "n2", Type: types.Type{Kind: types.Decimal, Precision: 12}}, // fits
		{Name: "ts", Type: types.Type{Kind: types.TimestampLTZ}},           //
		{Name: "tm", Type: types.Type{Kind: types.Time}},                   // any engine's time fits
		{Name: "fs", Type: types.Type{Kind: types.Array, Elem: &types.Type{Kind: types.Float32}}},
	}}
	got := Advise([]*event.Schema{s}, nil, connector.Env{SourceType: "postgres"})
	want := []string{
		"public.t (f, fs): MySQL has no NaN",
		"public.t (ts): MySQL dates run from year 1 to 9999",
		"public.t (n): decimal(65,30) is MySQL's widest decimal",
		"public.t (code): a key column is at most varchar(768)",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d warnings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\n%s\nwant it to begin\n%s", i, got[i], want[i])
		}
	}
	// From MariaDB, floats and dates always fit; the decimal and the key still do not.
	if got := Advise([]*event.Schema{s}, nil, connector.Env{SourceType: "mariadb"}); len(got) != 2 {
		t.Errorf("from mariadb: %q, want the decimal and key warnings only", got)
	}
}
