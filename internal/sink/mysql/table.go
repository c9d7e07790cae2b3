package mysql

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/sink/sqlsink"
)

// Columns weir adds to the tables it writes, by mode.
const (
	colDeleted  = "_weir_deleted"   // soft delete: the row was deleted at the source
	colOp       = "_weir_op"        // changelog: r, c, u or d
	colPos      = "_weir_pos"       // changelog: the change's position in the source log
	colCommitTS = "_weir_commit_ts" // changelog: the source transaction's commit time (UTC)
	colSeq      = "_weir_seq"       // changelog: order of arrival (per key: log order)
	colChangeID = "_weir_change_id" // changelog: the change's identity; a replayed change is dropped
	colBefore   = "_weir_before"    // changelog: an update's before image, as the envelope's JSON
)

// target is a table in the sink as weir found or made it.
type target struct {
	id    event.TableID
	name  string           // quoted db.table
	cols  map[string]myCol // by name
	order []string         // column names in table order
	keys  []index          // the primary key and unique indexes
	// native are the columns that keep their source's own type (native.go), by name.
	native map[string]string
}

// index is a unique index of a target table.
type index struct {
	name string
	cols []string
}

// keyIndex is the unique index on exactly the columns of key (in any order), or "".
func (t *target) keyIndex(key []string) string {
	want := slices.Clone(key)
	slices.Sort(want)
	for _, ix := range t.keys {
		k := slices.Clone(ix.cols)
		slices.Sort(k)
		if slices.Equal(k, want) {
			return ix.name
		}
	}
	return ""
}

// targetName is where table id goes: database id.Schema (the url's database when
// empty), table id.Table.
func (w *Writer) targetName(id event.TableID) (db, table string) {
	db = id.Schema
	if db == "" {
		db = w.addr.db
	}
	return db, id.Table
}

func (w *Writer) quoteID(id event.TableID) string {
	db, t := w.targetName(id)
	return quote(db) + "." + quote(t)
}

var qualified = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)

// splitQualified splits [database.]name, the database defaulting to db.
func splitQualified(name, db string) (string, string, error) {
	if !qualified.MatchString(name) {
		return "", "", fmt.Errorf("%q: want a plain [database.]name", name)
	}
	if d, n, ok := strings.Cut(name, "."); ok {
		return d, n, nil
	}
	return db, name, nil
}

// describe reads table id's columns and unique keys; nil when the table does not exist.
// Callers hold w.mu.
func (w *Writer) describe(ctx context.Context, id event.TableID) (*target, error) {
	db, tb := w.targetName(id)
	t := &target{id: id, name: w.quoteID(id), cols: map[string]myCol{}}
	res, err := run(ctx, w.ctl, fmt.Sprintf(`SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'NO',
		COLUMN_DEFAULT IS NOT NULL OR EXTRA LIKE '%%auto_increment%%' OR EXTRA LIKE '%%GENERATED%%'
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION`,
		stringLiteral(db), stringLiteral(tb)))
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", t.name, err)
	}
	for i := range res.Values {
		name := str(res, i, 0)
		typ := str(res, i, 1)
		notNull, _ := res.GetInt(i, 2)
		hasDef, _ := res.GetInt(i, 3)
		c := parseMyType(typ)
		c.notNull, c.hasDef = notNull == 1, hasDef == 1
		t.cols[name] = c
		t.order = append(t.order, name)
	}
	res.Close()
	if len(t.order) == 0 {
		return nil, nil
	}
	res, err = run(ctx, w.ctl, fmt.Sprintf(`SELECT INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR '\0')
		FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0
		GROUP BY INDEX_NAME HAVING SUM(SUB_PART IS NOT NULL) = 0`, stringLiteral(db), stringLiteral(tb)))
	if err != nil {
		return nil, fmt.Errorf("read the keys of %s: %w", t.name, err)
	}
	defer res.Close()
	for i := range res.Values {
		t.keys = append(t.keys, index{name: str(res, i, 0), cols: strings.Split(str(res, i, 1), "\x00")})
	}
	return t, nil
}

// createSQL is the CREATE TABLE for schema s in the writer's mode.
func (w *Writer) createSQL(s *event.Schema) (string, error) {
	var budget map[int]int
	if w.o.Mode != "changelog" {
		var err error
		if budget, err = keyBudget(s); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", w.quoteID(s.ID))
	rowBytes := 0
	for i, c := range s.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		inKey := w.o.Mode != "changelog" && slices.Contains(s.Key, i)
		b.WriteString(quote(c.Name) + " " + w.colType(c, budget[i], &rowBytes))
		if w.o.Mode != "changelog" && (!c.Nullable || inKey) {
			b.WriteString(" NOT NULL")
		}
	}
	switch {
	case w.o.Mode == "changelog":
		// No unique index: a duplicate check, on any unique index, can take gap locks (on
		// the delete-marked rows a rolled-back transaction leaves, even in READ COMMITTED),
		// and another writer's insert into that gap then waits until the checkpoint, which
		// waits for it. Rows are appended by _weir_seq; a replayed change is found by a
		// plain read of _weir_change_id before the insert (appendChanges).
		fmt.Fprintf(&b, ", %s char(1) NOT NULL, %s varchar(255) NOT NULL, %s datetime(6), %s json, %s bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, %s char(36) CHARACTER SET ascii NOT NULL, KEY (%s)",
			colOp, colPos, colCommitTS, colBefore, colSeq, colChangeID, colChangeID)
	default:
		if w.o.DeleteMode == "soft" {
			fmt.Fprintf(&b, ", %s tinyint(1) NOT NULL DEFAULT 0", colDeleted)
		}
		keys := make([]string, len(s.Key))
		for i, k := range s.Key {
			keys[i] = quote(s.Columns[k].Name)
		}
		fmt.Fprintf(&b, ", PRIMARY KEY (%s)", strings.Join(keys, ", "))
	}
	fmt.Fprintf(&b, ") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = %s COMMENT = %s", w.collation, stringLiteral(sqlsink.CreatedComment(w.o.Pipeline)))
	return b.String(), nil
}

// CheckTables says which schemas' keys the server cannot index (connector.TableChecker).
func (w *Writer) CheckTables(schemas []*event.Schema) error {
	if w.o.Mode == "changelog" {
		return nil
	}
	for _, s := range schemas {
		if err := sqlsink.NeedsKey(s, w.o.Mode); err != nil {
			return err
		}
		if _, err := keyBudget(s); err != nil {
			return err
		}
	}
	return nil
}

// ensure makes table s.ID ready for rows of schema s: creates it (and its database) when
// it is missing, checks it when it exists, and builds the statements for s. Every
// problem with an existing table is reported at once, column by column, before anything
// is written to it. Callers hold w.mu, and no partition has a transaction open on it.
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
		if t, err = w.describe(ctx, s.ID); err != nil {
			return nil, err
		}
		if t == nil {
			db, _ := w.targetName(s.ID)
			if _, err := run(ctx, w.ctl, "CREATE DATABASE IF NOT EXISTS "+quote(db)); err != nil {
				return nil, fmt.Errorf("create database %s in the sink: %w", quote(db), err)
			}
			create, err := w.createSQL(s)
			if err != nil {
				return nil, err
			}
			if _, err := run(ctx, w.ctl, create); err != nil {
				return nil, fault.AsFatal(fmt.Errorf("create table %s in the sink: %w", w.quoteID(s.ID), err))
			}
			w.log.Info("created table", "table", w.quoteID(s.ID))
			if t, err = w.describe(ctx, s.ID); err != nil {
				return nil, err
			}
		} else if w.o.Mode != "changelog" && w.o.DeleteMode == "soft" && t.cols[colDeleted].family == "" {
			if _, err := run(ctx, w.ctl, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s tinyint(1) NOT NULL DEFAULT 0", t.name, colDeleted)); err != nil {
				return nil, fmt.Errorf("add the soft-delete column to %s: %w", t.name, err)
			}
			if t, err = w.describe(ctx, s.ID); err != nil {
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
			if _, err := run(ctx, w.ctl, f.Stmt); err != nil {
				return nil, fault.AsFatal(fmt.Errorf("table %s in the sink cannot take the rows of %s: %s, and %s failed: %w; fix the table, then start again",
					t.name, s.ID, f.Why, f.Stmt, err))
			}
			w.log.Info("made an existing table fit the source", "table", t.name, "because", f.Why, "statement", f.Stmt)
		}
		var err error
		if t, err = w.describe(ctx, s.ID); err != nil {
			return nil, err
		}
		w.targets[s.ID] = t
	}
	pl := w.newPlan(t, s)
	w.plans[s] = pl
	return pl, nil
}

// plan holds the statement parts that write rows of one source schema into its target.
type plan struct {
	s       *event.Schema
	t       *target
	insert  map[string]string // "INSERT INTO t (cols) VALUES " by the mask of columns left out; "" = none
	update  map[string]string // " ON DUPLICATE KEY UPDATE …" likewise
	del     string            // "DELETE FROM t WHERE "
	keyCols []int
}

func (w *Writer) newPlan(t *target, s *event.Schema) *plan {
	pl := &plan{s: s, t: t, insert: map[string]string{}, update: map[string]string{}, keyCols: s.Key}
	if w.o.Mode == "changelog" {
		pl.insert[""], pl.update[""] = w.appendSQL(pl)
		return pl
	}
	pl.del = fmt.Sprintf("DELETE FROM %s WHERE ", t.name)
	return pl
}

// upsertSQL returns the INSERT head and the ON DUPLICATE KEY UPDATE tail for the columns
// not in skip (values the source did not send), with the soft-delete flag last when the
// delete mode is soft. Callers hold w.mu.
func (w *Writer) upsertSQL(pl *plan, mask string, skip []bool) (string, string) {
	if h, ok := pl.insert[mask]; ok {
		return h, pl.update[mask]
	}
	var cols, set []string
	for i, c := range pl.s.Columns {
		if skip != nil && skip[i] {
			continue
		}
		cols = append(cols, quote(c.Name))
		if !slices.Contains(pl.s.Key, i) {
			set = append(set, fmt.Sprintf("%s = VALUES(%s)", quote(c.Name), quote(c.Name)))
		}
	}
	if w.o.DeleteMode == "soft" {
		cols = append(cols, colDeleted)
		set = append(set, fmt.Sprintf("%s = VALUES(%s)", colDeleted, colDeleted))
	}
	if len(set) == 0 {
		k := quote(pl.s.Columns[pl.s.Key[0]].Name)
		set = append(set, k+" = "+k)
	}
	head := fmt.Sprintf("INSERT INTO %s (%s) VALUES ", pl.t.name, strings.Join(cols, ", "))
	tail := " ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
	pl.insert[mask], pl.update[mask] = head, tail
	return head, tail
}

// appendSQL is the changelog insert, the columns, then op, position, commit time, before
// image and change id; and the read of the change ids a batch would repeat (a replay).
func (w *Writer) appendSQL(pl *plan) (string, string) {
	var cols []string
	for _, c := range pl.s.Columns {
		cols = append(cols, quote(c.Name))
	}
	cols = append(cols, colOp, colPos, colCommitTS, colBefore, colChangeID)
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES ", pl.t.name, strings.Join(cols, ", ")),
		fmt.Sprintf("SELECT %s FROM %s WHERE %s IN (", colChangeID, pl.t.name, colChangeID)
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
