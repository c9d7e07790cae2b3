package verify

import (
	"math"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func TestEqual(t *testing.T) {
	dec := types.Type{Kind: types.Decimal}
	js := types.Type{Kind: types.JSON}
	f32 := types.Type{Kind: types.Float32}
	ts := types.Type{Kind: types.Timestamp}
	for _, c := range []struct {
		a, b event.Value
		t    types.Type
		want bool
	}{
		{event.Null(), event.Null(), dec, true},
		{event.Null(), event.Decimal("0"), dec, false},
		{event.Decimal("1.50"), event.Decimal("1.5"), dec, true},
		{event.Decimal("1.500000000000000000000000000000"), event.Decimal("1.5"), dec, true},
		{event.Decimal("-0.00"), event.Decimal("0"), dec, true}, // one value: neither engine keeps a negative zero
		{event.Decimal("007"), event.Decimal("7.0"), dec, true},
		{event.Decimal("1.5"), event.Decimal("1.51"), dec, false},
		{event.JSON(`{"b": 1, "a": [true, null]}`), event.JSON(`{"a":[true,null],"b":1}`), js, true},
		{event.JSON(`{"a": 1.0}`), event.JSON(`{"a": 1}`), js, false}, // numbers as written
		{event.JSON(`{"a": 1}`), event.JSON(`{"a": 2}`), js, false},
		{event.Float(3.14159274), event.Float(float64(float32(3.14159274))), f32, true},
		{event.Float(math.NaN()), event.Float(math.NaN()), f32, true},
		{event.Float(1), event.Float(2), f32, false},
		{event.Timestamp(1), event.Timestamp(1), ts, true},
		{event.Timestamp(1), event.Timestamp(2), ts, false},
		{event.String("a"), event.String("a "), types.Type{Kind: types.String}, false},
	} {
		if got := Equal(c.a, c.b, c.t); got != c.want {
			t.Errorf("Equal(%s, %s, %s) = %v, want %v", c.a, c.b, c.t, got, c.want)
		}
	}
}
