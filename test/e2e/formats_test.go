package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/testenv"
)

// TestDebeziumRecordsConform: every row of the MySQL and PostgreSQL type tables, written
// as debezium-json by the file sink, holds in each column a value of the Connect type
// its own schema declares — what Kafka Connect's JsonConverter checks when it reads a
// record (and Flink's debezium-json relies on): integers in their width, base64 for
// bytes (Decimal's unscaled value too), VariableScaleDecimal's struct, arrays of their
// items, null only where the field is optional.
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
		checkDebeziumFile(t, fmt.Sprintf("source:\n  type: mariadb\n  hostname: 127.0.0.1\n  port: %d\n  username: root\n  tables: types.t\n", m.Port), 3)
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
		checkDebeziumFile(t, fmt.Sprintf("source:\n  type: postgres\n  hostname: 127.0.0.1\n  port: %d\n  username: postgres\n  tables: types.public.t\n", pg.Port), 4)
	})
}

// checkDebeziumFile copies the source block's tables once (BATCH) into debezium-json
// files and checks each record against its schema.
func checkDebeziumFile(t *testing.T, source string, rows int) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), source+"sink:\n  type: file\n  path: ./out\n  format: debezium-json\npipeline:\n  name: dbz\n  execution.runtime-mode: batch\n")
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
			d := json.NewDecoder(strings.NewReader(line))
			d.UseNumber()
			var rec map[string]any
			if err := d.Decode(&rec); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			after := rec["schema"].(map[string]any)["fields"].([]any)[1].(map[string]any)
			if err := conforms(after, rec["payload"].(map[string]any)["after"]); err != nil {
				t.Errorf("%v\n%s", err, line)
			}
			n++
		}
	}
	if n != rows {
		t.Fatalf("%d records, want %d", n, rows)
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
