package mysql

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions of the parser

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// schemaHistory applies the DDL of the binlog to the schemas weir knows, so that every
// row event is decoded with the schema in force at its position (DESIGN §3.5). DDL is
// parsed with the TiDB parser, the MySQL grammar go-mysql's canal uses too.
//
// What it follows: CREATE TABLE (of tables the selection matches), DROP TABLE, RENAME
// TABLE, TRUNCATE TABLE, and ALTER TABLE … ADD/DROP/MODIFY/CHANGE/RENAME COLUMN, RENAME
// TO, ADD/DROP PRIMARY KEY; and the secondary indexes (CREATE/DROP INDEX, ALTER TABLE …
// ADD/DROP/RENAME INDEX), as alter table changes whose schemas differ in their indexes
// alone, which a SQL sink follows under evolve. Other statements (options, grants) do not
// change what a row event holds and are skipped. A text column declared without a character set
// takes its table's default (CREATE TABLE … DEFAULT CHARSET, ALTER TABLE … CHARACTER SET,
// CONVERT TO CHARACTER SET), and a table declared without one its database's; defaults
// not seen in the stream are asked of the server (lookup).
//
// Online schema change tools build a shadow of a selected table t — gh-ost `_t_gho`,
// pt-online-schema-change `_t_new` — alter it, copy the rows into it, and finally swap it
// in with RENAME TABLE t TO _t_del, _t_gho TO t. The shadow's schema is followed but its
// rows are not emitted (they are copies; the real changes come from t itself), and the
// swap is one AlterTable schema change of t.
//
// A table can also join the selection with a schema weir has not followed and rows
// already in it: renamed in from an unselected name, or made by CREATE TABLE … LIKE / AS
// SELECT. Such tables are listed in joined; the stream has them snapshotted beside it
// (join.go).
type schemaHistory struct {
	parser   *parser.Parser
	patterns []connector.TablePattern
	tinyBool bool                            // treat-tinyint1-as-boolean.enabled (columnOpts)
	shadows  map[event.TableID]*event.Schema // shadow tables being built
	replaced map[event.TableID]*event.Schema // real tables moved aside, by their real ID
	joined   []event.TableID                 // selected tables of unknown schema, since the last apply
	charsets map[event.TableID]string        // tables' default charsets; Table "" for a database's
	// lookup asks the server for the default charset of a table (or, Table "", of a
	// database) the stream has not seen declared; nil: utf8mb4.
	lookup func(id event.TableID) string
}

func newSchemaHistory(patterns []connector.TablePattern, tinyBool bool) *schemaHistory {
	return &schemaHistory{parser: parser.New(), patterns: patterns, tinyBool: tinyBool, charsets: map[event.TableID]string{},
		shadows: map[event.TableID]*event.Schema{}, replaced: map[event.TableID]*event.Schema{}}
}

// charset returns the default charset of a table (Table "": of a database).
func (h *schemaHistory) charset(id event.TableID) string {
	if cs, ok := h.charsets[id]; ok {
		return cs
	}
	cs := ""
	if h.lookup != nil {
		cs = h.lookup(id)
	}
	h.charsets[id] = cs
	return cs
}

// createCharset records and returns the default charset of a table being created: its
// own, or its database's.
func (h *schemaHistory) createCharset(id event.TableID, s *ast.CreateTableStmt) string {
	cs, _ := tableCharset(s.Options)
	if cs == "" {
		cs = h.charset(event.TableID{Namespace: id.Namespace, Schema: id.Schema})
	}
	h.charsets[id] = cs
	return cs
}

// tableCharset reads a charset from table options (CHARSET=, or COLLATE= alone).
func tableCharset(opts []*ast.TableOption) (cs string, convert bool) {
	for _, o := range opts {
		switch {
		case o.Tp == ast.TableOptionCharset && !o.Default:
			cs, convert = o.StrValue, o.UintValue == ast.TableOptionCharsetWithConvertTo
		case o.Tp == ast.TableOptionCollate && cs == "":
			cs, _, _ = strings.Cut(o.StrValue, "_")
		}
	}
	return strings.ToLower(cs), convert
}

var shadowName = regexp.MustCompile(`^_(.+)_(gho|ghc|del|new|old)$`)

// shadowBase returns the real table a shadow table stands for, if id is the shadow of a
// selected table.
func (h *schemaHistory) shadowBase(id event.TableID) (event.TableID, bool) {
	m := shadowName.FindStringSubmatch(id.Table)
	if m == nil {
		return event.TableID{}, false
	}
	base := event.TableID{Namespace: id.Namespace, Schema: id.Schema, Table: m[1]}
	return base, h.selected(base)
}

// apply parses one query of the binlog (run in database defaultDB) and applies it to
// tables, returning the schema changes it made to selected tables.
func (h *schemaHistory) apply(query, defaultDB string, tables map[event.TableID]*table, pos event.Pos) (out []*event.SchemaChange, err error) {
	norm, orReplace, types := normalizeDDL(query)
	stmts, _, err := h.parser.Parse(norm, "", "")
	if err != nil {
		var err2 error
		if stmts, _, err2 = h.parser.Parse(stripDefaults(norm), "", ""); err2 != nil {
			return nil, &parseError{query: query, err: err}
		}
	}
	if len(types) > 0 {
		defer func() { out, err = h.retype(out, err, types, tables) }()
	}
	for _, st := range stmts {
		if c, ok := st.(*ast.CreateTableStmt); ok && orReplace {
			// CREATE OR REPLACE TABLE: the table of that name, if any, is dropped first.
			id := tableID(c.Table, defaultDB)
			if t := tables[id]; t != nil {
				delete(tables, id)
				out = append(out, &event.SchemaChange{Kind: event.DropTable, Table: id, Before: t.schema, DDL: query, Pos: pos})
			}
		}
		changes, err := h.applyStmt(st, defaultDB, tables, query, pos)
		if err != nil {
			return nil, err
		}
		out = append(out, changes...)
	}
	return out, nil
}

// retype gives the columns a statement declared with types the parser lacks (normalizeDDL)
// their real types, in the changes it made and the tables they leave.
func (h *schemaHistory) retype(out []*event.SchemaChange, err error, types map[string]string, tables map[event.TableID]*table) ([]*event.SchemaChange, error) {
	if err != nil {
		return out, err
	}
	for _, c := range out {
		after, err := typeColumns(c.After, types)
		if err != nil {
			return nil, err
		}
		if after == c.After {
			continue
		}
		c.After = after
		if t := tables[after.ID]; t != nil {
			nt, err := newTable(after)
			if err != nil {
				return nil, err
			}
			tables[after.ID] = nt
		}
	}
	return out, nil
}

// parseError is a statement weir could not follow: the parser could not read it, even
// normalized (normalizeDDL), or it does not apply to the schemas weir holds.
type parseError struct {
	query string
	err   error
}

func (e *parseError) Error() string {
	return fmt.Sprintf("follow DDL %q: %v", truncateSQL(e.query), e.err)
}
func (e *parseError) Unwrap() error { return e.err }

// named returns the tables a statement names, of those weir follows (known) and, for the
// statements that make a table (CREATE TABLE, RENAME … TO), the new name where the
// selection matches it. A name counts where it is qualified with its database, or
// unqualified in a statement run in that database.
func (h *schemaHistory) named(query, defaultDB string, known map[event.TableID]*table) (follows, creates []event.TableID) {
	idents := identRefs(query)
	has := func(id event.TableID) bool {
		for _, r := range idents {
			if strings.EqualFold(r.Table, id.Table) && (r.Schema == id.Schema || (r.Schema == "" && defaultDB == id.Schema)) {
				return true
			}
		}
		return false
	}
	for id := range known {
		if has(id) {
			follows = append(follows, id)
		}
	}
	var made []event.TableID
	if m := createdTable.FindStringSubmatch(query); m != nil {
		made = identRefs(m[1])[:1]
	}
	if renameTable.MatchString(query) {
		for _, m := range renamedTo.FindAllStringSubmatch(query, -1) {
			made = append(made, identRefs(m[1])[:1]...)
		}
	}
	for _, id := range made {
		if id.Schema == "" {
			id.Schema = defaultDB
		}
		if known[id] == nil && h.selected(id) {
			creates = append(creates, id)
		}
	}
	return follows, creates
}

// createdTable finds the name a CREATE TABLE makes; renamedTo the names a RENAME TABLE
// makes (each after TO).
var (
	createdTable = regexp.MustCompile("(?is)^\\s*(?:/\\*.*?\\*/\\s*)*CREATE\\s+(?:OR\\s+REPLACE\\s+)?(?:TEMPORARY\\s+)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(\\S+)")
	renameTable  = regexp.MustCompile("(?is)^\\s*(?:/\\*.*?\\*/\\s*)*RENAME\\s+TABLES?\\b")
	renamedTo    = regexp.MustCompile("(?is)\\bTO\\s+((?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)(?:\\s*\\.\\s*(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+))?)")
)

// identRefs lists the [db.]name references of a statement's text: every identifier,
// with the one before it when a dot joins them.
func identRefs(q string) []event.TableID {
	var out []event.TableID
	for _, m := range identRef.FindAllStringSubmatch(q, -1) {
		unq := func(s string) string { return strings.ReplaceAll(strings.Trim(s, "`"), "``", "`") }
		if m[2] != "" {
			out = append(out, event.TableID{Schema: unq(m[1]), Table: unq(m[2])})
		} else {
			out = append(out, event.TableID{Table: unq(m[1])})
		}
	}
	return out
}

var identRef = regexp.MustCompile("(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)(?:\\s*\\.\\s*(`(?:[^`]|``)+`|[A-Za-z0-9_$]+))?")

func tableID(name *ast.TableName, defaultDB string) event.TableID {
	db := name.Schema.O
	if db == "" {
		db = defaultDB
	}
	return event.TableID{Schema: db, Table: name.Name.O}
}

func (h *schemaHistory) selected(id event.TableID) bool {
	for _, p := range h.patterns {
		if p.Match(id.Schema, id.Table) {
			return true
		}
	}
	return false
}

func (h *schemaHistory) applyStmt(st ast.StmtNode, defaultDB string, tables map[event.TableID]*table, ddl string, pos event.Pos) ([]*event.SchemaChange, error) {
	switch s := st.(type) {
	case *ast.CreateTableStmt:
		id := tableID(s.Table, defaultDB)
		if s.IfNotExists && tables[id] != nil {
			return nil, nil // it exists: the statement changed nothing
		}
		if _, ok := h.shadowBase(id); ok {
			return nil, h.createShadow(id, s, defaultDB, tables)
		}
		if !h.selected(id) {
			return nil, nil
		}
		if s.ReferTable != nil || s.Select != nil { // its columns come from elsewhere
			h.joined = append(h.joined, id)
			return nil, nil
		}
		sc, err := schemaOfCreate(id, s, h.createCharset(id, s), h.tinyBool)
		if err != nil {
			return nil, err
		}
		t, err := newTable(sc)
		if err != nil {
			return nil, err
		}
		tables[id] = t
		return []*event.SchemaChange{{Kind: event.CreateTable, Table: id, After: sc, DDL: ddl, Pos: pos}}, nil
	case *ast.DropTableStmt:
		var out []*event.SchemaChange
		for _, n := range s.Tables {
			id := tableID(n, defaultDB)
			delete(h.shadows, id)
			if t := tables[id]; t != nil {
				delete(tables, id)
				out = append(out, &event.SchemaChange{Kind: event.DropTable, Table: id, Before: t.schema, DDL: ddl, Pos: pos})
			}
		}
		return out, nil
	case *ast.TruncateTableStmt:
		id := tableID(s.Table, defaultDB)
		if t := tables[id]; t != nil {
			return []*event.SchemaChange{{Kind: event.TruncateTable, Table: id, Before: t.schema, After: t.schema, DDL: ddl, Pos: pos}}, nil
		}
		return nil, nil
	case *ast.RenameTableStmt:
		var out []*event.SchemaChange
		for _, tt := range s.TableToTables {
			c, err := h.rename(tables, tableID(tt.OldTable, defaultDB), tableID(tt.NewTable, defaultDB), ddl, pos)
			if err != nil {
				return nil, err
			}
			out = append(out, c...)
		}
		return out, nil
	case *ast.CreateIndexStmt:
		ix := event.Index{Name: s.IndexName, Unique: s.KeyType == ast.IndexKeyTypeUnique,
			Kind: map[ast.IndexKeyType]string{ast.IndexKeyTypeFulltext: "fulltext", ast.IndexKeyTypeSpatial: "spatial"}[s.KeyType]}
		for _, p := range s.IndexPartSpecifications {
			if p.Column == nil {
				return nil, nil // on an expression: not carried
			}
			ix.Columns = append(ix.Columns, event.IndexColumn{Name: p.Column.Name.O, Prefix: max(p.Length, 0), Desc: p.Desc})
		}
		return h.index(tableID(s.Table, defaultDB), tables, ddl, pos, func(sc *event.Schema) bool { setIndex(sc, ix); return true })
	case *ast.DropIndexStmt:
		return h.index(tableID(s.Table, defaultDB), tables, ddl, pos, func(sc *event.Schema) bool { return dropIndex(sc, s.IndexName) })
	case *ast.AlterTableStmt:
		id := tableID(s.Table, defaultDB)
		if sh := h.shadows[id]; sh != nil {
			t, err := newTable(sh)
			if err != nil {
				return nil, err
			}
			scratch := map[event.TableID]*table{id: t}
			if _, err := h.alter(s, defaultDB, scratch, ddl, pos); err != nil {
				return nil, err
			}
			h.shadows[id] = scratch[id].schema
			return nil, nil
		}
		return h.alter(s, defaultDB, tables, ddl, pos)
	}
	return nil, nil
}

// rename moves a table to a new name. A table renamed into the selection (the last step
// of gh-ost and pt-online-schema-change: their shadow table takes the real name) is a
// schema change of the real table; one renamed out of it is dropped from the stream.
func (h *schemaHistory) rename(tables map[event.TableID]*table, from, to event.TableID, ddl string, pos event.Pos) ([]*event.SchemaChange, error) {
	if sh := h.shadows[from]; sh != nil {
		return h.swapIn(tables, from, to, sh, ddl, pos)
	}
	t := tables[from]
	if t == nil {
		if _, shadow := h.shadowBase(to); h.selected(to) && !shadow {
			h.joined = append(h.joined, to)
		}
		return nil, nil
	}
	delete(tables, from)
	if base, ok := h.shadowBase(to); ok && base == from {
		h.replaced[from] = t.schema // moved aside by a cut-over: its successor comes next
		return nil, nil
	}
	if !h.selected(to) {
		return []*event.SchemaChange{{Kind: event.DropTable, Table: from, Before: t.schema, DDL: ddl, Pos: pos}}, nil
	}
	sc := cloneSchema(t.schema)
	sc.ID = to
	nt, err := newTable(sc)
	if err != nil {
		return nil, err
	}
	tables[to] = nt
	return []*event.SchemaChange{{Kind: event.RenameTable, Table: from, Before: t.schema, After: sc, NewName: to.String(), DDL: ddl, Pos: pos}}, nil
}

func (h *schemaHistory) alter(s *ast.AlterTableStmt, defaultDB string, tables map[event.TableID]*table, ddl string, pos event.Pos) ([]*event.SchemaChange, error) {
	id := tableID(s.Table, defaultDB)
	t := tables[id]
	if t == nil {
		for _, sp := range s.Specs {
			if sp.Tp == ast.AlterTableRenameTable {
				return h.rename(tables, id, tableID(sp.NewTable, id.Schema), ddl, pos)
			}
		}
		return nil, nil
	}
	before := t.schema
	sc := cloneSchema(before)
	var out []*event.SchemaChange
	var renameTo *event.TableID
	for _, sp := range s.Specs {
		if sp.Tp == ast.AlterTableOption {
			if cs, _ := tableCharset(sp.Options); cs != "" {
				h.charsets[id] = cs
			}
		}
		kind, column, newName, err := alterSpec(sc, sp, h.charset(id), h.tinyBool)
		if err != nil {
			return nil, fmt.Errorf("apply %q to table %s: %w", truncateSQL(ddl), id, err)
		}
		if sp.Tp == ast.AlterTableRenameTable {
			to := tableID(sp.NewTable, id.Schema)
			renameTo = &to
			continue
		}
		if kind != 0 {
			out = append(out, &event.SchemaChange{Kind: kind, Table: id, Column: column, NewName: newName, DDL: ddl, Pos: pos})
		}
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("apply %q: %w", truncateSQL(ddl), err)
	}
	sc.Version = before.Version + 1
	nt, err := newTable(sc)
	if err != nil {
		return nil, err
	}
	tables[id] = nt
	for _, c := range out {
		c.Before, c.After = before, sc
	}
	if renameTo != nil {
		rc, err := h.rename(tables, id, *renameTo, ddl, pos)
		if err != nil {
			return nil, err
		}
		out = append(out, rc...)
	}
	return out, nil
}

// alterSpec applies one ALTER TABLE clause to sc and says what kind of change it was
// (0: none that a row event shows).
func alterSpec(sc *event.Schema, sp *ast.AlterTableSpec, charset string, tinyBool bool) (event.SchemaChangeKind, string, string, error) {
	switch sp.Tp {
	case ast.AlterTableAddColumns:
		for i, def := range sp.NewColumns {
			col, pk, err := columnOfDef(def, charset, tinyBool)
			if err != nil {
				return 0, "", "", err
			}
			at := len(sc.Columns)
			if i == 0 && sp.Position != nil {
				at, err = columnPosition(sc, sp.Position)
				if err != nil {
					return 0, "", "", err
				}
			}
			insertColumn(sc, at, col)
			if pk {
				sc.Key = []int{at}
			}
		}
		return event.AddColumn, sp.NewColumns[0].Name.Name.O, "", nil
	case ast.AlterTableDropColumn:
		name := sp.OldColumnName.Name.O
		i := colIndexFold(sc, name)
		if i < 0 {
			return 0, "", "", fmt.Errorf("no column %s to drop", name)
		}
		removeColumn(sc, i)
		return event.DropColumn, name, "", nil
	case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
		def := sp.NewColumns[0]
		old := def.Name.Name.O
		if sp.Tp == ast.AlterTableChangeColumn {
			old = sp.OldColumnName.Name.O
		}
		i := colIndexFold(sc, old)
		if i < 0 {
			return 0, "", "", fmt.Errorf("no column %s to change", old)
		}
		col, _, err := columnOfDef(def, charset, tinyBool)
		if err != nil {
			return 0, "", "", err
		}
		wasKey, indexes := slices.Contains(sc.Key, i), sc.Indexes
		removeColumn(sc, i)
		sc.Indexes = indexes // the column changes, its indexes stay
		at := i
		if sp.Position != nil && sp.Position.Tp != ast.ColumnPositionNone {
			if at, err = columnPosition(sc, sp.Position); err != nil {
				return 0, "", "", err
			}
		}
		insertColumn(sc, at, col)
		if wasKey {
			sc.Key = append(sc.Key, at)
			slices.Sort(sc.Key) // composite key order is kept only for single-column moves
		}
		if !strings.EqualFold(old, col.Name) {
			sc.RenameIndexColumn(old, col.Name)
			return event.RenameColumn, old, col.Name, nil
		}
		return event.ModifyColumn, old, "", nil
	case ast.AlterTableRenameColumn:
		old, nw := sp.OldColumnName.Name.O, sp.NewColumnName.Name.O
		i := colIndexFold(sc, old)
		if i < 0 {
			return 0, "", "", fmt.Errorf("no column %s to rename", old)
		}
		sc.Columns[i].Name = nw
		sc.RenameIndexColumn(old, nw)
		return event.RenameColumn, old, nw, nil
	case ast.AlterTableOption:
		cs, convert := tableCharset(sp.Options)
		if !convert || cs == "" {
			return 0, "", "", nil
		}
		changed := false
		for i, c := range sc.Columns {
			ci := infoOf(c)
			if !isText(ci.ColumnType) || strings.EqualFold(ci.Charset, "binary") {
				continue
			}
			ci.Charset = cs
			col, err := newColumn(ci)
			if err != nil {
				return 0, "", "", err
			}
			sc.Columns[i].Type, sc.Columns[i].SourceType = col.typ, ci.sourceType()
			changed = true
		}
		if changed {
			return event.ModifyColumn, "", "", nil
		}
		return 0, "", "", nil
	case ast.AlterTableDropPrimaryKey:
		sc.Key = nil
		return event.ModifyColumn, "", "", nil
	case ast.AlterTableAddConstraint:
		if sp.Constraint != nil && sp.Constraint.Tp == ast.ConstraintPrimaryKey {
			sc.Key = nil
			for _, k := range sp.Constraint.Keys {
				i := colIndexFold(sc, k.Column.Name.O)
				if i < 0 {
					return 0, "", "", fmt.Errorf("no column %s for the primary key", k.Column.Name.O)
				}
				sc.Key = append(sc.Key, i)
				sc.Columns[i].Nullable = false
			}
			return event.ModifyColumn, "", "", nil
		}
		if ix, ok := indexOfConstraint(sp.Constraint); sp.Constraint != nil && ok {
			setIndex(sc, ix)
			return event.AlterTable, "", "", nil
		}
	case ast.AlterTableDropIndex:
		if dropIndex(sc, sp.Name) {
			return event.AlterTable, "", "", nil
		}
	case ast.AlterTableRenameIndex:
		for i := range sc.Indexes {
			if strings.EqualFold(sc.Indexes[i].Name, sp.FromKey.O) {
				sc.Indexes[i].Name = sp.ToKey.O
				return event.AlterTable, "", "", nil
			}
		}
	}
	return 0, "", "", nil
}

// setIndex adds ix to sc's indexes, in place of one of the same name.
func setIndex(sc *event.Schema, ix event.Index) {
	dropIndex(sc, ix.Name)
	sc.Indexes = append(sc.Indexes, ix)
}

// dropIndex takes index name out of sc's indexes, if it is there.
func dropIndex(sc *event.Schema, name string) bool {
	n := len(sc.Indexes)
	sc.Indexes = slices.DeleteFunc(slices.Clone(sc.Indexes), func(ix event.Index) bool { return strings.EqualFold(ix.Name, name) })
	return len(sc.Indexes) < n
}

// index applies CREATE INDEX or DROP INDEX to a table weir follows: an alter table change
// whose schemas differ in their indexes alone.
func (h *schemaHistory) index(id event.TableID, tables map[event.TableID]*table, ddl string, pos event.Pos, change func(sc *event.Schema) bool) ([]*event.SchemaChange, error) {
	t := tables[id]
	if t == nil {
		return nil, nil
	}
	sc := cloneSchema(t.schema)
	if !change(sc) {
		return nil, nil
	}
	sc.Version = t.schema.Version + 1
	nt, err := newTable(sc)
	if err != nil {
		return nil, err
	}
	tables[id] = nt
	return []*event.SchemaChange{{Kind: event.AlterTable, Table: id, Before: t.schema, After: sc, DDL: ddl, Pos: pos}}, nil
}

// schemaOfCreate builds a table's schema from its CREATE TABLE.
func schemaOfCreate(id event.TableID, s *ast.CreateTableStmt, charset string, tinyBool bool) (*event.Schema, error) {
	sc := &event.Schema{ID: id}
	for _, def := range s.Cols {
		col, pk, err := columnOfDef(def, charset, tinyBool)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		sc.Columns = append(sc.Columns, col)
		if pk {
			sc.Key = []int{len(sc.Columns) - 1}
		}
	}
	for _, c := range s.Constraints {
		if ix, ok := indexOfConstraint(c); ok {
			sc.Indexes = append(sc.Indexes, ix)
			continue
		}
		if c.Tp != ast.ConstraintPrimaryKey {
			continue
		}
		sc.Key = nil
		for _, k := range c.Keys {
			i := colIndexFold(sc, k.Column.Name.O)
			if i < 0 {
				return nil, fmt.Errorf("table %s: no column %s for the primary key", id, k.Column.Name.O)
			}
			sc.Key = append(sc.Key, i)
			sc.Columns[i].Nullable = false
		}
	}
	return sc, sc.Validate()
}

// indexOfConstraint is the index a CREATE TABLE's constraint declares, if it is one on
// columns (not on expressions).
func indexOfConstraint(c *ast.Constraint) (event.Index, bool) {
	var ix event.Index
	switch c.Tp {
	case ast.ConstraintIndex, ast.ConstraintKey:
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		ix.Unique = true
	case ast.ConstraintFulltext:
		ix.Kind = "fulltext"
	default:
		return ix, false
	}
	ix.Name = c.Name
	for _, k := range c.Keys {
		if k.Column == nil { // an expression
			return ix, false
		}
		ix.Columns = append(ix.Columns, event.IndexColumn{Name: k.Column.Name.O, Prefix: max(k.Length, 0), Desc: k.Desc})
	}
	if ix.Name == "" && len(ix.Columns) > 0 { // MySQL names it after its first column
		ix.Name = ix.Columns[0].Name
	}
	return ix, len(ix.Columns) > 0
}

// columnOfDef maps a column definition, whose text takes charset unless it declares its
// own; pk tells whether it declares PRIMARY KEY itself.
func columnOfDef(def *ast.ColumnDef, charset string, tinyBool bool) (event.Column, bool, error) {
	ci := columnInfo{Name: def.Name.Name.O, ColumnType: columnOpts{tinyBool: tinyBool}.columnType(def.Tp.InfoSchemaStr()), Charset: def.Tp.GetCharset(), Nullable: true}
	if mysql.HasNotNullFlag(def.Tp.GetFlag()) {
		ci.Nullable = false
	}
	pk := false
	var def0 *string
	for _, o := range def.Options {
		switch o.Tp {
		case ast.ColumnOptionDefaultValue:
			def0 = literalDefault(o.Expr)
		case ast.ColumnOptionNotNull:
			ci.Nullable = false
		case ast.ColumnOptionPrimaryKey:
			ci.Nullable, pk = false, true
		case ast.ColumnOptionCollate:
			if ci.Charset == "" {
				ci.Charset, _, _ = strings.Cut(o.StrValue, "_")
			}
		}
	}
	if ci.Charset == "" && isText(ci.ColumnType) {
		ci.Charset = charset
	}
	col, err := newColumn(ci)
	if err != nil {
		return event.Column{}, false, err
	}
	if def0 == nil && !ci.Nullable && !pk {
		def0 = implicitDefault(col.typ)
	}
	return event.Column{Name: ci.Name, Type: col.typ, Nullable: ci.Nullable, SourceType: ci.sourceType(), Default: def0}, pk, nil
}

// literalDefault returns a DEFAULT's value when it is a literal (a number or a string,
// possibly negated), else nil: an expression such as CURRENT_TIMESTAMP has no one value.
func literalDefault(e ast.ExprNode) *string {
	neg := ""
	if u, ok := e.(*ast.UnaryOperationExpr); ok && u.Op == opcode.Minus {
		neg, e = "-", u.V
	}
	ve, ok := e.(*test_driver.ValueExpr)
	if !ok || ve.Kind() == test_driver.KindNull {
		return nil
	}
	var s string
	switch v := ve.GetValue().(type) {
	case int64:
		s = strconv.FormatInt(v, 10)
	case uint64:
		s = strconv.FormatUint(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'g', -1, 64)
	case float32:
		s = strconv.FormatFloat(float64(v), 'g', -1, 32)
	case string:
		s = v
	case []byte:
		s = string(v)
	case *test_driver.MyDecimal:
		s = v.String()
	default:
		return nil
	}
	s = neg + s
	return &s
}

// implicitDefault is what MySQL gives existing rows when a NOT NULL column without a
// DEFAULT is added: zero for numbers, the empty string for text, the first member of an
// enum. Other types have none weir carries (their zero values read as NULL or differ).
func implicitDefault(t types.Type) *string {
	var s string
	switch t.Kind {
	case types.Boolean:
		s = "false"
	case types.Int8, types.Int16, types.Int32, types.Int64, types.Uint64, types.Float32, types.Float64, types.Decimal:
		s = "0"
	case types.String:
	case types.Enum:
		if len(t.Values) == 0 {
			return nil
		}
		s = t.Values[0]
	default:
		return nil
	}
	return &s
}

// isText reports whether a column type holds text in a charset.
func isText(columnType string) bool {
	t := strings.ToLower(columnType)
	for _, p := range []string{"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"} {
		if t == p || strings.HasPrefix(t, p+"(") {
			return true
		}
	}
	return false
}

func columnPosition(sc *event.Schema, p *ast.ColumnPosition) (int, error) {
	switch p.Tp {
	case ast.ColumnPositionFirst:
		return 0, nil
	case ast.ColumnPositionAfter:
		i := colIndexFold(sc, p.RelativeColumn.Name.O)
		if i < 0 {
			return 0, fmt.Errorf("no column %s to place after", p.RelativeColumn.Name.O)
		}
		return i + 1, nil
	}
	return len(sc.Columns), nil
}

func insertColumn(sc *event.Schema, at int, col event.Column) {
	sc.Columns = slices.Insert(sc.Columns, at, col)
	for k := range sc.Key {
		if sc.Key[k] >= at {
			sc.Key[k]++
		}
	}
}

func removeColumn(sc *event.Schema, i int) {
	sc.DropIndexColumn(sc.Columns[i].Name)
	sc.Columns = slices.Delete(sc.Columns, i, i+1)
	key := sc.Key[:0]
	for _, k := range sc.Key {
		switch {
		case k == i:
		case k > i:
			key = append(key, k-1)
		default:
			key = append(key, k)
		}
	}
	sc.Key = key
}

// colIndexFold finds a column by name, ignoring case as MySQL does.
func colIndexFold(sc *event.Schema, name string) int {
	for i, c := range sc.Columns {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

func cloneSchema(s *event.Schema) *event.Schema {
	c := *s
	c.Columns = slices.Clone(s.Columns)
	c.Key = slices.Clone(s.Key)
	c.Indexes = slices.Clone(s.Indexes)
	return &c
}

func truncateSQL(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}

// createShadow starts following a shadow table (CREATE TABLE _t_gho LIKE t, or a full
// definition).
func (h *schemaHistory) createShadow(id event.TableID, s *ast.CreateTableStmt, defaultDB string, tables map[event.TableID]*table) error {
	if s.ReferTable != nil {
		ref := tableID(s.ReferTable, defaultDB)
		src := h.shadows[ref]
		if t := tables[ref]; t != nil {
			src = t.schema
		}
		if src == nil {
			return nil
		}
		sc := cloneSchema(src)
		sc.ID = id
		h.shadows[id] = sc
		return nil
	}
	sc, err := schemaOfCreate(id, s, h.createCharset(id, s), h.tinyBool)
	if err != nil {
		return err
	}
	h.shadows[id] = sc
	return nil
}

// swapIn makes a shadow table the real one when it is renamed to a selected name.
func (h *schemaHistory) swapIn(tables map[event.TableID]*table, from, to event.TableID, sh *event.Schema, ddl string, pos event.Pos) ([]*event.SchemaChange, error) {
	delete(h.shadows, from)
	if !h.selected(to) {
		return nil, nil
	}
	sc := cloneSchema(sh)
	sc.ID = to
	before := h.replaced[to]
	delete(h.replaced, to)
	if t := tables[to]; t != nil {
		before = t.schema
	}
	if before != nil {
		sc.Version = before.Version + 1
	}
	t, err := newTable(sc)
	if err != nil {
		return nil, err
	}
	tables[to] = t
	kind := event.AlterTable
	if before == nil {
		kind = event.CreateTable
	}
	return []*event.SchemaChange{{Kind: kind, Table: to, Before: before, After: sc, DDL: ddl, Pos: pos}}, nil
}
