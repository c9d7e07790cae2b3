package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres keeps checkpoints in a PostgreSQL table, so that several machines can share
// them (a pipeline moved to another host resumes where it was):
//
//	weir_checkpoints(pipeline text primary key, generation bigint, seq bigint,
//	                 checkpoint json, updated_at timestamptz)
//	weir_checkpoints_requests(pipeline, id, request json, created_at)  (Requester)
//
// The checkpoint column is json, not jsonb: jsonb refuses the escape \u0000, which a
// checkpoint holds whenever a chunk bound or key cursor contains a NUL character, while
// json keeps the text exactly as written (and is still queryable with -> and ->>).
//
// Fencing is by generation only: Acquire increments it, and Save and Reset write only
// while the row still carries the caller's generation. There is no lease to release: a
// new process always takes over, and the old one learns it at its next Save.
type Postgres struct {
	pool  *pgxpool.Pool
	table string
}

var _ Store = (*Postgres)(nil)

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// OpenPostgres connects to url and creates table if it is missing.
func OpenPostgres(ctx context.Context, url, table string) (*Postgres, error) {
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("checkpoint table %q: want a plain [schema.]name", table)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to the checkpoint store: %w", err)
	}
	s := &Postgres{pool: pool, table: table}
	// CREATE TABLE IF NOT EXISTS fails in one of two processes creating the table at once
	// (a unique violation in the catalog): processes starting together take turns.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "weir checkpoint table "+table); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
			pipeline   text PRIMARY KEY,
			generation bigint NOT NULL,
			seq        bigint NOT NULL DEFAULT 0,
			checkpoint json,
			updated_at timestamptz NOT NULL DEFAULT now())`)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.requestsTable()+` (
			pipeline   text NOT NULL,
			id         text NOT NULL,
			request    json NOT NULL,
			created_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (pipeline, id))`)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("create checkpoint table %s: %w", table, err)
	}
	return s, nil
}

func (s *Postgres) Acquire(ctx context.Context, pipeline string) (int64, error) {
	var gen int64
	err := s.pool.QueryRow(ctx, `INSERT INTO `+s.table+` (pipeline, generation) VALUES ($1, 1)
		ON CONFLICT (pipeline) DO UPDATE SET generation = `+s.table+`.generation + 1, updated_at = now()
		RETURNING generation`, pipeline).Scan(&gen)
	if err != nil {
		return 0, fmt.Errorf("take a fencing generation for pipeline %q: %w", pipeline, err)
	}
	return gen, nil
}

func (s *Postgres) Load(ctx context.Context, pipeline string) (*Checkpoint, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT checkpoint FROM `+s.table+` WHERE pipeline = $1`, pipeline).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && raw == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load checkpoint of pipeline %q: %w", pipeline, err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, fmt.Errorf("decode checkpoint of pipeline %q: %w", pipeline, err)
	}
	return &cp, nil
}

func (s *Postgres) Save(ctx context.Context, cp *Checkpoint) error {
	raw, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint of pipeline %q: %w", cp.Pipeline, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE `+s.table+` SET checkpoint = $3, seq = $4, updated_at = now()
		WHERE pipeline = $1 AND generation = $2`, cp.Pipeline, cp.Generation, raw, cp.Seq)
	if err != nil {
		return fmt.Errorf("save checkpoint of pipeline %q: %w", cp.Pipeline, err)
	}
	if tag.RowsAffected() == 0 {
		return s.fencedError(ctx, cp.Pipeline, cp.Generation)
	}
	return nil
}

func (s *Postgres) fencedError(ctx context.Context, pipeline string, mine int64) error {
	var cur int64
	if err := s.pool.QueryRow(ctx, `SELECT generation FROM `+s.table+` WHERE pipeline = $1`, pipeline).Scan(&cur); err != nil {
		return fmt.Errorf("pipeline %q: generation %d is no longer current: %w", pipeline, mine, ErrFenced)
	}
	return fenced(pipeline, mine, cur)
}

func (s *Postgres) Reset(ctx context.Context, pipeline string, generation int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE `+s.table+` SET checkpoint = NULL, seq = 0, updated_at = now()
		WHERE pipeline = $1 AND generation = $2`, pipeline, generation)
	if err != nil {
		return fmt.Errorf("reset checkpoint of pipeline %q: %w", pipeline, err)
	}
	if tag.RowsAffected() == 0 {
		return s.fencedError(ctx, pipeline, generation)
	}
	return nil
}

// Release does nothing: fencing is by generation (see the type's comment).
func (s *Postgres) Release(context.Context, string) error { return nil }

func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}

// Verify checks that generation is still the pipeline's current one.
func (s *Postgres) Verify(ctx context.Context, pipeline string, generation int64) error {
	var cur int64
	if err := s.pool.QueryRow(ctx, `SELECT generation FROM `+s.table+` WHERE pipeline = $1`, pipeline).Scan(&cur); err != nil {
		return fmt.Errorf("verify the fencing generation of pipeline %q: %w", pipeline, err)
	}
	if cur != generation {
		return fenced(pipeline, generation, cur)
	}
	return nil
}
