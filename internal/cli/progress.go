package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
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

// terminal is standard error with a progress line drawn at its bottom: every other write
// (a log line) first clears the line, so that the two never share a line; the next redraw
// puts it back.
type terminal struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool
}

func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shown {
		io.WriteString(t.w, "\r\033[K")
		t.shown = false
	}
	return t.w.Write(p)
}

func (t *terminal) draw(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	io.WriteString(t.w, "\r\033[K"+line)
	t.shown = true
}

func (t *terminal) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shown {
		io.WriteString(t.w, "\r\033[K")
		t.shown = false
	}
}

// progressLoop redraws one status line each second until done is closed.
func progressLoop(t *terminal, s *engine.Stats, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	r := rater{rows: s.RowsOut.Load(), at: time.Now()}
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			t.draw(progressLine(s, r.rate(s.RowsOut.Load(), now), now))
		}
	}
}

// progressLog logs the progress every interval until done is closed: where standard
// error is not a terminal (a log file, a container's output), in place of the line.
func progressLog(log *slog.Logger, s *engine.Stats, every time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	r := rater{rows: s.RowsOut.Load(), at: time.Now()}
	snap := rater{rows: s.SnapshotRows.Load(), at: time.Now()}
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			attrs := []any{"phase", s.Phase().String(), "rows_out", s.RowsOut.Load(), "rows_per_second", int64(r.rate(s.RowsOut.Load(), now))}
			read, total := s.SnapshotRows.Load(), s.SnapshotEstimate.Load()
			snapRate := snap.rate(read, now)
			if s.Phase() == engine.PhaseSnapshot && total > 0 {
				attrs = append(attrs, "snapshot_percent", fmt.Sprintf("%.1f", 100*float64(min(read, total))/float64(total)))
				if snapRate > 0 && total > read {
					attrs = append(attrs, "snapshot_eta", (time.Duration(float64(total-read)/snapRate) * time.Second).Round(time.Second).String())
				}
			}
			if cp := s.LastCheckpoint(); !cp.IsZero() {
				attrs = append(attrs, "checkpoint_age", now.Sub(cp).Round(time.Second).String())
			}
			log.Info("progress", attrs...)
		}
	}
}

// rater turns a growing count into a rate per second between calls.
type rater struct {
	rows int64
	at   time.Time
}

func (r *rater) rate(rows int64, now time.Time) float64 {
	d := now.Sub(r.at).Seconds()
	if d <= 0 {
		return 0
	}
	v := float64(rows-r.rows) / d
	r.rows, r.at = rows, now
	return v
}

func progressLine(s *engine.Stats, rate float64, now time.Time) string {
	line := fmt.Sprintf("%-8s %12d rows out  %10.0f rows/s", s.Phase(), s.RowsOut.Load(), rate)
	if s.Phase() == engine.PhaseSnapshot {
		total := fmt.Sprintf("%d+", s.ChunksSplit.Load())
		if s.SplitFinished.Load() {
			total = fmt.Sprint(s.ChunksSplit.Load())
		}
		line += fmt.Sprintf("  chunks %d/%s", s.ChunksDone.Load(), total)
		if read, est := s.SnapshotRows.Load(), s.SnapshotEstimate.Load(); est > 0 {
			line += fmt.Sprintf(" (%.0f%%)", 100*float64(min(read, est))/float64(est))
		}
	}
	if cp := s.LastCheckpoint(); !cp.IsZero() {
		line += fmt.Sprintf("  checkpoint %s ago", now.Sub(cp).Round(time.Second))
	}
	return line
}
