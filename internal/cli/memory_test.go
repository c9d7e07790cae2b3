package cli

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	if got := tuneGC(64 << 20); got != 192<<20 {
		t.Fatalf("limit %d, want twice the queue and the headroom: %d", got, 192<<20)
	}
	if got := debug.SetMemoryLimit(-1); got != 192<<20 {
		t.Fatalf("the runtime's limit is %d, want %d", got, 192<<20)
	}
	if got := debug.SetGCPercent(gcPercent); got != gcPercent {
		t.Fatalf("GC percent %d, want %d", got, gcPercent)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB") // the user's setting wins
	if got := tuneGC(64 << 20); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("with GOMEMLIMIT set, tuneGC set a limit (%d)", got)
	}
}
