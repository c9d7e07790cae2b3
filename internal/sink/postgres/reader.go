package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/digest"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/fault"
)

// Reader reads back the tables the sink writes (connector.TableReader), for `weir verify`:
// it claims nothing, so it runs beside the pipeline.
type Reader struct {
	pool    *pgxpool.Pool
	cpTable string
}

// OpenReader connects a Reader from the sink's config.
func OpenReader(ctx context.Context, cfg *connector.Config, env connector.Env) (connector.TableReader, error) {
	pc, err := pgxpool.ParseConfig(cfg.String("url"))
	if err != nil {
		return nil, fault.AsFatal(fmt.Errorf("postgres sink: url: %w", err))
	}
	pc.MaxConns = int32(max(env.Parallelism, 1) + 1)
	// The same output settings as the source's sessions, so that a type kept as it is
	// (native.go: an interval) reads back in the same text.
	for k, v := range map[string]string{"timezone": "UTC", "DateStyle": "ISO, YMD", "IntervalStyle": "iso_8601", "extra_float_digits": "3"} {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	r := &Reader{}
	if r.cpTable, err = quoteQualified(cfg.String("checkpoint.table")); err != nil {
		return nil, fault.AsFatal(fmt.Errorf("postgres sink: checkpoint.table: %w", err))
	}
	if r.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, fmt.Errorf("postgres sink: connect: %w", err)
	}
	return r, nil
}

// keyArrays is keys as one text array per key column (the form unnest takes).
func keyArrays(s *event.Schema, keys []event.Row) ([]any, error) {
	args := make([]any, len(s.Key))
	for i, k := range s.Key {
		arr := make([]pgtype.Text, len(keys))
		for r, key := range keys {
			if key[i].IsNull() {
				continue
			}
			b, err := appendText(nil, key[i], s.Columns[k].Type.Kind)
			if err != nil {
				return nil, fmt.Errorf("key column %s: %w", s.Columns[k].Name, err)
			}
			arr[r] = pgtype.Text{String: string(b), Valid: true}
		}
		args[i] = pgtype.FlatArray[pgtype.Text](arr)
	}
	return args, nil
}

func (r *Reader) ReadKeys(ctx context.Context, s *event.Schema, keys []event.Row) ([]event.Row, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	args, err := keyArrays(s, keys)
	if err != nil {
		return nil, err
	}
	params, on := make([]string, len(s.Key)), make([]string, len(s.Key))
	for i, k := range s.Key {
		params[i] = fmt.Sprintf("$%d::text[]", i+1)
		on[i] = fmt.Sprintf("t.%s = u.p%d::%s", quote(s.Columns[k].Name), i, pgType(s.Columns[k].Type))
	}
	q := fmt.Sprintf("SELECT %s FROM %s AS t JOIN unnest(%s) AS u(%s) ON %s", selectList(s, nil), quoteID(s.ID),
		strings.Join(params, ", "), pnames(len(s.Key)), strings.Join(on, " AND "))
	rows, err := r.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %d rows of %s by key: %w", len(keys), quoteID(s.ID), err)
	}
	out, _, err := scanRows(rows, s, 0)
	return out, err
}

func (r *Reader) ScanKeys(ctx context.Context, s *event.Schema, after event.Row, limit int) ([]event.Row, error) {
	keyCols := make([]string, len(s.Key))
	for i, k := range s.Key {
		keyCols[i] = "t." + quote(s.Columns[k].Name)
	}
	ks := &event.Schema{ID: s.ID}
	for _, k := range s.Key {
		ks.Columns = append(ks.Columns, s.Columns[k])
	}
	q := fmt.Sprintf("SELECT %s FROM %s AS t", selectList(ks, nil), quoteID(s.ID))
	var args []any
	if after != nil {
		params := make([]string, len(s.Key))
		for i, k := range s.Key {
			b, err := appendText(nil, after[i], s.Columns[k].Type.Kind)
			if err != nil {
				return nil, err
			}
			args = append(args, string(b))
			params[i] = fmt.Sprintf("$%d::%s", i+1, pgType(s.Columns[k].Type))
		}
		q += fmt.Sprintf(" WHERE (%s) > (%s)", strings.Join(keyCols, ", "), strings.Join(params, ", "))
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keyCols, ", "), limit)
	rows, err := r.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("scan the keys of %s: %w", quoteID(s.ID), err)
	}
	out, _, err := scanRows(rows, ks, 0)
	return out, err
}

func (r *Reader) Count(ctx context.Context, s *event.Schema) (int64, bool, error) {
	var exists bool
	if err := r.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, quoteID(s.ID)).Scan(&exists); err != nil || !exists {
		return 0, false, err
	}
	var n int64
	if err := r.pool.QueryRow(ctx, "SELECT count(*) FROM "+quoteID(s.ID)).Scan(&n); err != nil {
		return 0, true, fmt.Errorf("count the rows of %s: %w", quoteID(s.ID), err)
	}
	return n, true, nil
}

func (r *Reader) LoadCheckpoint(ctx context.Context, pipeline string) (*checkpoint.Checkpoint, error) {
	return loadCheckpoint(ctx, r.pool, r.cpTable, pipeline)
}

func (r *Reader) Close() error {
	r.pool.Close()
	return nil
}

// loadCheckpoint reads the pipeline's checkpoint from cpTable, or nil.
func loadCheckpoint(ctx context.Context, pool *pgxpool.Pool, cpTable, pipeline string) (*checkpoint.Checkpoint, error) {
	var raw []byte
	err := pool.QueryRow(ctx, `SELECT checkpoint FROM `+cpTable+` WHERE pipeline = $1`, pipeline).Scan(&raw)
	var pe interface{ SQLState() string }
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && raw == nil) || (errors.As(err, &pe) && pe.SQLState() == "42P01") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres sink: read the checkpoint of %q: %w", pipeline, err)
	}
	var cp checkpoint.Checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, fault.AsFatal(fmt.Errorf("postgres sink: the checkpoint of %q in %s is not readable: %w", pipeline, cpTable, err))
	}
	return &cp, nil
}

// HashDialect names how HashRange digests rows (connector.RangeHasher).
func (r *Reader) HashDialect() string { return digest.Postgres }

// HashRange digests the rows of s's table whose keys are in [lo, hi), in a session that
// prints values as the PostgreSQL source's sessions do (connector.RangeHasher).
func (r *Reader) HashRange(ctx context.Context, s *event.Schema, lo, hi event.Row) (int64, string, error) {
	var where []string
	var args []any
	bound := func(op string, key event.Row) error {
		cols, params := make([]string, len(s.Key)), make([]string, len(s.Key))
		for i, k := range s.Key {
			b, err := appendText(nil, key[i], s.Columns[k].Type.Kind)
			if err != nil {
				return err
			}
			args = append(args, string(b))
			cols[i] = quote(s.Columns[k].Name)
			params[i] = fmt.Sprintf("$%d::%s", len(args), pgType(s.Columns[k].Type))
		}
		where = append(where, fmt.Sprintf("(%s) %s (%s)", strings.Join(cols, ", "), op, strings.Join(params, ", ")))
		return nil
	}
	if lo != nil {
		if err := bound(">=", lo); err != nil {
			return 0, "", err
		}
	}
	if hi != nil {
		if err := bound("<", hi); err != nil {
			return 0, "", err
		}
	}
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, "", err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'iso_8601'; SET LOCAL extra_float_digits = 3; "+
		"SET LOCAL bytea_output = 'hex'; SET LOCAL lc_monetary = 'C'; SET LOCAL TimeZone = 'UTC'"); err != nil {
		return 0, "", err
	}
	var n int64
	var d string
	if err := tx.QueryRow(ctx, digest.Query(digest.Postgres, s, quote, quoteID(s.ID), strings.Join(where, " AND ")), args...).Scan(&n, &d); err != nil {
		return 0, "", fmt.Errorf("digest a key range of %s: %w", quoteID(s.ID), err)
	}
	return n, d, nil
}
