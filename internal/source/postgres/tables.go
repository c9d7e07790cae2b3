package postgres

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/connector"
)

// selection reads the tables list as Flink CDC's PostgreSQL connector writes it: items
// schema.table, or db.schema.table with the database first. It returns the database to
// read — database-name, or the one the three-part items name — and the schema.table
// patterns. A replication slot reads one database: items naming two are refused.
func selection(tables, database string) (string, []connector.TablePattern, error) {
	var named []string // the databases three-part items name
	var items []string
	for _, item := range connector.SplitItems(tables) {
		item = strings.TrimSpace(item)
		parts := splitDots(item)
		if len(parts) == 3 && !compiles(parts[2]) {
			parts = nil // schema.table whose table regex has a dot of its own: public.m.*
		}
		if len(parts) == 3 {
			if !plainName.MatchString(parts[0]) {
				return "", nil, fmt.Errorf("item '%s': the database %s must be a name, not a pattern: a replication slot reads one database", item, parts[0])
			}
			if !slices.Contains(named, parts[0]) {
				named = append(named, parts[0])
			}
			item = parts[1] + "." + parts[2]
		}
		items = append(items, item)
	}
	patterns, err := connector.ParseTables(strings.Join(items, ","))
	if err != nil {
		return "", nil, err
	}
	switch {
	case len(named) > 1:
		return "", nil, fmt.Errorf("the items name databases %s: a replication slot reads one database; run one pipeline per database", strings.Join(named, " and "))
	case len(named) == 1 && database != "" && database != named[0]:
		return "", nil, fmt.Errorf("the items name database %s, but database-name is %s: write one of them", named[0], database)
	case len(named) == 1:
		database = named[0]
	case database == "":
		return "", nil, fmt.Errorf("no database: set database-name, or write the items as db.schema.table (e.g. shop.public.orders)")
	}
	return database, patterns, nil
}

// compiles reports whether s is a regex.
func compiles(s string) bool {
	_, err := regexp.Compile(s)
	return err == nil
}

// plainName is a database name written without regex characters.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_$-]+$`)

// splitDots splits an item at its unescaped dots.
func splitDots(item string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(item); i++ {
		switch item[i] {
		case '\\':
			i++
		case '.':
			parts = append(parts, item[start:i])
			start = i + 1
		}
	}
	return append(parts, item[start:])
}

// lint checks the source's settings with the file alone (connector.Spec.Lint).
func lint(cfg *connector.Config) []connector.FieldProblem {
	out := append(connector.MetadataList(cfg, "op_ts", "database_name", "schema_name", "table_name"), connector.LintFlink(cfg)...)
	if _, _, err := selection(cfg.String("tables"), cfg.String("database-name")); err != nil {
		field := "tables"
		if strings.Contains(err.Error(), "database-name") && !cfg.IsSet("database-name") {
			field = "database-name"
		}
		out = append(out, connector.FieldProblem{Field: field, Msg: err.Error()})
	}
	if p := cfg.String("decoding.plugin.name"); cfg.IsSet("decoding.plugin.name") && p != "pgoutput" {
		out = append(out, connector.FieldProblem{Field: "decoding.plugin.name", Msg: fmt.Sprintf("weir reads changes with pgoutput, "+
			"which PostgreSQL 10+ has built in; %s is not supported (decoderbufs and wal2json need a server extension and "+
			"lose types pgoutput keeps): remove the setting or write pgoutput", p)})
	}
	if cfg.IsSet("server-time-zone") {
		out = append(out, connector.FieldProblem{Field: "server-time-zone", Note: true,
			Msg: "not needed: PostgreSQL sends each timestamptz as an instant, and weir reads it in UTC"})
	}
	if cfg.IsSet("schema-change.enabled") {
		msg := "schema changes are followed as pipeline.schema.change.behavior says"
		if !cfg.Bool("schema-change.enabled") {
			msg = "false leaves schema changes out only with pipeline.schema.change.behavior: ignore; weir still reads each table's new columns to decode its rows"
		}
		out = append(out, connector.FieldProblem{Field: "schema-change.enabled", Note: true, Msg: msg})
	}
	return out
}
