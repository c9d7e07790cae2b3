package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// API tokens are "weir_" + an id (12 hex digits, how the store finds the token) + "_" +
// a secret (32 random bytes, base64url). The token is shown once, when it is made; the
// store keeps its id and the SHA-256 of its secret (a secret of 256 random bits needs no
// slow hash). A token is checked in the same time whether or not its id exists.

// Token is a new token: Plain for its holder, ID and Hash for the store.
type Token struct {
	Plain, ID, Hash string
}

// NewToken makes a token.
func NewToken() (Token, error) {
	id := make([]byte, 6)
	secret := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return Token{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return Token{}, err
	}
	s := base64.RawURLEncoding.EncodeToString(secret)
	t := Token{ID: hex.EncodeToString(id), Hash: hashSecret(s)}
	t.Plain = "weir_" + t.ID + "_" + s
	return t, nil
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ErrBadToken is the one answer to a token that is not good, whatever is wrong with it.
var ErrBadToken = errors.New("the token is not valid (wrong, expired or revoked): log in again or ask for a new one")

// ParseToken splits a presented token into its id and secret.
func ParseToken(plain string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(plain, "weir_")
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	return id, secret, ok && len(id) == 12 && secret != ""
}

// dummyTokenHash stands in for a token whose id is unknown.
var dummyTokenHash = hashSecret("no token")

// CheckSecret reports whether secret hashes to hash (an empty hash, of an unknown id: a
// dummy is compared all the same, and false).
func CheckSecret(hash, secret string) bool {
	known := hash != ""
	if !known {
		hash = dummyTokenHash
	}
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(hash)) == 1 && known
}
