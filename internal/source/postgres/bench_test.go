package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/engine"
	"github.com/weir-data/weir/internal/sink/discard"

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
		p := &copyParser{row: func(r *copyRow) error {
			row := event.Row(slab[n*4 : n*4+4 : n*4+4])
			for i, f := range r.fields {
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

// BenchmarkSnapshotIntoDiscard measures the joined snapshot (temporary-slot epochs, COPY,
// decoding, the engine) of a 1M-row sysbench table into a discarding sink, in process,
// next to the client's raw read of the same table in the same run (COPY … TO STDOUT into
// nothing): it reports both rates and their ratio (raw-ratio). GOGC is 400, as `weir run`
// sets it. Run it with -bench SnapshotIntoDiscard -benchtime 3x.
func BenchmarkSnapshotIntoDiscard(b *testing.B) {
	const rows = 1_000_000
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS snapbench WITH (FORCE)"); err != nil {
		b.Fatal(err)
	}
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE snapbench"); err != nil {
		b.Fatal(err)
	}
	if err := pg.Exec(ctx, "snapbench", fmt.Sprintf(`CREATE TABLE sbtest1 (id integer PRIMARY KEY, k integer NOT NULL, c char(120) NOT NULL, pad char(60) NOT NULL);
		INSERT INTO sbtest1 SELECT g, g %% 100000, concat_ws('-', md5(g::text), md5((g+1)::text), md5((g+2)::text), left(md5((g+3)::text), 21)),
		  concat_ws('-', md5((g+4)::text), left(md5((g+5)::text), 27)) FROM generate_series(1, %d) g`, rows)); err != nil {
		b.Fatal(err)
	}
	if err := pg.Exec(ctx, "snapbench", "VACUUM ANALYZE sbtest1"); err != nil {
		b.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as `weir run` sets it
	var weirTime, rawTime time.Duration
	for i := 0; b.Loop(); i++ {
		conn, err := pgx.Connect(ctx, pg.URL("snapbench"))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY (SELECT id, k, c, pad FROM sbtest1) TO STDOUT"); err != nil {
			b.Fatal(err)
		}
		rawTime += time.Since(t0)
		conn.Close(ctx)

		name := fmt.Sprintf("snapbench%d", i)
		src, err := New(ctx, options("snapbench", "public.sbtest1"), connector.Env{Pipeline: name, Parallelism: 4})
		if err != nil {
			b.Fatal(err)
		}
		sink, _ := discard.Open(ctx, nil, connector.Env{})
		store, _ := checkpoint.OpenLocal(b.TempDir())
		stats := &engine.Stats{}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		t0 = time.Now()
		go func() {
			_, err := engine.New(engine.Config{Pipeline: name, Parallelism: 4, CheckpointInterval: time.Second, ChunkRows: 8096},
				src, sink, store, engine.Options{Stats: stats}).Run(runCtx)
			done <- err
		}()
		for stats.Phase() != engine.PhaseStream {
			time.Sleep(time.Millisecond)
		}
		weirTime += time.Since(t0)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		store.Close()
		src.Close()
		pg.Exec(ctx, "snapbench", "SELECT pg_drop_replication_slot('weir_"+name+"')")
	}
	n := float64(b.N)
	b.ReportMetric(rows*n/weirTime.Seconds(), "rows/s")
	b.ReportMetric(rows*n/rawTime.Seconds(), "raw-rows/s")
	b.ReportMetric(rawTime.Seconds()/weirTime.Seconds(), "raw-ratio")
}
