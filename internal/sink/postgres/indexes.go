package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/sqlsink"
	"github.com/weir-data/weir/internal/types"
)

// BuildIndexes makes the source's indexes in table s.ID (connector.IndexBuilder; the
// rules are sqlsink's) with CREATE INDEX CONCURRENTLY, which lets the writers go on
// meanwhile. A build cut short leaves an invalid index, which the next build drops and
// makes again.
func (w *Writer) BuildIndexes(ctx context.Context, s *event.Schema, indexes, gone []event.Index) error {
	if w.o.NoIndexes || len(indexes)+len(gone) == 0 {
		return nil
	}
	schema, table := targetName(s.ID)
	var oid uint32
	var comment string
	err := w.pool.QueryRow(ctx, `SELECT c.oid, COALESCE(obj_description(c.oid, 'pg_class'), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, table).Scan(&oid, &comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return connector.ErrNoTableYet // no row came yet: the next start builds them
	}
	if err != nil {
		return fmt.Errorf("read table %s to build its indexes: %w", quoteID(s.ID), err)
	}
	have, err := w.indexesOf(ctx, oid)
	if err != nil {
		return fmt.Errorf("read the indexes of %s: %w", quoteID(s.ID), err)
	}
	if !sqlsink.IsCreated(comment) {
		if lacked := sqlsink.LackedIndexes(s, indexes, have); len(lacked) > 0 {
			w.log.Warn("a table weir did not create lacks indexes the source table has; weir leaves it as it is",
				"table", quoteID(s.ID), "lacks", strings.Join(lacked, "; "))
		}
		return nil
	}
	m := indexMaker{s: s, fromPG: w.o.SourceType == "postgres"}
	if drops := sqlsink.GoneIndexes(m, gone, have); len(drops) > 0 {
		for _, name := range drops {
			if _, err := w.pool.Exec(ctx, m.DropIndex(name)); err != nil {
				return fmt.Errorf("drop index %s of %s, which the source dropped: %w", name, quoteID(s.ID), err)
			}
			w.log.Info("dropped an index the source dropped", "table", quoteID(s.ID), "index", name)
		}
		if have, err = w.indexesOf(ctx, oid); err != nil {
			return fmt.Errorf("read the indexes of %s: %w", quoteID(s.ID), err)
		}
	}
	steps, skipped := sqlsink.PlanIndexes(m, s, indexes, have)
	for _, why := range skipped {
		w.log.Warn("an index of the source is not made in the target", "table", quoteID(s.ID), "why", why)
	}
	for _, st := range steps {
		start := time.Now()
		if st.Drop != "" {
			if _, err := w.pool.Exec(ctx, st.Drop); err != nil {
				return fmt.Errorf("drop the unfinished index %s of %s: %w", st.Name, quoteID(s.ID), err)
			}
		}
		if _, err := w.pool.Exec(ctx, st.Create); err != nil {
			return fmt.Errorf("build index %s of %s (%s): %w", st.Name, quoteID(s.ID), st.Create, err)
		}
		w.log.Info("built an index of the source table", "table", quoteID(s.ID), "index", st.Name, "took", time.Since(start).Round(time.Millisecond),
			"plain_for_unique", st.Plain)
	}
	return nil
}

// indexesOf are the indexes of the table with oid.
func (w *Writer) indexesOf(ctx context.Context, oid uint32) ([]sqlsink.ExistingIndex, error) {
	rows, err := w.pool.Query(ctx, `SELECT ic.relname, i.indisvalid, ARRAY(SELECT COALESCE(a.attname, '') FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
			LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord)
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1`, oid)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (sqlsink.ExistingIndex, error) {
		var e sqlsink.ExistingIndex
		return e, r.Scan(&e.Name, &e.Valid, &e.Columns)
	})
}

// indexMaker writes PostgreSQL's index DDL for table s; fromPG: its source is PostgreSQL,
// whose own B-tree bounded the values already.
type indexMaker struct {
	s      *event.Schema
	fromPG bool
}

// btreeChars is as many characters as a B-tree entry surely holds (2,704 bytes, 4 a
// character): a longer value would be refused on insert and stop the pipeline.
const btreeChars = 675

// long reports whether column name may hold text longer than a B-tree entry holds.
func (m indexMaker) long(name string) bool {
	i := m.s.ColumnIndex(name)
	if m.fromPG || i < 0 || m.s.Columns[i].Type.Kind != types.String {
		return false
	}
	n := m.s.Columns[i].Type.Length
	return n == 0 || n > btreeChars
}

// IndexName is the source's index name where it starts with the table's (PostgreSQL's
// habit), else the table's name and the index's — index names are one namespace per
// schema — shortened to 63 bytes with a hash where longer.
func (m indexMaker) IndexName(ix event.Index) string {
	name := ix.Name
	if !strings.HasPrefix(name, m.s.ID.Table) {
		name = m.s.ID.Table + "_" + name
	}
	if len(name) > 63 {
		h := sha256.Sum256([]byte(name))
		name = name[:54] + "_" + hex.EncodeToString(h[:4])
	}
	return name
}

func (m indexMaker) CreateIndex(name string, ix event.Index) (string, string) {
	var cols []string
	using := ""
	switch {
	case ix.Kind == "" && len(ix.Columns) == 1 && ix.Columns[0].Prefix == 0 && m.long(ix.Columns[0].Name):
		// A text longer than a B-tree entry holds: a hash index finds it by equality.
		using = " USING hash"
		cols = []string{quote(ix.Columns[0].Name)}
	case ix.Kind == "":
		for _, c := range ix.Columns {
			e := quote(c.Name)
			switch {
			case c.Prefix > 0: // MySQL's prefix index: the same leading characters
				e = fmt.Sprintf("(left(%s, %d))", e, c.Prefix)
			case m.long(c.Name): // its leading characters, as many as an entry surely holds
				e = fmt.Sprintf("(left(%s, %d))", e, btreeChars)
			}
			if c.Desc {
				e += " DESC"
			}
			cols = append(cols, e)
		}
	case ix.Kind == "fulltext": // MySQL's FULLTEXT: a text search index over the columns
		var parts []string
		for _, c := range ix.Columns {
			parts = append(parts, fmt.Sprintf("COALESCE(%s::text, '')", quote(c.Name)))
		}
		using = " USING gin"
		cols = []string{"(to_tsvector('simple', " + strings.Join(parts, " || ' ' || ") + "))"}
	case ix.Kind == "spatial":
		return "", "PostgreSQL has no spatial index without PostGIS"
	default: // another PostgreSQL access method, on the same columns
		using = " USING " + quote(ix.Kind)
		for _, c := range ix.Columns {
			cols = append(cols, quote(c.Name))
		}
	}
	return fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s%s (%s)", quote(name), quoteID(m.s.ID), using, strings.Join(cols, ", ")), ""
}

func (m indexMaker) DropIndex(name string) string {
	schema, _ := targetName(m.s.ID)
	return "DROP INDEX CONCURRENTLY IF EXISTS " + pgx.Identifier{schema, name}.Sanitize()
}
