package textdiff

import "testing"

func TestContext(t *testing.T) {
	a := "source:\n  type: datagen\n  rows: 10\nsink:\n  type: file\n  path: out\npipeline:\n  name: p\n"
	b := "source:\n  type: datagen\n  rows: 10\nsink:\n  type: file\n  path: out\ntransform:\n  - source-table: demo.orders\npipeline:\n  name: p\n"
	want := "  …\n    path: out\n+ transform:\n+   - source-table: demo.orders\n  pipeline:\n  …\n"
	if got := Context(a, b); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := Context("x: 1\n", "x: 2\n"); got != "- x: 1\n+ x: 2\n" {
		t.Fatalf("one line changed:\n%s", got)
	}
}
