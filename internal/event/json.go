package event

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MarshalJSON encodes a Value with its representation, for checkpoints (chunk bounds, key
// cursors): [rep, n], [rep, "s"], or [rep, "base64", 1] for bytes and for any text that
// is not valid UTF-8 (JSON strings cannot carry arbitrary bytes).
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.rep {
	case RepNull, RepUnchanged:
		return json.Marshal([]any{v.rep})
	case RepDecimal, RepString, RepBytes, RepJSON:
		if v.rep == RepBytes || !utf8.ValidString(v.s) {
			return json.Marshal([]any{v.rep, base64.StdEncoding.EncodeToString([]byte(v.s)), 1})
		}
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
		if err := json.Unmarshal(parts[1], &v.s); err != nil {
			return err
		}
		if len(parts) > 2 {
			b, err := base64.StdEncoding.DecodeString(v.s)
			if err != nil {
				return fmt.Errorf("decode value %s: %w", b, err)
			}
			v.s = string(b)
		}
		return nil
	}
	return json.Unmarshal(parts[1], &v.n)
}
