package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Credentials at rest are sealed with AES-256-GCM under a key of the server's keyring. A
// sealed value names its key ("v1.<key id>.<base64 of nonce and ciphertext>"), so that
// keys rotate without downtime: the primary key seals, every key of the ring opens, and
// once `weir server rotate-key` has sealed everything again with the primary, the old
// keys can leave the ring. What a value is sealed for (a connection's name) is bound to
// it as additional data: a sealed value copied to another row does not open there.
//
// The keyring comes from a file or an environment variable, one key per line or comma:
// "id=<base64 of 32 bytes>"; the first is the primary. Make a key with
// `head -c 32 /dev/urandom | base64`.

// Keyring holds the keys that seal and open credentials.
type Keyring struct {
	primary string
	keys    map[string]cipher.AEAD
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ParseKeyring reads a keyring's text (what holds it names it in errors).
func ParseKeyring(text, what string) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for _, item := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' }) {
		item = strings.TrimSpace(item)
		if item == "" || strings.HasPrefix(item, "#") {
			continue
		}
		id, b64, ok := strings.Cut(item, "=")
		if !ok || !keyID.MatchString(id) {
			return nil, fmt.Errorf("%s: a key is id=<base64 of 32 bytes>, the id letters, digits, '_' or '-'", what)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%s: key %s is not the base64 of 32 bytes (make one with: head -c 32 /dev/urandom | base64)", what, id)
		}
		if _, dup := k.keys[id]; dup {
			return nil, fmt.Errorf("%s: key %s twice", what, id)
		}
		block, _ := aes.NewCipher(raw)
		aead, _ := cipher.NewGCM(block)
		k.keys[id] = aead
		if k.primary == "" {
			k.primary = id
		}
	}
	if k.primary == "" {
		return nil, fmt.Errorf("%s holds no key", what)
	}
	return k, nil
}

// LoadKeyring reads the keyring from the file path, else from the environment variable
// env; nil when neither is set.
func LoadKeyring(path, env string) (*Keyring, error) {
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read the key file: %w", err)
		}
		return ParseKeyring(string(b), path)
	case os.Getenv(env) != "":
		return ParseKeyring(os.Getenv(env), "$"+env)
	}
	return nil, nil
}

// Primary is the id of the key that seals.
func (k *Keyring) Primary() string { return k.primary }

// Seal seals plain for what.
func (k *Keyring) Seal(plain []byte, what string) (string, error) {
	aead := k.keys[k.primary]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := aead.Seal(nonce, nonce, plain, []byte(what))
	return "v1." + k.primary + "." + base64.RawStdEncoding.EncodeToString(ct), nil
}

// KeyOf names the key a sealed value was sealed with.
func KeyOf(sealed string) string {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

// ErrUnknownKey: the value was sealed with a key the ring does not hold.
var ErrUnknownKey = errors.New("sealed with a key the server's keyring does not hold")

// Open opens a value sealed for what. Its error never holds the value.
func (k *Keyring) Open(sealed, what string) ([]byte, error) {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, errors.New("not a sealed value")
	}
	aead, ok := k.keys[parts[1]]
	if !ok {
		return nil, fmt.Errorf("key %s: %w (put it back in the keyring, or set the credentials again)", parts[1], ErrUnknownKey)
	}
	ct, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(ct) < aead.NonceSize() {
		return nil, errors.New("a sealed value that is not whole")
	}
	plain, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(what))
	if err != nil {
		return nil, fmt.Errorf("a sealed value that does not open under key %s for %s (altered, or sealed for another)", parts[1], what)
	}
	return plain, nil
}
