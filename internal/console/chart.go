package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/weir-data/weir/internal/server"
)

// A chart of a pipeline's last hour: rows written per second and source lag, drawn as
// SVG on the server from its history (no script, no Prometheus). Each series has its own
// scale, named at its axis; the x axis is the hour up to the last sample.

// series is a chart's line.
type series struct {
	name, class, unit string
	points            []float64
}

// chart draws the samples as an SVG of width × height user units (it scales to its box).
func chart(samples []server.Sample) template.HTML {
	const w, h, pad = 600.0, 160.0, 24.0
	if len(samples) < 2 {
		return template.HTML(`<p class="muted">The chart fills in as the pipeline runs here (a sample every 10 s).</p>`)
	}
	var rate, lag []float64
	for i := 1; i < len(samples); i++ {
		dt := samples[i].Time.Sub(samples[i-1].Time).Seconds()
		d := float64(samples[i].RowsOut - samples[i-1].RowsOut)
		if dt <= 0 || d < 0 { // a restart resets the counters
			d = 0
			dt = 1
		}
		rate = append(rate, d/dt)
		lag = append(lag, samples[i].LagSeconds)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="rows per second and lag over the last hour" preserveAspectRatio="none">`, w, h)
	fmt.Fprintf(&b, `<line class="axis" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, pad, h-pad, w-pad, h-pad)
	for i, s := range []series{{"rows/s", "s1", "/s", rate}, {"lag", "s2", " s", lag}} {
		top := 0.0
		for _, v := range s.points {
			top = math.Max(top, v)
		}
		if top == 0 {
			top = 1
		}
		var pts []string
		for j, v := range s.points {
			x := pad + (w-2*pad)*float64(j)/float64(max(len(s.points)-1, 1))
			y := (h - pad) - (h-2*pad)*v/top
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, s.class, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text class="%s" x="%.0f" y="14">%s (max %s%s)</text>`, s.class, pad+float64(i)*220, s.name, num(math.Round(top)), s.unit)
	}
	first, last := samples[0].Time, samples[len(samples)-1].Time
	fmt.Fprintf(&b, `<text class="tick" x="%.0f" y="%.0f">%s</text><text class="tick end" x="%.0f" y="%.0f">%s</text>`,
		pad, h-6, first.Local().Format("15:04"), w-pad, h-6, last.Local().Format("15:04"))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
