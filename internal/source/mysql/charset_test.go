package mysql

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
	"github.com/weir-data/weir/internal/testenv"
)

// charsetSample is text in many scripts; each charset's table stores what of it the set can
// hold (the server turns the rest into '?').
const charsetSample = "café € naïve Ærø ÿ Š ž Œ — “q” ½ ß Привет Ελλάδα שלום ไทย 中文 日本語 ｶﾀｶﾅ 한국어 😀🧩 end "

// TestCharsetsRoundTrip: a column of every character set weir decodes, on the tuned and on
// the stock (latin1-default) server. Each single-byte set holds each of its 255 non-zero
// bytes; the multi-byte sets hold the sample as the server converts it. The snapshot and
// the binlog give the same strings, and those are what the server itself makes of the
// stored bytes (CONVERT(v USING utf8mb4), read as hex so that no connection charset is
// involved). A CHAR column keeps its value without the padding, as MySQL returns it.
func TestCharsetsRoundTrip(t *testing.T) { servers(t, testCharsetsRoundTrip) }

func testCharsetsRoundTrip(t *testing.T, m *testenv.MariaDB) {
	have := map[string]bool{}
	out, err := m.Query("", "SELECT CHARACTER_SET_NAME FROM information_schema.CHARACTER_SETS")
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range strings.Fields(out) {
		have[cs] = true
	}
	single := []string{"latin1", "latin2", "latin5", "latin7", "cp1250", "cp1251", "cp1256", "cp1257",
		"cp850", "cp852", "cp866", "greek", "hebrew", "koi8r", "koi8u", "macroman", "tis620"}
	multi := []string{"utf8mb4", "utf8mb3", "ascii", "gbk", "gb2312", "big5", "sjis", "cp932", "ujis", "eucjpms",
		"euckr", "ucs2", "utf16", "utf16le", "utf32", "gb18030"}
	var sets []string
	for _, cs := range append(slices.Clone(single), multi...) {
		if have[cs] {
			sets = append(sets, cs)
		}
	}
	if len(sets) < 30 {
		t.Fatalf("the server knows only %d of the charsets: %v", len(sets), sets)
	}
	var ddl strings.Builder
	ddl.WriteString("CREATE DATABASE charsets;")
	for _, cs := range sets {
		fmt.Fprintf(&ddl, "CREATE TABLE charsets.t_%s (id INT PRIMARY KEY, v VARCHAR(400) CHARACTER SET %s, c CHAR(8) CHARACTER SET %s);", cs, cs, cs)
	}
	execOn(t, m, ddl.String())
	s, tables, start := openAtOn(t, m, `charsets.\.*`)

	rows := 0
	for _, cs := range sets {
		var vals []string
		if slices.Contains(single, cs) {
			for b := 1; b < 256; b++ {
				vals = append(vals, fmt.Sprintf("(%d, _%s X'%02x20%02x', _%s X'%02x20')", b, cs, b, b, cs, b))
			}
		} else {
			sample := hex.EncodeToString([]byte(charsetSample))
			vals = append(vals, fmt.Sprintf("(1, CONVERT(_utf8mb4 X'%s' USING %s), CONVERT(_utf8mb4 X'e4b8ad20' USING %s))", sample, cs, cs),
				fmt.Sprintf("(2, CONVERT(_utf8mb4 X'%s' USING %s), CONVERT(_utf8mb4 X'f09f98802020' USING %s))", hex.EncodeToString([]byte("trailing  ")), cs, cs))
		}
		rows += len(vals)
		execOn(t, m, fmt.Sprintf("SET SESSION sql_mode = ''; INSERT INTO charsets.t_%s VALUES %s", cs, strings.Join(vals, ", ")))
	}

	key := func(id event.TableID, n int64) string { return fmt.Sprintf("%s/%d", id.Table, n) }
	streamed := map[string]event.Row{}
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			streamed[key(c.Schema.ID, c.After[0].Int())] = c.After
		}
		return len(streamed) == rows && b.Boundary
	})
	ctx := context.Background()
	snap := map[string]event.Row{}
	for _, tb := range tables {
		for c, err := range s.SplitChunks(ctx, tb, snapshot.SplitHint{Rows: 100}) {
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ReadChunk(ctx, tb, c, func(rs []event.Row) error {
				for _, r := range rs {
					snap[key(tb.ID, r[0].Int())] = r
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(snap) != rows {
		t.Fatalf("the snapshot read %d rows, want %d", len(snap), rows)
	}
	checked := 0
	for _, cs := range sets {
		out, err := m.Query("", fmt.Sprintf("SELECT id, HEX(CONVERT(v USING utf8mb4)), HEX(CONVERT(c USING utf8mb4)) FROM charsets.t_%s", cs))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			var id int64
			fmt.Sscan(f[0], &id)
			k := fmt.Sprintf("t_%s/%d", cs, id)
			for col, h := range f[1:] {
				b, _ := hex.DecodeString(h)
				want := string(b)
				sv, st := snap[k][col+1].Str(), streamed[k][col+1].Str()
				if sv != want || st != want {
					t.Errorf("%s column %d: server %q, snapshot %q, binlog %q", k, col+1, want, sv, st)
				}
				checked++
			}
		}
	}
	if checked != 2*rows {
		t.Fatalf("compared %d values, want %d", checked, 2*rows)
	}
	// The emoji of the sample survive in the UTF-8 sets: nothing became '?' on the way.
	if got := snap["t_utf8mb4/1"][1].Str(); got != charsetSample {
		t.Fatalf("utf8mb4: %q, want %q", got, charsetSample)
	}
}

// TestAddressTypes: MariaDB's INET6 and UUID read the same from the binlog (16 bytes) as
// from a snapshot (the server's text), for addresses and UUIDs of every shape, on both
// servers; a column of them added mid-stream (a statement the parser cannot read) is
// followed from the server's schema.
func TestAddressTypes(t *testing.T) { servers(t, testAddressTypes) }

func testAddressTypes(t *testing.T, m *testenv.MariaDB) {
	execOn(t, m, "CREATE DATABASE addr; CREATE TABLE addr.t (id INT PRIMARY KEY, ip INET6, u UUID)")
	s, tables, start := openAtOn(t, m, `addr.t`)
	ips := []string{"::", "::1", "::ffff:1.2.3.4", "2001:db8::8a2e:370:7334", "fe80::1:2:3:4", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1::", "::2:0:0:1"}
	uuids := []string{"6ccd780c-baba-1026-9564-5b8c656024db", "123e4567-e89b-42d3-a456-426655440000", "00000000-0000-0000-0000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff", "a0eebc99-9c0b-3ef8-bb6d-6bb9bd380a11", "01890a5d-ac96-774b-bcce-b302099a8057", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "1b4e28ba-2fa1-11d2-483f-0016d3cca427"}
	var vals []string
	for i := range ips {
		vals = append(vals, fmt.Sprintf("(%d, '%s', '%s')", i+1, ips[i], uuids[i]))
	}
	execOn(t, m, "INSERT INTO addr.t VALUES "+strings.Join(vals, ", ")+"; ALTER TABLE addr.t ADD COLUMN ip2 INET6; INSERT INTO addr.t VALUES (100, '::1', NULL, '::ffff:10.0.0.1')")
	streamed := map[int64]event.Row{}
	streamUntil(t, s, start, tables, func(b event.Batch) bool {
		for _, c := range b.Changes {
			streamed[c.After[0].Int()] = c.After
		}
		return len(streamed) == len(ips)+1
	})
	out, err := m.Query("", "SELECT id, ip, u FROM addr.t WHERE id < 100 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		var id int64
		fmt.Sscan(f[0], &id)
		if got := streamed[id][1].Str() + " " + streamed[id][2].Str(); got != f[1]+" "+f[2] {
			t.Errorf("row %d: the binlog gives %q, the server shows %q", id, got, f[1]+" "+f[2])
		}
	}
	if r := streamed[100]; len(r) != 4 || r[3].Str() != "::ffff:10.0.0.1" {
		t.Errorf("the row after ADD COLUMN ip2 INET6: %v", r)
	}
	snap := map[int64]event.Row{}
	cur, err := s.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReadChunk(context.Background(), cur[0], snapshot.Chunk{Table: cur[0].ID}, func(rs []event.Row) error {
		for _, r := range rs {
			snap[r[0].Int()] = r
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id, r := range streamed {
		for i := range r {
			if !r[i].Equal(snap[id][i]) {
				t.Errorf("row %d column %d: binlog %v, snapshot %v", id, i, r[i], snap[id][i])
			}
		}
	}
}
