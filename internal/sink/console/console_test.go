package console_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/sink/console"
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
