package mysql

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
)

// table is a selected table: its schema and how to decode its columns.
type table struct {
	schema *event.Schema
	cols   []*column
	// hidden is how many columns the binlog's rows carry after cols that the server
	// does not show (MariaDB's hashes of long unique keys, a system-versioned table's
	// row_start and row_end): they are left out. versioned: the table is system-versioned,
	// and rows of its history are left out of the stream.
	hidden    int
	versioned bool
}

// newTable builds the decoders of a schema (from discovery or from a checkpoint).
func newTable(s *event.Schema) (*table, error) {
	t := &table{schema: s}
	for _, c := range s.Columns {
		col, err := newColumn(infoOf(c))
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", s.ID, err)
		}
		t.cols = append(t.cols, col)
	}
	return t, nil
}

var systemSchemas = map[string]bool{"mysql": true, "sys": true, "performance_schema": true, "information_schema": true}

// discover lists the base tables that match the patterns, with their schemas. A table
// without a primary key takes scan.incremental.snapshot.chunk.key-column where it is set;
// else it has no key: it is snapshotted as one chunk, and copied where the sink appends
// (file, console, changelog mode; a sink that upserts refuses it before writing anything).
// keyColumn stands in for the primary key of tables without one (it must be unique and
// NOT NULL); a table with neither is refused with a message saying how to fix it.
func discover(conn *client.Conn, patterns []connector.TablePattern, opts func(db, table string) columnOpts) ([]*table, error) {
	res, err := conn.Execute(`SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var ids []event.TableID
	var dbs []string
	for i := range res.RowNumber() {
		db, _ := res.GetString(i, 0)
		name, _ := res.GetString(i, 1)
		if systemSchemas[strings.ToLower(db)] || !matches(patterns, db, name) {
			continue
		}
		ids = append(ids, event.TableID{Schema: db, Table: name})
		if !slices.Contains(dbs, db) {
			dbs = append(dbs, db)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// What information_schema says of all the databases' tables at once: a query per
	// kind of fact, not per table (a thousand tables are otherwise seconds of round trips).
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(dbs)), ", ")
	args := make([]any, len(dbs))
	for i, db := range dbs {
		args[i] = db
	}
	info, err := readInfo(conn, "TABLE_SCHEMA IN ("+marks+")", "CONSTRAINT_SCHEMA IN ("+marks+")", args...)
	if err != nil {
		return nil, err
	}
	var out []*table
	for _, id := range ids {
		t, err := info.table(conn, id, opts(id.Schema, id.Table))
		if err != nil {
			return nil, err
		}
		if t != nil { // nil: dropped since it was listed
			out = append(out, t)
		}
	}
	return out, nil
}

func matches(patterns []connector.TablePattern, db, name string) bool {
	for _, p := range patterns {
		if p.Match(db, name) {
			return true
		}
	}
	return false
}

// describe reads one table's columns and key; nil when there is no such table.
func describe(conn *client.Conn, db, name string, o columnOpts) (*table, error) {
	info, err := readInfo(conn, "TABLE_SCHEMA = ? AND TABLE_NAME = ?", "CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?", db, name)
	if err != nil {
		return nil, err
	}
	return info.table(conn, event.TableID{Schema: db, Table: name}, o)
}

// schemaInfo is what information_schema says of some tables, by table: their columns,
// their indexes' columns (PRIMARY among them), their CHECK clauses (MariaDB) and their
// ROW END column (system-versioned tables).
type schemaInfo struct {
	columns map[event.TableID][]columnInfo
	stats   map[event.TableID][]indexRow
	checks  map[event.TableID][]string
	rowEnd  map[event.TableID][2]string // name, data type
}

// indexRow is a row of information_schema.STATISTICS.
type indexRow struct {
	name, col, collation, kind string
	nonUnique, prefix          int64
}

// readInfo reads schemaInfo of the tables where (on TABLE_SCHEMA and TABLE_NAME) and
// checkWhere (the same of information_schema.CHECK_CONSTRAINTS) select with args.
func readInfo(conn *client.Conn, where, checkWhere string, args ...any) (*schemaInfo, error) {
	info := &schemaInfo{columns: map[event.TableID][]columnInfo{}, stats: map[event.TableID][]indexRow{},
		checks: map[event.TableID][]string{}, rowEnd: map[event.TableID][2]string{}}
	res, err := conn.Execute(`SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IFNULL(CHARACTER_SET_NAME, ''), IS_NULLABLE, IFNULL(COLLATION_NAME, '')
		FROM information_schema.COLUMNS WHERE `+where+` ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", infoTables(args), err)
	}
	for i := range res.RowNumber() {
		var ci columnInfo
		ci.Name, _ = res.GetString(i, 2)
		ci.ColumnType, _ = res.GetString(i, 3)
		ci.Charset, _ = res.GetString(i, 4)
		nullable, _ := res.GetString(i, 5)
		ci.Nullable = nullable == "YES"
		ci.Collation, _ = res.GetString(i, 6)
		id := rowTable(res, i)
		info.columns[id] = append(info.columns[id], ci)
	}
	res, err = conn.Execute(`SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, IFNULL(COLUMN_NAME, ''), IFNULL(SUB_PART, 0), IFNULL(COLLATION, 'A'), INDEX_TYPE
		FROM information_schema.STATISTICS WHERE `+where+` ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the indexes of %s: %w", infoTables(args), err)
	}
	for i := range res.RowNumber() {
		var r indexRow
		r.name, _ = res.GetString(i, 2)
		r.nonUnique, _ = res.GetInt(i, 3)
		r.col, _ = res.GetString(i, 4)
		r.prefix, _ = res.GetInt(i, 5)
		r.collation, _ = res.GetString(i, 6)
		r.kind, _ = res.GetString(i, 7)
		id := rowTable(res, i)
		info.stats[id] = append(info.stats[id], r)
	}
	res, err = conn.Execute(`SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE `+checkWhere, args...)
	if err != nil {
		var me *gomysql.MyError
		if !errors.As(err, &me) || (me.Code != 1054 && me.Code != 1109) { // no such column or table: not MariaDB 10.2+
			return nil, fmt.Errorf("read the check constraints of %s: %w", infoTables(args), err)
		}
	} else {
		for i := range res.RowNumber() {
			clause, _ := res.GetString(i, 2)
			id := rowTable(res, i)
			info.checks[id] = append(info.checks[id], clause)
		}
	}
	// (No GENERATION_EXPRESSION before MySQL 5.7 / MariaDB 10.2: no versioned tables.)
	if res, err = conn.Execute(`SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
		WHERE `+where+` AND GENERATION_EXPRESSION = 'ROW END'`, args...); err == nil {
		for i := range res.RowNumber() {
			name, _ := res.GetString(i, 2)
			dt, _ := res.GetString(i, 3)
			info.rowEnd[rowTable(res, i)] = [2]string{name, dt}
		}
	}
	return info, nil
}

func rowTable(res *gomysql.Result, i int) event.TableID {
	db, _ := res.GetString(i, 0)
	name, _ := res.GetString(i, 1)
	return event.TableID{Schema: db, Table: name}
}

// infoTables names what readInfo reads for its errors: a table, or databases.
func infoTables(args []any) string {
	if len(args) == 2 {
		return event.TableID{Schema: args[0].(string), Table: args[1].(string)}.String()
	}
	return fmt.Sprintf("the tables of %v", args)
}

// table builds table id from info; nil when info has no columns of it.
func (info *schemaInfo) table(conn *client.Conn, id event.TableID, o columnOpts) (*table, error) {
	keyColumn := o.keyColumn
	s := &event.Schema{ID: id}
	infos := slices.Clone(info.columns[id])
	mariaJSON(info.checks[id], infos)
	for i := range infos {
		infos[i].ColumnType = o.columnType(infos[i].ColumnType)
	}
	for _, ci := range infos {
		col, err := newColumn(ci)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		s.Columns = append(s.Columns, event.Column{Name: ci.Name, Type: col.typ, Nullable: ci.Nullable, SourceType: ci.sourceType()})
	}
	if len(s.Columns) == 0 {
		return nil, nil
	}
	for _, r := range info.stats[id] {
		if r.name == "PRIMARY" {
			s.Key = append(s.Key, s.ColumnIndex(r.col))
		}
	}
	s.Indexes = indexes(info.stats[id])
	if err := versioning(info.rowEnd[id], s); err != nil {
		return nil, err
	}
	if len(s.Key) == 0 && keyColumn != "" {
		if err := useKeyColumn(conn, s, keyColumn); err != nil {
			return nil, err
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return newTable(s)
}

// indexes are a table's secondary indexes from its rows of STATISTICS, in index order
// (those on expressions, MySQL 8's functional ones, are left out: no column names them).
func indexes(rows []indexRow) []event.Index {
	var out []event.Index
	skip := ""
	for _, r := range rows {
		name, col := r.name, r.col
		if name == "PRIMARY" || name == skip {
			continue
		}
		if col == "" { // an expression
			skip = name
			if len(out) > 0 && out[len(out)-1].Name == name {
				out = out[:len(out)-1]
			}
			continue
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, event.Index{Name: name, Unique: r.nonUnique == 0, Kind: map[string]string{"FULLTEXT": "fulltext", "SPATIAL": "spatial"}[strings.ToUpper(r.kind)]})
		}
		ix := &out[len(out)-1]
		ix.Columns = append(ix.Columns, event.IndexColumn{Name: col, Prefix: int(r.prefix), Desc: r.collation == "D"})
	}
	return out
}

// mariaJSON gives MariaDB's JSON columns their type back, from the table's CHECK clauses.
// MariaDB's JSON is LONGTEXT with a CHECK (json_valid(col)) constraint, and
// information_schema.COLUMNS says longtext; the constraint, named after the column, tells
// them apart, so that a JSON column is JSON whether weir learns the table here or from
// its CREATE TABLE in the binlog. (MySQL has a JSON type of its own, and no TABLE_NAME in
// CHECK_CONSTRAINTS.)
func mariaJSON(checks []string, infos []columnInfo) {
	text := map[string]*columnInfo{}
	for i := range infos {
		if strings.EqualFold(infos[i].ColumnType, "longtext") {
			text[strings.ToLower(infos[i].Name)] = &infos[i]
		}
	}
	if len(text) == 0 {
		return
	}
	for _, clause := range checks {
		if m := jsonValid.FindStringSubmatch(clause); m != nil {
			if ci := text[strings.ToLower(strings.ReplaceAll(m[1], "``", "`"))]; ci != nil {
				ci.ColumnType = "json"
			}
		}
	}
}

var jsonValid = regexp.MustCompile("(?i)^\\s*json_valid\\(`((?:[^`]|``)+)`\\)\\s*$")

// useKeyColumn makes the configured column the key of a table without a primary key,
// after checking that it is unique and NOT NULL.
func useKeyColumn(conn *client.Conn, s *event.Schema, keyColumn string) error {
	fix := "add a primary key to it, or set scan.incremental.snapshot.chunk.key-column to a unique NOT NULL column, or leave the table out of `tables`"
	if keyColumn == "" {
		return fmt.Errorf("table %s has no primary key; weir needs a key to snapshot it in chunks and to apply its changes: %s", s.ID, fix)
	}
	i := s.ColumnIndex(keyColumn)
	if i < 0 {
		return fmt.Errorf("table %s has no primary key and no column %q (scan.incremental.snapshot.chunk.key-column): %s", s.ID, keyColumn, fix)
	}
	if s.Columns[i].Nullable {
		return fmt.Errorf("table %s: the key column %q may be NULL; it must be NOT NULL: %s", s.ID, keyColumn, fix)
	}
	res, err := conn.Execute(`SELECT INDEX_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0
		GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND MAX(COLUMN_NAME) = ?`, s.ID.Schema, s.ID.Table, keyColumn)
	if err != nil {
		return fmt.Errorf("read the unique keys of %s: %w", s.ID, err)
	}
	if res.RowNumber() == 0 {
		return fmt.Errorf("table %s: the key column %q has no unique index of its own; create one (CREATE UNIQUE INDEX … (%s)): %s", s.ID, keyColumn, keyColumn, fix)
	}
	s.Key = []int{i}
	return nil
}

// defaultCharset asks the server for the default charset of a table (id.Table "": of a
// database); "" when it cannot tell.
func (s *Source) defaultCharset(ctx context.Context, id event.TableID) string {
	conn, err := s.pool.get(ctx)
	if err != nil {
		return ""
	}
	defer s.pool.put(conn)
	q := `SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`
	args := []any{id.Schema}
	if id.Table != "" { // a collation's name starts with its charset's: latin1_swedish_ci
		q = `SELECT SUBSTRING_INDEX(TABLE_COLLATION, '_', 1) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`
		args = append(args, id.Table)
	}
	res, err := conn.Execute(q, args...)
	if err != nil || res.RowNumber() == 0 {
		return ""
	}
	cs, _ := res.GetString(0, 0)
	return strings.ToLower(cs)
}

// rowEnds names, per table, the declared ROW END column of MariaDB's system-versioned
// tables whose versioning columns are declared (GENERATED ALWAYS AS ROW END): the binlog
// carries their history rows as rows of the table, told apart by that column. (Tables
// versioned without declared columns carry them hidden, found in the rows: mismatch.)
// It is read from the server, as it is now: for every table at the stream's start (only
// nil), and for the tables a statement names after one that may change it (only, not
// empty).
func (s *Source) rowEnds(ctx context.Context, only []event.TableID) (map[event.TableID]string, error) {
	if s.flavor != "mariadb" {
		return nil, nil
	}
	q := `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE GENERATION_EXPRESSION = 'ROW END'`
	var args []any
	if only != nil {
		q += " AND (TABLE_SCHEMA, TABLE_NAME) IN (" + strings.TrimSuffix(strings.Repeat("(?, ?),", len(only)), ",") + ")"
		for _, id := range only {
			args = append(args, id.Schema, id.Table)
		}
	}
	conn, err := s.pool.get(ctx)
	if err != nil {
		return nil, err
	}
	defer s.pool.put(conn)
	res, err := conn.Execute(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list the ROW END columns of system-versioned tables: %w", err)
	}
	out := map[event.TableID]string{}
	for i := range res.RowNumber() {
		db, _ := res.GetString(i, 0)
		name, _ := res.GetString(i, 1)
		col, _ := res.GetString(i, 2)
		out[event.TableID{Schema: db, Table: name}] = col
	}
	return out, nil
}

// versioning checks a table's declared system-versioning columns. Its ROW END column is
// left out of the key MariaDB extends with it, for the history rows: weir copies
// current rows only (stream.go), whose key is the declared one. A table versioned by
// transaction id (ROW END a BIGINT UNSIGNED) is refused: MariaDB writes its changes to
// the binlog as statements, even under binlog_format=ROW. A server without the column
// GENERATION_EXPRESSION has no system versioning.
func versioning(rowEnd [2]string, s *event.Schema) error {
	name, dt := rowEnd[0], rowEnd[1]
	if name == "" {
		return nil
	}
	if !strings.EqualFold(dt, "timestamp") {
		return fmt.Errorf("table %s is system-versioned by transaction id (its ROW END column %s is a %s): MariaDB writes its changes "+
			"to the binlog as statements, which weir cannot read; version it by time (ROW START and ROW END columns TIMESTAMP(6)) "+
			"or leave it out of `tables`", s.ID, name, dt)
	}
	end := s.ColumnIndex(name)
	key := s.Key[:0:0]
	for _, k := range s.Key {
		if k != end || len(s.Key) == 1 {
			key = append(key, k)
		}
	}
	s.Key = key
	return nil
}

// columnOpts are the source's settings that shape a table's columns: the key column of a
// table without a primary key, and whether TINYINT(1) is a boolean
// (treat-tinyint1-as-boolean.enabled).
type columnOpts struct {
	keyColumn string
	tinyBool  bool
}

// columnType is a column's type as weir decodes it: "boolean" for TINYINT(1) when the
// source treats it so (types.go), else COLUMN_TYPE as it is.
func (o columnOpts) columnType(ct string) string {
	if o.tinyBool && strings.EqualFold(strings.TrimSpace(ct), "tinyint(1)") {
		return "boolean"
	}
	return ct
}

// columnOpts are the column settings of table db.table.
func (s *Source) columnOpts(db, table string) columnOpts {
	return columnOpts{keyColumn: s.keyColumn.For(db, table), tinyBool: s.tinyBool}
}
