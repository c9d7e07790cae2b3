package spec

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/connectors"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/*.bad.yaml")

func testEnv(name string) (string, bool) {
	switch name {
	case "WEIR_TEST_TABLES":
		return "demo.orders", true
	case "WEIR_TEST_SECRET":
		return "hunter2", true
	}
	return "", false
}

// golden checks each bad file's problems against its .txt golden.
func golden(t *testing.T, pattern string, reg *connector.Registry) {
	files, _ := filepath.Glob(pattern)
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(f, data, reg, testEnv)
			if !IsProblems(err) {
				t.Fatalf("want problems, got %v", err)
			}
			got := err.Error() + "\n"
			if strings.Contains(got, "hunter2") {
				t.Fatalf("a secret was printed:\n%s", got)
			}
			want := strings.TrimSuffix(f, ".yaml") + ".txt"
			if *update {
				os.WriteFile(want, []byte(got), 0o644)
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(b) {
				t.Fatalf("got:\n%s\nwant:\n%s", got, b)
			}
		})
	}
}

func TestBadFiles(t *testing.T) { golden(t, "testdata/*.bad.yaml", connectors.Registry()) }

func TestSecretsAreNeverPrinted(t *testing.T) {
	vault := connector.Spec{Type: "vault", Fields: []connector.Field{
		{Name: "password", Type: connector.TypeString, Secret: true},
		{Name: "pin", Type: connector.TypeInt, Secret: true},
	}}
	reg := connectors.Registry()
	reg.Sources["vault"] = &connector.SourceDef{Spec: vault}
	golden(t, "testdata/secret/*.bad.yaml", reg)

	p, err := Parse("x.yaml", []byte("source:\n  type: vault\n  password: ${WEIR_TEST_SECRET}\nsink:\n  type: console\n"), reg, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source.Config.String("password") != "hunter2" {
		t.Fatal("the secret was not expanded")
	}
	if r := p.Redacted(); strings.Contains(r, "hunter2") || !strings.Contains(r, "password: '******'") {
		t.Fatalf("redacted config:\n%s", r)
	}
}

func TestGoodFull(t *testing.T) {
	p, err := Load2(t, "testdata/good-full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := p.Source.Config
	if got := src.List("tables"); len(got) != 2 || got[0] != "demo.orders" || got[1] != "demo.users" {
		t.Errorf("tables = %q", got)
	}
	if src.Int("rows") != 1000 || src.Int("changes-per-second") != 50 || src.Int("max-changes") != 0 {
		t.Errorf("rows %d, changes-per-second %d, max-changes %d", src.Int("rows"), src.Int("changes-per-second"), src.Int("max-changes"))
	}
	if src.String("scan.startup.mode") != "initial" || src.IsSet("scan.startup.mode") {
		t.Errorf("default startup mode: %q set=%v", src.String("scan.startup.mode"), src.IsSet("scan.startup.mode"))
	}
	if p.Sink.Config.String("path") != "./out/${literal}" || p.Sink.Config.Bool("fsync") {
		t.Errorf("sink path %q fsync %v", p.Sink.Config.String("path"), p.Sink.Config.Bool("fsync"))
	}
	if p.Name != "full.pipeline-1" || p.Parallelism != 4 || p.CheckpointInterval != 250*time.Millisecond ||
		p.BatchMaxBytes != 8<<20 || p.QueueMaxBytes != 1<<30 || p.SchemaChangeBehavior != "evolve" ||
		p.BatchMaxRows != 4096 || p.BatchMaxDelay != 100*time.Millisecond {
		t.Errorf("pipeline settings: %+v", p)
	}
	if len(p.Routes) != 1 || len(p.Routes[0].SourceTables) != 2 || !p.Routes[0].SourceTables[0].Match("shop_12", "orders_7") ||
		p.Routes[0].SourceTables[0].Match("shop_1234", "orders_7") || !p.Routes[0].SourceTables[1].Match("shop.x", "y") ||
		p.Routes[0].SourceTables[1].Match("shopXx", "y") {
		t.Errorf("routes: %+v", p.Routes)
	}
	if len(p.Transforms) != 1 || p.Transforms[0].Filter != "amount > 0" || p.Transforms[0].Line != 16 {
		t.Errorf("transforms: %+v", p.Transforms)
	}
	if src.Where("rows") != "line 5, column 9" {
		t.Errorf("where rows: %q", src.Where("rows"))
	}
}

func TestDefaultsAndName(t *testing.T) {
	p, err := Load2(t, "testdata/good-minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "good-minimal.good" || p.Parallelism != 2 || p.CheckpointInterval != 5*time.Second ||
		p.QueueMaxBytes != 64<<20 || p.SchemaChangeBehavior != "lenient" || p.LocalTimeZone != time.UTC {
		t.Errorf("defaults: %+v", p)
	}
}

func Load2(t *testing.T, path string) (*Pipeline, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(path, data, connectors.Registry(), testEnv)
}

func TestParseTables(t *testing.T) {
	cases := []struct {
		in        string
		db, table []string
		err       string
	}{
		{in: `shop.orders`, db: []string{"shop"}, table: []string{"orders"}},
		{in: `shop_\d+.orders_\d{1,3}, crm.users`, db: []string{`shop_\d+`, "crm"}, table: []string{`orders_\d{1,3}`, "users"}},
		{in: `db\.x.t\.y`, db: []string{`db\.x`}, table: []string{`t\.y`}},
		{in: `db.schema.table`, db: []string{"db"}, table: []string{"schema.table"}},
		{in: `orders`, err: "has no '.'"},
		{in: `a.b,,c.d`, err: "item 2 is empty"},
		{in: `a.(b`, err: "missing closing )"},
	}
	for _, c := range cases {
		got, err := ParseTables(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %v, want an error containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != len(c.db) {
			t.Errorf("%q: got %v, %v", c.in, got, err)
			continue
		}
		for i := range got {
			if got[i].DB != c.db[i] || got[i].Table != c.table[i] {
				t.Errorf("%q item %d: got %s.%s, want %s.%s", c.in, i, got[i].DB, got[i].Table, c.db[i], c.table[i])
			}
		}
	}
}

func TestDocsCoverEveryField(t *testing.T) {
	reg := connectors.Registry()
	doc := Docs(reg)
	for _, tp := range reg.SourceTypes() {
		for _, f := range reg.Sources[tp].Spec.Fields {
			if !strings.Contains(doc, "`"+f.Name+"`") {
				t.Errorf("docs lack source %s field %s", tp, f.Name)
			}
		}
	}
	committed, err := os.ReadFile("../../docs/connectors.md")
	if err != nil || string(committed) != doc {
		t.Errorf("docs/connectors.md is not what `weir docs` prints; run: go run ./cmd/weir docs > docs/connectors.md")
	}
}
