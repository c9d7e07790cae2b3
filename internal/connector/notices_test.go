package connector

import "testing"

// TestNotices: a thing is said the first time only; a nil Notices says it every time.
func TestNotices(t *testing.T) {
	n := &Notices{}
	if !n.First("a") || n.First("a") || !n.First("b") {
		t.Fatal("said twice, or not at all")
	}
	var none *Notices
	if !none.First("a") || !none.First("a") {
		t.Fatal("a nil Notices stays silent")
	}
}
