package checkpoint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openLocal(t *testing.T, dir string) *Local {
	t.Helper()
	s, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLocalCloseReleases: a process that closes its store (or dies: the kernel drops the
// flock) lets the next one in, which fences it.
func TestLocalCloseReleases(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openLocal(t, dir), openLocal(t, dir)
	genA, err := a.Acquire(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, "p")
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "stop that process first") {
		t.Fatalf("second process: %v, want ErrBusy", err)
	}
	// Another pipeline in the same state is independent.
	if _, err := b.Acquire(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	a.Close()
	genB, err := b.Acquire(ctx, "p")
	if err != nil || genB != genA+1 {
		t.Fatalf("after Close: %d, %v (first had %d)", genB, err, genA)
	}
	if err := a.Verify(ctx, "p", genA); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale Verify: %v", err)
	}
	if err := b.Verify(ctx, "p", genB); err != nil {
		t.Fatal(err)
	}
}

// TestLocalGenerationSurvives: generations keep increasing across processes, and a
// holder that acquires again fences its own earlier generation.
func TestLocalGenerationSurvives(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openLocal(t, dir)
	for want := int64(1); want <= 3; want++ {
		if g, err := a.Acquire(ctx, "p"); err != nil || g != want {
			t.Fatalf("Acquire: %d, %v; want %d", g, err, want)
		}
	}
	if err := a.Save(ctx, sample(2, 1)); !errors.Is(err, ErrFenced) {
		t.Fatalf("Save with an earlier generation: %v", err)
	}
	if err := a.Save(ctx, sample(3, 1)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b := openLocal(t, dir)
	if g, err := b.Acquire(ctx, "p"); err != nil || g != 4 {
		t.Fatalf("a new process: %d, %v; want 4", g, err)
	}
	if cp, err := b.Load(ctx, "p"); err != nil || cp == nil || cp.Generation != 3 || cp.Seq != 1 {
		t.Fatalf("the checkpoint of the earlier process: %+v, %v", cp, err)
	}
}

func TestLocalCorrupt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openLocal(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "pipelines", "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pipelines", "p", "generation"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(ctx, "p"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt generation: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pipelines", "p", "checkpoint.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "p"); err == nil || !strings.Contains(err.Error(), "decode checkpoint") {
		t.Fatalf("corrupt checkpoint: %v", err)
	}
}
