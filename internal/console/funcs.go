package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/checkpoint"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"ago":     ago,
	"num":     num,
	"rate":    func(v float64) string { return num(math.Round(v)) + "/s" },
	"seconds": seconds,
	"stateClass": func(s string) string {
		switch s {
		case "RUNNING", "FINISHED":
			return "ok"
		case "FAILED":
			return "bad"
		case "RESTARTING", "STARTING":
			return "warn"
		}
		return "idle"
	},
	"lower": strings.ToLower,
	"pct": func(a, b float64) int {
		if b <= 0 {
			return 0
		}
		return int(math.Min(100, 100*a/b))
	},
	"join": strings.Join,
	// pausedBy says in a word who paused a table (server.TableStatus.Paused).
	"pausedBy": func(why string) string {
		if why == checkpoint.PausedOnRequest {
			return "on request"
		}
		return "by its sink"
	},
	"rowsOf": func(rows any) map[string]any { return map[string]any{"Rows": rows} },
	"dict2":  func(data, can any) map[string]any { return map[string]any{"Data": data, "Can": can} },
}

// ago is how long before now t was ("—" for none).
func ago(t any) string {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v != nil {
			tt = *v
		}
	}
	if tt.IsZero() {
		return "—"
	}
	return seconds(time.Since(tt).Seconds()) + " ago"
}

// seconds is a duration in seconds, short ("—" for none).
func seconds(s float64) string {
	switch {
	case s <= 0:
		return "0 s"
	case s < 60:
		return fmt.Sprintf("%.0f s", math.Ceil(s))
	case s < 3600:
		return fmt.Sprintf("%.0f min", s/60)
	case s < 86400:
		return fmt.Sprintf("%.1f h", s/3600)
	}
	return fmt.Sprintf("%.1f d", s/86400)
}

// num is a count, short: 950, 12.3k, 4.5M.
func num(v any) string {
	var f float64
	switch n := v.(type) {
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case float64:
		f = n
	}
	switch a := math.Abs(f); {
	case a >= 1e9:
		return fmt.Sprintf("%.1fG", f/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}
