package transform

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

var people = &event.Schema{ID: event.TableID{Schema: "crm", Table: "people"}, Key: []int{0}, Columns: []event.Column{
	{Name: "id", Type: types.Type{Kind: types.Int64}},
	{Name: "phone", Type: types.Type{Kind: types.String, Length: 20}},
	{Name: "Email", Type: types.Type{Kind: types.String, Length: 80}, Nullable: true},
	{Name: "backup_email", Type: types.Type{Kind: types.String, Length: 80}, Nullable: true},
	{Name: "id_card", Type: types.Type{Kind: types.String, Length: 18}},
	{Name: "salary", Type: types.Type{Kind: types.Decimal, Precision: 10, Scale: 2}},
}}

func maskRule(t *testing.T, projection string, key *MaskKey, items ...string) *Transformer {
	t.Helper()
	ps, _ := connector.ParseTables(`crm.\.*`)
	r := Rule{Tables: ps, Projection: projection, MaskKey: key}
	for _, it := range items {
		m, err := ParseMask(it)
		if err != nil {
			t.Fatal(err)
		}
		r.Masks = append(r.Masks, m)
	}
	return New([]Rule{r}, nil, Options{})
}

// TestMasks: each method on its columns (by name and by regex), the output schema they
// give, NULLs left NULL, equal values masked alike, and encrypted values that a reader
// with the key opens — with Decrypt, and with nothing but the documented recipe.
func TestMasks(t *testing.T) {
	key := &MaskKey{Secret: []byte("s3cret"), ID: "k2026"}
	tr := maskRule(t, "", key, "phone = partial(4)", "/(?i).*email/ = hash", "id_card = encrypt", "salary = null")
	row := event.Row{event.Int(1), event.String("13812345678"), event.String("ada@example.com"), event.Null(), event.String("11010519491231002X"), event.Decimal("1000.00")}
	out, keep, err := tr.applyRules(event.Change{Op: event.OpInsert, Schema: people, After: row})
	if err != nil || !keep {
		t.Fatal(err)
	}
	if got, want := describe(out.Schema), "crm.people(id int64 key, phone string, Email string null, backup_email string null, id_card string, salary decimal(10,2) null)"; got != want {
		t.Errorf("schema %s, want %s", got, want)
	}
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write([]byte("ada@example.com"))
	if got := rowText(out.After[:4]); got != "1 *******5678 "+hex.EncodeToString(mac.Sum(nil))+" NULL" {
		t.Errorf("partial, hash, NULL: %s", got)
	}
	if !out.After[5].IsNull() {
		t.Errorf("salary = null gave %s", toText(out.After[5]))
	}
	enc := toText(out.After[4])
	if !strings.HasPrefix(enc, "weir:v1:k2026:") {
		t.Fatalf("encrypted value %q", enc)
	}
	plain, id, err := Decrypt(key.Secret, enc)
	if err != nil || plain != "11010519491231002X" || id != "k2026" {
		t.Errorf("Decrypt: %q %q %v", plain, id, err)
	}
	// The recipe of docs/transform.md: AES-256-GCM, key SHA-256(secret), nonce first.
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(enc, "weir:v1:k2026:"))
	sum := sha256.Sum256(key.Secret)
	block, _ := aes.NewCipher(sum[:])
	gcm, _ := cipher.NewGCM(block)
	if p, err := gcm.Open(nil, raw[:12], raw[12:], nil); err != nil || string(p) != "11010519491231002X" {
		t.Errorf("decrypted by the recipe: %q %v", p, err)
	}
	if _, _, err := Decrypt([]byte("wrong"), enc); err == nil {
		t.Error("a wrong key decrypted the value")
	}
	again, _, _ := tr.applyRules(event.Change{Op: event.OpInsert, Schema: people, After: row})
	if toText(again.After[4]) != enc || toText(again.After[2]) != toText(out.After[2]) {
		t.Error("the same value masked twice differs (a replay would rewrite it)")
	}
	if blur("ab", 0, 4) != "ab" || blur("abcdef", 1, 2) != "a***ef" || blur("电话号码", 0, 1) != "***码" {
		t.Error("partial on short, two-sided and multibyte text")
	}
}

// TestMaskErrors: what is refused, and the messages that say what to do.
func TestMaskErrors(t *testing.T) {
	for _, c := range []struct{ item, want string }{
		{"phone", `mask "phone": write SELECTOR = METHOD, e.g. phone = partial(4) or /.*mail.*/ = hash`},
		{"phone = scramble", `mask "phone = scramble": the method scramble is not known; use hash, partial(N), null or encrypt`},
		{"phone = partial", `mask "phone = partial": write partial(N) to keep the last N characters, or partial(F, N) to keep the first F too`},
		{"phone = partial(x)", `mask "phone = partial(x)": "x" is not a count of characters`},
		{"phone = hash(3)", `mask "phone = hash(3)": hash takes no arguments`},
		{"/(/ = null", "mask \"/(/ = null\": the column regex: error parsing regexp: missing closing ): `^(?:()$`"},
	} {
		if _, err := ParseMask(c.item); err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.item, err, c.want)
		}
	}
	if _, err := maskRule(t, "", nil, "phone = hash").schema(people); err == nil || !strings.Contains(err.Error(), "needs a key: set mask.key") {
		t.Errorf("hash without a key: %v", err)
	}
	if _, err := maskRule(t, "", nil, "id = null").schema(people); err == nil ||
		!strings.Contains(err.Error(), `mask "id = null" would null key column id, and rows would collide; use hash or encrypt`) {
		t.Errorf("null on the key: %v", err)
	}
	if s, err := maskRule(t, "", &MaskKey{Secret: []byte("k")}, "id = hash").schema(people); err != nil || s.KeyNames()[0] != "id" || s.Columns[0].Type.Kind != types.String {
		t.Errorf("hash on the key: %v %v", s, err)
	}
}

// TestMaskNamesAColumnNoTableHas: a misspelt mask column stops the pipeline at its start,
// naming the rule, the mask and the tables, rather than leaving the data in clear.
func TestMaskNamesAColumnNoTableHas(t *testing.T) {
	tr := maskRule(t, "", &MaskKey{Secret: []byte("k")}, "phnoe = partial(4)")
	err := tr.Prepare([]*event.Schema{people})
	if err == nil || !strings.Contains(err.Error(), `transform rule 1: mask "phnoe = partial(4)" names column phnoe, which none of its tables (crm.people) has`) {
		t.Fatalf("%v", err)
	}
	if err := maskRule(t, "", nil, "PHONE = partial(4)").Prepare([]*event.Schema{people}); err != nil {
		t.Errorf("a name in another case: %v", err)
	}
}
