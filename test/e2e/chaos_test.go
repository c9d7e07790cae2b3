package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/source/datagen"
)

const chaosPipeline = `
source:
  type: datagen
  tables: shop.orders, shop.users
  rows: %d
  changes-per-second: 8000
  max-changes: %d
  transaction-size: 3
  seed: 11
  scan.incremental.snapshot.chunk.size: 500
sink:
  type: file
  path: out
pipeline:
  name: chaos
  parallelism: 3
  checkpoint.interval: 100ms
`

// At 8,000 changes/s the 20 kills (≤ 14 s of running in all) cannot finish the stream.
const chaosRows, chaosChanges, termChanges = 100000, 150000, 40000

func chaosModel() *datagen.Model {
	return datagen.NewModel(11, chaosRows, []event.TableID{{Schema: "shop", Table: "orders"}, {Schema: "shop", Table: "users"}})
}

func readCheckpoint(t *testing.T, dir string) *checkpoint.Checkpoint {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".weir", "pipelines", "chaos", "checkpoint.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var cp checkpoint.Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		t.Fatal(err)
	}
	return &cp
}

// TestSIGKILLAndResume kills `weir run` of datagen → file with SIGKILL at 20 random
// moments, during the snapshot and the stream, restarting it each time; then lets it
// finish. The committed files must hold every change exactly once, in per-key order.
func TestSIGKILLAndResume(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d (set WEIR_CHAOS_SEED to repeat)", seed)
	if s := os.Getenv("WEIR_CHAOS_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(chaosPipeline, chaosRows, chaosChanges))

	inSnapshot, inStream := 0, 0
	for kill := 0; kill < 20; kill++ {
		p := start(t, dir, "run", "p.yaml")
		// The first kills come early, to land in the snapshot; the rest anywhere.
		delay := time.Duration(20+rng.IntN(60)) * time.Millisecond
		if kill >= 5 {
			delay = time.Duration(50+rng.IntN(900)) * time.Millisecond
		}
		time.Sleep(delay)
		if p.exited() {
			t.Fatalf("kill %d: weir exited before it was killed:\n%s", kill, p.stderr)
		}
		p.signal(syscall.SIGKILL)
		p.wait(t, 10*time.Second)
		cp := readCheckpoint(t, dir)
		switch {
		case cp == nil || cp.Snapshot == nil || !cp.Snapshot.Finished():
			inSnapshot++
		default:
			inStream++
		}
	}
	t.Logf("killed %d times during the snapshot, %d times while streaming", inSnapshot, inStream)
	if inSnapshot == 0 || inStream == 0 {
		t.Fatalf("kills must land in both phases: %d in the snapshot, %d in the stream", inSnapshot, inStream)
	}
	n := finishAndCheck(t, dir, chaosChanges)
	t.Logf("%d records, each change exactly once, per-key order kept (seed %d)", n, seed)
}

// finishAndCheck runs the pipeline to its end and checks that the files hold every
// change exactly once, in per-key order; it returns the number of records.
func finishAndCheck(t *testing.T, dir string, changes int64) int {
	t.Helper()
	code, out := runWeir(t, dir, "run", "p.yaml")
	if code != 0 {
		t.Fatalf("final run: exit %d\n%s", code, out)
	}
	recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if err := conformance.CheckDatagen(recs, chaosModel(), changes, true); err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// TestSIGTERMAndResume stops `weir run` with SIGTERM at random moments: each stop exits 0
// after a final checkpoint that covers exactly what the files hold, and the resumed runs
// repeat nothing.
func TestSIGTERMAndResume(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(chaosPipeline, chaosRows, termChanges))
	for stop := 0; stop < 10; stop++ {
		p := start(t, dir, "run", "p.yaml")
		// Once it has begun (its first log line: it catches signals by then), at a random moment.
		waitFor(t, "weir to begin", time.Minute, func() bool { return p.stderr.String() != "" || p.exited() })
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		p.signal(syscall.SIGTERM)
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("stop %d: exit %d after SIGTERM, want 0:\n%s", stop, code, p.stderr)
		}
		cp := readCheckpoint(t, dir)
		if cp == nil {
			t.Fatalf("stop %d: no checkpoint after a graceful stop:\n%s", stop, p.stderr)
		}
		recs, err := conformance.ReadFileSink(filepath.Join(dir, "out"))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(recs)) != cp.Changes {
			t.Fatalf("stop %d: the final checkpoint covers %d changes but the files hold %d", stop, cp.Changes, len(recs))
		}
	}
	finishAndCheck(t, dir, termChanges)
}
