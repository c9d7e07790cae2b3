// Package kafkaconn is what the Kafka source and sink share of reaching the brokers.
package kafkaconn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Brokers splits properties.bootstrap.servers into its host:port addresses.
func Brokers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Check reports, for `weir validate`, whether the brokers answer a metadata request
// within 10 s, as an error that names the setting and what to check.
func Check(ctx context.Context, brokers []string) []error {
	if len(brokers) == 0 {
		return []error{fmt.Errorf("properties.bootstrap.servers names no broker: write host:port, comma-separated")}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return []error{fmt.Errorf("properties.bootstrap.servers: %w", err)}
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).ListBrokers(ctx); err != nil {
		return []error{fmt.Errorf("properties.bootstrap.servers: the brokers %s do not answer: %w; check the addresses and that this machine reaches them",
			strings.Join(brokers, ","), err)}
	}
	return nil
}

// Logger passes the Kafka client's log to weir's: its warnings and errors always, its
// info and debug lines when weir logs at debug (--log-level debug), under component
// kafka-client. nil logs nothing.
func Logger(l *slog.Logger) kgo.Logger { return clientLog{l} }

type clientLog struct{ l *slog.Logger }

func (c clientLog) Level() kgo.LogLevel {
	switch {
	case c.l == nil:
		return kgo.LogLevelNone
	case c.l.Enabled(context.Background(), slog.LevelDebug):
		return kgo.LogLevelDebug
	}
	return kgo.LogLevelWarn
}

func (c clientLog) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelInfo:
		lv = slog.LevelInfo
	}
	c.l.Log(context.Background(), lv, msg, append([]any{"component", "kafka-client"}, keyvals...)...)
}
