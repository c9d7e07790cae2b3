package transform

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Mask is one item of a transform rule's mask list: the output columns it selects and
// how their values are hidden. It is written "SELECTOR = METHOD", where SELECTOR is
// column names separated by commas, or a regular expression between slashes matched
// against whole column names, and METHOD one of
//
//	hash                  hex HMAC-SHA256 of the value's text, keyed with mask.key: equal
//	                      values stay equal (joins and keys still work), and without the
//	                      key the value cannot be guessed by hashing candidates
//	partial(N)            every character but the last N replaced by '*'
//	partial(F, N)         … but the first F and the last N
//	null                  NULL
//	encrypt               AES-256-GCM under SHA-256(mask.key), written
//	                      weir:v1:KEY-ID:BASE64URL(NONCE ‖ CIPHERTEXT ‖ TAG); the nonce is
//	                      derived from the value, so equal values encrypt alike and a
//	                      replay writes the same text. Readers with the key decrypt it
//	                      (Decrypt; docs/transform.md shows how elsewhere).
type Mask struct {
	Columns   []string       // lower case; or
	Regex     *regexp.Regexp // anchored
	Method    string
	KeepFirst int
	KeepLast  int
	Written   string // the item as written, for messages
}

// MaskKey is the secret that hash and encrypt use, and the name readers know it by.
type MaskKey struct {
	Secret []byte
	ID     string
}

var maskItem = regexp.MustCompile(`^\s*(.+?)\s*=\s*([a-z]+)\s*(?:\(\s*([^)]*)\))?\s*$`)

// ParseMask parses one mask item (see Mask).
func ParseMask(item string) (Mask, error) {
	m := Mask{Written: item}
	parts := maskItem.FindStringSubmatch(strings.ToLower(item))
	if parts == nil {
		return m, fmt.Errorf("mask %q: write SELECTOR = METHOD, e.g. phone = partial(4) or /.*mail.*/ = hash", item)
	}
	orig := maskItem.FindStringSubmatch(item) // the selector keeps its case for a regex
	sel := orig[1]
	if strings.HasPrefix(sel, "/") && strings.HasSuffix(sel, "/") && len(sel) > 1 {
		re, err := regexp.Compile("^(?:" + sel[1:len(sel)-1] + ")$")
		if err != nil {
			return m, fmt.Errorf("mask %q: the column regex: %v", item, err)
		}
		m.Regex = re
	} else {
		for _, c := range strings.Split(sel, ",") {
			if c = strings.TrimSpace(c); c != "" {
				m.Columns = append(m.Columns, strings.ToLower(c))
			}
		}
	}
	m.Method = parts[2]
	var args []int
	if parts[3] != "" {
		for _, a := range strings.Split(parts[3], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil || n < 0 {
				return m, fmt.Errorf("mask %q: %q is not a count of characters", item, strings.TrimSpace(a))
			}
			args = append(args, n)
		}
	}
	switch m.Method {
	case "hash", "null", "encrypt":
		if len(args) > 0 {
			return m, fmt.Errorf("mask %q: %s takes no arguments", item, m.Method)
		}
	case "partial":
		switch len(args) {
		case 1:
			m.KeepLast = args[0]
		case 2:
			m.KeepFirst, m.KeepLast = args[0], args[1]
		default:
			return m, fmt.Errorf("mask %q: write partial(N) to keep the last N characters, or partial(F, N) to keep the first F too", item)
		}
	default:
		return m, fmt.Errorf("mask %q: the method %s is not known; use hash, partial(N), null or encrypt", item, m.Method)
	}
	return m, nil
}

// selects reports whether the mask applies to column name.
func (m *Mask) selects(name string) bool {
	if m.Regex != nil {
		return m.Regex.MatchString(name)
	}
	for _, c := range m.Columns {
		if c == strings.ToLower(name) {
			return true
		}
	}
	return false
}

// apply wraps the expression of an output column in the mask; inKey says the column is
// part of the output's key (only methods that keep values apart may touch it).
func (m *Mask) apply(col *Column, inKey bool, key *MaskKey) error {
	if inKey && (m.Method == "null" || m.Method == "partial") {
		return fmt.Errorf("mask %q would %s key column %s, and rows would collide; use hash or encrypt, or leave the key unmasked",
			m.Written, map[string]string{"null": "null", "partial": "blur"}[m.Method], col.Name)
	}
	if (m.Method == "hash" || m.Method == "encrypt") && (key == nil || len(key.Secret) == 0) {
		return fmt.Errorf("mask %q needs a key: set mask.key (e.g. mask.key: ${WEIR_MASK_KEY})", m.Written)
	}
	inner, refs := col.Expr.eval, col.Expr.refs
	col.Source = -1 // computed now
	var f func(s string) (string, error)
	switch m.Method {
	case "null":
		col.Expr = &Expr{Text: "NULL", Type: col.Expr.Type, eval: func(*Input) (event.Value, error) { return event.Null(), nil }, refs: refs}
		return nil
	case "hash":
		f = func(s string) (string, error) {
			h := hmac.New(sha256.New, key.Secret)
			h.Write([]byte(s))
			return hex.EncodeToString(h.Sum(nil)), nil
		}
	case "partial":
		first, last := m.KeepFirst, m.KeepLast
		f = func(s string) (string, error) { return blur(s, first, last), nil }
	case "encrypt":
		enc, err := newEncrypter(key)
		if err != nil {
			return err
		}
		f = enc.encrypt
	}
	col.Expr = &Expr{Text: fmt.Sprintf("%s masked by %s", col.Expr.Text, m.Method), Type: types.Type{Kind: types.String}, refs: refs,
		eval: func(in *Input) (event.Value, error) {
			v, err := inner(in)
			if err != nil || v.IsNull() || v.Rep() == event.RepUnchanged {
				return v, err
			}
			s, err := f(toText(v))
			return event.String(s), err
		}}
	return nil
}

// blur replaces every character of s but the first first and the last last with '*'.
func blur(s string, first, last int) string {
	r := []rune(s)
	for i := range r {
		if i >= first && i < len(r)-last {
			r[i] = '*'
		}
	}
	return string(r)
}

// encrypter is AES-256-GCM under SHA-256 of the mask key, with a nonce derived from the
// plaintext (HMAC-SHA256 under the same key, first 12 bytes).
type encrypter struct {
	aead   cipher.AEAD
	key    []byte
	prefix string
}

func newEncrypter(k *MaskKey) (*encrypter, error) {
	sum := sha256.Sum256(k.Secret)
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	id := k.ID
	if id == "" {
		id = "default"
	}
	return &encrypter{aead: aead, key: sum[:], prefix: "weir:v1:" + id + ":"}, nil
}

func (e *encrypter) encrypt(s string) (string, error) {
	h := hmac.New(sha256.New, e.key)
	h.Write([]byte(s))
	nonce := h.Sum(nil)[:e.aead.NonceSize()]
	out := e.aead.Seal(nonce, nonce, []byte(s), nil)
	return e.prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Decrypt returns the plaintext of a value the encrypt mask wrote under secret, and the
// id of the key it names.
func Decrypt(secret []byte, text string) (plain, keyID string, err error) {
	rest, ok := strings.CutPrefix(text, "weir:v1:")
	if !ok {
		return "", "", errors.New("not a value the encrypt mask wrote (it starts with weir:v1:)")
	}
	keyID, data, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", errors.New("no key id in the value")
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil {
		return "", keyID, fmt.Errorf("the value's ciphertext: %w", err)
	}
	e, err := newEncrypter(&MaskKey{Secret: secret, ID: keyID})
	if err != nil {
		return "", keyID, err
	}
	n := e.aead.NonceSize()
	if len(raw) < n {
		return "", keyID, errors.New("the value is too short")
	}
	p, err := e.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", keyID, fmt.Errorf("decrypt under key %s: %w", keyID, err)
	}
	return string(p), keyID, nil
}
