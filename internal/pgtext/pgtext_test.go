package pgtext

import (
	"testing"

	"github.com/weir-data/weir/internal/event"
)

// TestRoundTrip: every form PostgreSQL prints reads back to the same count and is written
// again as PostgreSQL prints it.
func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"1970-01-01", "2024-02-29", "0001-01-01", "0044-03-15 BC", "4713-01-01 BC", "10000-01-01", "294276-12-31", "infinity", "-infinity"} {
		d, err := ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendDate(nil, d)); got != s {
			t.Errorf("date %s: %d days, written back as %s", s, d, got)
		}
	}
	for _, s := range []string{"1970-01-01 00:00:00", "2024-02-29 23:59:59.999999", "0044-03-15 12:00:00.5 BC", "10000-01-01 00:00:01", "infinity"} {
		us, err := ParseTimestamp(s, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendTimestamp(nil, us, false)); got != s {
			t.Errorf("timestamp %s: %d µs, written back as %s", s, us, got)
		}
	}
	us, err := ParseTimestamp("2024-06-01 12:00:00+05:30", true)
	if err != nil || us != 1717223400000000 {
		t.Fatalf("an offset: %d, %v", us, err)
	}
	if got := string(AppendTimestamp(nil, us, true)); got != "2024-06-01 06:30:00+00" {
		t.Errorf("written as %s", got)
	}
	if d, _ := ParseDate("infinity"); d != event.PosInfinity {
		t.Error("infinity")
	}
}
