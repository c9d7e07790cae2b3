package snapshot

import (
	"testing"
	"time"
)

func TestThrottleConfiguration(t *testing.T) {
	th := NewThrottle(1000, 0)
	now := time.Now()
	if !th.rows.AllowN(now, 1024) || th.rows.AllowN(now, 1) {
		t.Fatal("the burst is one batch of 1,024 rows, then nothing")
	}
	if !th.rows.AllowN(now.Add(time.Second), 1000) || th.rows.AllowN(now.Add(time.Second), 1) {
		t.Fatal("a second later, 1,000 rows more and no more")
	}
	if th := NewThrottle(0, 0); th.rows != nil || th.bytes != nil {
		t.Fatal("zero limits are no limits")
	}
}
