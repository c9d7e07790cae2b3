// Package auth is who may do what in `weir server`: principals (users, service accounts)
// and how they prove it (passwords, API tokens), the roles of a workspace and the one
// matrix of what each role may do, and the audit of it all.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Passwords are hashed with Argon2id (RFC 9106), memory-hard, in the PHC string form:
// $argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>. The parameters travel with the hash, so
// that they can be raised later and old hashes still check.
const (
	argonMemory  = 64 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// MinPasswordLen is the shortest password a user may set.
const MinPasswordLen = 12

// HashPassword returns the PHC string of password under fresh salt.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLen {
		return "", fmt.Errorf("a password needs at least %d characters", MinPasswordLen)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// dummyHash is checked against when there is no user, so that an unknown name takes as
// long as a wrong password. It is made at the first such check, not at start: a hash
// takes argonMemory (64 MiB) and a tenth of a second, which every weir process (a
// `weir run` too) paid at start, and which stayed in its peak memory.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not a password of anyone")
	return h
})

// CheckPassword reports whether password matches the PHC string hash (an empty hash: no
// user, checked against a dummy all the same, and false).
func CheckPassword(hash, password string) bool {
	known := hash != ""
	if !known {
		hash = dummyHash()
	}
	m, t, p, salt, key, err := parsePHC(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1 && known
}

func parsePHC(h string) (m, t uint32, p uint8, salt, key []byte, err error) {
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return 0, 0, 0, nil, nil, errors.New("not an argon2id hash")
	}
	var v int
	if _, err = fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return 0, 0, 0, nil, nil, errors.New("an argon2id hash of another version")
	}
	if _, err = fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return 0, 0, 0, nil, nil, err
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil {
		return 0, 0, 0, nil, nil, err
	}
	key, err = enc.DecodeString(parts[5])
	return m, t, p, salt, key, err
}
