package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// table is a selected table: its schema, its decoders and what the stream needs of it.
type table struct {
	schema *event.Schema
	cols   []*column
	oid    uint32
	// full says REPLICA IDENTITY FULL: an update's old row holds every column, so an
	// unchanged TOASTed value is taken from it.
	full bool
}

// newTable builds the decoders of a schema (from discovery or from a checkpoint): the
// column's SourceType names its PostgreSQL type, which fixes the decoder.
func newTable(s *event.Schema, types *typeCache) (*table, error) {
	t := &table{schema: s}
	for _, c := range s.Columns {
		pt := types.byName(c.SourceType)
		typ, dec := mapType(pt)
		t.cols = append(t.cols, &column{name: c.Name, typ: typ, dec: dec})
	}
	return t, nil
}

// typeCache resolves type OIDs and names to what mapType needs, once per type.
type typeCache struct {
	mu     sync.Mutex
	byOID  map[typeKey]pgType
	byText map[string]pgType
}

type typeKey struct {
	oid uint32
	mod int32
}

func newTypeCache() *typeCache {
	return &typeCache{byOID: map[typeKey]pgType{}, byText: map[string]pgType{}}
}

// resolve reads the type of a column (oid, typmod) from the catalog: domains resolve to
// their base, arrays to their element, enums bring their members.
func (tc *typeCache) resolve(ctx context.Context, q querier, oid uint32, mod int32) (pgType, error) {
	tc.mu.Lock()
	t, ok := tc.byOID[typeKey{oid, mod}]
	tc.mu.Unlock()
	if ok {
		return t, nil
	}
	var name string
	if err := q.QueryRow(ctx, "SELECT format_type($1, $2)", oid, mod).Scan(&name); err != nil {
		return t, fmt.Errorf("read the name of type %d: %w", oid, err)
	}
	t = pgType{Name: name, Mod: int(mod)}
	cur, curMod := oid, mod
	for range 10 {
		var typname, typtype, category string
		var base, elem uint32
		var baseMod int32
		err := q.QueryRow(ctx, `SELECT typname, typtype::text, typcategory::text, typbasetype, typelem, typtypmod
			FROM pg_type WHERE oid = $1`, cur).Scan(&typname, &typtype, &category, &base, &elem, &baseMod)
		if err != nil {
			return t, fmt.Errorf("read type %d: %w", cur, err)
		}
		if t.Def == "" && (typtype == "d" || typtype == "c") {
			if t.Def, err = typeDef(ctx, q, cur, typtype); err != nil {
				return t, err
			}
		}
		switch {
		case typtype == "d": // a domain: its base type, with the domain's modifier
			cur = base
			if curMod < 0 {
				curMod = baseMod
			}
			continue
		case category == "A" && elem != 0:
			t.Array = true
			cur = elem
			continue
		case typtype == "e":
			rows, err := q.Query(ctx, "SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder", cur)
			if err != nil {
				return t, fmt.Errorf("read the members of enum %s: %w", typname, err)
			}
			members, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return t, fmt.Errorf("read the members of enum %s: %w", typname, err)
			}
			t.Enum = append([]string{}, members...)
		}
		t.Base, t.Mod = typname, int(curMod)
		break
	}
	tc.mu.Lock()
	tc.byOID[typeKey{oid, mod}] = t
	tc.byText[t.Name] = t
	tc.mu.Unlock()
	return t, nil
}

// typeDef is how a sink of the same engine makes the domain or composite type oid
// (event.Column.TypeDef): "DOMAIN AS integer NOT NULL CONSTRAINT c CHECK (…)" or
// "TYPE AS (street text, zip integer)". "" when the type is built on types outside
// pg_catalog (another user type, an extension's): the sink then takes the unified
// mapping (the base type; text for a composite).
func typeDef(ctx context.Context, q querier, oid uint32, typtype string) (string, error) {
	var def string
	var builtin bool
	var err error
	if typtype == "d" {
		err = q.QueryRow(ctx, `SELECT 'DOMAIN AS ' || format_type(t.typbasetype, t.typtypmod)
				|| CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
				|| coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '' ORDER BY c.conname)
					FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'), ''),
			b.typnamespace = 'pg_catalog'::regnamespace
			FROM pg_type t JOIN pg_type b ON b.oid = t.typbasetype WHERE t.oid = $1`, oid).Scan(&def, &builtin)
	} else {
		err = q.QueryRow(ctx, `SELECT 'TYPE AS (' || string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) || ')',
			bool_and(f.typnamespace = 'pg_catalog'::regnamespace)
			FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid JOIN pg_type f ON f.oid = a.atttypid
			WHERE t.oid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, oid).Scan(&def, &builtin)
	}
	if err != nil {
		return "", fmt.Errorf("read the definition of type %d: %w", oid, err)
	}
	if !builtin {
		return "", nil
	}
	return def, nil
}

// byName returns the type a column's SourceType names: resolved earlier in this process,
// or else worked out from the name alone (a schema from a checkpoint, before the catalog
// was read: format_type's names of the built-in types say everything mapType needs).
func (tc *typeCache) byName(name string) pgType {
	tc.mu.Lock()
	t, ok := tc.byText[name]
	tc.mu.Unlock()
	if ok {
		return t
	}
	return parseTypeName(name)
}

var typeNameRe = regexp.MustCompile(`^([a-z ]+?)(?:\((\d+)(?:,(\d+))?\))?( with(?:out)? time zone)?((?:\[\])*)$`)

// builtinBase maps format_type's names of built-in types to pg_type names.
var builtinBase = map[string]string{
	"smallint": "int2", "integer": "int4", "bigint": "int8", "oid": "oid", "numeric": "numeric", "money": "money",
	"real": "float4", "double precision": "float8", "character varying": "varchar", "character": "bpchar",
	"text": "text", "name": "name", "bytea": "bytea", "boolean": "bool", "date": "date", "uuid": "uuid",
	"json": "json", "jsonb": "jsonb", "hstore": "hstore", "geometry": "geometry", "geography": "geography", "citext": "citext",
}

func parseTypeName(name string) pgType {
	t := pgType{Name: name, Mod: -1}
	m := typeNameRe.FindStringSubmatch(name)
	if m == nil {
		return t
	}
	base, p, s, zone, arr := m[1], m[2], m[3], m[4], m[5]
	t.Array = arr != ""
	switch base {
	case "timestamp", "time":
		t.Base = base
		if zone == " with time zone" {
			t.Base += "tz"
		}
		if p != "" {
			fmt.Sscan(p, &t.Mod)
		}
		return t
	}
	t.Base = builtinBase[base]
	if p != "" {
		var pi, si int
		fmt.Sscan(p, &pi)
		fmt.Sscan(s, &si)
		switch t.Base {
		case "numeric":
			t.Mod = (pi<<16 | si) + 4
		case "varchar", "bpchar":
			t.Mod = pi + 4
		}
	}
	return t
}

// querier is what discovery needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

var _ querier = (*pgxpool.Pool)(nil)

// discover lists the tables that match the patterns (partitioned tables by their root;
// partitions themselves never), with their schemas.
func (s *Source) discover(ctx context.Context, q querier) ([]*table, error) {
	rows, err := q.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	type name struct{ schema, table string }
	names, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (name, error) {
		var n name
		return n, r.Scan(&n.schema, &n.table)
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var out []*table
	for _, n := range names {
		if !matches(s.patterns, n.schema, n.table) {
			continue
		}
		t, err := s.describe(ctx, q, n.schema, n.table)
		if err != nil {
			return nil, err
		}
		if t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

func matches(patterns []connector.TablePattern, schema, table string) bool {
	for _, p := range patterns {
		if p.Match(schema, table) {
			return true
		}
	}
	return false
}

// describe reads one table's columns and key; nil when there is no such table.
func (s *Source) describe(ctx context.Context, q querier, schema, name string) (*table, error) {
	id := event.TableID{Namespace: s.database, Schema: schema, Table: name}
	var oid uint32
	var identText string
	err := q.QueryRow(ctx, `SELECT c.oid, c.relreplident::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, name).Scan(&oid, &identText)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", id, err)
	}
	ident := identText[0]
	if ident == 'n' {
		return nil, fmt.Errorf("table %s has REPLICA IDENTITY NOTHING: in a publication its updates and deletes fail on the server, "+
			"and no change would say which row it changes; run ALTER TABLE %s REPLICA IDENTITY DEFAULT (or FULL)", id, quoteTable(id))
	}
	rows, err := q.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attgenerated <> '',
			COALESCE(pg_get_expr(d.adbin, d.adrelid), '')
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", id, err)
	}
	type attr struct {
		name      string
		typ       uint32
		mod       int32
		notNull   bool
		generated bool
		def       string
	}
	attrs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (attr, error) {
		var a attr
		return a, r.Scan(&a.name, &a.typ, &a.mod, &a.notNull, &a.generated, &a.def)
	})
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", id, err)
	}
	sc := &event.Schema{ID: id}
	t := &table{schema: sc, oid: oid, full: ident == 'f'}
	for _, a := range attrs {
		if a.generated {
			continue // not in the logical replication stream (see types.go)
		}
		pt, err := s.types.resolve(ctx, q, a.typ, a.mod)
		if err != nil {
			return nil, fmt.Errorf("table %s, column %s: %w", id, a.name, err)
		}
		typ, dec := mapType(pt)
		sc.Columns = append(sc.Columns, event.Column{Name: a.name, Type: typ, Nullable: !a.notNull, SourceType: pt.Name, TypeDef: pt.Def, Default: literalDefault(a.def)})
		t.cols = append(t.cols, &column{name: a.name, typ: typ, dec: dec})
	}
	key, err := s.keyOf(ctx, q, oid, id, sc, ident)
	if err != nil {
		return nil, err
	}
	sc.Key = key
	if sc.Indexes, err = indexes(ctx, q, oid, id); err != nil {
		return nil, err
	}
	return t, nil
}

// indexes reads a table's secondary indexes on columns (not those on expressions, nor
// partial or invalid ones).
func indexes(ctx context.Context, q querier, oid uint32, id event.TableID) ([]event.Index, error) {
	rows, err := q.Query(ctx, `SELECT ic.relname, i.indisunique, am.amname, a.attname, (i.indoption[k.ord - 1] & 1) = 1
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1 AND NOT i.indisprimary AND i.indexprs IS NULL AND i.indpred IS NULL AND i.indisvalid AND k.ord <= i.indnkeyatts
		ORDER BY ic.relname, k.ord`, oid)
	if err != nil {
		return nil, fmt.Errorf("read the indexes of %s: %w", id, err)
	}
	defer rows.Close()
	var out []event.Index
	for rows.Next() {
		var name, method, col string
		var unique, desc bool
		if err := rows.Scan(&name, &unique, &method, &col, &desc); err != nil {
			return nil, fmt.Errorf("read the indexes of %s: %w", id, err)
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			if method == "btree" {
				method = ""
			}
			out = append(out, event.Index{Name: name, Unique: unique, Kind: method})
		}
		ix := &out[len(out)-1]
		ix.Columns = append(ix.Columns, event.IndexColumn{Name: col, Desc: desc})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the indexes of %s: %w", id, err)
	}
	return out, nil
}

// keyOf finds the key of a table: its primary key, else a REPLICA IDENTITY index, else
// the configured chunk key column. A table with none is refused, saying what to do.
func (s *Source) keyOf(ctx context.Context, q querier, oid uint32, id event.TableID, sc *event.Schema, ident byte) ([]int, error) {
	rows, err := q.Query(ctx, `SELECT a.attname FROM pg_index i
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident)
		ORDER BY i.indisprimary DESC, k.ord`, oid)
	if err != nil {
		return nil, fmt.Errorf("read the key of %s: %w", id, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read the key of %s: %w", id, err)
	}
	keyColumn := s.keyColumn.For(id.Schema, id.Table)
	if len(names) == 0 && keyColumn != "" && sc.ColumnIndex(keyColumn) >= 0 {
		if ident != 'f' {
			return nil, fmt.Errorf("table %s has no primary key and REPLICA IDENTITY %s, so its updates and deletes do not say which row they change; "+
				"run ALTER TABLE %s REPLICA IDENTITY FULL (or USING INDEX on a unique index of %s)", id, identName(ident), quoteTable(id), keyColumn)
		}
		names = []string{keyColumn}
	}
	if len(names) == 0 && s.role == "discover" {
		return nil, nil // listed without a key (weir discover)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("table %s has no primary key: add one, or set scan.incremental.snapshot.chunk.key-column to a unique NOT NULL column "+
			"and run ALTER TABLE %s REPLICA IDENTITY FULL", id, quoteTable(id))
	}
	var key []int
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] { // a primary key that is also the replica identity index
			continue
		}
		seen[n] = true
		i := sc.ColumnIndex(n)
		if i < 0 {
			return nil, fmt.Errorf("table %s: key column %s is generated; weir cannot read it from the stream", id, n)
		}
		if sc.Columns[i].Nullable && n == keyColumn {
			return nil, fmt.Errorf("table %s: scan.incremental.snapshot.chunk.key-column %s may be NULL; it must be unique and NOT NULL", id, n)
		}
		key = append(key, i)
	}
	return key, nil
}

func identName(b byte) string {
	switch b {
	case 'd':
		return "DEFAULT"
	case 'n':
		return "NOTHING"
	case 'f':
		return "FULL"
	case 'i':
		return "USING INDEX"
	}
	return string(b)
}

// literalDefault returns a column default's value when it is a literal: 42, 'x'::text,
// '2024-01-01'::date, true. Nil otherwise (an expression such as now() or nextval()).
func literalDefault(expr string) *string {
	if expr == "" {
		return nil
	}
	e := expr
	if strings.HasPrefix(e, "'") {
		end := strings.Index(e[1:], "'")
		for end >= 0 && strings.HasPrefix(e[1+end+1:], "'") { // '' inside the literal
			next := strings.Index(e[1+end+2:], "'")
			if next < 0 {
				return nil
			}
			end += 2 + next
		}
		if end < 0 {
			return nil
		}
		rest := e[1+end+1:]
		if rest != "" && !strings.HasPrefix(rest, "::") {
			return nil
		}
		v := strings.ReplaceAll(e[1:1+end], "''", "'")
		return &v
	}
	e = strings.TrimSuffix(strings.TrimPrefix(e, "("), ")")
	if i := strings.Index(e, "::"); i > 0 {
		e = e[:i]
	}
	e = strings.TrimSuffix(strings.TrimPrefix(e, "("), ")")
	if e == "true" || e == "false" || numberRe.MatchString(e) {
		return &e
	}
	return nil
}

var numberRe = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][-+]?\d+)?$`)

// quoteTable renders id as a quoted schema.table for SQL.
func quoteTable(id event.TableID) string {
	return pgx.Identifier{id.Schema, id.Table}.Sanitize()
}
