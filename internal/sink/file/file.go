// Package file is a sink that writes changes as JSON lines into a directory, exactly once.
//
// Layout of the directory:
//
//	part-SSSSSSSSSS-PPP.jsonl  committed files: commit S, writer P; read them in name order
//	.weir/lock                 held by the writing process (one writer per directory)
//	.weir/manifest.json        the last commit: its checkpoint and the renames it made
//	.weir/tmp/                 files being written, not committed
//
// Commit protocol: flush and fsync every temporary file, write the manifest (atomically)
// naming the checkpoint and the renames temporary → committed, then do the renames. On
// open, the renames of the manifest are finished (roll forward) and every other temporary
// file is deleted (roll back). The manifest is the commit point: a crash before it loses
// only uncommitted changes, which the engine replays from the checkpoint the manifest
// names; a crash after it loses nothing. Changes of one key are in one writer's files, in
// order, and commits are numbered, so reading the files in name order gives each key's
// changes in log order, each exactly once.
package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/fault"
	"github.com/weir-data/weir/internal/format"
	"github.com/weir-data/weir/internal/fsx"
)

// Writer is the file sink.
type Writer struct {
	dir       string
	pipeline  string
	connector string
	fsync     bool
	format    format.Options // how records are written (format package); one writer per partition
	lock      *fsx.Lock

	mu     sync.Mutex // guards parts (growth only); a partition is used by one writer
	parts  []*partFile
	commit int64 // number of the next commit
	last   *checkpoint.Checkpoint
}

type partFile struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
	fmt *format.Writer
}

// manifest is the commit record.
type manifest struct {
	Pipeline   string                 `json:"pipeline"`
	Commit     int64                  `json:"commit"`
	Checkpoint *checkpoint.Checkpoint `json:"checkpoint"`
	Renames    [][2]string            `json:"renames,omitempty"` // temporary → committed, relative to the directory
}

var (
	_ connector.Sink             = (*Writer)(nil)
	_ connector.CheckpointKeeper = (*Writer)(nil)
	_ connector.SnapshotMarker   = (*Writer)(nil)
)

// MarksSnapshot: debezium-json records say which reads are the snapshot's first and last.
func (w *Writer) MarksSnapshot() bool { return format.Marks(w.format.Format) }

// Open opens the file sink from its config.
func Open(_ context.Context, cfg *connector.Config, env connector.Env) (connector.Sink, error) {
	o := format.FromConfig(cfg, env)
	if _, err := format.New(o); err != nil {
		return nil, fault.AsFatal(fmt.Errorf("file sink: %w", err))
	}
	w, err := New(cfg.String("path"), env.Pipeline, env.SourceType, cfg.Bool("fsync"))
	if err == nil {
		w.format = o
	}
	return w, err
}

// New opens dir for pipeline: it takes the directory's lock and recovers from an
// interrupted commit.
func New(dir, pipeline, sourceType string, fsync bool) (*Writer, error) {
	if err := os.MkdirAll(filepath.Join(dir, ".weir", "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("file sink: create directory %s: %w", dir, err)
	}
	lock, err := fsx.TryLock(filepath.Join(dir, ".weir", "lock"))
	if err != nil {
		return nil, fmt.Errorf("file sink: directory %s is in use: %w; one pipeline process writes into a directory at a time", dir, err)
	}
	w := &Writer{dir: dir, pipeline: pipeline, connector: sourceType, fsync: fsync, lock: lock, commit: 1,
		format: format.Options{SourceType: sourceType, Name: pipeline, Version: format.Version}}
	if err := w.recover(); err != nil {
		lock.Unlock()
		return nil, err
	}
	return w, nil
}

func (w *Writer) manifestPath() string { return filepath.Join(w.dir, ".weir", "manifest.json") }

// recover finishes the renames of the last commit and deletes uncommitted files.
func (w *Writer) recover() error {
	b, err := os.ReadFile(w.manifestPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("file sink: read %s: %w", w.manifestPath(), err)
	}
	if err == nil {
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("file sink: %s is corrupt: %w; move the directory aside to start over", w.manifestPath(), err)
		}
		if m.Pipeline != w.pipeline {
			return fmt.Errorf("file sink: directory %s holds the output of pipeline %q, not %q; use another path", w.dir, m.Pipeline, w.pipeline)
		}
		for _, rn := range m.Renames {
			from, to := filepath.Join(w.dir, rn[0]), filepath.Join(w.dir, rn[1])
			if _, err := os.Stat(from); err == nil {
				if err := os.Rename(from, to); err != nil {
					return fmt.Errorf("file sink: finish commit %d: %w", m.Commit, err)
				}
			}
		}
		w.commit, w.last = m.Commit+1, m.Checkpoint
	}
	tmp := filepath.Join(w.dir, ".weir", "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("file sink: list %s: %w", tmp, err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(tmp, e.Name())); err != nil {
			return fmt.Errorf("file sink: remove uncommitted %s: %w", e.Name(), err)
		}
	}
	return fsx.SyncDir(w.dir)
}

// LoadCheckpoint returns the checkpoint of the last commit.
func (w *Writer) LoadCheckpoint(context.Context, string) (*checkpoint.Checkpoint, error) {
	return w.last, nil
}

func (w *Writer) part(p int) (*partFile, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.parts) <= p {
		w.parts = append(w.parts, nil)
	}
	if w.parts[p] == nil {
		name := filepath.Join(w.dir, ".weir", "tmp", fmt.Sprintf("%010d-%03d.jsonl", w.commit, p))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("file sink: create %s: %w", name, err)
		}
		fw, err := format.New(w.format)
		if err != nil {
			f.Close()
			return nil, err
		}
		w.parts[p] = &partFile{f: f, w: bufio.NewWriterSize(f, 256<<10), fmt: fw}
	}
	return w.parts[p], nil
}

// Apply appends the batch's changes to its writer's temporary file.
func (w *Writer) Apply(_ context.Context, b *connector.Batch) error {
	pf, err := w.part(b.Partition)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	for i := range b.Changes {
		pf.buf = pf.fmt.Append(pf.buf[:0], &b.Changes[i], now)
		pf.buf = append(pf.buf, '\n')
		if _, err := pf.w.Write(pf.buf); err != nil {
			return fmt.Errorf("file sink: write %s: %w", pf.f.Name(), err)
		}
	}
	return nil
}

// Commit makes every applied change durable together with cp (see the package comment).
func (w *Writer) Commit(_ context.Context, cp *checkpoint.Checkpoint) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := manifest{Pipeline: w.pipeline, Commit: w.commit, Checkpoint: cp}
	for p, pf := range w.parts {
		if pf == nil {
			continue
		}
		if err := pf.w.Flush(); err != nil {
			return fmt.Errorf("file sink: write %s: %w", pf.f.Name(), err)
		}
		if w.fsync {
			if err := pf.f.Sync(); err != nil {
				return fmt.Errorf("file sink: sync %s: %w", pf.f.Name(), err)
			}
		}
		if err := pf.f.Close(); err != nil {
			return fmt.Errorf("file sink: close %s: %w", pf.f.Name(), err)
		}
		tmp, _ := filepath.Rel(w.dir, pf.f.Name())
		m.Renames = append(m.Renames, [2]string{tmp, fmt.Sprintf("part-%010d-%03d.jsonl", w.commit, p)})
		w.parts[p] = nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("file sink: encode manifest: %w", err)
	}
	if err := w.writeManifest(b); err != nil {
		return err
	}
	for _, rn := range m.Renames {
		if err := os.Rename(filepath.Join(w.dir, rn[0]), filepath.Join(w.dir, rn[1])); err != nil {
			return fmt.Errorf("file sink: commit %s: %w", rn[1], err)
		}
	}
	if w.fsync && len(m.Renames) > 0 {
		if err := fsx.SyncDir(w.dir); err != nil {
			return err
		}
	}
	w.commit++
	w.last = cp
	return nil
}

func (w *Writer) writeManifest(b []byte) error {
	if w.fsync {
		return fsx.WriteAtomic(w.manifestPath(), b)
	}
	tmp := w.manifestPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("file sink: write manifest: %w", err)
	}
	return os.Rename(tmp, w.manifestPath())
}

// Close abandons what was applied but not committed and releases the directory.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, pf := range w.parts {
		if pf != nil {
			pf.f.Close()
			os.Remove(pf.f.Name())
			w.parts[p] = nil
		}
	}
	return w.lock.Unlock()
}

// Destination says where the committed files are.
func (w *Writer) Destination() string {
	abs, err := filepath.Abs(w.dir)
	if err != nil {
		abs = w.dir
	}
	return "JSON-lines files in " + abs + " (part-*.jsonl, in name order)"
}

// Check tells whether the directory can be written and is free, without taking it.
func Check(_ context.Context, cfg *connector.Config, env connector.Env) []error {
	dir := cfg.String("path")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return []error{fmt.Errorf("path %s (%s): cannot create the directory: %w", dir, cfg.Where("path"), err)}
	}
	probe, err := os.CreateTemp(dir, ".weir-probe-*")
	if err != nil {
		return []error{fmt.Errorf("path %s (%s): cannot write into the directory: %w", dir, cfg.Where("path"), err)}
	}
	probe.Close()
	os.Remove(probe.Name())
	if _, err := os.Stat(filepath.Join(dir, ".weir", "lock")); err == nil {
		l, err := fsx.TryLock(filepath.Join(dir, ".weir", "lock"))
		if err != nil {
			return []error{fmt.Errorf("path %s: %w; stop the pipeline that writes there or choose another path", dir, err)}
		}
		l.Unlock()
	}
	return nil
}

var _ connector.Dropper = (*Writer)(nil)

// Traces names the checkpoint the directory keeps (connector.Dropper); the committed
// files stay, and a run after a reset writes after them.
func (w *Writer) Traces(context.Context) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		return nil, nil
	}
	return []string{fmt.Sprintf("the checkpoint kept in %s (checkpoint #%d; the %d committed part files stay, and the next run writes after them)",
		w.manifestPath(), w.last.Seq, w.commit-1)}, nil
}

// Drop forgets the checkpoint: the manifest keeps only its commit number, so that no
// committed file is ever written over.
func (w *Writer) Drop(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := json.Marshal(manifest{Pipeline: w.pipeline, Commit: w.commit - 1})
	if err != nil {
		return fmt.Errorf("file sink: encode manifest: %w", err)
	}
	if err := w.writeManifest(b); err != nil {
		return err
	}
	w.last = nil
	return nil
}
