package sensitive

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func col(name string, k types.Kind) event.Column {
	return event.Column{Name: name, Type: types.Type{Kind: k}, Nullable: true}
}

// TestDetect: columns flagged by name, by values under names that say nothing, and
// neither; a column named like personal data whose values are something else is not.
func TestDetect(t *testing.T) {
	s := &event.Schema{ID: event.TableID{Schema: "crm", Table: "people"}, Columns: []event.Column{
		col("id", types.Int64),
		col("contact", types.String),   // e-mails, by value
		col("mobile_no", types.String), // by name and value
		col("f3", types.String),        // identity numbers, by value
		col("payment", types.String),   // bank cards, by value
		col("note", types.String),      // free text
		col("amount", types.Decimal),   // numbers
		col("email", types.String),     // named so, but holds codes
		col("full_name", types.String), // by name only
		col("home_address", types.String),
		col("phone", types.Int64), // phones stored as numbers
	}}
	cards := []string{"4111 1111 1111 1111", "5500-0000-0000-0004", "6222021234567890128", "4012888888881881"}
	ids := []string{"11010519491231002X", "320106198512031236", "440524188001010014", "123-45-6789"}
	var sample []event.Row
	for i := range 20 {
		sample = append(sample, event.Row{
			event.Int(int64(i)),
			event.String(fmt.Sprintf("user.%d@example.com", i)),
			event.String(fmt.Sprintf("+86 138 0013 %04d", i)),
			event.String(ids[i%len(ids)]),
			event.String(cards[i%len(cards)]),
			event.String(fmt.Sprintf("called on day %d", i)),
			event.Decimal(fmt.Sprintf("%d.50", 1000+i)),
			event.String(fmt.Sprintf("CODE-%d", i)),
			event.String("Ada Lovelace"),
			event.Null(),
			event.Int(13900000000 + int64(i)),
		})
	}
	sample[3][1] = event.String("not an address") // 19 of 20 still look so
	var got []string
	for _, f := range Detect(s, sample) {
		got = append(got, f.Column+": "+f.Kind+" ("+f.Evidence+") → "+f.Mask)
	}
	want := []string{
		"contact: email (19 of 20 sampled values) → contact = hash",
		"mobile_no: phone (its name; 20 of 20 sampled values) → mobile_no = partial(4)",
		"f3: id-number (20 of 20 sampled values) → f3 = encrypt",
		"payment: bank-card (20 of 20 sampled values) → payment = partial(4)",
		"full_name: name (its name) → full_name = hash",
		"home_address: address (its name) → home_address = null",
		"phone: phone (its name; 20 of 20 sampled values) → phone = partial(4)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestValueShapes: the checks behind the kinds, on near misses.
func TestValueShapes(t *testing.T) {
	for _, c := range []struct {
		f    func(string) bool
		in   string
		want bool
	}{
		{isIDNumber, "11010519491231002X", true},
		{isIDNumber, "110105194912310021", false}, // wrong check digit
		{isIDNumber, "110105194913310029", false}, // no 13th month
		{isIDNumber, "666-12-3456", false},
		{isBankCard, "4111111111111112", false}, // Luhn fails
		{isBankCard, "+4111111111111111", false},
		{isPhone, "13800138000", true},
		{isPhone, "12800138000", false},
		{isPhone, "+44 20 7946 0958", true},
		{isPhone, "2024-01-01", false},
		{isEmail, "a@b", false},
		{isEmail, "first.last+tag@mail.example.org", true},
	} {
		if got := c.f(c.in); got != c.want {
			t.Errorf("%q: %v, want %v", c.in, got, c.want)
		}
	}
}
