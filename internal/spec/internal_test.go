package spec

import (
	"strings"
	"testing"
	"time"
)

func TestParseTables(t *testing.T) {
	cases := []struct {
		in        string
		db, table []string
		err       string
	}{
		{in: `shop.orders`, db: []string{"shop"}, table: []string{"orders"}},
		{in: ` shop.orders ,crm.users `, db: []string{"shop", "crm"}, table: []string{"orders", "users"}},
		{in: `shop_\d+.orders_\d{1,3}, crm.users`, db: []string{`shop_\d+`, "crm"}, table: []string{`orders_\d{1,3}`, "users"}},
		{in: `db\.x.t\.y`, db: []string{`db.x`}, table: []string{`t.y`}}, // as in Flink CDC, \. is the regex "."
		{in: `db.schema.table`, db: []string{"db"}, table: []string{"schema.table"}},
		{in: `(shop|crm).(a|b)_\d+`, db: []string{"(shop|crm)"}, table: []string{`(a|b)_\d+`}},
		{in: `.*.orders`, err: "the database and the table must both be given"},
		{in: `shop\,x.y`, db: []string{`shop\,x`}, table: []string{"y"}},
		{in: `orders`, err: "item 'orders' has no '.'"},
		{in: `db\.orders`, err: "has no '.'"},
		{in: `shop.`, err: "must both be given"},
		{in: `a.b,,c.d`, err: "item 2 is empty"},
		{in: `a.b,`, err: "item 2 is empty"},
		{in: ``, err: "item 1 is empty"},
		{in: `crm..*`, db: []string{"crm"}, table: []string{".*"}},
		{in: `adb.\.*`, db: []string{"adb"}, table: []string{".*"}},
		{in: `[app|web].order_\.*`, db: []string{"[app|web]"}, table: []string{"order_.*"}},
		{in: `\.+.orders`, db: []string{".+"}, table: []string{"orders"}},
		{in: `a.(b`, err: "item 'a.(b': table regex '(b': missing closing )"},
		{in: `a[.b`, err: "item 'a[.b': database regex 'a[': missing closing ]"},
	}
	for _, c := range cases {
		got, err := ParseTables(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %v, %v; want an error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != len(c.db) {
			t.Errorf("%q: got %v, %v", c.in, got, err)
			continue
		}
		for i := range got {
			if got[i].DB != c.db[i] || got[i].Table != c.table[i] {
				t.Errorf("%q item %d: got %s | %s, want %s | %s", c.in, i, got[i].DB, got[i].Table, c.db[i], c.table[i])
			}
		}
	}
}

func TestTableMatching(t *testing.T) {
	ps, err := ParseTables(`shop_\d+.orders_(eu|us), cfg\.v2.t\.x, crm..*`)
	if err != nil {
		t.Fatal(err)
	}
	re, err := wholeNameRegex(ps)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		db, table string
		want      bool
	}{
		{"shop_1", "orders_eu", true},
		{"shop_12", "orders_us", true},
		{"shop_", "orders_eu", false},
		{"shop_1", "orders_eux", false}, // whole names only
		{"xshop_1", "orders_eu", false},
		{"cfg.v2", "t.x", true}, // \. is the regex ".", as in Flink CDC
		{"cfgXv2", "tYx", true},
		{"cfg.v3", "t.x", false},
		{"crm", "anything", true},
		{"crm2", "anything", false},
	} {
		matched := false
		for _, p := range ps {
			matched = matched || p.Match(c.db, c.table)
		}
		if matched != c.want {
			t.Errorf("patterns match %s | %s: %v, want %v", c.db, c.table, matched, c.want)
		}
		if got := re.MatchString(c.db + "." + c.table); got != c.want {
			t.Errorf("%s matches %q: %v, want %v", re, c.db+"."+c.table, got, c.want)
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := func(name string) (string, bool) {
		switch name {
		case "A":
			return "x", true
		case "EMPTY":
			return "", true
		case "B_2":
			return "${A}", true // not expanded again
		}
		return "", false
	}
	cases := []struct {
		in, want, err string
		secret        string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "x"},
		{in: "a${A}b${A}", want: "axbx"},
		{in: "${A}${EMPTY}${B_2}", want: "x${A}"},
		{in: "$${A}", want: "${A}"},
		{in: "cost: $5 and $${HOME}", want: "cost: $5 and ${HOME}"},
		{in: "$A", want: "$A"},
		{in: "${MISSING}", err: "environment variable MISSING is not set"},
		{in: "${}", err: `"${}" is not an environment variable reference`},
		{in: "${1X}", err: `"${1X}" is not an environment variable reference`},
		{in: "${A", err: `"${A" has a ${ without its closing }`},
		{in: "pw${A", secret: "password", err: "the value of password has a ${ without its closing }"},
		{in: "${a-b}", secret: "password", err: "the value of password is not an environment variable reference"},
	}
	for _, c := range cases {
		got, msgs := expandEnv(c.in, env, c.secret)
		if c.err != "" {
			if len(msgs) != 1 || !strings.HasPrefix(msgs[0], c.err) {
				t.Errorf("%q: got %q, %q; want the problem %q", c.in, got, msgs, c.err)
			}
			continue
		}
		if got != c.want || len(msgs) != 0 {
			t.Errorf("%q: got %q, %q; want %q", c.in, got, msgs, c.want)
		}
	}
	// Every bad reference is reported, not only the first.
	if _, msgs := expandEnv("${X} ${Y}", env, ""); len(msgs) != 2 {
		t.Errorf("two unset variables: %q", msgs)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "1_000": 1000, "10B": 10, "64KiB": 64 << 10, "4MiB": 4 << 20, "1GiB": 1 << 30,
		"2TiB": 2 << 40, "1KB": 1 << 10, "5 MB": 5 << 20, "3GB": 3 << 30, "64mb": 64 << 20, "1 gb": 1 << 30, "2k": 2 << 10,
		"1kibibytes": 1 << 10, "7 bytes": 7,
	} {
		if got, ok := parseBytes(in); !ok || got != want {
			t.Errorf("%q: got %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "64 megs", "9999999999GiB", "1 mb 2"} {
		if got, ok := parseBytes(in); ok {
			t.Errorf("%q: got %d, want an error", in, got)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5s": 5 * time.Second, "1m30s": 90 * time.Second, "500ms": 500 * time.Millisecond, // Go's
		"30000": 30 * time.Second, "1min": time.Minute, "30 s": 30 * time.Second, "5 min": 5 * time.Minute, // Flink's
		"1h": time.Hour, "2 d": 48 * time.Hour, "3 days": 72 * time.Hour, "10 SECONDS": 10 * time.Second, "250 millis": 250 * time.Millisecond,
	} {
		if got, ok := parseDuration(in); !ok || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "s", "5 fortnights", "-1s x", "1.5 min"} {
		if got, ok := parseDuration(in); ok {
			t.Errorf("%q: got %v, want an error", in, got)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"hostname", "port", "scan.startup.mode", "tables"}
	for in, want := range map[string]string{
		"hostanme":          `; did you mean "hostname"?`,
		"prot":              `; did you mean "port"?`,
		"scan.startup-mode": `; did you mean "scan.startup.mode"?`,
		"TABLES":            `; did you mean "tables"?`,
		"colour":            "",
		"x":                 "",
		"tabels":            `; did you mean "tables"?`,
		// Not typos: another word, or a word more.
		"scan.stop.mode":                        "",
		"scan.binlog.newly-added-table.enabled": "",
	} {
		if got := didYouMean(in, append(keys, "scan.newly-added-table.enabled")); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	if got := didYouMean("earliest-offset", []string{"initial", "latest-offset", "snapshot"}); got != "" {
		t.Errorf("earliest-offset: got %q, want no suggestion", got)
	}
	if d := levenshtein("kitten", "sitting"); d != 3 {
		t.Errorf("levenshtein = %d", d)
	}
}

// TestYAMLSyntaxLines checks that a syntax error is reported at the line it is on,
// although yaml.v3 reports some of them one line early.
func TestYAMLSyntaxLines(t *testing.T) {
	for _, c := range []struct {
		yaml string
		line int
	}{
		{"source:\n  type: datagen\n  tables: [demo.orders\nsink:\n  type: console\n", 3}, // the unclosed [
		{"source:\n  type: datagen\n  tables: x\n rows: 1\n", 4},
		{"a: 1\n- b\n", 2},
		{"source:\n  type: datagen\n   tables: x\n", 3},
		{"source:\n  type: 'datagen\n", 2},
		{"a: 1\n  b: 2\n", 2},
	} {
		p := &parser{file: "f.yaml"}
		if root := p.document([]byte(c.yaml)); root != nil || len(p.problems) != 1 {
			t.Errorf("%q: got %v, %v", c.yaml, root, p.problems)
			continue
		}
		if got := p.problems[0]; got.Line != c.line || !strings.HasPrefix(got.Msg, "not valid YAML: ") {
			t.Errorf("%q: got %s, want line %d", c.yaml, got, c.line)
		}
	}
}
