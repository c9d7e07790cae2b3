package event

import (
	"encoding/json"
	"fmt"
)

// MarshalJSON encodes a Value with its representation, for checkpoints (chunk bounds, key
// cursors): [rep, n] or [rep, "s"].
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.rep {
	case RepNull, RepUnchanged:
		return json.Marshal([]any{v.rep})
	case RepDecimal, RepString, RepBytes, RepJSON:
		return json.Marshal([]any{v.rep, v.s})
	}
	return json.Marshal([]any{v.rep, v.n})
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (v *Value) UnmarshalJSON(b []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) == 0 {
		return fmt.Errorf("decode value %s: want [rep, payload]", b)
	}
	var rep Rep
	if err := json.Unmarshal(parts[0], &rep); err != nil || rep > RepUnchanged {
		return fmt.Errorf("decode value %s: bad representation", b)
	}
	*v = Value{rep: rep}
	if len(parts) < 2 {
		return nil
	}
	switch rep {
	case RepDecimal, RepString, RepBytes, RepJSON:
		return json.Unmarshal(parts[1], &v.s)
	}
	return json.Unmarshal(parts[1], &v.n)
}
