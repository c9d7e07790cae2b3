// Package sensitive flags columns that look like personal data — e-mail addresses, phone
// numbers, identity numbers, bank cards, names and addresses — by their names and by a
// sample of their values, and suggests a mask for each (`weir discover --sensitive`).
// It is a hint for whoever writes the pipeline, not a guarantee: a column it does not
// flag may still hold personal data.
package sensitive

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Finding is one column that looks sensitive.
type Finding struct {
	Column string
	Kind   string // email, phone, id-number, bank-card, name, address
	// Evidence says why: the column's name, and/or how many sampled values matched.
	Evidence string
	Mask     string // a suggested mask item, e.g. "phone = partial(4)"
}

// kind is one sort of personal data: how its columns are named, how its values look
// (nil: by name only), and the mask that suits it.
type kind struct {
	name  string
	names *regexp.Regexp
	value func(s string) bool
	mask  string
}

var kinds = []kind{
	{"email", regexp.MustCompile(`(?i)(^|_)e?-?mail(_?addr(ess)?)?($|_)`), isEmail, "hash"},
	{"phone", regexp.MustCompile(`(?i)(^|_)(phone|mobile|tel|telephone|cell|cellphone|msisdn)(_?(no|num|number))?($|_)`), isPhone, "partial(4)"},
	{"id-number", regexp.MustCompile(`(?i)(^|_)(id_?card|id_?no|id_?number|identity(_?no)?|ssn|social_security(_?no)?|national_id|passport(_?no)?|citizen_?id)($|_)`), isIDNumber, "encrypt"},
	{"bank-card", regexp.MustCompile(`(?i)(^|_)(card_?(no|num|number)|bank_?(card|account)(_?no)?|credit_?card|iban|account_?(no|number)|pan)($|_)`), isBankCard, "partial(4)"},
	{"name", regexp.MustCompile(`(?i)^(full_?|first_?|last_?|real_?|given_?|family_?|customer_?|user_?|contact_?)name$`), nil, "hash"},
	{"address", regexp.MustCompile(`(?i)(^|_)(address|addr|street|home_?addr(ess)?)($|_)`), nil, "null"},
}

// MinShare is the share of a column's non-NULL sampled values that must look like a kind
// for the column to be flagged by its values.
const MinShare = 0.8

// Detect returns the columns of s that look sensitive by name or by the sample of rows.
func Detect(s *event.Schema, sample []event.Row) []Finding {
	var out []Finding
	for i, c := range s.Columns {
		if !textual(c.Type) {
			continue
		}
		var values []string
		for _, r := range sample {
			if i < len(r) && !r[i].IsNull() && r[i].Rep() != event.RepUnchanged {
				values = append(values, strings.TrimSpace(r[i].String()))
			}
		}
		for _, k := range kinds {
			byName := k.names.MatchString(c.Name)
			matched := 0
			if k.value != nil {
				for _, v := range values {
					if k.value(v) {
						matched++
					}
				}
			}
			byValue := len(values) > 0 && float64(matched) >= MinShare*float64(len(values))
			if !byName && !byValue {
				continue
			}
			var why []string
			if byName {
				why = append(why, "its name")
			}
			if k.value != nil && len(values) > 0 {
				why = append(why, fmt.Sprintf("%d of %d sampled values", matched, len(values)))
			}
			if byName && k.value != nil && len(values) > 0 && matched == 0 {
				continue // named so, but its values are something else
			}
			out = append(out, Finding{Column: c.Name, Kind: k.name, Evidence: strings.Join(why, "; "), Mask: c.Name + " = " + k.mask})
			break
		}
	}
	return out
}

// textual reports whether values of type t can be personal data in text or digits.
func textual(t types.Type) bool {
	switch t.Kind {
	case types.String, types.Int64, types.Uint64, types.Decimal:
		return true
	}
	return false
}

var email = regexp.MustCompile(`^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$`)

func isEmail(s string) bool { return email.MatchString(s) }

// digits is s without spaces, dashes, dots and parentheses, and whether only digits (and
// one leading '+') are left.
func digits(s string) (string, bool) {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		case r == '+' && i == 0:
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// isPhone: a mainland China mobile number (1[3-9] and 9 digits, with or without +86), or
// an international number written with '+' (8 to 15 digits).
func isPhone(s string) bool {
	d, ok := digits(s)
	if !ok {
		return false
	}
	d = strings.TrimPrefix(d, "0086")
	if strings.HasPrefix(s, "+86") || strings.HasPrefix(s, "86") && len(d) == 13 {
		d = d[2:]
	}
	if len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9' {
		return true
	}
	return strings.HasPrefix(s, "+") && len(d) >= 8 && len(d) <= 15
}

// isIDNumber: a mainland China resident identity number (18 characters, a valid birth
// date and check character) or a US social security number (AAA-GG-SSSS).
func isIDNumber(s string) bool {
	if ssn.MatchString(s) {
		return !strings.HasPrefix(s, "000") && !strings.HasPrefix(s, "666") && s[0] != '9'
	}
	if len(s) != 18 {
		return false
	}
	sum := 0
	for i := range 17 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		sum += int(s[i]-'0') * idWeights[i]
	}
	if _, err := time.Parse("20060102", s[6:14]); err != nil {
		return false
	}
	check := "10X98765432"[sum%11]
	return s[17] == check || check == 'X' && s[17] == 'x'
}

var (
	ssn       = regexp.MustCompile(`^\d{3}-\d{2}-\d{4}$`)
	idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
)

// isBankCard: 13 to 19 digits (spaces and dashes allowed) that pass the Luhn check.
func isBankCard(s string) bool {
	if strings.HasPrefix(s, "+") {
		return false
	}
	d, ok := digits(s)
	if !ok || len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	for i := range len(d) {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}
