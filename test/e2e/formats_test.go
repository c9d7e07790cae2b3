package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/testenv"
)

// TestDebeziumRecordsConform: every row of the MySQL and PostgreSQL type tables, written
// as debezium-json by the file sink, holds in each column a value of the Connect type
// its own schema declares — what Kafka Connect's JsonConverter checks when it reads a
// record (and Flink's debezium-json relies on): integers in their width, base64 for
// bytes (Decimal's unscaled value too), VariableScaleDecimal's struct, arrays of their
// items, null only where the field is optional. Written as canal-json, each is Canal's
// shape (checkCanalFile).
func TestDebeziumRecordsConform(t *testing.T) {
	t.Run("mariadb", func(t *testing.T) {
		m, err := testenv.StartMariaDB()
		if err != nil {
			t.Fatal(err)
		}
		defer m.Stop()
		if err := m.Exec("", fmt.Sprintf(pgTypeTable, pgTypeRows(1))); err != nil {
			t.Fatal(err)
		}
		source := fmt.Sprintf("source:\n  type: mariadb\n  hostname: 127.0.0.1\n  port: %d\n  username: root\n  tables: types.t\n", m.Port)
		checkDebeziumFile(t, source, 3)
		checkCanalFile(t, source, 3)
	})
	t.Run("postgres", func(t *testing.T) {
		pg, err := testenv.StartPostgres()
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Stop()
		ctx := context.Background()
		if err := pg.Exec(ctx, "postgres", "CREATE DATABASE types"); err != nil {
			t.Fatal(err)
		}
		if err := pg.Exec(ctx, "types", strings.Replace(pgSourceTypes, "$EXTRA$", pgOnlyRows, 1)); err != nil {
			t.Fatal(err)
		}
		source := fmt.Sprintf("source:\n  type: postgres\n  hostname: 127.0.0.1\n  port: %d\n  username: postgres\n  tables: types.public.t\n", pg.Port)
		checkDebeziumFile(t, source, 4)
		checkCanalFile(t, source, 4)
	})
}

// checkDebeziumFile copies the source block's tables once (BATCH) into debezium-json
// files and checks each record against its schema, and the snapshot's marks: one first,
// one last.
func checkDebeziumFile(t *testing.T, source string, rows int) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), source+"sink:\n  type: file\n  path: ./out\n  format: debezium-json\npipeline:\n  name: dbz\n  execution.runtime-mode: batch\n")
	if code, out := runWeir(t, dir, "run", "--progress", "off", "p.yaml"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	recs := debeziumRecords(t, filepath.Join(dir, "out"))
	if len(recs) != rows {
		t.Fatalf("%d records, want %d", len(recs), rows)
	}
	marks := map[string]int{}
	for _, rec := range recs {
		marks[rec.source()["snapshot"].(string)]++
	}
	if want := map[string]int{"first": 1, "last": 1, "true": rows - 2}; !reflect.DeepEqual(marks, want) {
		t.Errorf("source.snapshot of the reads %v, want %v", marks, want)
	}
}

// checkCanalFile copies the source block's tables once into canal-json files and checks
// each record as Canal writes it: every column in data, mysqlType and sqlType, each value
// a string or null (Flink's canal-json parses the strings by the column's type).
func checkCanalFile(t *testing.T, source string, rows int) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), source+"sink:\n  type: file\n  path: ./out\n  format: canal-json\npipeline:\n  name: canal\n  execution.runtime-mode: batch\n")
	if code, out := runWeir(t, dir, "run", "--progress", "off", "p.yaml"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "out", "*.jsonl"))
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var rec struct {
				Data      []map[string]any
				MysqlType map[string]string
				SQLType   map[string]int `json:"sqlType"`
				Type      string
				IsDdl     bool
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if rec.Type != "INSERT" || rec.IsDdl || len(rec.Data) != 1 {
				t.Fatalf("not one row's INSERT: %s", line)
			}
			for col, v := range rec.Data[0] {
				if _, ok := v.(string); !ok && v != nil {
					t.Errorf("%s: %v is neither a string nor null", col, v)
				}
				if _, ok := rec.MysqlType[col]; !ok {
					t.Errorf("%s has no mysqlType", col)
				}
				if _, ok := rec.SQLType[col]; !ok {
					t.Errorf("%s has no sqlType", col)
				}
			}
			if len(rec.MysqlType) != len(rec.Data[0]) {
				t.Errorf("%d columns in data, %d in mysqlType", len(rec.Data[0]), len(rec.MysqlType))
			}
			n++
		}
	}
	if n != rows {
		t.Fatalf("%d records, want %d", n, rows)
	}
}

type debeziumRecord map[string]any

func (r debeziumRecord) payload() map[string]any { return r["payload"].(map[string]any) }
func (r debeziumRecord) source() map[string]any  { return r.payload()["source"].(map[string]any) }

// debeziumRecords reads the file sink's committed records in dir, each checked against
// its own Connect schema, whole.
func debeziumRecords(t *testing.T, dir string) []debeziumRecord {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var recs []debeziumRecord
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			d := json.NewDecoder(strings.NewReader(line))
			d.UseNumber()
			var rec debeziumRecord
			if err := d.Decode(&rec); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if err := conforms(rec["schema"].(map[string]any), rec["payload"]); err != nil {
				t.Errorf("%v\n%s", err, line)
			}
			recs = append(recs, rec)
		}
	}
	return recs
}

// TestDebeziumTransactionBlock: with provide.transaction.metadata, the changes of one
// MariaDB transaction across two tables carry its GTID as the transaction's id, their
// places among its changes (total_order) and among their table's (data_collection_order),
// as Debezium writes them; snapshot reads carry none, and their marks are Debezium's.
func TestDebeziumTransactionBlock(t *testing.T) {
	m, err := testenv.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if err := m.Exec("", `CREATE DATABASE shop;
		CREATE TABLE shop.a (id INT PRIMARY KEY, v INT); CREATE TABLE shop.b (id INT PRIMARY KEY, v INT);
		INSERT INTO shop.a VALUES (1, 1), (2, 2); INSERT INTO shop.b VALUES (1, 1);`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`source:
  type: mariadb
  hostname: 127.0.0.1
  port: %d
  username: root
  tables: shop.a, shop.b
sink:
  type: file
  path: ./out
  format: debezium-json
  debezium-json.provide.transaction.metadata: true
pipeline:
  name: dbz
  checkpoint.interval: 100ms
`, m.Port))
	p := start(t, dir, "run", "--progress", "off", "p.yaml")
	out := filepath.Join(dir, "out")
	count := func() int {
		files, _ := filepath.Glob(filepath.Join(out, "*.jsonl"))
		n := 0
		for _, f := range files {
			data, _ := os.ReadFile(f)
			n += strings.Count(string(data), "\n")
		}
		return n
	}
	waitFor(t, "the snapshot", time.Minute, func() bool { return count() == 3 || p.exited() })
	if err := m.Exec("", `BEGIN; INSERT INTO shop.a VALUES (3, 3); INSERT INTO shop.b VALUES (2, 2);
		UPDATE shop.a SET v = 10 WHERE id <= 2; COMMIT;`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the transaction", time.Minute, func() bool { return count() == 7 || p.exited() })
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	marks := map[string]int{}
	var stream []string
	gtids := map[string]bool{}
	for _, rec := range debeziumRecords(t, out) {
		pl, src := rec.payload(), rec.source()
		if pl["op"] == "r" {
			marks[src["snapshot"].(string)]++
			if pl["transaction"] != nil {
				t.Errorf("a snapshot read with a transaction block: %v", pl["transaction"])
			}
			continue
		}
		tx, _ := pl["transaction"].(map[string]any)
		if tx == nil {
			t.Fatalf("a change without its transaction block: %v", pl)
		}
		gtids[fmt.Sprint(tx["id"])] = true
		if tx["id"] != src["gtid"] {
			t.Errorf("transaction id %v where source.gtid is %v", tx["id"], src["gtid"])
		}
		stream = append(stream, fmt.Sprintf("%v %s.%v %v", tx["total_order"], src["table"], pl["op"], tx["data_collection_order"]))
	}
	slices.Sort(stream)
	if want := []string{"1 a.c 1", "2 b.c 1", "3 a.u 2", "4 a.u 3"}; !slices.Equal(stream, want) {
		t.Errorf("total_order table.op data_collection_order: %q, want %q", stream, want)
	}
	if len(gtids) != 1 {
		t.Errorf("transaction ids %v, want one", gtids)
	}
	if marks["first"] != 1 || marks["last"] != 1 || marks["first"]+marks["last"]+marks["true"]+marks["first_in_data_collection"]+marks["last_in_data_collection"] != 3 {
		t.Errorf("source.snapshot of the reads: %v, want one first and one last", marks)
	}
}

// conforms checks value v against Connect schema s as JsonConverter reads it.
func conforms(s map[string]any, v any) error {
	field, _ := s["field"].(string)
	if v == nil {
		if s["optional"] != true {
			return fmt.Errorf("%s: null in a field that is not optional", field)
		}
		return nil
	}
	switch typ := s["type"].(string); typ {
	case "int8", "int16", "int32", "int64":
		n, ok := v.(json.Number)
		i, err := n.Int64()
		bits := map[string]uint{"int8": 8, "int16": 16, "int32": 32, "int64": 64}[typ]
		if !ok || err != nil || bits < 64 && (i < -(1<<(bits-1)) || i >= 1<<(bits-1)) {
			return fmt.Errorf("%s: %v is not an %s", field, v, typ)
		}
	case "float", "double":
		n, ok := v.(json.Number)
		if _, err := n.Float64(); !ok || err != nil {
			if str, _ := v.(string); str != "NaN" && str != "Infinity" && str != "-Infinity" {
				return fmt.Errorf("%s: %v is not a %s", field, v, typ)
			}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %v is not a boolean", field, v)
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %v is not a string", field, v)
		}
	case "bytes":
		str, ok := v.(string)
		if _, err := base64.StdEncoding.DecodeString(str); !ok || err != nil {
			return fmt.Errorf("%s: %v is not base64", field, v)
		}
	case "array":
		items, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an array", field, v)
		}
		for _, x := range items {
			if err := conforms(s["items"].(map[string]any), x); err != nil {
				return fmt.Errorf("%s[]: %w", field, err)
			}
		}
	case "struct":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v is not a struct", field, v)
		}
		for _, f := range s["fields"].([]any) {
			fs := f.(map[string]any)
			if err := conforms(fs, obj[fs["field"].(string)]); err != nil {
				return fmt.Errorf("%s.%w", field, err)
			}
		}
	default:
		return fmt.Errorf("%s: unknown type %s", field, typ)
	}
	return nil
}
