package checkpoint

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/snapshot"
)

// openPostgres opens the store on table of the package's server, closed at the test's end.
func openPostgres(t *testing.T, table string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(context.Background(), pg.URL("postgres"), table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresFencing(t *testing.T) {
	ctx := context.Background()
	a, b := openPostgres(t, "cp_fencing"), openPostgres(t, "cp_fencing")
	if cp, err := a.Load(ctx, "p"); err != nil || cp != nil {
		t.Fatalf("no row: %v, %v", cp, err)
	}
	if err := a.Save(ctx, sample(1, 1)); !errors.Is(err, ErrFenced) {
		t.Fatalf("save before any Acquire: %v, want ErrFenced", err)
	}
	genA, err := a.Acquire(ctx, "p")
	if err != nil || genA != 1 {
		t.Fatalf("first Acquire: %d, %v", genA, err)
	}
	if cp, err := a.Load(ctx, "p"); err != nil || cp != nil {
		t.Fatalf("acquired, nothing saved: %v, %v", cp, err)
	}
	if err := a.Save(ctx, sample(genA, 1)); err != nil {
		t.Fatal(err)
	}
	genB, err := b.Acquire(ctx, "p")
	if err != nil || genB != 2 {
		t.Fatalf("second Acquire: %d, %v", genB, err)
	}
	err = a.Save(ctx, sample(genA, 2))
	if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "holds generation 1 but generation 2 took over") {
		t.Fatalf("stale Save: %v", err)
	}
	if err := a.Verify(ctx, "p", genA); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale Verify: %v", err)
	}
	if err := b.Verify(ctx, "p", genB); err != nil {
		t.Fatal(err)
	}
	// The stale Save changed nothing.
	if cp, err := b.Load(ctx, "p"); err != nil || cp == nil || cp.Seq != 1 || cp.Generation != genA {
		t.Fatalf("after the stale Save: %+v, %v", cp, err)
	}
	if err := b.Save(ctx, sample(genB, 2)); err != nil {
		t.Fatal(err)
	}
	// Release is a no-op: the generation stays, the holder can still save.
	if err := b.Release(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, sample(genB, 3)); err != nil {
		t.Fatalf("Save after Release: %v", err)
	}
	if err := a.Reset(ctx, "p", genA); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale Reset: %v", err)
	}
	if err := b.Reset(ctx, "p", genB); err != nil {
		t.Fatal(err)
	}
	if cp, err := b.Load(ctx, "p"); err != nil || cp != nil {
		t.Fatalf("after Reset: %v, %v", cp, err)
	}
	// Pipelines are independent.
	if g, err := a.Acquire(ctx, "other"); err != nil || g != 1 {
		t.Fatalf("another pipeline: %d, %v", g, err)
	}
}

// TestPostgresExactValues: chunk bounds keep every bit through the table (64-bit integers,
// float bits, decimal text, unicode, and NUL, which a jsonb column would refuse).
func TestPostgresExactValues(t *testing.T) {
	ctx := context.Background()
	s := openPostgres(t, "cp_values")
	gen, err := s.Acquire(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	row := event.Row{event.Uint(math.MaxUint64), event.Int(math.MinInt64), event.Float(math.Pi),
		event.Float(math.Inf(-1)), event.Decimal("-12345678901234567890.000000000000000001"),
		event.String("é ✓ \"quoted\" \\ \t\n 😀"), event.String("nul \x00 inside"), event.Null(), event.Unchanged(), event.Date(-719162)}
	want := sample(gen, 7)
	want.Snapshot = &SnapshotState{Tables: []snapshot.TableProgress{{
		Table: event.TableID{Schema: "s", Table: "t"}, Next: row, Split: true}}}
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, "p")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v (%v)", got, want, err)
	}
}

func TestPostgresSchemaQualifiedTable(t *testing.T) {
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "CREATE SCHEMA IF NOT EXISTS weir"); err != nil {
		t.Fatal(err)
	}
	s := openPostgres(t, "weir.cp_qualified")
	for want := int64(1); want <= 2; want++ {
		if g, err := s.Acquire(ctx, "p"); err != nil || g != want {
			t.Fatalf("Acquire: %d, %v; want %d", g, err, want)
		}
	}
	if err := s.Save(ctx, sample(2, 1)); err != nil {
		t.Fatal(err)
	}
	if cp, err := s.Load(ctx, "p"); err != nil || cp == nil || cp.Seq != 1 {
		t.Fatalf("Load: %+v, %v", cp, err)
	}
}

func TestPostgresBadTableName(t *testing.T) {
	for _, table := range []string{"", "a;drop table x", "a.b.c", `"quoted"`, "1abc"} {
		if s, err := OpenPostgres(context.Background(), pg.URL("postgres"), table); err == nil {
			s.Close()
			t.Errorf("table %q accepted", table)
		}
	}
}

func TestPostgresUnreachable(t *testing.T) {
	ctx := context.Background()
	_, err := OpenPostgres(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "cp")
	if err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Fatalf("unreachable server: %v", err)
	}
}

// TestPostgresConcurrentOpen: processes starting together all create the table (CREATE
// TABLE IF NOT EXISTS alone can fail on a concurrent creation) and then get distinct
// generations.
func TestPostgresConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]bool{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenPostgres(ctx, pg.URL("postgres"), "cp_concurrent_open")
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			g, err := s.Acquire(ctx, "p")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[g] {
				t.Errorf("generation %d handed out twice", g)
			}
			seen[g] = true
		}()
	}
	wg.Wait()
}
