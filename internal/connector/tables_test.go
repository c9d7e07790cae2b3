package connector

import (
	"strings"
	"testing"
)

func TestParseTables(t *testing.T) {
	cases := []struct {
		in      string
		match   [][2]string
		noMatch [][2]string
		err     string
	}{
		{in: `shop.orders`, match: [][2]string{{"shop", "orders"}}, noMatch: [][2]string{{"shop", "orders2"}, {"shopx", "orders"}}},
		{in: `shop_\d+.orders_\d{1,3}, crm.users`, match: [][2]string{{"shop_12", "orders_7"}, {"crm", "users"}}, noMatch: [][2]string{{"shop_1", "orders_1234"}}},
		{in: `db0.\.*`, match: [][2]string{{"db0", "anything"}, {"db0", "a.b"}}, noMatch: [][2]string{{"db1", "x"}}},
		{in: `db\.x.t`, match: [][2]string{{"db.x", "t"}, {"dbAx", "t"}}},
		{in: `db.schema.table`, match: [][2]string{{"db", "schemaXtable"}}},
		{in: `shop.a\.b`, match: [][2]string{{"shop", "a.b"}, {"shop", "axb"}}},                        // Flink's: \. is any character
		{in: `shop.a[.]b`, match: [][2]string{{"shop", "a.b"}}, noMatch: [][2]string{{"shop", "axb"}}}, // a literal dot
		{in: `shop.*`, err: `for every table of shop write shop.\.*`},
		{in: `shop\..*`, err: `for every table of shop write shop.\.*`},
		{in: `orders`, err: "has no '.'"},
		{in: `a.b,,c.d`, err: "item 2 is empty"},
		{in: `a.(b`, err: "missing closing )"},
	}
	for _, c := range cases {
		ps, err := ParseTables(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %v, want an error containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		any := func(db, table string) bool {
			for _, p := range ps {
				if p.Match(db, table) {
					return true
				}
			}
			return false
		}
		for _, m := range c.match {
			if !any(m[0], m[1]) {
				t.Errorf("%q does not match %s.%s", c.in, m[0], m[1])
			}
		}
		for _, m := range c.noMatch {
			if any(m[0], m[1]) {
				t.Errorf("%q matches %s.%s", c.in, m[0], m[1])
			}
		}
	}
}
