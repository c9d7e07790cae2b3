package event

import (
	"fmt"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/types"
)

// TableID names a table. Namespace is the PostgreSQL database (empty for MySQL), Schema the
// MySQL database or PostgreSQL schema, Table the table.
type TableID struct {
	Namespace string `json:"namespace,omitempty"`
	Schema    string `json:"schema,omitempty"`
	Table     string `json:"table"`
}

// String renders the ID as dotted parts, leaving out empty ones: "shop.orders".
func (id TableID) String() string {
	var parts []string
	for _, p := range []string{id.Namespace, id.Schema, id.Table} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

// Column is one column of a table.
type Column struct {
	Name     string     `json:"name"`
	Type     types.Type `json:"type"`
	Nullable bool       `json:"nullable,omitempty"`
	// SourceType is the column's type as the source declares it ("bigint(20) unsigned"), for
	// messages and docs; it never drives decoding.
	SourceType string `json:"source_type,omitempty"`
	// TypeDef is how a sink of the source's own engine makes the user type SourceType
	// names, where the source knows it: "DOMAIN AS integer CHECK (VALUE > 0)" or
	// "TYPE AS (street text, zip integer)" (PostgreSQL), to be read as CREATE DOMAIN|TYPE
	// name AS …. Other sinks go by Type.
	TypeDef string `json:"type_def,omitempty"`
	// Default is the value the source gives rows that do not set the column, as text,
	// when the DDL declares a literal one (or the engine implies one: MySQL's 0 or '' for
	// NOT NULL columns). A sink adding the column gives it to the rows it already holds,
	// as the source did to its own. Nil: none known (or not a literal, such as NOW()).
	Default *string `json:"default,omitempty"`
}

// Schema is a table's shape at one position of its source's log. A Schema is immutable
// once a source has emitted it: a schema change makes a new Schema, so every Change points
// at the schema that was in force where it was read.
type Schema struct {
	ID      TableID  `json:"id"`
	Columns []Column `json:"columns"`
	// Key holds the indexes into Columns of the primary key (or of the unique key that
	// stands in for it), in key order. Empty: the table has no key.
	Key []int `json:"key,omitempty"`
	// Version increases with each change of this table's schema within a source.
	Version int `json:"version,omitempty"`
	// Indexes are the table's secondary indexes and unique constraints (not its primary
	// key), as a sink makes them in the target once the table's snapshot is in
	// (connector.IndexBuilder). Indexes on expressions, and partial ones, are not kept.
	Indexes []Index `json:"indexes,omitempty"`
}

// Index is a secondary index of a source table.
type Index struct {
	Name    string        `json:"name"`
	Columns []IndexColumn `json:"columns"`
	Unique  bool          `json:"unique,omitempty"`
	// Kind is "" for an ordinary (B-tree) index, "fulltext", "spatial", or another
	// PostgreSQL access method ("gin", "gist", "hash", …).
	Kind string `json:"kind,omitempty"`
}

// IndexColumn is a column of an index.
type IndexColumn struct {
	Name   string `json:"name"`
	Prefix int    `json:"prefix,omitempty"` // MySQL: the leading characters indexed (0: the whole value)
	Desc   bool   `json:"desc,omitempty"`
}

// ColumnNames are the names of the index's columns, in order.
func (ix Index) ColumnNames() []string {
	out := make([]string, len(ix.Columns))
	for i, c := range ix.Columns {
		out[i] = c.Name
	}
	return out
}

// RenameIndexColumn follows a column's rename in the indexes that name it.
func (s *Schema) RenameIndexColumn(from, to string) {
	s.Indexes = slices.Clone(s.Indexes)
	for i := range s.Indexes {
		s.Indexes[i].Columns = slices.Clone(s.Indexes[i].Columns)
		for j := range s.Indexes[i].Columns {
			if strings.EqualFold(s.Indexes[i].Columns[j].Name, from) {
				s.Indexes[i].Columns[j].Name = to
			}
		}
	}
}

// DropIndexColumn takes a dropped column out of the indexes, as MySQL and PostgreSQL do
// (MySQL keeps an index with its other columns; an index left with none goes).
func (s *Schema) DropIndexColumn(name string) {
	var out []Index
	for _, ix := range s.Indexes {
		ix.Columns = slices.DeleteFunc(slices.Clone(ix.Columns), func(c IndexColumn) bool { return strings.EqualFold(c.Name, name) })
		if len(ix.Columns) > 0 {
			out = append(out, ix)
		}
	}
	s.Indexes = out
}

// ColumnIndex returns the index of the named column, or -1.
func (s *Schema) ColumnIndex(name string) int {
	for i, c := range s.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// KeyNames returns the names of the key columns.
func (s *Schema) KeyNames() []string {
	out := make([]string, len(s.Key))
	for i, k := range s.Key {
		out[i] = s.Columns[k].Name
	}
	return out
}

// KeyOf returns the values of r's key columns, in key order.
func (s *Schema) KeyOf(r Row) Row {
	k := make(Row, len(s.Key))
	for i, c := range s.Key {
		k[i] = r[c]
	}
	return k
}

// Validate checks that the schema is well formed; sources call it before emitting.
func (s *Schema) Validate() error {
	if s.ID.Table == "" {
		return fmt.Errorf("schema has no table name")
	}
	seen := map[string]bool{}
	for _, c := range s.Columns {
		if seen[c.Name] {
			return fmt.Errorf("table %s: column %q appears twice", s.ID, c.Name)
		}
		seen[c.Name] = true
	}
	for _, k := range s.Key {
		if k < 0 || k >= len(s.Columns) {
			return fmt.Errorf("table %s: key column index %d out of range", s.ID, k)
		}
	}
	return nil
}

// SchemaChangeKind is what a DDL statement did to a table.
type SchemaChangeKind uint8

// The kinds of schema change.
const (
	CreateTable SchemaChangeKind = iota + 1
	DropTable
	RenameTable
	AddColumn
	DropColumn
	RenameColumn
	ModifyColumn // type, nullability or default changed
	TruncateTable
	AlterTable // the table's schema was replaced whole (online schema change tools' cut-over)
)

var schemaChangeNames = [...]string{
	CreateTable: "create table", DropTable: "drop table", RenameTable: "rename table",
	AddColumn: "add column", DropColumn: "drop column", RenameColumn: "rename column",
	ModifyColumn: "modify column", TruncateTable: "truncate table", AlterTable: "alter table",
}

func (k SchemaChangeKind) String() string {
	if int(k) < len(schemaChangeNames) && schemaChangeNames[k] != "" {
		return schemaChangeNames[k]
	}
	return fmt.Sprintf("schema change %d", k)
}

// SchemaChange is a DDL event in the stream. It is a barrier: every change before it is
// applied before it, every change after it after it.
type SchemaChange struct {
	Kind SchemaChangeKind `json:"kind"`
	// Table is the table the change applies to (its old name for a rename).
	Table TableID `json:"table"`
	// Before is the schema before the change (nil for CreateTable); After the schema after
	// it (nil for DropTable and TruncateTable keeps After = Before).
	Before *Schema `json:"before,omitempty"`
	After  *Schema `json:"after,omitempty"`
	// Column names the column for column changes; NewName the new column or table name.
	Column  string `json:"column,omitempty"`
	NewName string `json:"new_name,omitempty"`
	// DDL is the statement as the source logged it, for messages.
	DDL string `json:"ddl,omitempty"`
	Pos Pos    `json:"pos"`
}

func (c *SchemaChange) String() string {
	s := c.Kind.String() + " " + c.Table.String()
	if c.Column != "" {
		s += "." + c.Column
	}
	if c.NewName != "" {
		s += " to " + c.NewName
	}
	return s
}

// schemaChangeTypes are the kinds' names in Flink CDC's include/exclude.schema.changes.
var schemaChangeTypes = map[SchemaChangeKind]string{
	CreateTable: "create.table", DropTable: "drop.table", RenameTable: "rename.table",
	AddColumn: "add.column", DropColumn: "drop.column", RenameColumn: "rename.column",
	ModifyColumn: "alter.column.type", TruncateTable: "truncate.table", AlterTable: "alter.table",
}

// SchemaChangeTypes lists the names include/exclude.schema.changes take: every kind, and
// the groups add, alter, create, drop, rename, truncate, column and table.
func SchemaChangeTypes() []string {
	out := []string{"add", "alter", "create", "drop", "rename", "truncate", "column", "table"}
	for k := CreateTable; k <= AlterTable; k++ {
		out = append(out, schemaChangeTypes[k])
	}
	return out
}

// MatchesSchemaChangeType reports whether kind k is named by item: its own name
// (add.column), its verb (add), or its object (column, table).
func (k SchemaChangeKind) MatchesSchemaChangeType(item string) bool {
	name := schemaChangeTypes[k]
	verb, object, _ := strings.Cut(name, ".")
	object, _, _ = strings.Cut(object, ".")
	return item == name || item == verb || item == object
}
