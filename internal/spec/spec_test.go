// The tests that need the real connector registry live in package spec_test: package
// connectors imports connectors that import spec.
package spec_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/connectors"
	"github.com/weir-data/weir/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the .bad.txt goldens of testdata/**/*.bad.yaml")

const secret = "hunter2" // the value of every secret in the tests; it must never be printed

func testEnv(name string) (string, bool) {
	switch name {
	case "WEIR_TEST_TABLES":
		return "demo.orders", true
	case "WEIR_TEST_SECRET":
		return secret, true
	case "WEIR_TEST_EMPTY":
		return "", true
	case "WEIR_TEST_BIG":
		return "123456", true
	}
	return "", false
}

// golden parses each file matching pattern and compares its problems with the file's
// .txt sibling; -update rewrites the siblings.
func golden(t *testing.T, pattern string, reg *connector.Registry) {
	files, _ := filepath.Glob(pattern)
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".bad.yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = spec.Parse(f, data, reg, testEnv)
			if !spec.IsProblems(err) {
				t.Fatalf("want problems, got %v", err)
			}
			got := err.Error() + "\n"
			if strings.Contains(got, secret) {
				t.Fatalf("a secret was printed:\n%s", got)
			}
			want := strings.TrimSuffix(f, ".yaml") + ".txt"
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
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

// TestBadFiles checks one file per kind of mistake against the real connectors.
// test/e2e runs the same files through `weir validate`.
func TestBadFiles(t *testing.T) { golden(t, "testdata/*.bad.yaml", connectors.Registry()) }

// testRegistry has a source with the field types and secrets no built-in connector has.
func testRegistry() *connector.Registry {
	vault := connector.Spec{Type: "vault", Summary: "A test source.", Fields: []connector.Field{
		{Name: "password", Type: connector.TypeString, Secret: true},
		{Name: "pin", Type: connector.TypeInt, Secret: true, Max: connector.Int64(9999)},
		{Name: "secret-tables", Type: connector.TypeTables, Secret: true},
		{Name: "tables", Type: connector.TypeTables, Example: "shop.orders"},
		{Name: "include", Type: connector.TypeRegex, Example: `^orders_\d+$`},
		{Name: "ratio", Type: connector.TypeFloat, Default: "0.5"},
		{Name: "topics", Type: connector.TypeList},
	}}
	reg := connectors.Registry()
	reg.Sources["vault"] = &connector.SourceDef{Spec: vault}
	return reg
}

func TestBadFilesTestRegistry(t *testing.T) { golden(t, "testdata/testreg/*.bad.yaml", testRegistry()) }

func parseFile(t *testing.T, path string, reg *connector.Registry) *spec.Pipeline {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := spec.Parse(path, data, reg, testEnv)
	if err != nil {
		t.Fatalf("%s:\n%v", path, err)
	}
	return p
}

func TestGoodFull(t *testing.T) {
	p := parseFile(t, "testdata/good-full.good.yaml", connectors.Registry())
	src := p.Source.Config
	if p.Source.Type != "datagen" || p.Source.Name != "generated orders" || p.Source.Line != 1 || p.Source.Col != 1 {
		t.Errorf("source: %+v", p.Source)
	}
	if got := src.List("tables"); len(got) != 2 || got[0] != "demo.orders" || got[1] != "demo.users" {
		t.Errorf("tables (with ${WEIR_TEST_TABLES}) = %q", got)
	}
	if src.Int("rows") != 1000 || src.Int("changes-per-second") != 50 || src.Int("max-changes") != 0 {
		t.Errorf("rows %d, changes-per-second %d, max-changes %d", src.Int("rows"), src.Int("changes-per-second"), src.Int("max-changes"))
	}
	if v := src.Values["scan.startup.mode"]; v.Str != "initial" || v.Set || v.Line != 0 || v.Raw != "initial" {
		t.Errorf("default startup mode: %+v", v)
	}
	if v := src.Values["rows"]; v.Raw != "1_000" || !v.Set || v.Line != 5 || v.Col != 9 || src.Where("rows") != "line 5, column 9" {
		t.Errorf("rows value: %+v", v)
	}
	if p.Sink.Config.String("path") != "./out/${literal}" || p.Sink.Config.Bool("fsync") {
		t.Errorf("sink path %q (want $${ kept as a literal ${), fsync %v", p.Sink.Config.String("path"), p.Sink.Config.Bool("fsync"))
	}
	if p.Name != "full.pipeline-1" || p.Parallelism != 4 || p.CheckpointInterval != 250*time.Millisecond ||
		p.BatchMaxBytes != 8<<20 || p.QueueMaxBytes != 1<<30 || p.SchemaChangeBehavior != "evolve" ||
		p.BatchMaxRows != 4096 || p.BatchMaxDelay != 100*time.Millisecond || p.RestartBackoffInitial != 2*time.Second ||
		p.RestartBackoffMax != time.Minute || p.RestartMaxAttempts != 10 || p.LocalTimeZone.String() != "Asia/Shanghai" {
		t.Errorf("pipeline settings: %+v", p)
	}

	if len(p.Routes) != 2 {
		t.Fatalf("routes: %+v", p.Routes)
	}
	r := p.Routes[0]
	if r.SinkTable != "dw.orders" || r.Description != "merge the shards" || r.Line != 13 || r.Col != 5 || len(r.SourceTables) != 2 {
		t.Errorf("route 0: %+v", r)
	}
	for name, want := range map[string]bool{
		"shop_12.orders_7": true, "shop_1234.orders_7": false, "shop_1.orders_": false,
		"shop.x.y": true, "shopXx.y": true, "shop.x.z": false, // \. is the regex "."
	} {
		if got := r.SourceRegex.MatchString(name); got != want {
			t.Errorf("route 0 SourceRegex %s matches %q: %v, want %v", r.SourceRegex, name, got, want)
		}
	}
	if !r.SourceTables[0].Match("shop_12", "orders_7") || r.SourceTables[0].Match("shop_1234", "orders_7") ||
		!r.SourceTables[1].Match("shop.x", "y") || r.SourceTables[1].Match("shop.x", "z") {
		t.Errorf("route 0 patterns: %+v", r.SourceTables)
	}
	if r := p.Routes[1]; r.ReplaceSymbol != "<>" || r.SinkTable != "ods.ods_<>" || !r.SourceRegex.MatchString("crm.users") {
		t.Errorf("route 1: %+v", r)
	}

	if len(p.Transforms) != 1 {
		t.Fatalf("transforms: %+v", p.Transforms)
	}
	tr := p.Transforms[0]
	if tr.Projection != "*, UPPER(status) AS s" || tr.Filter != "amount > 0" || tr.PrimaryKeys != "id, s" ||
		tr.PartitionKeys != "s" || tr.Description != "upper" || tr.Line != 18 || !tr.SourceRegex.MatchString("demo.orders") ||
		tr.SourceRegex.MatchString("demo.orders2") {
		t.Errorf("transform: %+v", tr)
	}
}

func TestDefaultsAndName(t *testing.T) {
	p := parseFile(t, "testdata/good-minimal.good.yaml", connectors.Registry())
	if p.Name != "good-minimal.good" || p.Parallelism != 2 || p.CheckpointInterval != 5*time.Second ||
		p.SchemaChangeBehavior != "lenient" || p.BatchMaxRows != 4096 || p.BatchMaxBytes != 4<<20 ||
		p.BatchMaxDelay != 100*time.Millisecond || p.QueueMaxBytes != 64<<20 || p.RestartBackoffInitial != time.Second ||
		p.RestartBackoffMax != time.Minute || p.RestartMaxAttempts != 0 || p.LocalTimeZone != time.UTC {
		t.Errorf("defaults: %+v", p)
	}
	for _, f := range spec.PipelineSpec.Fields {
		v := p.Settings.Values[f.Name]
		if f.Default == "" {
			if v != nil {
				t.Errorf("%s has a value without a default: %+v", f.Name, v)
			}
			continue
		}
		if v == nil || v.Set || v.Line != 0 || v.Raw != f.Default {
			t.Errorf("default of %s: %+v", f.Name, v)
		}
	}
	if p.Routes != nil || p.Transforms != nil {
		t.Errorf("routes %v, transforms %v", p.Routes, p.Transforms)
	}

	for file, want := range map[string]string{
		"my pipeline (copy).yaml": "my-pipeline-copy",
		"/etc/weir/orders.yml":    "orders",
		"__.yaml":                 "pipeline",
	} {
		p, err := spec.Parse(file, []byte("source: {type: datagen, tables: a.b}\nsink: {type: console}\n"), connectors.Registry(), testEnv)
		if err != nil || p.Name != want {
			t.Errorf("name from %q: %v, %v; want %q", file, p, err, want)
		}
	}
}

// TestListsAndTypes checks the value types no built-in connector has, and YAML lists.
func TestListsAndTypes(t *testing.T) {
	p := parseFile(t, "testdata/testreg/types.good.yaml", testRegistry())
	cfg := p.Source.Config
	if got := cfg.List("topics"); len(got) != 2 || got[0] != "a, b" || got[1] != "c" {
		t.Errorf("topics from a YAML list = %q", got)
	}
	if got := cfg.List("tables"); len(got) != 2 || got[0] != "shop.orders" || got[1] != `crm\.eu.users_\d{1,3}` {
		t.Errorf("tables from a YAML list = %q", got)
	}
	if re := cfg.Values["tables"].Re; re == nil || !re.MatchString("crm.eu.users_12") || re.MatchString("crm.eu.users_1234") {
		t.Errorf("tables regex %v", re)
	}
	if v := cfg.Values["include"]; v.Str != `^orders_\d+$` || v.Re == nil || !v.Re.MatchString("orders_1") {
		t.Errorf("include: %+v", v)
	}
	if cfg.Float("ratio") != 0.25 || cfg.String("password") != "" || !cfg.IsSet("password") {
		t.Errorf("ratio %v, password %q", cfg.Float("ratio"), cfg.String("password"))
	}
}

func TestSecretsAreNeverPrinted(t *testing.T) {
	reg := testRegistry()
	p, err := spec.Parse("x.yaml", []byte("source:\n  type: vault\n  password: ${WEIR_TEST_SECRET}\n  pin: 1234\nsink:\n  type: console\n"), reg, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source.Config.String("password") != secret || p.Source.Config.Int("pin") != 1234 {
		t.Fatal("the secrets were not read")
	}
	r := p.Redacted()
	if strings.Contains(r, secret) || strings.Contains(r, "1234") ||
		!strings.Contains(r, "  password: '******'\n") || !strings.Contains(r, "  pin: '******'\n") {
		t.Fatalf("redacted config:\n%s", r)
	}
}

func TestRedacted(t *testing.T) {
	p := parseFile(t, "testdata/good-full.good.yaml", connectors.Registry())
	got := p.Redacted()
	for _, want := range []string{
		"source:\n  type: datagen\n  name: generated orders\n  tables: demo.orders, demo.users\n  rows: 1_000\n",
		"  scan.startup.mode: initial  # default\n",
		"sink:\n  type: file\n  path: ./out/$${literal}\n  fsync: false\n",
		"route:\n  - source-table: shop_\\d{1,3}.orders_\\d+, shop\\.x.y\n    sink-table: dw.orders\n    description: merge the shards\n",
		"transform:\n  - source-table: demo.orders\n    projection: '*, UPPER(status) AS s'\n    filter: amount > 0\n",
		"pipeline:\n  name: full.pipeline-1\n  parallelism: 4\n  checkpoint.interval: 250ms\n",
		"  batch.max-bytes: 8MiB\n",
		"  batch.max-rows: 4096  # default\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("redacted config lacks\n%s\nin\n%s", want, got)
		}
	}
	// What it prints is a pipeline file that reads back the same.
	again, err := spec.Parse("again.yaml", []byte(got), connectors.Registry(), testEnv)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	noNotes := regexp.MustCompile(`  # default.*`)
	if a, b := noNotes.ReplaceAllString(again.Redacted(), ""), noNotes.ReplaceAllString(got, ""); a != b {
		t.Errorf("read back:\n%s\nfirst:\n%s", a, b)
	}

	// A multi-line value stays on one line, and reads back the same.
	multi := "source: {type: datagen, tables: a.b}\nsink: {type: console}\ntransform:\n  - source-table: a.b\n    projection: |\n      *,\n      'x' AS y\n"
	p, err = spec.Parse("multi.yaml", []byte(multi), connectors.Registry(), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Redacted(); !strings.Contains(got, "    projection: \"*,\\n'x' AS y\\n\"\n") {
		t.Errorf("multi-line projection:\n%s", got)
	} else if again, err := spec.Parse("again.yaml", []byte(got), connectors.Registry(), testEnv); err != nil || again.Transforms[0].Projection != "*,\n'x' AS y\n" {
		t.Errorf("read back: %v, %+v", err, again)
	}

	p = parseFile(t, "testdata/good-minimal.good.yaml", connectors.Registry())
	if got := p.Redacted(); !strings.Contains(got, "pipeline:\n  name: good-minimal.good  # default: the file's name\n") {
		t.Errorf("redacted minimal config:\n%s", got)
	}
}

// TestEveryConnectorParses checks each built-in connector's declaration: its defaults are
// valid values and a file with its required keys set to their examples parses.
func TestEveryConnectorParses(t *testing.T) {
	reg := connectors.Registry()
	block := func(key, typ string, s connector.Spec) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s:\n  type: %s\n", key, typ)
		for _, f := range s.Fields {
			if f.Required {
				if f.Example == "" {
					t.Errorf("%s %s: required field %s has no Example for messages and docs", key, typ, f.Name)
				}
				fmt.Fprintf(&b, "  %s: %q\n", f.Name, f.Example)
			}
		}
		return b.String()
	}
	for _, typ := range reg.SourceTypes() {
		file := block("source", typ, reg.Sources[typ].Spec) + "sink:\n  type: console\n"
		if _, err := spec.Parse("p.yaml", []byte(file), reg, testEnv); err != nil {
			t.Errorf("source %s:\n%s\n%v", typ, file, err)
		}
	}
	for _, typ := range reg.SinkTypes() {
		file := "source:\n  type: datagen\n  tables: demo.orders\n" + block("sink", typ, reg.Sinks[typ].Spec)
		if _, err := spec.Parse("p.yaml", []byte(file), reg, testEnv); err != nil {
			t.Errorf("sink %s:\n%s\n%v", typ, file, err)
		}
	}
}

func TestProblemsAreSortedAndFormatted(t *testing.T) {
	ps := spec.Problems{
		{File: "f.yaml", Line: 9, Col: 2, Path: "sink.path", Msg: "b"},
		{File: "f.yaml", Line: 3, Col: 7, Path: "source", Msg: "a"},
		{File: "f.yaml", Line: 3, Col: 1, Msg: "first"},
		{File: "f.yaml", Line: 4, Msg: "no column"},
		{File: "f.yaml", Msg: "the whole file"},
	}
	want := "f.yaml: the whole file\nf.yaml:3:1: first\nf.yaml:3:7: source: a\nf.yaml:4: no column\nf.yaml:9:2: sink.path: b"
	if got := ps.Error(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if err := error(ps); !spec.IsProblems(fmt.Errorf("load: %w", err)) {
		t.Error("IsProblems does not see a wrapped Problems")
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("WEIR_TEST_LOAD_TABLES", "demo.loaded")
	dir := t.TempDir()
	path := filepath.Join(dir, "loaded.yaml")
	if err := os.WriteFile(path, []byte("source:\n  type: datagen\n  tables: ${WEIR_TEST_LOAD_TABLES}\nsink:\n  type: console\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(path, connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	if p.File != path || p.Name != "loaded" || p.Source.Config.List("tables")[0] != "demo.loaded" {
		t.Errorf("loaded: %+v", p)
	}
	if _, err := spec.Load(filepath.Join(dir, "missing.yaml"), connectors.Registry()); err == nil || spec.IsProblems(err) {
		t.Errorf("a missing file: %v", err)
	}
}

func TestDocsCoverEveryField(t *testing.T) {
	reg := connectors.Registry()
	doc := spec.Docs(reg)
	specs := []connector.Spec{spec.PipelineSpec, spec.RouteSpec, spec.TransformSpec}
	for _, tp := range reg.SourceTypes() {
		specs = append(specs, reg.Sources[tp].Spec)
	}
	for _, tp := range reg.SinkTypes() {
		specs = append(specs, reg.Sinks[tp].Spec)
	}
	for _, s := range specs {
		if !strings.Contains(doc, "### `"+s.Type+"`") {
			t.Errorf("docs lack %s", s.Type)
		}
		for _, f := range s.Fields {
			if !strings.Contains(doc, "| `"+f.Name+"` |") {
				t.Errorf("docs lack %s field %s", s.Type, f.Name)
			}
		}
	}
	committed, err := os.ReadFile("../../docs/connectors.md")
	if err != nil || string(committed) != doc {
		t.Errorf("docs/connectors.md is not what `weir docs` prints; run: go run ./cmd/weir docs > docs/connectors.md")
	}
}

// TestFlinkForms: pipeline files as Flink CDC users write them (testdata/flink/*.yaml)
// parse, and read as their .txt golden says: the pipeline's identifier, and each value
// written, typed. -update rewrites the goldens.
func TestFlinkForms(t *testing.T) {
	files, _ := filepath.Glob("testdata/flink/*.yaml")
	if len(files) == 0 {
		t.Fatal("no files in testdata/flink")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			p := parseFile(t, f, connectors.Registry())
			var b strings.Builder
			fmt.Fprintf(&b, "pipeline %s (name: %s)\n", p.Name, p.Title)
			for _, blk := range []struct {
				key string
				cfg *connector.Config
			}{{"source", p.Source.Config}, {"sink", p.Sink.Config}, {"pipeline", p.Settings}} {
				for _, fld := range blk.cfg.Spec.Fields {
					v := blk.cfg.Values[fld.Name]
					if v == nil || !v.Set || fld.Name == "name" {
						continue
					}
					var typed any
					switch {
					case fld.Secret:
						typed = "(secret)"
					case fld.Type == connector.TypeDuration:
						typed = v.Dur
					case fld.Type == connector.TypeBytes, fld.Type == connector.TypeInt:
						typed = v.Int
					case fld.Type == connector.TypeBool:
						typed = v.Bool
					case fld.Type == connector.TypeList, fld.Type == connector.TypeTables:
						typed = strings.Join(v.List, " | ")
					default:
						typed = v.Str
					}
					fmt.Fprintf(&b, "%s.%s = %v\n", blk.key, fld.Name, typed)
				}
			}
			for _, tr := range p.Transforms {
				fmt.Fprintf(&b, "transform %s: projection %q, filter %q, soft delete %v\n", tr.SourceTable, tr.Projection, tr.Filter, tr.SoftDelete)
			}
			for _, n := range p.Notes {
				fmt.Fprintf(&b, "note: %s\n", n)
			}
			// What validate prints reads back the same.
			again, err := spec.Parse("again.yaml", []byte(p.Redacted()), connectors.Registry(), testEnv)
			if err != nil {
				t.Fatalf("the redacted file does not read back: %v\n%s", err, p.Redacted())
			}
			if len(again.Functions) != len(p.Functions) || len(again.Transforms) != len(p.Transforms) ||
				len(again.Transforms) > 0 && again.Transforms[0].SoftDelete != p.Transforms[0].SoftDelete {
				t.Fatalf("read back: functions %d (want %d), transforms %+v\n%s", len(again.Functions), len(p.Functions), again.Transforms, p.Redacted())
			}
			want := strings.TrimSuffix(f, ".yaml") + ".txt"
			if *update {
				if err := os.WriteFile(want, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(golden) {
				t.Fatalf("got:\n%s\nwant:\n%s", b.String(), golden)
			}
		})
	}
}

// TestOfflineWithUnsetVariables: validate --offline checks a file whose ${VARIABLES} are
// not set (CI has no secrets): each such value is noted as not checked, and the rest of
// the file still is.
func TestOfflineWithUnsetVariables(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	const yaml = "source:\n  type: mysql\n  hostname: ${WEIR_TEST_UNSET_HOST}\n  port: ${WEIR_TEST_UNSET_PORT}\n  username: root\n  password: ${WEIR_TEST_UNSET_PW}\n  tables:\n    - ${WEIR_TEST_UNSET_DB}.orders\nsink:\n  type: postgres\n  url: ${WEIR_TEST_UNSET_URL}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Load(file, connectors.Registry()); !spec.IsProblems(err) || !strings.Contains(err.Error(), "WEIR_TEST_UNSET_HOST is not set") {
		t.Fatalf("Load: %v", err)
	}
	p, err := spec.LoadUnset(file, connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Notes) != 5 || !strings.Contains(p.Notes[0], "source.hostname: ${WEIR_TEST_UNSET_HOST} not set") {
		t.Fatalf("notes %q", p.Notes)
	}
	if r := p.Redacted(); !strings.Contains(r, "  hostname: ${WEIR_TEST_UNSET_HOST}\n") || !strings.Contains(r, "  password: ${WEIR_TEST_UNSET_PW}\n") {
		t.Fatalf("redacted:\n%s", r)
	}
	// The rest of the file is checked all the same.
	bad := strings.Replace(yaml, "username: root", "username: root\n  scan.startup.mode: sometimes", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := spec.LoadUnset(file, connectors.Registry()); !spec.IsProblems(err) || !strings.Contains(err.Error(), "sometimes") {
		t.Fatalf("a bad value beside unset ones: %v", err)
	}
}

// TestFlinkCorpus: pipeline definitions from Flink CDC's own documentation and end-to-end
// tests (testdata/flinkcorpus, sinks weir lacks swapped for postgres; SOURCES.md says
// where each comes from) pass `weir validate --offline`, at least flinkCorpusFloor of
// them; each that does not fails with one message naming the Flink-only feature it
// needs (today only Java/Python user-defined functions, which a binary without a JVM
// cannot load). Those whose source weir lacks (other-source/) fail naming the source
// type.
func TestFlinkCorpus(t *testing.T) {
	const flinkCorpusFloor = 0.91 // 112 of 123 (2026-12); the other 11 declare Java or Python UDFs
	files, _ := filepath.Glob("testdata/flinkcorpus/*.yaml")
	if len(files) < 50 {
		t.Fatalf("the corpus has %d files", len(files))
	}
	passed := 0
	for _, f := range files {
		if _, err := spec.LoadUnset(f, connectors.Registry()); err != nil {
			t.Logf("%s:\n%v", filepath.Base(f), err)
			var probs spec.Problems
			if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Path != "pipeline.user-defined-function" {
				t.Errorf("%s fails otherwise than by one message naming a Flink-only feature:\n%v", filepath.Base(f), err)
			}
			continue
		}
		passed++
	}
	share := float64(passed) / float64(len(files))
	t.Logf("Flink CDC corpus: %d of %d definitions pass validate --offline (%.1f%%)", passed, len(files), 100*share)
	if share < flinkCorpusFloor {
		t.Errorf("%.1f%% of the corpus passes; the floor is %.0f%%", 100*share, 100*flinkCorpusFloor)
	}
	others, _ := filepath.Glob("testdata/flinkcorpus/other-source/*.yaml")
	for _, f := range others {
		if _, err := spec.LoadUnset(f, connectors.Registry()); err == nil || !strings.Contains(err.Error(), "unknown source type") {
			t.Errorf("%s: a source weir lacks: %v", filepath.Base(f), err)
		}
	}
}

// TestConnections: a block that names a connection takes its type and settings, the
// secret ones as they are (no ${…} expansion); the file may not set them again nor name
// another type; outside a server a connection is refused with what to write instead.
func TestConnections(t *testing.T) {
	reg := connectors.Registry()
	conns := func(name string) (string, map[string]string, error) {
		if name != "shop" {
			return "", nil, fmt.Errorf("no connection %q you may use", name)
		}
		return "mariadb", map[string]string{"hostname": "db.internal", "port": "3307", "username": "weir", "password": "p${HOME}w"}, nil
	}
	file := "source:\n  connection: shop\n  tables: shop.orders\nsink:\n  type: discard\n"
	p, err := spec.ParseWithConnections("p.yaml", []byte(file), reg, os.LookupEnv, conns)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Source.Config
	if p.Source.Type != "mariadb" || p.Source.Connection != "shop" || c.String("hostname") != "db.internal" || c.Int("port") != 3307 || c.String("password") != "p${HOME}w" {
		t.Fatalf("source %s (%s): %v", p.Source.Type, p.Source.Connection, c.Redacted())
	}
	if strings.Contains(fmt.Sprint(c.Redacted()), "p${HOME}w") {
		t.Fatal("the password shows in the redacted settings")
	}
	for bad, says := range map[string]string{
		"source:\n  connection: shop\n  hostname: evil.example\n  tables: a.b\nsink:\n  type: discard\n": "source.hostname: set by connection shop",
		"source:\n  connection: shop\n  type: postgres\n  tables: a.b\nsink:\n  type: discard\n":         "connection shop is of type mariadb",
		"source:\n  connection: other\n  tables: a.b\nsink:\n  type: discard\n":                          `no connection "other"`,
	} {
		_, err := spec.ParseWithConnections("p.yaml", []byte(bad), reg, os.LookupEnv, conns)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want it to say %q", bad, err, says)
		}
	}
	if _, err := spec.Parse("p.yaml", []byte(file), reg, os.LookupEnv); err == nil || !strings.Contains(err.Error(), "connections are a server's") {
		t.Errorf("weir run with a connection: %v", err)
	}
}
