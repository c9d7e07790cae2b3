package connector

import (
	"fmt"
	"regexp"
	"strings"
)

// TablePattern is one item of a `tables` list: a regular expression for the database (or
// schema) and one for the table, both matched against whole names.
type TablePattern struct {
	DB, Table     string // the regexes as written
	DBRe, TableRe *regexp.Regexp
	// Except are the tables left out whatever they match (tables.exclude; Exclude).
	Except []TablePattern
}

// Match reports whether db.table is selected by the pattern.
func (p TablePattern) Match(db, table string) bool {
	if !p.DBRe.MatchString(db) || !p.TableRe.MatchString(table) {
		return false
	}
	for _, x := range p.Except {
		if x.Match(db, table) {
			return false
		}
	}
	return true
}

// Exclude leaves the tables the list exclude selects out of every pattern (Flink CDC's
// tables.exclude, in the syntax of ParseTables).
func Exclude(patterns []TablePattern, exclude string) ([]TablePattern, error) {
	if strings.TrimSpace(exclude) == "" {
		return patterns, nil
	}
	except, err := ParseTables(exclude)
	if err != nil {
		return nil, fmt.Errorf("tables.exclude: %w", err)
	}
	out := make([]TablePattern, len(patterns))
	for i, p := range patterns {
		p.Except = except
		out[i] = p
	}
	return out, nil
}

func (p TablePattern) String() string { return p.DB + "." + p.Table }

// ParseTables parses Flink CDC's table list: comma-separated items, each split into a
// database and a table regex at its first unescaped '.'. As in Flink CDC, an escaped dot
// `\.` does not split and stands for the regex '.' (any character): `db.\.*` is every
// table of db, `db\.x.t` matches the database db.x and also dbAx, and `shop.a\.b`
// matches shop.axb too. A literal dot is written as a class, `[.]`, where a dot does not
// split either: `shop.a[.]b` is the table a.b alone. Commas inside {…} (a
// regex repetition such as \d{1,3}) do not split items.
func ParseTables(s string) ([]TablePattern, error) {
	var out []TablePattern
	for i, item := range SplitItems(s) {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("item %d is empty; write db.table items separated by commas", i+1)
		}
		db, table, ok := splitFirstDot(item)
		if !ok {
			return nil, fmt.Errorf("item '%s' has no '.' between database and table; write e.g. shop.orders or shop.orders_\\d+", item)
		}
		if db == "" || table == "" {
			return nil, fmt.Errorf("item '%s': the database and the table must both be given, as in shop.orders", item)
		}
		db, table = strings.ReplaceAll(db, `\.`, "."), strings.ReplaceAll(table, `\.`, ".")
		p := TablePattern{DB: db, Table: table}
		var err error
		if p.DBRe, err = regexp.Compile("^(?:" + db + ")$"); err != nil {
			return nil, fmt.Errorf("item '%s': database regex '%s': %v", item, db, RegexpError(err))
		}
		if p.TableRe, err = regexp.Compile("^(?:" + table + ")$"); err != nil {
			if strings.HasPrefix(table, "*") || strings.HasPrefix(table, "+") { // shop.* or shop\..*: the selectors people write first
				db := strings.TrimSuffix(strings.TrimSuffix(p.DB, "."), `\`)
				return nil, fmt.Errorf("item '%s': table regex '%s' repeats nothing; for every table of %s write %s.\\.* "+
					"(the first unescaped dot splits database from table, and \\. is the regex .)", item, table, db, db)
			}
			return nil, fmt.Errorf("item '%s': table regex '%s': %v", item, table, RegexpError(err))
		}
		out = append(out, p)
	}
	return out, nil
}

// SplitItems splits s at commas outside braces.
func SplitItems(s string) []string {
	var items []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	return append(items, s[start:])
}

// splitFirstDot splits at the first '.' not escaped by a backslash.
func splitFirstDot(s string) (string, string, bool) {
	class := false // inside [...], where a dot is a dot: a[.]b
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case class:
			class = c != ']'
		case c == '[':
			class = true
		case c == '.':
			return s[:i], s[i+1:], true
		}
	}
	if class { // an unclosed [: split where it would be without classes, for the regex error
		return splitFirstDotPlain(s)
	}
	return "", "", false
}

func splitFirstDotPlain(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '.':
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// RegexpError shortens regexp's error text: "error parsing regexp: missing closing ): `(a`"
// becomes "missing closing )".
func RegexpError(err error) string {
	s := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
	if i := strings.Index(s, ": `"); i >= 0 {
		s = s[:i]
	}
	return s
}

// KeyColumns is scan.incremental.snapshot.chunk.key-column: the unique NOT NULL column
// that stands in for the primary key of tables without one — one name for every such
// table, or Flink CDC's form db.table:col, … with a column per table (the tables in the
// syntax of ParseTables).
type KeyColumns struct {
	all string
	per []keyColumn
}

type keyColumn struct {
	tables []TablePattern
	column string
}

// ParseKeyColumns parses the setting ("" : none).
func ParseKeyColumns(s string) (KeyColumns, error) {
	var k KeyColumns
	s = strings.TrimSpace(s)
	if s == "" {
		return k, nil
	}
	if !strings.Contains(s, ":") {
		if strings.ContainsAny(s, ",.") {
			return k, fmt.Errorf("%q: write one column name, or db.table:column items separated by commas", s)
		}
		k.all = s
		return k, nil
	}
	for _, item := range SplitItems(s) {
		i := strings.LastIndexByte(item, ':')
		if i < 0 {
			return k, fmt.Errorf("item %q has no ':column': write db.table:column", strings.TrimSpace(item))
		}
		tables, err := ParseTables(item[:i])
		if err != nil {
			return k, fmt.Errorf("item %q: %w", strings.TrimSpace(item), err)
		}
		col := strings.TrimSpace(item[i+1:])
		if col == "" {
			return k, fmt.Errorf("item %q names no column after ':'", strings.TrimSpace(item))
		}
		k.per = append(k.per, keyColumn{tables: tables, column: col})
	}
	return k, nil
}

// For returns the key column of db.table ("" : none).
func (k KeyColumns) For(db, table string) string {
	for _, p := range k.per {
		for _, t := range p.tables {
			if t.Match(db, table) {
				return p.column
			}
		}
	}
	return k.all
}

// Set reports whether any key column is configured.
func (k KeyColumns) Set() bool { return k.all != "" || len(k.per) > 0 }
