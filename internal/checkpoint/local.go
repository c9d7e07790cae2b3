package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/weir-data/weir/internal/fsx"
)

// Local keeps checkpoints in files under a state directory:
//
//	DIR/pipelines/NAME/lock          flock held by the running process (its pid inside)
//	DIR/pipelines/NAME/generation    the fencing generation, replaced atomically
//	DIR/pipelines/NAME/checkpoint.json  the latest checkpoint, replaced atomically
//
// The lock refuses a second process on the same state outright (ErrBusy); the generation
// fences a process whose lock was lost anyway (state directory removed or copied).
type Local struct {
	dir   string
	mu    sync.Mutex
	locks map[string]*fsx.Lock
}

var _ Store = (*Local)(nil)

// OpenLocal opens (and creates) a local store under dir.
func OpenLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(filepath.Join(dir, "pipelines"), 0o755); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", dir, err)
	}
	return &Local{dir: dir, locks: map[string]*fsx.Lock{}}, nil
}

func (s *Local) path(pipeline string, name ...string) string {
	return filepath.Join(append([]string{s.dir, "pipelines", pipeline}, name...)...)
}

func (s *Local) Acquire(_ context.Context, pipeline string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(s.path(pipeline), 0o755); err != nil {
		return 0, fmt.Errorf("create state for pipeline %q: %w", pipeline, err)
	}
	if s.locks[pipeline] == nil {
		l, err := fsx.TryLock(s.path(pipeline, "lock"))
		if errors.Is(err, fsx.ErrLocked) {
			return 0, fmt.Errorf("pipeline %q with state %s: %v; stop that process first or use another --state: %w",
				pipeline, s.dir, err, ErrBusy)
		}
		if err != nil {
			return 0, err
		}
		s.locks[pipeline] = l
	}
	gen, err := s.generation(pipeline)
	if err != nil {
		return 0, err
	}
	gen++
	if err := fsx.WriteAtomic(s.path(pipeline, "generation"), []byte(strconv.FormatInt(gen, 10)+"\n")); err != nil {
		return 0, fmt.Errorf("store generation of pipeline %q: %w", pipeline, err)
	}
	return gen, nil
}

func (s *Local) generation(pipeline string) (int64, error) {
	b, err := os.ReadFile(s.path(pipeline, "generation"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read generation of pipeline %q: %w", pipeline, err)
	}
	g, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read generation of pipeline %q: %s is corrupt (%q)", pipeline, s.path(pipeline, "generation"), b)
	}
	return g, nil
}

func (s *Local) Load(_ context.Context, pipeline string) (*Checkpoint, error) {
	b, err := os.ReadFile(s.path(pipeline, "checkpoint.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint of pipeline %q: %w", pipeline, err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("decode checkpoint %s: %w", s.path(pipeline, "checkpoint.json"), err)
	}
	return &cp, nil
}

func (s *Local) Save(_ context.Context, cp *Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.current(cp.Pipeline, cp.Generation); err != nil {
		return err
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint of pipeline %q: %w", cp.Pipeline, err)
	}
	if err := fsx.WriteAtomic(s.path(cp.Pipeline, "checkpoint.json"), b); err != nil {
		return fmt.Errorf("save checkpoint of pipeline %q: %w", cp.Pipeline, err)
	}
	return nil
}

func (s *Local) Reset(_ context.Context, pipeline string, generation int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.current(pipeline, generation); err != nil {
		return err
	}
	if err := os.Remove(s.path(pipeline, "checkpoint.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reset checkpoint of pipeline %q: %w", pipeline, err)
	}
	return nil
}

func (s *Local) Release(_ context.Context, pipeline string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.locks[pipeline]
	delete(s.locks, pipeline)
	return l.Unlock()
}

func (s *Local) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, l := range s.locks {
		l.Unlock()
		delete(s.locks, name)
	}
	return nil
}

// Verify checks that generation is still the pipeline's current one.
func (s *Local) Verify(_ context.Context, pipeline string, generation int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current(pipeline, generation)
}

// current fails with ErrFenced unless generation is the pipeline's current one.
func (s *Local) current(pipeline string, generation int64) error {
	cur, err := s.generation(pipeline)
	if err != nil {
		return err
	}
	if cur != generation {
		return fenced(pipeline, generation, cur)
	}
	return nil
}
