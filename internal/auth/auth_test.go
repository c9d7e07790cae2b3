package auth

import (
	"errors"
	"strings"
	"testing"
)

// TestPasswords: Argon2id in PHC form; the right password checks, a wrong one and an
// unknown user (no hash) do not; short passwords are refused.
func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=2,p=1$") {
		t.Fatalf("hash %s", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are alike: no salt")
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "correct horse batterY") || CheckPassword("", "correct horse battery") {
		t.Fatal("password checks are wrong")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("a short password was taken")
	}
}

// TestTokens: a token's secret checks against its stored hash only; tokens of other
// shapes do not parse.
func TestTokens(t *testing.T) {
	tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := ParseToken(tok.Plain)
	if !ok || id != tok.ID || !CheckSecret(tok.Hash, secret) {
		t.Fatalf("a fresh token does not check: %+v", tok)
	}
	if strings.Contains(tok.Hash, secret) || CheckSecret(tok.Hash, secret+"x") || CheckSecret("", secret) {
		t.Fatal("secret checks are wrong")
	}
	for _, bad := range []string{"", "weir_", "weir_abc_def", "token " + tok.Plain, strings.TrimPrefix(tok.Plain, "weir_")} {
		if _, _, ok := ParseToken(bad); ok {
			t.Errorf("ParseToken(%q) ok", bad)
		}
	}
}

// TestMatrix: each role may do what it says and no more; roles nest.
func TestMatrix(t *testing.T) {
	for _, c := range []struct {
		r    Role
		p    Perm
		want bool
	}{
		{Viewer, ReadPipelines, true}, {Viewer, OperatePipelines, false}, {Viewer, WritePipelines, false},
		{Operator, OperatePipelines, true}, {Operator, WritePipelines, false},
		{Editor, WritePipelines, true}, {Editor, ManageWorkspace, false},
		{Admin, ManageWorkspace, true}, {Admin, ServerAdmin, false},
	} {
		if got := Allows(c.r, false, c.p); got != c.want {
			t.Errorf("%s may %s: %v, want %v", c.r, c.p, got, c.want)
		}
	}
	if !Allows(Viewer, true, ServerAdmin) {
		t.Error("a server admin may not do everything")
	}
	for i, r := range Roles {
		for _, lower := range Roles[i:] {
			if !AtMost(lower, r) {
				t.Errorf("%s grants what %s does not", lower, r)
			}
		}
		if i > 0 && AtMost(Roles[i-1], r) {
			t.Errorf("%s is no more than %s", Roles[i-1], r)
		}
	}
}

// TestKeyring: sealed credentials open under any key of the ring and only for what they
// were sealed for; the primary seals; a key left out of the ring is named, not guessed.
func TestKeyring(t *testing.T) {
	k1 := "k1=" + strings.Repeat("A", 43) + "="
	k2 := "k2=" + strings.Repeat("B", 43) + "="
	old, err := ParseKeyring(k1, "test")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal([]byte("s3cret"), "connection shop")
	if err != nil || KeyOf(sealed) != "k1" || strings.Contains(sealed, "s3cret") {
		t.Fatalf("sealed %q, %v", sealed, err)
	}
	rotated, _ := ParseKeyring(k2+"\n"+k1, "test") // a new primary; the old key still opens
	if got, err := rotated.Open(sealed, "connection shop"); err != nil || string(got) != "s3cret" {
		t.Fatalf("open under the rotated ring: %q %v", got, err)
	}
	if _, err := rotated.Open(sealed, "connection other"); err == nil {
		t.Fatal("a value opened for another connection")
	}
	again, _ := rotated.Seal([]byte("s3cret"), "connection shop")
	if KeyOf(again) != "k2" {
		t.Fatalf("sealed with %s, want the primary k2", KeyOf(again))
	}
	newOnly, _ := ParseKeyring(k2, "test")
	if _, err := newOnly.Open(sealed, "connection shop"); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "k1") {
		t.Fatalf("a key left out: %v", err)
	}
	for _, bad := range []string{"", "k1", "k1=short", "bad id=" + strings.Repeat("A", 43) + "=", k1 + "," + k1} {
		if _, err := ParseKeyring(bad, "test"); err == nil {
			t.Errorf("ParseKeyring(%q): no error", bad)
		}
	}
}
