package mysql

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/digest"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/mysqlconn"
)

// Reader reads back the tables the sink writes (connector.TableReader), for `weir verify`:
// it claims nothing, so it runs beside the pipeline. Each query takes a connection from a
// small pool of idle ones, so readers run in parallel.
type Reader struct {
	addr    address
	cpTable string
	timeout time.Duration
	mu      sync.Mutex
	idle    []*client.Conn
}

// OpenReader connects a Reader from the sink's config.
func OpenReader(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.TableReader, error) {
	a, err := parseURL(cfg.String("url"))
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("mysql sink: url: %w", err))
	}
	cpDB, cpName, err := splitQualified(cfg.String("checkpoint.table"), a.db)
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("mysql sink: checkpoint.table: %w", err))
	}
	r := &Reader{addr: a, cpTable: quote(cpDB) + "." + quote(cpName), timeout: cfg.Duration("connect.timeout")}
	if r.timeout <= 0 {
		r.timeout = 30 * time.Second
	}
	c, err := r.conn(ctx) // fail now on a bad address or password
	if err != nil {
		return nil, err
	}
	r.release(c)
	return r, nil
}

func (r *Reader) conn(ctx context.Context) (*client.Conn, error) {
	r.mu.Lock()
	if n := len(r.idle); n > 0 {
		c := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		return c, nil
	}
	r.mu.Unlock()
	c, err := dial(ctx, r.addr, "", r.timeout)
	if err != nil {
		return nil, fmt.Errorf("mysql sink: %w", err)
	}
	return c, nil
}

func (r *Reader) release(c *client.Conn) {
	r.mu.Lock()
	r.idle = append(r.idle, c)
	r.mu.Unlock()
}

// query runs q on a pooled connection and turns its rows into s's unified form.
func (r *Reader) query(ctx context.Context, s *event.Schema, q string) ([]event.Row, error) {
	c, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	res, err := run(ctx, c, q)
	if err != nil {
		c.Close() // its state is unknown
		return nil, err
	}
	defer r.release(c)
	defer res.Close()
	rows, _, err := scanRows(res, s, 0)
	return rows, err
}

func (r *Reader) tableName(id event.TableID) string {
	db := id.Schema
	if db == "" {
		db = r.addr.db
	}
	return quote(db) + "." + quote(id.Table)
}

// keyTuple is key as a SQL row value: (a, b), or a for a one-column key.
func keyTuple(s *event.Schema, key event.Row) (string, error) {
	lits := make([]string, len(key))
	for i, v := range key {
		b, err := appendLiteral(nil, v, s.Columns[s.Key[i]].Type.Kind)
		if err != nil {
			return "", fmt.Errorf("key column %s: %w", s.Columns[s.Key[i]].Name, err)
		}
		lits[i] = string(b)
	}
	if len(lits) == 1 {
		return lits[0], nil
	}
	return "(" + strings.Join(lits, ", ") + ")", nil
}

func keyColumns(s *event.Schema) string {
	cols := make([]string, len(s.Key))
	for i, k := range s.Key {
		cols[i] = "t." + quote(s.Columns[k].Name)
	}
	if len(cols) == 1 {
		return cols[0]
	}
	return "(" + strings.Join(cols, ", ") + ")"
}

func (r *Reader) ReadKeys(ctx context.Context, s *event.Schema, keys []event.Row) ([]event.Row, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	tuples := make([]string, len(keys))
	for i, k := range keys {
		var err error
		if tuples[i], err = keyTuple(s, k); err != nil {
			return nil, err
		}
	}
	q := fmt.Sprintf("SELECT %s FROM %s AS t WHERE %s IN (%s)", selectList(s, nil), r.tableName(s.ID), keyColumns(s), strings.Join(tuples, ", "))
	rows, err := r.query(ctx, s, q)
	if err != nil {
		return nil, fmt.Errorf("read %d rows of %s by key: %w", len(keys), r.tableName(s.ID), err)
	}
	return rows, nil
}

func (r *Reader) ScanKeys(ctx context.Context, s *event.Schema, after event.Row, limit int) ([]event.Row, error) {
	ks := &event.Schema{ID: s.ID}
	for i, k := range s.Key {
		ks.Columns = append(ks.Columns, s.Columns[k])
		ks.Key = append(ks.Key, i)
	}
	q := fmt.Sprintf("SELECT %s FROM %s AS t", selectList(ks, nil), r.tableName(s.ID))
	if after != nil {
		tuple, err := keyTuple(s, after)
		if err != nil {
			return nil, err
		}
		q += fmt.Sprintf(" WHERE %s > %s", keyColumns(s), tuple)
	}
	order := strings.Trim(keyColumns(s), "()")
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", order, limit)
	rows, err := r.query(ctx, ks, q)
	if err != nil {
		return nil, fmt.Errorf("scan the keys of %s: %w", r.tableName(s.ID), err)
	}
	return rows, nil
}

func (r *Reader) Count(ctx context.Context, s *event.Schema) (int64, bool, error) {
	c, err := r.conn(ctx)
	if err != nil {
		return 0, false, err
	}
	res, err := run(ctx, c, "SELECT COUNT(*) FROM "+r.tableName(s.ID))
	if err != nil {
		c.Close()
		if strings.Contains(err.Error(), "doesn't exist") {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("count the rows of %s: %w", r.tableName(s.ID), err)
	}
	defer r.release(c)
	defer res.Close()
	n, err := res.GetInt(0, 0)
	return n, true, err
}

func (r *Reader) LoadCheckpoint(ctx context.Context, pipeline string) (*checkpoint.Checkpoint, error) {
	c, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	res, err := run(ctx, c, fmt.Sprintf("SELECT checkpoint FROM %s WHERE pipeline = %s", r.cpTable, stringLiteral(pipeline)))
	if err != nil {
		c.Close()
		if strings.Contains(err.Error(), "doesn't exist") {
			return nil, nil
		}
		return nil, fmt.Errorf("mysql sink: read the checkpoint of %q: %w", pipeline, err)
	}
	defer r.release(c)
	defer res.Close()
	if res.RowNumber() == 0 {
		return nil, nil
	}
	if null, _ := res.IsNull(0, 0); null {
		return nil, nil
	}
	var cp checkpoint.Checkpoint
	if err := json.Unmarshal([]byte(str(res, 0, 0)), &cp); err != nil {
		return nil, fault.AsFatal(fmt.Errorf("mysql sink: the checkpoint of %q in %s is not readable: %w", pipeline, r.cpTable, err))
	}
	return &cp, nil
}

func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.idle {
		c.Close()
	}
	r.idle = nil
	return nil
}

// HashDialect names how HashRange digests rows (connector.RangeHasher).
func (r *Reader) HashDialect() string { return digest.MySQL }

// HashRange digests the rows of s's table whose keys are in [lo, hi)
// (connector.RangeHasher).
func (r *Reader) HashRange(ctx context.Context, s *event.Schema, lo, hi event.Row) (int64, string, error) {
	var where []string
	for _, b := range []struct {
		op  string
		key event.Row
	}{{">=", lo}, {"<", hi}} {
		if b.key == nil {
			continue
		}
		tuple, err := keyTuple(s, b.key)
		if err != nil {
			return 0, "", err
		}
		where = append(where, fmt.Sprintf("%s %s %s", keyColumns(s), b.op, tuple))
	}
	c, err := r.conn(ctx)
	if err != nil {
		return 0, "", err
	}
	res, err := run(ctx, c, digest.Query(digest.MySQL, s, quote, r.tableName(s.ID)+" AS t", strings.Join(where, " AND ")))
	if err != nil {
		c.Close()
		return 0, "", fmt.Errorf("digest a key range of %s: %w", r.tableName(s.ID), err)
	}
	defer r.release(c)
	defer res.Close()
	n, _ := res.GetInt(0, 0)
	d, _ := res.GetString(0, 1)
	return n, d, nil
}

// Identity names the server (connector.Identified).
func (r *Reader) Identity(ctx context.Context) (string, error) {
	c, err := r.conn(ctx)
	if err != nil {
		return "", err
	}
	defer r.release(c)
	return mysqlconn.Identity(c)
}
