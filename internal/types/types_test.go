package types

import "testing"

func TestWider(t *testing.T) {
	cases := []struct {
		a, b, want Type
		ok         bool
	}{
		{Type{Kind: Int32}, Type{Kind: Int64}, Type{Kind: Int64}, true},
		{Type{Kind: Int8}, Type{Kind: Int16}, Type{Kind: Int16}, true},
		{Type{Kind: String, Length: 10}, Type{Kind: String, Length: 40}, Type{Kind: String, Length: 40}, true},
		{Type{Kind: String, Length: 10}, Type{Kind: String}, Type{Kind: String}, true},
		{Type{Kind: Decimal, Precision: 10, Scale: 2}, Type{Kind: Decimal, Precision: 8, Scale: 4}, Type{Kind: Decimal, Precision: 12, Scale: 4}, true},
		{Type{Kind: Timestamp, Precision: 0}, Type{Kind: Timestamp, Precision: 6}, Type{Kind: Timestamp, Precision: 6}, true},
		{Type{Kind: Float32}, Type{Kind: Float64}, Type{Kind: Float64}, true},
		{Type{Kind: Enum, Values: []string{"a"}}, Type{Kind: Enum, Values: []string{"b", "a"}}, Type{Kind: Enum, Values: []string{"a", "b"}}, true},
		{Type{Kind: Int64}, Type{Kind: String}, Type{}, false},
		{Type{Kind: Int64}, Type{Kind: Uint64}, Type{}, false},
	}
	for _, c := range cases {
		got, ok := Wider(c.a, c.b)
		if ok != c.ok || (ok && got.String() != c.want.String()) {
			t.Errorf("Wider(%s, %s) = %s, %v; want %s, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}

func TestKindNames(t *testing.T) {
	for k := Boolean; k <= Array; k++ {
		back, ok := ParseKind(k.String())
		if !ok || back != k {
			t.Errorf("kind %d: %q does not parse back", k, k.String())
		}
	}
}
