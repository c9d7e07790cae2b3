package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/console"
	"github.com/weir-data/weir/internal/source/datagen"
)

func TestConformance(t *testing.T) {
	outs := map[string]*bytes.Buffer{}
	conformance.RunSinkSuite(t, conformance.SinkHarness{
		Open: func(t *testing.T) connector.Sink {
			if outs[t.Name()] == nil {
				outs[t.Name()] = &bytes.Buffer{}
			}
			return console.New(outs[t.Name()], true)
		},
		Read: func(t *testing.T) []conformance.Record {
			var recs []conformance.Record
			for i, line := range strings.Split(strings.TrimSpace(outs[t.Name()].String()), "\n") {
				var r conformance.Record
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				r.File, r.Line = "stdout", i+1
				recs = append(recs, r)
			}
			return recs
		},
		ExactlyOnce: false,
	})
}

// writes records each Write the sink makes.
type writes struct{ calls [][]byte }

func (w *writes) Write(b []byte) (int, error) {
	w.calls = append(w.calls, append([]byte(nil), b...))
	return len(b), nil
}

// TestWholeLines: every write the sink makes ends at the end of a line, so a process
// killed between two writes (or during one, which the kernel completes) leaves no half
// record; batches larger than the buffer are written in several such writes.
func TestWholeLines(t *testing.T) {
	out := &writes{}
	s := console.New(out, true)
	m := datagen.NewModel(7, 100, []event.TableID{{Schema: "demo", Table: "orders"}})
	b := m.Changes(0, 3000, 1, 0).Changes
	if err := s.Apply(context.Background(), &connector.Batch{Changes: b}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for i, c := range out.calls {
		if len(c) == 0 || c[len(c)-1] != '\n' {
			t.Fatalf("write %d of %d ends inside a line: …%q", i+1, len(out.calls), c[max(0, len(c)-40):])
		}
		lines += bytes.Count(c, []byte("\n"))
	}
	if lines != len(b) || len(out.calls) < 2 {
		t.Fatalf("%d lines in %d writes, want %d lines in several writes", lines, len(out.calls), len(b))
	}
}
