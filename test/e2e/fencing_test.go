package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const slowPipeline = `
source:
  type: datagen
  tables: shop.orders
  rows: 100
  changes-per-second: 200
sink:
  type: file
  path: out
pipeline:
  name: fenced
  checkpoint.interval: 50ms
`

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSecondProcessIsRefused starts two `weir run` on one pipeline: the second is refused
// (same state: the pipeline's lock; other state, same output: the sink directory's lock),
// and the first goes on writing alone.
func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), slowPipeline)
	first := start(t, dir, "run", "p.yaml")
	waitFor(t, "the first process's first checkpoint", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, ".weir", "pipelines", "fenced", "checkpoint.json"))
		return err == nil
	})

	code, out := runWeir(t, dir, "run", "p.yaml")
	if code != 1 || !strings.Contains(out, "is held by process") || !strings.Contains(out, "stop that process first") {
		t.Fatalf("second process on the same state: exit %d, want 1 with a message naming the holder:\n%s", code, out)
	}
	code, out = runWeir(t, dir, "run", "--state", "other-state", "p.yaml")
	if code != 1 || !strings.Contains(out, "is in use") {
		t.Fatalf("second process on the same output: exit %d, want 1 saying the directory is in use:\n%s", code, out)
	}
	if first.exited() {
		t.Fatalf("the first process stopped:\n%s", first.stderr)
	}
	first.signal(syscall.SIGTERM)
	if code := first.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("first process: exit %d after SIGTERM:\n%s", code, first.stderr)
	}
}
