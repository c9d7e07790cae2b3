package mysqlconn

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestLibraryLogger: the library's INFO lines are DEBUG, its WARN lines stay, and a
// password is never printed, in a message, an attribute or a configuration dump.
func TestLibraryLogger(t *testing.T) {
	var buf bytes.Buffer
	l := LibraryLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	type config struct{ User, Password string }
	l.Info("create BinlogSyncer", "config", fmt.Sprintf("%+v", config{"cdc", "s3cret"}))
	l.Warn("retry sync", "config", fmt.Sprintf("%+v", config{"cdc", "s3cret"}), "dsn", "password=s3cret host=x")
	l.With("pw", `{"password": "s3cret"}`).Error(`connect with Password: s3cret`)
	out := buf.String()
	if strings.Contains(out, "create BinlogSyncer") || strings.Contains(out, "s3cret") ||
		!strings.Contains(out, "retry sync") || !strings.Contains(out, "Password:<redacted>") || strings.Count(out, "\n") != 2 {
		t.Fatalf("log:\n%s", out)
	}
}
