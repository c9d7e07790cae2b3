package postgres

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/sink/sqlsink"
	"github.com/weir-data/weir/internal/types"
)

// Columns weir adds to the tables it writes, by mode.
const (
	colDeleted  = "_weir_deleted"   // soft delete: the row was deleted at the source
	colOp       = "_weir_op"        // changelog: r, c, u or d
	colPos      = "_weir_pos"       // changelog: the change's position in the source log
	colCommitTS = "_weir_commit_ts" // changelog: the source transaction's commit time
	colSeq      = "_weir_seq"       // changelog: order of arrival (per key: log order)
	colChangeID = "_weir_change_id" // changelog: the change's identity; a replayed change is dropped
	colBefore   = "_weir_before"    // changelog: an update's before image, as the envelope's JSON
)

// target is a table in the sink database as weir found or made it.
type target struct {
	id    event.TableID
	name  string           // quoted schema.table
	cols  map[string]pgCol // by name
	order []string         // column names in table order
	keys  [][]string       // column sets of the primary key and unique indexes
	// native are the columns that keep their source's own PostgreSQL type (native.go),
	// by name: such a column holds its values whatever the unified type says.
	native map[string]string
}

// targetName is where table id goes: schema id.Schema ("public" when empty), table id.Table.
func targetName(id event.TableID) (schema, table string) {
	schema = id.Schema
	if schema == "" {
		schema = "public"
	}
	return schema, id.Table
}

func quoteID(id event.TableID) string {
	s, t := targetName(id)
	return pgx.Identifier{s, t}.Sanitize()
}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

var qualified = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)

func quoteQualified(name string) (string, error) {
	if !qualified.MatchString(name) {
		return "", fmt.Errorf("%q: want a plain [schema.]name", name)
	}
	return pgx.Identifier(strings.Split(name, ".")).Sanitize(), nil
}

// describe reads table id's columns and unique keys; nil when the table does not exist.
// Its three queries go to the server together, in one round trip: a thousand tables
// are each described before and after they are made.
func (w *Writer) describe(ctx context.Context, q querier, id event.TableID) (*target, error) {
	s, tb := targetName(id)
	const rel = `(SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))`
	var b pgx.Batch
	b.Queue(`SELECT `+rel, s, tb)
	b.Queue(`SELECT attname, format_type(atttypid, atttypmod), attnotnull, atthasdef OR attidentity <> ''
		FROM pg_attribute WHERE attrelid = `+rel+` AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, s, tb)
	b.Queue(`SELECT array_agg(a.attname::text ORDER BY k.i) FROM pg_index x
		CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, i)
		JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
		WHERE x.indrelid = `+rel+` AND x.indisunique AND x.indpred IS NULL AND x.indexprs IS NULL
		GROUP BY x.indexrelid`, s, tb)
	res := q.SendBatch(ctx, &b)
	defer res.Close()
	var oid *uint32
	if err := res.QueryRow().Scan(&oid); err != nil {
		return nil, fmt.Errorf("look up table %s in the sink: %w", quoteID(id), err)
	}
	if oid == nil {
		return nil, nil
	}
	t := &target{id: id, name: quoteID(id), cols: map[string]pgCol{}}
	rows, err := res.Query()
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", t.name, err)
	}
	for rows.Next() {
		var name, typ string
		var notNull, hasDef bool
		if err := rows.Scan(&name, &typ, &notNull, &hasDef); err != nil {
			return nil, err
		}
		c := parsePGType(typ)
		c.notNull, c.hasDef = notNull, hasDef
		t.cols[name] = c
		t.order = append(t.order, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", t.name, err)
	}
	if rows, err = res.Query(); err != nil {
		return nil, fmt.Errorf("read the keys of %s: %w", t.name, err)
	}
	for rows.Next() {
		var cols []string
		if err := rows.Scan(&cols); err != nil {
			return nil, err
		}
		t.keys = append(t.keys, cols)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the keys of %s: %w", t.name, err)
	}
	return t, res.Close()
}

type querier interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// createSQL is the CREATE TABLE for schema s in the writer's mode.
func (w *Writer) createSQL(s *event.Schema) string {
	var b strings.Builder
	schema, _ := targetName(s.ID)
	for _, c := range s.Columns {
		if _, first := w.columnType(c, schema); first != "" {
			b.WriteString(first + "; ")
		}
	}
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", quoteID(s.ID))
	for i, c := range s.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		typ, _ := w.columnType(c, schema)
		b.WriteString(quote(c.Name) + " " + typ)
		if w.o.Mode != "changelog" && (!c.Nullable || slices.Contains(s.Key, i)) {
			b.WriteString(" NOT NULL")
		}
	}
	switch {
	case w.o.Mode == "changelog":
		fmt.Fprintf(&b, ", %s text NOT NULL, %s text NOT NULL, %s timestamp(6) with time zone, %s json, %s bigint GENERATED ALWAYS AS IDENTITY, %s uuid PRIMARY KEY",
			colOp, colPos, colCommitTS, colBefore, colSeq, colChangeID)
	default:
		if w.o.DeleteMode == "soft" {
			fmt.Fprintf(&b, ", %s boolean NOT NULL DEFAULT false", colDeleted)
		}
		keys := make([]string, len(s.Key))
		for i, k := range s.Key {
			keys[i] = quote(s.Columns[k].Name)
		}
		fmt.Fprintf(&b, ", PRIMARY KEY (%s)", strings.Join(keys, ", "))
	}
	b.WriteString(")")
	fmt.Fprintf(&b, "; COMMENT ON TABLE %s IS '%s'", quoteID(s.ID), strings.ReplaceAll(sqlsink.CreatedComment(w.o.Pipeline), "'", "''"))
	return b.String()
}

// ensure makes table s.ID ready for rows of schema s: creates it (and its schema) when it
// is missing, checks it when it exists, and builds the statements for s. Every problem
// with an existing table is reported at once, column by column, before anything is
// written to it. Callers hold w.mu.
func (w *Writer) ensure(ctx context.Context, s *event.Schema) (*plan, error) {
	if pl := w.plans[s]; pl != nil {
		return pl, nil
	}
	t := w.targets[s.ID]
	if t == nil {
		if err := sqlsink.NeedsKey(s, w.o.Mode); err != nil {
			return nil, err
		}
		var err error
		if t, err = w.describe(ctx, w.pool, s.ID); err != nil {
			return nil, err
		}
		if t == nil {
			schema, _ := targetName(s.ID) // (one round trip: the schema, the table)
			if _, err := w.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quote(schema)+"; "+w.createSQL(s)); err != nil {
				return nil, fmt.Errorf("create table %s (and its schema %s) in the sink: %w", quoteID(s.ID), quote(schema), err)
			}
			w.log.Info("created table", "table", quoteID(s.ID))
			if t, err = w.describe(ctx, w.pool, s.ID); err != nil {
				return nil, err
			}
		} else if w.o.Mode != "changelog" && w.o.DeleteMode == "soft" && t.cols[colDeleted].family == "" {
			if _, err := w.pool.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s boolean NOT NULL DEFAULT false", t.name, colDeleted)); err != nil {
				return nil, fmt.Errorf("add the soft-delete column to %s: %w", t.name, err)
			}
			if t, err = w.describe(ctx, w.pool, s.ID); err != nil {
				return nil, err
			}
		}
		w.targets[s.ID] = t
	}
	// An existing table that cannot take the rows is made to fit as streaming would fit
	// it to the same schema change (schema.change.behavior); what is left stops the run.
	t.native = w.nativeTypes(s)
	fixes, problems := sqlsink.Fit(&dialect{w: w, t: t}, t, s, w.o.Mode == "changelog", w.o.Behavior)
	if len(problems) > 0 {
		return nil, fault.AsFatal(fmt.Errorf("table %s in the sink cannot take the rows of %s:\n  %s\nfix the table (or drop it and weir creates it), then start again",
			t.name, s.ID, strings.Join(problems, "\n  ")))
	}
	if len(fixes) > 0 {
		for _, f := range fixes {
			if _, err := w.pool.Exec(ctx, f.Stmt); err != nil {
				return nil, fault.AsFatal(fmt.Errorf("table %s in the sink cannot take the rows of %s: %s, and %s failed: %w; fix the table, then start again",
					t.name, s.ID, f.Why, f.Stmt, err))
			}
			w.log.Info("made an existing table fit the source", "table", t.name, "because", f.Why, "statement", f.Stmt)
		}
		var err error
		if t, err = w.describe(ctx, w.pool, s.ID); err != nil {
			return nil, err
		}
		w.targets[s.ID] = t
	}
	pl := w.newPlan(t, s)
	w.plans[s] = pl
	return pl, nil
}

// plan holds the statements that write rows of one source schema into its target.
type plan struct {
	s     *event.Schema
	t     *target
	casts []string // target type of each source column, for casting text
	// pgArray marks the array columns the table holds as PostgreSQL arrays, not JSON:
	// their values are written in array input form (pgArrayText).
	pgArray []bool
	copy    string
	// bin is the binary COPY form of each column (binary.go), nil when the table is
	// COPYed as text; copyBin the COPY statement in that format, kinds the columns' types.
	bin     []binCol
	copyBin string
	kinds   []types.Kind
	upsert  map[string]string // by the mask of columns left out (unchanged TOAST); "" = none
	del     string
	append  string // changelog insert
	copyOK  atomic.Bool
}

func (w *Writer) newPlan(t *target, s *event.Schema) *plan {
	pl := &plan{s: s, t: t, upsert: map[string]string{}}
	names := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		pl.casts = append(pl.casts, t.cols[c.Name].formatted)
		pl.pgArray = append(pl.pgArray, c.Type.Kind == types.Array && strings.HasSuffix(t.cols[c.Name].formatted, "[]"))
		names[i] = quote(c.Name)
	}
	pl.copyOK.Store(true)
	pl.copy = fmt.Sprintf("COPY %s (%s) FROM STDIN", t.name, strings.Join(names, ", "))
	if pl.bin = binCols(pl); pl.bin != nil {
		pl.copyBin = pl.copy + " (FORMAT binary)"
		for _, c := range s.Columns {
			pl.kinds = append(pl.kinds, c.Type.Kind)
		}
	}
	if w.o.Mode == "changelog" {
		pl.append = w.appendSQL(pl)
		return pl
	}
	var where []string
	params := make([]string, len(s.Key))
	for i, k := range s.Key {
		params[i] = fmt.Sprintf("$%d::text[]", i+1)
		where = append(where, fmt.Sprintf("t.%s = u.p%d::%s", names[k], i, pl.casts[k]))
	}
	pl.del = fmt.Sprintf("DELETE FROM %s AS t USING unnest(%s) AS u(%s) WHERE %s",
		t.name, strings.Join(params, ", "), pnames(len(s.Key)), strings.Join(where, " AND "))
	return pl
}

func pnames(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("p%d", i)
	}
	return strings.Join(out, ", ")
}

// upsertSQL is the INSERT … ON CONFLICT for the columns not in skip (unchanged values),
// with the soft-delete flag as a last text parameter when the delete mode is soft.
func (w *Writer) upsertSQL(pl *plan, skip []bool) string {
	var cols, sel, params, set []string
	n := 0
	for i, c := range pl.s.Columns {
		if skip != nil && skip[i] {
			continue
		}
		cols = append(cols, quote(c.Name))
		params = append(params, fmt.Sprintf("$%d::text[]", n+1))
		sel = append(sel, fmt.Sprintf("u.p%d::%s", n, pl.casts[i]))
		if !slices.Contains(pl.s.Key, i) {
			set = append(set, fmt.Sprintf("%s = EXCLUDED.%s", quote(c.Name), quote(c.Name)))
		}
		n++
	}
	if w.o.DeleteMode == "soft" {
		cols = append(cols, colDeleted)
		params = append(params, fmt.Sprintf("$%d::text[]", n+1))
		sel = append(sel, fmt.Sprintf("u.p%d::boolean", n))
		set = append(set, fmt.Sprintf("%s = EXCLUDED.%s", colDeleted, colDeleted))
		n++
	}
	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	keys := pl.s.KeyNames()
	for i := range keys {
		keys[i] = quote(keys[i])
	}
	return fmt.Sprintf("INSERT INTO %s AS t (%s) SELECT %s FROM unnest(%s) AS u(%s) ON CONFLICT (%s) %s",
		pl.t.name, strings.Join(cols, ", "), strings.Join(sel, ", "), strings.Join(params, ", "), pnames(n),
		strings.Join(keys, ", "), conflict)
}

// appendSQL is the changelog insert: the columns, then op, position, commit time, before
// image and change id; a change id already in the table is a replay and is dropped.
func (w *Writer) appendSQL(pl *plan) string {
	var cols, sel, params []string
	for i, c := range pl.s.Columns {
		cols = append(cols, quote(c.Name))
		sel = append(sel, fmt.Sprintf("u.p%d::%s", i, pl.casts[i]))
	}
	n := len(pl.s.Columns)
	cols = append(cols, colOp, colPos, colCommitTS, colBefore, colChangeID)
	sel = append(sel, fmt.Sprintf("u.p%d", n), fmt.Sprintf("u.p%d", n+1), fmt.Sprintf("u.p%d::timestamptz", n+2),
		fmt.Sprintf("u.p%d::json", n+3), fmt.Sprintf("u.p%d::uuid", n+4))
	for i := range n + 5 {
		params = append(params, fmt.Sprintf("$%d::text[]", i+1))
	}
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM unnest(%s) WITH ORDINALITY AS u(%s, ord) ORDER BY u.ord ON CONFLICT (%s) DO NOTHING",
		pl.t.name, strings.Join(cols, ", "), strings.Join(sel, ", "), strings.Join(params, ", "), pnames(n+5), colChangeID)
}

// forget drops what the writer knows of table id (after a schema change of it).
func (w *Writer) forget(id event.TableID) {
	delete(w.targets, id)
	for s := range w.plans {
		if s.ID == id {
			delete(w.plans, s)
		}
	}
}

// nativeTypes are the columns of s that keep their source's own type, by name.
func (w *Writer) nativeTypes(s *event.Schema) map[string]string {
	if w.o.SourceType != "postgres" {
		return nil
	}
	schema, _ := targetName(s.ID)
	out := map[string]string{}
	for _, c := range s.Columns {
		if n, _ := nativeType(c, schema); n != "" {
			out[c.Name] = n
		}
	}
	return out
}

// native turns the value of column ci into what the table's column takes: an array value
// into PostgreSQL's array input where the column is an array (pgArray), else the value.
func (pl *plan) native(ci int, v event.Value) (event.Value, error) {
	if !pl.pgArray[ci] || v.Rep() != event.RepJSON {
		return v, nil
	}
	s, err := pgArrayText(v.Str())
	return event.String(s), err
}

var _ connector.TableChecker = (*Writer)(nil)

// CheckTables refuses, before anything is written, a table the sink could not upsert
// (connector.TableChecker).
func (w *Writer) CheckTables(schemas []*event.Schema) error {
	for _, s := range schemas {
		if err := sqlsink.NeedsKey(s, w.o.Mode); err != nil {
			return err
		}
	}
	return nil
}

// CheckTables is the same check for `weir validate` (connector.SinkDef.CheckTables).
func CheckTables(schemas []*event.Schema, cfg *connector.Config, _ connector.Env) []error {
	var out []error
	for _, s := range schemas {
		if err := sqlsink.NeedsKey(s, cfg.String("sink.mode")); err != nil {
			out = append(out, err)
		}
	}
	return out
}
