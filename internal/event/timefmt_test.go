package event

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestDateTimeFormatting compares the hand-written formatting with time.Format over the
// whole range MySQL and PostgreSQL hold, and around the epoch and leap days.
func TestDateTimeFormatting(t *testing.T) {
	lo, hi := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	rng := rand.New(rand.NewPCG(1, 2))
	samples := []int64{0, -1, 1, lo, hi, -86_400_000_000, time.Date(2024, 2, 29, 12, 0, 0, 500000000, time.UTC).UnixMicro(),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2000, 2, 29, 23, 59, 59, 10, time.UTC).UnixMicro()}
	for range 200000 {
		samples = append(samples, lo+rng.Int64N(hi-lo))
	}
	for _, us := range samples {
		want := time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.999999")
		if got := string(appendDateTime(nil, us)); got != want {
			t.Fatalf("%d: %s, want %s", us, got, want)
		}
		days := floorDiv(us, 86_400_000_000)
		if got, want := string(appendDay(nil, days)), time.Unix(days*86400, 0).UTC().Format(time.DateOnly); got != want {
			t.Fatalf("day %d: %s, want %s", days, got, want)
		}
	}
}
