package file_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/conformance"
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/sink/file"
	"github.com/weir-data/weir/internal/source/datagen"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	n := 0
	conformance.RunSinkSuite(t, conformance.SinkHarness{
		Open: func(t *testing.T) connector.Sink {
			w, err := file.New(filepath.Join(dir, t.Name()), "conformance", "datagen", true)
			if err != nil {
				t.Fatal(err)
			}
			n++
			return w
		},
		Read: func(t *testing.T) []conformance.Record {
			recs, err := conformance.ReadFileSink(filepath.Join(dir, t.Name()))
			if err != nil {
				t.Fatal(err)
			}
			return recs
		},
		ExactlyOnce: true,
	})
}

// TestRollForwardAfterCrashInCommit simulates a crash after the manifest was written but
// before its renames: opening the directory finishes the commit.
func TestRollForwardAfterCrashInCommit(t *testing.T) {
	dir := t.TempDir()
	m := datagen.NewModel(1, 10, []event.TableID{{Schema: "x", Table: "y"}})
	w, err := file.New(dir, "p", "datagen", true)
	if err != nil {
		t.Fatal(err)
	}
	b := m.Changes(0, 100, 1, 0)
	if err := w.Apply(context.Background(), &connector.Batch{Partition: 0, Changes: b.Changes}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background(), &checkpoint.Checkpoint{Pipeline: "p", Seq: 1, Position: "100"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Undo the rename, as if the process died between the manifest and the rename.
	files, _ := filepath.Glob(filepath.Join(dir, "part-*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("want one committed file, got %v", files)
	}
	tmp := filepath.Join(dir, ".weir", "tmp", strings.TrimPrefix(filepath.Base(files[0]), "part-"))
	if err := os.Rename(files[0], tmp); err != nil {
		t.Fatal(err)
	}
	// And leave an uncommitted file of the next commit behind.
	os.WriteFile(filepath.Join(dir, ".weir", "tmp", "0000000002-000.jsonl"), []byte("{}\n"), 0o644)

	w, err = file.New(dir, "p", "datagen", true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	recs, err := conformance.ReadFileSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := conformance.CheckDatagen(recs, m, 100, false); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(filepath.Join(dir, ".weir", "tmp"))
	if len(left) != 0 {
		t.Fatalf("uncommitted files left behind: %v", left)
	}
}

func TestDirectoryOfAnotherPipelineIsRefused(t *testing.T) {
	dir := t.TempDir()
	w, _ := file.New(dir, "a", "datagen", false)
	w.Commit(context.Background(), &checkpoint.Checkpoint{Pipeline: "a", Seq: 1})
	w.Close()
	_, err := file.New(dir, "b", "datagen", false)
	if err == nil || !strings.Contains(err.Error(), `holds the output of pipeline "a"`) {
		t.Fatalf("got %v", err)
	}
}
