package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/weir-data/weir/internal/engine"
)

// showProgress decides whether to draw the live progress line: on a terminal only, unless
// forced on or off.
func showProgress(mode string, w io.Writer) bool {
	switch mode {
	case "on":
		return true
	case "off":
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressLoop redraws one status line each second until done is closed.
func progressLoop(w io.Writer, s *engine.Stats, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastRows int64
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			rows := s.RowsOut.Load()
			rate := float64(rows-lastRows) / now.Sub(last).Seconds()
			lastRows, last = rows, now
			fmt.Fprint(w, "\r\033[K"+progressLine(s, rate, now))
		}
	}
}

func progressLine(s *engine.Stats, rate float64, now time.Time) string {
	line := fmt.Sprintf("%-8s %12d rows out  %10.0f rows/s", s.Phase(), s.RowsOut.Load(), rate)
	if s.Phase() == engine.PhaseSnapshot {
		total := fmt.Sprintf("%d+", s.ChunksSplit.Load())
		if s.SplitFinished.Load() {
			total = fmt.Sprint(s.ChunksSplit.Load())
		}
		line += fmt.Sprintf("  chunks %d/%s", s.ChunksDone.Load(), total)
	}
	if cp := s.LastCheckpoint(); !cp.IsZero() {
		line += fmt.Sprintf("  checkpoint %s ago", now.Sub(cp).Round(time.Second))
	}
	return line
}
