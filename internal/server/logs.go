package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LogLine is one structured log line of a pipeline.
type LogLine struct {
	Time  time.Time         `json:"time"`
	Level string            `json:"level"`
	Msg   string            `json:"msg"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Each pipeline's log lines are kept in a bounded ring (the API's tail and follow) and
// appended to DATA/logs/NAME.log (JSON lines; at logFileMax it moves to NAME.log.1, so a
// pipeline keeps at most twice that on disk).
const (
	logRing    = 2000
	logFileMax = 16 << 20
)

// pipelineLog is one pipeline's log: its ring, its file and its followers.
type pipelineLog struct {
	mu   sync.Mutex
	ring []LogLine
	next int // where the next line goes once the ring is full
	path string
	f    *os.File
	size int64
	subs map[chan LogLine]struct{}
}

func openPipelineLog(dir, name string) *pipelineLog {
	l := &pipelineLog{path: filepath.Join(dir, name+".log"), subs: map[chan LogLine]struct{}{}}
	l.load()
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			l.f = f
			if st, err := f.Stat(); err == nil {
				l.size = st.Size()
			}
		}
	}
	return l
}

// load fills the ring with the last lines of the file (a server that restarts keeps the
// tail of what its pipelines said).
func (l *pipelineLog) load() {
	f, err := os.Open(l.path)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 2<<20 {
		f.Seek(st.Size()-2<<20, io.SeekStart)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line LogLine
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue // the first, cut line of a seek; or a line cut by a crash
		}
		if len(l.ring) < logRing {
			l.ring = append(l.ring, line)
		} else {
			l.ring[l.next] = line
			l.next = (l.next + 1) % logRing
		}
	}
}

func (l *pipelineLog) add(line LogLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < logRing {
		l.ring = append(l.ring, line)
	} else {
		l.ring[l.next] = line
		l.next = (l.next + 1) % logRing
	}
	if l.f != nil {
		b, _ := json.Marshal(line)
		b = append(b, '\n')
		if l.size+int64(len(b)) > logFileMax {
			l.f.Close()
			os.Rename(l.path, l.path+".1")
			l.f, _ = os.OpenFile(l.path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
			l.size = 0
		}
		if l.f != nil {
			n, _ := l.f.Write(b)
			l.size += int64(n)
		}
	}
	for ch := range l.subs {
		select {
		case ch <- line:
		default: // a follower that does not keep up loses lines rather than slowing the pipeline
		}
	}
}

// tail returns the last n lines at level or above, oldest first.
func (l *pipelineLog) tail(n int, level slog.Level) []LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := append(append([]LogLine(nil), l.ring[l.next:]...), l.ring[:l.next]...)
	out := []LogLine{}
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		if levelOf(all[i].Level) >= level {
			out = append(out, all[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (l *pipelineLog) subscribe() (chan LogLine, func()) {
	ch := make(chan LogLine, 256)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}
}

func (l *pipelineLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

func levelOf(s string) slog.Level {
	var lv slog.Level
	lv.UnmarshalText([]byte(s))
	return lv
}

// logHandler tees a pipeline's records to the server's handler and to its pipelineLog
// (at info and above, or debug where the server's handler takes debug).
type logHandler struct {
	next  slog.Handler
	log   *pipelineLog
	attrs []slog.Attr
	group string
}

func (h *logHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= slog.LevelInfo || h.next.Enabled(ctx, lv)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	line := LogLine{Time: r.Time, Level: r.Level.String(), Msg: r.Message, Attrs: map[string]string{}}
	add := func(a slog.Attr) bool {
		if a.Key == "pipeline" {
			return true
		}
		k := a.Key
		if h.group != "" {
			k = h.group + "." + k
		}
		line.Attrs[k] = a.Value.Resolve().String()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.log.add(line)
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(as), log: h.log, attrs: append(append([]slog.Attr(nil), h.attrs...), as...), group: h.group}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	g := name
	if h.group != "" {
		g = h.group + "." + name
	}
	return &logHandler{next: h.next.WithGroup(name), log: h.log, attrs: h.attrs, group: g}
}

// logFor returns the pipeline's log, opened on first use.
func (c *Controller) logFor(name string) *pipelineLog {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	l := c.logs[name]
	if l == nil {
		l = openPipelineLog(filepath.Join(c.dataDir, "logs"), name)
		c.logs[name] = l
	}
	return l
}

// loggerFor is the logger a pipeline runs with: the server's, teed into its own log.
func (c *Controller) loggerFor(name string) *slog.Logger {
	return slog.New(&logHandler{next: c.log.Handler(), log: c.logFor(name)})
}

func (c *Controller) closeLog(name string) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if l := c.logs[name]; l != nil {
		l.close()
		delete(c.logs, name)
	}
}
