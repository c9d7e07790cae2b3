package mysqlconn

import (
	"context"
	"log/slog"
	"regexp"
)

// LibraryLogger is the logger to hand the client library (its binlog syncer logs every
// connect, rotate and close at INFO, and its configuration with a Password field): its
// INFO lines become DEBUG, and any password in a value is redacted, whatever the level.
func LibraryLogger(l *slog.Logger) *slog.Logger {
	return slog.New(libraryHandler{l.Handler()})
}

type libraryHandler struct{ inner slog.Handler }

var passwordField = regexp.MustCompile(`(?i)(password["']?\s*[:=]\s*)("[^"]*"|[^\s,}]*)`)

func (h libraryHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn {
		l = slog.LevelDebug
	}
	return h.inner.Enabled(ctx, l)
}

func (h libraryHandler) Handle(ctx context.Context, r slog.Record) error {
	level := r.Level
	if level < slog.LevelWarn {
		level = slog.LevelDebug
	}
	out := slog.NewRecord(r.Time, level, redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h libraryHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return libraryHandler{h.inner.WithAttrs(red)}
}

func (h libraryHandler) WithGroup(name string) slog.Handler {
	return libraryHandler{h.inner.WithGroup(name)}
}

func redact(s string) string { return passwordField.ReplaceAllString(s, "${1}<redacted>") }

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = redactAttr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		return slog.String(a.Key, redact(v.String()))
	}
	return a
}
