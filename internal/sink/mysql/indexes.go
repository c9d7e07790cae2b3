package mysql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/sqlsink"
	"github.com/weir-data/weir/internal/types"
)

// lockWait bounds how long an index build waits for the table's metadata lock. InnoDB
// builds an index online, but takes the table's lock for a moment at its start and end;
// it waits for the writers' open transactions, and the writers' next statements on the
// table queue behind it — while the checkpoint that would end those transactions waits
// for them. A build that cannot have the lock soon gives up, lets them through, and
// tries again.
const lockWait = 3

// BuildIndexes makes the source's indexes in table s.ID (connector.IndexBuilder; the
// rules are sqlsink's) with ALTER TABLE … ADD INDEX on a connection of its own, which
// InnoDB builds online while the writers go on.
func (w *Writer) BuildIndexes(ctx context.Context, s *event.Schema, indexes, gone []event.Index) error {
	if w.o.NoIndexes || len(indexes)+len(gone) == 0 {
		return nil
	}
	c, err := w.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	db, tb := w.targetName(s.ID)
	res, err := run(ctx, c, fmt.Sprintf(`SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s`,
		stringLiteral(db), stringLiteral(tb)))
	if err != nil {
		return fmt.Errorf("read table %s to build its indexes: %w", w.quoteID(s.ID), err)
	}
	if res.RowNumber() == 0 {
		res.Close()
		return connector.ErrNoTableYet // no row came yet: the next start builds them
	}
	comment := str(res, 0, 0)
	res.Close()
	res, err = run(ctx, c, fmt.Sprintf(`SELECT INDEX_NAME, GROUP_CONCAT(IFNULL(COLUMN_NAME, '') ORDER BY SEQ_IN_INDEX SEPARATOR '\0')
		FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s GROUP BY INDEX_NAME`, stringLiteral(db), stringLiteral(tb)))
	if err != nil {
		return fmt.Errorf("read the indexes of %s: %w", w.quoteID(s.ID), err)
	}
	var have []sqlsink.ExistingIndex
	for i := range res.Values {
		have = append(have, sqlsink.ExistingIndex{Name: str(res, i, 0), Columns: strings.Split(str(res, i, 1), "\x00"), Valid: true})
	}
	res.Close()
	if !sqlsink.IsCreated(comment) {
		if lacked := sqlsink.LackedIndexes(s, indexes, have); len(lacked) > 0 {
			w.log.Warn("a table weir did not create lacks indexes the source table has; weir leaves it as it is",
				"table", w.quoteID(s.ID), "lacks", strings.Join(lacked, "; "))
		}
		return nil
	}
	w.mu.Lock()
	t, err := w.describe(ctx, s.ID)
	w.mu.Unlock()
	if err != nil || t == nil {
		return err
	}
	if _, err := run(ctx, c, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", lockWait)); err != nil {
		return err
	}
	m := indexMaker{s: s, t: t}
	for _, name := range sqlsink.GoneIndexes(m, gone, have) {
		if err := alterOnline(ctx, c, m.DropIndex(name)); err != nil {
			return fmt.Errorf("drop index %s of %s, which the source dropped: %w", name, t.name, err)
		}
		w.log.Info("dropped an index the source dropped", "table", t.name, "index", name)
		have = slices.DeleteFunc(have, func(h sqlsink.ExistingIndex) bool { return h.Name == name })
	}
	steps, skipped := sqlsink.PlanIndexes(m, s, indexes, have)
	for _, why := range skipped {
		w.log.Warn("an index of the source is not made in the target", "table", t.name, "why", why)
	}
	for _, st := range steps {
		start := time.Now()
		if err := alterOnline(ctx, c, st.Create); err != nil {
			return fmt.Errorf("build index %s of %s (%s): %w", st.Name, t.name, st.Create, err)
		}
		w.log.Info("built an index of the source table", "table", t.name, "index", st.Name, "took", time.Since(start).Round(time.Millisecond),
			"plain_for_unique", st.Plain)
	}
	return nil
}

// alterOnline runs an ALTER TABLE that InnoDB does online, on a connection whose metadata
// lock wait is short (lockWait): when the writers hold the table, it lets them through
// and tries again.
func alterOnline(ctx context.Context, c *client.Conn, stmt string) error {
	for {
		_, err := run(ctx, c, stmt)
		var me *gomysql.MyError
		if !errors.As(err, &me) || me.Code != gomysql.ER_LOCK_WAIT_TIMEOUT {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// indexMaker writes MySQL's index DDL for target table t.
type indexMaker struct {
	s *event.Schema
	t *target
}

// IndexName is the source's, shortened to MySQL's 64 characters with a hash where longer.
func (m indexMaker) IndexName(ix event.Index) string {
	if len(ix.Name) <= 64 {
		return ix.Name
	}
	h := sha256.Sum256([]byte(ix.Name))
	return ix.Name[:55] + "_" + hex.EncodeToString(h[:4])
}

// indexSkip says why MySQL cannot make index ix of source table s ("" where it can).
func indexSkip(s *event.Schema, ix event.Index) string {
	switch ix.Kind {
	case "", "hash", "fulltext", "spatial":
	default:
		return "MySQL has no " + ix.Kind + " index"
	}
	for _, c := range ix.Columns {
		if i := s.ColumnIndex(c.Name); i >= 0 && s.Columns[i].Type.Kind == types.JSON {
			return "MySQL cannot index a JSON column"
		}
	}
	return ""
}

func (m indexMaker) CreateIndex(name string, ix event.Index) (string, string) {
	kind := ""
	switch ix.Kind {
	case "fulltext":
		kind = "FULLTEXT "
	case "spatial":
		kind = "SPATIAL "
	}
	if why := indexSkip(m.s, ix); why != "" {
		return "", why
	}
	var cols []string
	for _, c := range ix.Columns {
		col := m.t.cols[c.Name]
		e := quote(c.Name)
		switch {
		case col.family == "json":
			return "", "MySQL cannot index a JSON column"
		case c.Prefix > 0 && kind == "":
			e += fmt.Sprintf("(%d)", c.Prefix)
		case kind == "" && (strings.HasSuffix(col.family, "text") || strings.HasSuffix(col.family, "blob")):
			e += "(255)" // MySQL indexes a text or blob column by a prefix only
		}
		if c.Desc && kind == "" {
			e += " DESC"
		}
		cols = append(cols, e)
	}
	return fmt.Sprintf("ALTER TABLE %s ADD %sINDEX %s (%s)", m.t.name, kind, quote(name), strings.Join(cols, ", ")), ""
}

func (m indexMaker) DropIndex(name string) string {
	return fmt.Sprintf("ALTER TABLE %s DROP INDEX %s", m.t.name, quote(name))
}
