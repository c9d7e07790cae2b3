package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// A small scanner for the records' JSON: it walks an object's members and skips values
// without decoding them, so that a record's parts are found in one pass and only what is
// used is decoded (encoding/json would decode, or at least validate, the whole record,
// its Connect schema included, for every record). A value it passes over whole is not
// checked; one it decodes is.

// members calls fn with each member of the JSON object b: its name (undecoded: names
// with escapes are not expected) and its value's bytes.
func members(b []byte, fn func(name, value []byte) error) error {
	_, err := object(b, func(name, at []byte) (int, error) {
		n, err := skipValue(at, 0)
		if err != nil {
			return 0, err
		}
		return n, fn(name, at[:n])
	})
	return err
}

// object walks the JSON object that b starts with: fn gets each member's name and the
// bytes from its value on, and returns how many of them the value takes (so that a value
// is decoded as it is passed, not found first and read again). It returns the index
// past the object.
func object(b []byte, fn func(name, at []byte) (int, error)) (int, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, errors.New("not a JSON object")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return 0, fmt.Errorf("a JSON object's member name expected at byte %d", i)
		}
		end, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		name := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, fmt.Errorf("':' expected at byte %d", i)
		}
		start := skipSpace(b, i+1)
		if start >= len(b) {
			return 0, errors.New("a JSON value expected")
		}
		n, err := fn(name, b[start:])
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, start+n)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			return i + 1, nil
		default:
			return 0, fmt.Errorf("',' or '}' expected at byte %d", i)
		}
	}
	return 0, errors.New("the JSON object ends early")
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index past the string starting at b[i] (a '"').
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; ; j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, errors.New("a JSON string ends early")
		}
		j += k
		escapes := 0 // the quote is the string's end unless an odd number of backslashes precede it
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			escapes++
		}
		if escapes%2 == 0 {
			return j + 1, nil
		}
	}
}

// skipValue returns the index past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("a JSON value expected")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("a JSON object or array ends early")
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	if j == i {
		return 0, fmt.Errorf("a JSON value expected at byte %d", i)
	}
	return j, nil
}

// jsonString decodes a JSON string value (null: ""), without encoding/json where it has
// no escapes.
func jsonString(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		plain := true
		for _, c := range inner {
			if c == '\\' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			return string(inner), nil
		}
	}
	if string(raw) == "null" {
		return "", nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// jsonInt decodes a JSON integer (null: 0).
func jsonInt(raw []byte) (int64, error) {
	if string(raw) == "null" {
		return 0, nil
	}
	return strconv.ParseInt(string(raw), 10, 64)
}
