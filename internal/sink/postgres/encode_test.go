package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

func TestAppendCopyField(t *testing.T) {
	for _, c := range []struct {
		v    event.Value
		k    types.Kind
		want string
	}{
		{event.Null(), types.String, `\N`},
		{event.String("plain text"), types.String, "plain text"},
		{event.String(""), types.String, ""},
		{event.String(`a\b` + "\tc\nd\re"), types.String, `a\\b\tc\nd\re`},
		{event.String(`\N`), types.String, `\\N`}, // the text \N, not NULL
		{event.String("tail\\"), types.String, `tail\\`},
		{event.JSON(`{"a":"x\\ty"}`), types.JSON, `{"a":"x\\\\ty"}`},
		{event.Decimal("-12.50"), types.Decimal, "-12.50"},
		{event.Bytes([]byte{0, 0xff, '\\'}), types.Bytes, `\\x00ff5c`},
		{event.Int(-7), types.Int32, "-7"},
		{event.Bool(true), types.Boolean, "t"},
	} {
		got, err := appendCopyField([]byte("prefix|"), c.v, c.k)
		if err != nil || string(got) != "prefix|"+c.want {
			t.Errorf("appendCopyField(%s) = %q, %v; want %q", c.v, got, err, "prefix|"+c.want)
		}
	}
	for _, s := range []string{"\x00", "abc\x00", "a\tb\x00"} {
		if _, err := appendCopyField(nil, event.String(s), types.String); err != errNUL {
			t.Errorf("appendCopyField(%q): err %v, want the NUL error", s, err)
		}
	}
}

// BenchmarkCopyRows encodes sysbench rows (id, k, c CHAR(120), pad CHAR(60)) for COPY,
// the snapshot's hot path into PostgreSQL: as text, and in the binary format.
func BenchmarkCopyRows(b *testing.B) {
	kinds := []types.Kind{types.Int32, types.Int32, types.String, types.String}
	rows := make([]event.Row, 1024)
	for i := range rows {
		c := strings.Repeat(fmt.Sprintf("%011d-", i), 10)[:119]
		rows[i] = event.Row{event.Int(int64(i)), event.Int(int64(i % 100000)), event.String(c), event.String(c[:59])}
	}
	var buf []byte
	b.Run("text", func(b *testing.B) {
		b.SetBytes(int64(len(rows)))
		b.ReportAllocs()
		for b.Loop() {
			buf = buf[:0]
			for _, row := range rows {
				for ci, v := range row {
					if ci > 0 {
						buf = append(buf, '\t')
					}
					var err error
					if buf, err = appendCopyField(buf, v, kinds[ci]); err != nil {
						b.Fatal(err)
					}
				}
				buf = append(buf, '\n')
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		cols := []binCol{binInt4, binInt4, binText, binText}
		b.SetBytes(int64(len(rows)))
		b.ReportAllocs()
		for b.Loop() {
			buf = buf[:0]
			for _, row := range rows {
				var ok bool
				if buf, ok = appendBinaryRow(buf, row, cols, kinds); !ok {
					b.Fatal("no binary form")
				}
			}
		}
	})
}
