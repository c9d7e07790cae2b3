package postgres

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// BenchmarkCopyDecode is the snapshot's hot path on weir's side: COPY text of sysbench
// rows (id, k, c char(120), pad char(60)) split into fields and decoded into rows, 1,024
// rows per op.
func BenchmarkCopyDecode(b *testing.B) {
	sc := &event.Schema{ID: event.TableID{Schema: "public", Table: "sbtest1"}, Key: []int{0}, Columns: []event.Column{
		{Name: "id", Type: types.Type{Kind: types.Int32}, SourceType: "integer"},
		{Name: "k", Type: types.Type{Kind: types.Int32}, SourceType: "integer"},
		{Name: "c", Type: types.Type{Kind: types.String, Length: 120, Fixed: true}, SourceType: "character(120)"},
		{Name: "pad", Type: types.Type{Kind: types.String, Length: 60, Fixed: true}, SourceType: "character(60)"},
	}}
	tb, err := newTable(sc, newTypeCache())
	if err != nil {
		b.Fatal(err)
	}
	var text bytes.Buffer
	for i := range 1024 {
		fmt.Fprintf(&text, "%d\t%d\t%0120d\t%060d\n", i, i%100000, i*7919, i)
	}
	data := text.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		slab := make([]event.Value, 1024*4)
		p := &copyParser{row: func(fields [][]byte, nulls []bool) error {
			row := event.Row(slab[n*4 : n*4+4 : n*4+4])
			for i, f := range fields {
				v, err := tb.cols[i].dec(f)
				if err != nil {
					return err
				}
				row[i] = v
			}
			n++
			return nil
		}}
		for off := 0; off < len(data); off += 8192 { // CopyData messages split anywhere
			p.Write(data[off:min(off+8192, len(data))])
		}
		if n != 1024 || p.err != nil {
			b.Fatalf("%d rows, %v", n, p.err)
		}
	}
}
