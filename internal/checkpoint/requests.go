package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/fsx"
)

// Request is work another process asks of a pipeline (`weir resnapshot` or `weir pause`
// while it runs). The process that holds the pipeline takes requests when it starts and,
// while it runs, at a checkpoint: it marks its checkpoint with them (Mark) and resumes
// from it, then removes them (Requester.Done).
type Request struct {
	ID         string    `json:"id"`
	Resnapshot []string  `json:"resnapshot"`      // table names, as MarkResnapshot takes them
	Pause      []string  `json:"pause,omitempty"` // table names, as MarkPaused takes them
	Time       time.Time `json:"time"`
}

// PausedOnRequest is what a run says of a table paused on request (a "table_paused"
// notice), which tells it from one a sink paused because it could not follow it.
const PausedOnRequest = "paused on request: its rows are not written until it is copied again (resnapshot)"

// NewRequest returns a request, with a new random id, to copy tables again.
func NewRequest(resnapshot []string) Request {
	b := make([]byte, 8)
	rand.Read(b)
	return Request{ID: time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b), Resnapshot: resnapshot, Time: time.Now().UTC()}
}

// NewPauseRequest returns a request, with a new random id, to pause tables.
func NewPauseRequest(pause []string) Request {
	r := NewRequest(nil)
	r.Pause = pause
	return r
}

// WithoutCheckpoint says why the request needs none of a pipeline that has no checkpoint
// yet, or cannot be taken then.
func (r Request) WithoutCheckpoint() string {
	if len(r.Pause) > 0 {
		return "it has no checkpoint yet: a table can be paused once the pipeline has run (its first run copies every table)"
	}
	return "it has no checkpoint: its first run copies every table anyway"
}

// Tables are the tables the request names.
func (r Request) Tables() []string { return append(slices.Clone(r.Resnapshot), r.Pause...) }

// Mark marks cp with the request.
func (r Request) Mark(cp *Checkpoint) error {
	if err := cp.MarkPaused(r.Pause); err != nil {
		return err
	}
	return cp.MarkResnapshot(r.Resnapshot)
}

// Requester is a store that carries requests to the process holding a pipeline. Any
// process may add one; the holder lists and removes them.
type Requester interface {
	// Request adds r for pipeline.
	Request(ctx context.Context, pipeline string, r Request) error
	// Requests lists the pipeline's pending requests, oldest first.
	Requests(ctx context.Context, pipeline string) ([]Request, error)
	// Done removes the requests with these ids.
	Done(ctx context.Context, pipeline string, ids []string) error
	// Running tells whether a process seems to hold the pipeline now: surely for a local
	// store (its lock); for a shared one, when it saved a checkpoint in the last minute.
	Running(ctx context.Context, pipeline string) (bool, error)
}

var (
	_ Requester = (*Local)(nil)
	_ Requester = (*Postgres)(nil)
)

// Local requests are files, one per request: DIR/pipelines/NAME/requests/ID.json.
func (s *Local) Request(_ context.Context, pipeline string, r Request) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.path(pipeline, "requests"), 0o755); err != nil {
		return fmt.Errorf("store a request for pipeline %q: %w", pipeline, err)
	}
	if err := fsx.WriteAtomic(s.path(pipeline, "requests", r.ID+".json"), b); err != nil {
		return fmt.Errorf("store a request for pipeline %q: %w", pipeline, err)
	}
	return nil
}

func (s *Local) Requests(_ context.Context, pipeline string) ([]Request, error) {
	entries, err := os.ReadDir(s.path(pipeline, "requests"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the requests for pipeline %q: %w", pipeline, err)
	}
	var out []Request
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue // a temporary file of WriteAtomic
		}
		path := s.path(pipeline, "requests", e.Name())
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read request %s: %w", path, err)
		}
		var r Request
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("decode request %s: %w (remove the file)", path, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Request) int { return a.Time.Compare(b.Time) })
	return out, nil
}

func (s *Local) Done(_ context.Context, pipeline string, ids []string) error {
	for _, id := range ids {
		if err := os.Remove(s.path(pipeline, "requests", filepath.Base(id)+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove request %s of pipeline %q: %w", id, pipeline, err)
		}
	}
	return nil
}

func (s *Local) Running(_ context.Context, pipeline string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks[pipeline] != nil {
		return true, nil
	}
	if _, err := os.Stat(s.path(pipeline)); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	l, err := fsx.TryLock(s.path(pipeline, "lock"))
	if errors.Is(err, fsx.ErrLocked) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, l.Unlock()
}

// Postgres requests are rows of TABLE_requests.
func (s *Postgres) requestsTable() string { return s.table + "_requests" }

func (s *Postgres) Request(ctx context.Context, pipeline string, r Request) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+s.requestsTable()+` (pipeline, id, request) VALUES ($1, $2, $3)`, pipeline, r.ID, b); err != nil {
		return fmt.Errorf("store a request for pipeline %q: %w", pipeline, err)
	}
	return nil
}

func (s *Postgres) Requests(ctx context.Context, pipeline string) ([]Request, error) {
	rows, err := s.pool.Query(ctx, `SELECT request FROM `+s.requestsTable()+` WHERE pipeline = $1 `, pipeline)
	if err != nil {
		return nil, fmt.Errorf("list the requests for pipeline %q: %w", pipeline, err)
	}
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("list the requests for pipeline %q: %w", pipeline, err)
	}
	out := make([]Request, 0, len(raws))
	for _, raw := range raws {
		var r Request
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("decode a request for pipeline %q: %w", pipeline, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Request) int { return a.Time.Compare(b.Time) })
	return out, nil
}

func (s *Postgres) Done(ctx context.Context, pipeline string, ids []string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM `+s.requestsTable()+` WHERE pipeline = $1 AND id = ANY($2)`, pipeline, ids); err != nil {
		return fmt.Errorf("remove requests of pipeline %q: %w", pipeline, err)
	}
	return nil
}

func (s *Postgres) Running(ctx context.Context, pipeline string) (bool, error) {
	var running bool
	err := s.pool.QueryRow(ctx, `SELECT updated_at > now() - interval '1 minute' FROM `+s.table+` WHERE pipeline = $1`, pipeline).Scan(&running)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the state of pipeline %q: %w", pipeline, err)
	}
	return running, nil
}
