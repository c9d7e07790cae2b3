package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/weir-data/weir/internal/event"
)

// progress is how far a comparison got, kept in Options.ProgressFile so that an
// interrupted one resumes (Options.Resume) at the chunk where it stopped.
type progress struct {
	Pipeline string                    `json:"pipeline"`
	Tables   map[string]*tableProgress `json:"tables"`
	// Mapped is the progress of a comparison through transforms and routes (RunMapped).
	Mapped *mappedProgress `json:"mapped,omitempty"`
}

// mappedProgress is how far RunMapped got: each source table's chunks (NextIndex and After
// of a tableProgress), and each sink table's counts and differing keys.
type mappedProgress struct {
	Sources map[string]*tableProgress      `json:"sources"`
	Sinks   map[string]*mappedSinkProgress `json:"sinks"`
}

type mappedSinkProgress struct {
	Produced int64 `json:"produced"`
	Matched  int64 `json:"matched"`
	// Differing are the source rows behind the keys found to differ so far (extra rows
	// are found again at the end).
	Differing []mappedKey `json:"differing,omitempty"`
}

// mappedKey is a source table's row, by key.
type mappedKey struct {
	Table string    `json:"table"`
	Key   event.Row `json:"key"`
}

// tableProgress is one table's part of it.
type tableProgress struct {
	// Report is the table's outcome once it has been compared whole.
	Report *TableReport `json:"report,omitempty"`
	// NextIndex and After say where the chunks not yet compared start: every chunk before
	// NextIndex is compared, and After is the Hi of the last of them (nil: the table's
	// start, or its end when NextIndex > 0).
	NextIndex int       `json:"next_index"`
	After     event.Row `json:"after,omitempty"`
	// Rows and Matched count the source rows of those chunks, and those the sink has.
	Rows    int64 `json:"rows"`
	Matched int64 `json:"matched"`
	// Differing are the keys found to differ so far, compared again on resume.
	Differing []event.Row `json:"differing,omitempty"`
}

func loadProgress(path, pipeline string) (*progress, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &progress{Pipeline: pipeline, Tables: map[string]*tableProgress{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var p progress
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("the progress file %s is not readable (delete it to start over): %w", path, err)
	}
	if p.Pipeline != pipeline {
		return nil, fmt.Errorf("the progress file %s is of pipeline %q, not %q", path, p.Pipeline, pipeline)
	}
	if p.Tables == nil {
		p.Tables = map[string]*tableProgress{}
	}
	return &p, nil
}

// save writes p to path by rename, so a crash leaves the old file or the new one.
func (p *progress) save(path string) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
