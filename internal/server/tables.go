package server

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/weir-data/weir/internal/engine"
)

// TableStatus is one source table of a pipeline: what it has read and written of it, and
// its snapshot's progress.
type TableStatus struct {
	Table                 string  `json:"table"`
	RowsIn                float64 `json:"rows_in"`
	RowsOut               float64 `json:"rows_out"`
	SnapshotRowsRead      float64 `json:"snapshot_rows_read"`
	SnapshotRowsEstimated float64 `json:"snapshot_rows_estimated"`
	SnapshotETASeconds    float64 `json:"snapshot_eta_seconds"`
	// Paused says why its rows are not written, if they are not: paused on request, or
	// by its sink, which could not follow a schema change. Copying it again resumes it.
	Paused string `json:"paused,omitempty"`
	// Ready says that its snapshot is in the sink, and so are the source's indexes the
	// sink makes (while it runs here).
	Ready bool `json:"ready,omitempty"`
}

// tables returns the per-table series of the pipeline running here (from its metrics),
// by table name, with whether each is ready by its run's stats (st, if known).
func (c *Controller) tables(pipeline string, st *engine.Stats) []TableStatus {
	if c.metrics == nil {
		return nil
	}
	m := c.metrics
	byTable := map[string]*TableStatus{}
	for _, s := range []struct {
		v   prometheus.Collector
		set func(*TableStatus, float64)
	}{
		{m.RowsIn, func(t *TableStatus, v float64) { t.RowsIn = v }},
		{m.RowsOut, func(t *TableStatus, v float64) { t.RowsOut = v }},
		{m.SnapshotRowsRead, func(t *TableStatus, v float64) { t.SnapshotRowsRead = v }},
		{m.SnapshotRowsTotal, func(t *TableStatus, v float64) { t.SnapshotRowsEstimated = v }},
		{m.SnapshotETA, func(t *TableStatus, v float64) { t.SnapshotETASeconds = v }},
	} {
		for table, v := range seriesOf(s.v, pipeline) {
			t := byTable[table]
			if t == nil {
				t = &TableStatus{Table: table}
				byTable[table] = t
			}
			s.set(t, v)
		}
	}
	for table, why := range c.Paused(pipeline) {
		t := byTable[table]
		if t == nil {
			t = &TableStatus{Table: table}
			byTable[table] = t
		}
		t.Paused = why
	}
	if st != nil {
		for table, t := range byTable {
			t.Ready = st.TableReady(table)
		}
	}
	out := make([]TableStatus, 0, len(byTable))
	for _, t := range byTable {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b TableStatus) int {
		if a.Table < b.Table {
			return -1
		}
		if a.Table > b.Table {
			return 1
		}
		return 0
	})
	return out
}

// seriesOf collects a vector's series of one pipeline, by their table label.
func seriesOf(v prometheus.Collector, pipeline string) map[string]float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		v.Collect(ch)
		close(ch)
	}()
	out := map[string]float64{}
	for metric := range ch {
		var d dto.Metric
		if metric.Write(&d) != nil {
			continue
		}
		var pl, table string
		for _, l := range d.Label {
			switch l.GetName() {
			case "pipeline":
				pl = l.GetValue()
			case "table":
				table = l.GetValue()
			}
		}
		if pl != pipeline || table == "" {
			continue
		}
		switch {
		case d.Counter != nil:
			out[table] = d.Counter.GetValue()
		case d.Gauge != nil:
			out[table] = d.Gauge.GetValue()
		}
	}
	return out
}
