package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/testenv"
)

// TestSharedStoreFencesTheOlderProcess runs two `weir run` of one pipeline on two
// machines' worth of state sharing a PostgreSQL checkpoint store: the newer process takes
// over and the older one, fenced, stops with a message instead of writing on.
func TestSharedStoreFencesTheOlderProcess(t *testing.T) {
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	ctx := context.Background()
	seq := func() int64 {
		conn, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			return -1
		}
		defer conn.Close(ctx)
		var s int64
		if conn.QueryRow(ctx, "SELECT seq FROM weir_checkpoints WHERE pipeline = 'fenced'").Scan(&s) != nil {
			return -1
		}
		return s
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	for _, d := range []string{dirA, dirB} {
		writeFile(t, filepath.Join(d, "p.yaml"), slowPipeline)
	}
	store := pg.URL("postgres")
	a := start(t, dirA, "run", "--checkpoint-store", store, "p.yaml")
	waitFor(t, "the first process's checkpoints", 20*time.Second, func() bool { return seq() > 2 })

	b := start(t, dirB, "run", "--checkpoint-store", store, "p.yaml")
	if code := a.wait(t, 20*time.Second); code != 1 {
		t.Fatalf("the older process: exit %d, want 1:\n%s", code, a.stderr)
	}
	if !strings.Contains(a.stderr.String(), "fenced") || !strings.Contains(a.stderr.String(), "took over") {
		t.Fatalf("the older process does not say it was fenced:\n%s", a.stderr)
	}
	before := seq()
	waitFor(t, "the newer process's checkpoints", 20*time.Second, func() bool { return seq() > before+2 })
	if b.exited() {
		t.Fatalf("the newer process stopped:\n%s", b.stderr)
	}
	// The older one left nothing uncommitted behind.
	left, _ := os.ReadDir(filepath.Join(dirA, "out", ".weir", "tmp"))
	if len(left) != 0 {
		t.Fatalf("the fenced process left files: %v", left)
	}
}
