package mysql

import "testing"

func TestComparePadSpace(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"abc", "abc", 0}, {"abc", "abc  ", 0}, {"abc", "abd", -1}, {"ab", "ab\x01", 1}, // 'ab' padded: 'ab ' > 'ab\x01'
		{"ab", "ab!", -1}, {"é", "e", 1}, {"", " ", 0}, {"a", "", 1},
	}
	for _, c := range cases {
		if got := comparePadSpace(c.a, c.b); got != c.want {
			t.Errorf("comparePadSpace(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
