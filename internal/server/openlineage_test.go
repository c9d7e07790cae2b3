package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connectors"
	"github.com/weir-data/weir/internal/store"
	"github.com/weir-data/weir/internal/testenv"
)

// TestOpenLineageEvents: a run of a pipeline is posted to the OpenLineage endpoint as it
// starts and as it completes, one run id for both, with its tables; each event validates
// against the OpenLineage JSON schema (the specification's
// spec/OpenLineage.json of its first release, in testenv).
func TestOpenLineageEvents(t *testing.T) {
	var mu sync.Mutex
	var events [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		events = append(events, b)
		mu.Unlock()
	}))
	defer collector.Close()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cps, _ := checkpoint.OpenLocal(filepath.Join(dir, "state"))
	defer cps.Close()
	c := NewController(ctx, Options{Store: st, Registry: connectors.Registry(), Checkpoints: cps, DataDir: dir, LineageURL: collector.URL})
	defer c.Shutdown(0)
	file := "source:\n  type: datagen\n  tables: demo.orders\n  rows: 100\n  scan.startup.mode: snapshot\nsink:\n  type: discard\npipeline:\n  name: once\n"
	if _, _, err := c.Create(ctx, file, true); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events posted, want START and COMPLETE", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	runs := map[string]bool{}
	for _, b := range events {
		if err := testenv.ValidateOpenLineage(b); err != nil {
			t.Fatalf("an event that does not validate: %v\n%s", err, b)
		}
		var ev runEvent
		json.Unmarshal(b, &ev)
		kinds = append(kinds, ev.EventType)
		runs[ev.Run.RunID] = true
		if ev.Job.Name != "once" || len(ev.Inputs) != 1 || ev.Inputs[0].Name != "demo.orders" || len(ev.Outputs) != 1 {
			t.Fatalf("event %s", b)
		}
	}
	if len(kinds) != 2 || kinds[0] != "START" || kinds[1] != "COMPLETE" || len(runs) != 1 {
		t.Fatalf("events %v of %d runs: want START then COMPLETE of one run", kinds, len(runs))
	}
}
