// Package metrics holds the Prometheus collectors weir exports, shared by every pipeline.
// All are labelled by pipeline; row and byte counters also by table.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Set is the collectors of one process, registered on one registry.
type Set struct {
	RowsIn              *prometheus.CounterVec   // pipeline, table
	RowsOut             *prometheus.CounterVec   // pipeline, table
	BytesIn             *prometheus.CounterVec   // pipeline, table
	BytesOut            *prometheus.CounterVec   // pipeline, table
	ApplySeconds        *prometheus.HistogramVec // pipeline
	CommitSeconds       *prometheus.HistogramVec // pipeline
	CheckpointSeconds   *prometheus.HistogramVec // pipeline
	CheckpointFailures  *prometheus.CounterVec   // pipeline
	CheckpointTimestamp *prometheus.GaugeVec     // pipeline: unix seconds of the last checkpoint
	Restarts            *prometheus.CounterVec   // pipeline
	SnapshotChunksDone  *prometheus.GaugeVec     // pipeline, table
	SnapshotChunksSeen  *prometheus.GaugeVec     // pipeline, table: chunks produced so far
	SnapshotRowsRead    *prometheus.GaugeVec     // pipeline, table: rows of done chunks
	SnapshotRowsTotal   *prometheus.GaugeVec     // pipeline, table: the source's estimate of the table's rows
	SnapshotETA         *prometheus.GaugeVec     // pipeline, table: seconds left at the table's rate so far
	Phase               *prometheus.GaugeVec     // pipeline, phase: 1 for the current phase
	State               *prometheus.GaugeVec     // pipeline, state: 1 for the current lifecycle state (internal/runtime)
	SourceBadRecords    *prometheus.CounterVec   // pipeline: records the source could not decode and skipped or sent aside
	SourceLagRecords    *prometheus.GaugeVec     // pipeline, topic, partition: records behind a Kafka partition's end
	QueueBytes          *prometheus.GaugeVec     // pipeline: bytes held between source and sink
	SourceLag           *prometheus.GaugeVec     // pipeline: now minus the commit time of the last change read
	SourceEvents        *prometheus.CounterVec   // pipeline: log events read (binlog events, WAL messages)
	SourceRetained      *prometheus.GaugeVec     // pipeline: bytes of log the source keeps for the pipeline
	SourcePosition      *prometheus.GaugeVec     // pipeline, log: the offset read in the named log segment (binlog file)
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Set {
	latency := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	s := &Set{
		RowsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_rows_in_total",
			Help: "Changes read from the source (snapshot rows included)."}, []string{"pipeline", "table"}),
		RowsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_rows_out_total",
			Help: "Changes applied to the sink."}, []string{"pipeline", "table"}),
		BytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_bytes_in_total",
			Help: "Estimated in-memory bytes of changes read from the source."}, []string{"pipeline", "table"}),
		BytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_bytes_out_total",
			Help: "Estimated in-memory bytes of changes applied to the sink."}, []string{"pipeline", "table"}),
		ApplySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_batch_apply_seconds",
			Help: "Time a sink writer takes to apply one batch.", Buckets: latency}, []string{"pipeline"}),
		CommitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_sink_commit_seconds",
			Help: "Time the sink takes to commit at a checkpoint.", Buckets: latency}, []string{"pipeline"}),
		CheckpointSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_checkpoint_duration_seconds",
			Help: "Time a whole checkpoint takes: drain writers, sink commit, store save, source ack.", Buckets: latency}, []string{"pipeline"}),
		CheckpointFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_checkpoint_failures_total",
			Help: "Checkpoints that failed."}, []string{"pipeline"}),
		CheckpointTimestamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_checkpoint_last_timestamp_seconds",
			Help: "Unix time of the last successful checkpoint; its age is time() minus this."}, []string{"pipeline"}),
		Restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_restarts_total",
			Help: "Restarts after a retryable error."}, []string{"pipeline"}),
		SnapshotChunksDone: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_snapshot_chunks_done",
			Help: "Snapshot chunks read whole."}, []string{"pipeline", "table"}),
		SnapshotChunksSeen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_snapshot_chunks_split",
			Help: "Snapshot chunks split so far (the total once splitting is over)."}, []string{"pipeline", "table"}),
		SnapshotRowsRead: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_snapshot_rows_read",
			Help: "Rows of the snapshot chunks read whole."}, []string{"pipeline", "table"}),
		SnapshotRowsTotal: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_snapshot_rows_estimated",
			Help: "The source's estimate of the table's rows at the start of its snapshot."}, []string{"pipeline", "table"}),
		SnapshotETA: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_snapshot_eta_seconds",
			Help: "Seconds until the table's snapshot is read, at its rate so far (0 when done or unknown)."}, []string{"pipeline", "table"}),
		Phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_pipeline_phase",
			Help: "1 for the pipeline's current phase."}, []string{"pipeline", "phase"}),
		State: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_pipeline_state",
			Help: "1 for the pipeline's current lifecycle state (CREATED, STARTING, RUNNING, RESTARTING, SUSPENDED, STOPPED, FINISHED, FAILED)."}, []string{"pipeline", "state"}),
		SourceBadRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_source_bad_records_total",
			Help: "Records the source could not decode, skipped or sent to a dead-letter topic (Kafka source's bad-record.policy)."}, []string{"pipeline"}),
		SourceLagRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_source_lag_records",
			Help: "Records between what the pipeline has read of a Kafka partition and the partition's end (its high watermark)."}, []string{"pipeline", "topic", "partition"}),
		QueueBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_queue_bytes",
			Help: "Estimated bytes of changes held between source and sink."}, []string{"pipeline"}),
		SourceLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_source_lag_seconds",
			Help: "How far behind the source the pipeline reads: now minus the commit time of the last change read."}, []string{"pipeline"}),
		SourceEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_source_log_events_total",
			Help: "Events read from the source's change log (binlog events, WAL messages), selected or not."}, []string{"pipeline"}),
		SourceRetained: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_source_retained_bytes",
			Help: "Bytes of change log the source server keeps that the pipeline still needs (after its last acknowledged position)."}, []string{"pipeline"}),
	}
	s.SourcePosition = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_source_log_position",
		Help: "Where the pipeline reads the source's change log: the offset in the segment the log label names (binlog file)."}, []string{"pipeline", "log"})
	reg.MustRegister(s.SourceLag, s.SourceEvents, s.SourceRetained, s.SourcePosition,
		s.RowsIn, s.RowsOut, s.BytesIn, s.BytesOut, s.ApplySeconds, s.CommitSeconds,
		s.CheckpointSeconds, s.CheckpointFailures, s.CheckpointTimestamp, s.Restarts,
		s.SnapshotChunksDone, s.SnapshotChunksSeen, s.SnapshotRowsRead, s.SnapshotRowsTotal, s.SnapshotETA, s.Phase, s.State, s.SourceBadRecords, s.SourceLagRecords, s.QueueBytes)
	return s
}
