package server

import (
	"time"

	"github.com/weir-data/weir/internal/store"
)

// The API's bodies. The OpenAPI document's schemas are generated from these types
// (openapi.go), so what the handlers write and what the document says are one thing.

// CreateRequest creates a pipeline from its file.
type CreateRequest struct {
	// File is the pipeline file (YAML), as `weir run` takes it; no ${ENV}, and paths are
	// relative to the server's data directory.
	File string `json:"file"`
	// Start starts it at once (default true).
	Start *bool `json:"start,omitempty"`
}

// Pipeline is a pipeline's state and counters.
type Pipeline struct {
	Name    string `json:"name"`
	Title   string `json:"title,omitempty"`
	Version int    `json:"version"`
	// Desired is what it should be doing: RUNNING, STOPPED or SUSPENDED.
	Desired string `json:"desired"`
	// State is one of CREATED, STARTING, RUNNING, RESTARTING, SUSPENDED, STOPPED,
	// FINISHED, FAILED.
	State       string   `json:"state"`
	Phase       string   `json:"phase,omitempty"`
	LastError   string   `json:"last_error,omitempty"`
	Restart     *Restart `json:"restart,omitempty"`
	RowsIn      int64    `json:"rows_in"`
	RowsOut     int64    `json:"rows_out"`
	Durable     int64    `json:"durable"`
	Checkpoints int64    `json:"checkpoints"`
	// LagSeconds is how far behind its source it reads (the commit time of the last
	// change read), while it streams.
	LagSeconds     float64      `json:"lag_seconds"`
	LastCheckpoint *time.Time   `json:"last_checkpoint,omitempty"`
	Snapshot       *Snapshot    `json:"snapshot,omitempty"`
	Output         string       `json:"output,omitempty"`
	Created        time.Time    `json:"created"`
	Updated        time.Time    `json:"updated"`
	File           string       `json:"file,omitempty"` // get only
	Versions       []VersionRef `json:"versions,omitempty"`
	// Tables are its source tables' counters and snapshot progress (get only, while it
	// runs on this server).
	Tables []TableStatus `json:"tables,omitempty"`
}

// Restart is a restart in progress: the error, the attempt that comes next and when.
type Restart struct {
	Error   string    `json:"error"`
	Attempt int       `json:"attempt"`
	Next    time.Time `json:"next"`
}

// Snapshot is the progress of the pipeline's snapshot.
type Snapshot struct {
	RowsRead      int64 `json:"rows_read"`
	RowsEstimated int64 `json:"rows_estimated"`
	ChunksDone    int64 `json:"chunks_done"`
	ChunksSplit   int64 `json:"chunks_split"`
}

// VersionRef is one version of a pipeline's file.
type VersionRef struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	InForce bool      `json:"in_force"`
}

// PipelineList is the list of pipelines.
type PipelineList struct {
	Pipelines []Pipeline `json:"pipelines"`
}

// Events is a page of a pipeline's events; Next is the after= of the next page.
type Events struct {
	Events []store.Event `json:"events"`
	Next   int64         `json:"next"`
}

// Problem is one problem of a pipeline file: where, and what to write instead.
type Problem struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// Error is every error's body.
type Error struct {
	Error string `json:"error"`
	// State is the pipeline's state, when the action is not legal in it (409).
	State string `json:"state,omitempty"`
	// Problems are a pipeline file's problems (422).
	Problems []Problem `json:"problems,omitempty"`
}

// ApplyRequest makes a file the pipeline's next version.
type ApplyRequest struct {
	File string `json:"file"`
	// Reset drops the pipeline's checkpoint, so that it starts over; needed when the
	// change cannot keep its state (another source or sink server).
	Reset bool `json:"reset,omitempty"`
}

// ApplyResult is what an apply did.
type ApplyResult struct {
	Version int `json:"version"`
	// Changed is false when the file was the version in force already.
	Changed  bool     `json:"changed"`
	Pipeline Pipeline `json:"pipeline"`
}

// RollbackRequest puts an earlier version in force.
type RollbackRequest struct {
	// Version is the version to put in force; 0: the one before the version in force.
	Version int `json:"version,omitempty"`
}

// VersionList is a pipeline's versions, oldest first, with their files.
type VersionList struct {
	Versions []VersionFile `json:"versions"`
}

// VersionFile is one version with its file.
type VersionFile struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	InForce bool      `json:"in_force"`
	File    string    `json:"file"`
}

// Logs is the tail of a pipeline's log, oldest first. With follow=true the answer is a
// stream of server-sent events instead, each a LogLine as JSON: the tail, then each new
// line as it comes.
type Logs struct {
	Lines []LogLine `json:"lines"`
}

// Runs are a pipeline's runs, newest first: each start until it ended.
type Runs struct {
	Runs []store.RunRecord `json:"runs"`
}

// Alerts are the alerts that fire, then the last resolved ones, newest first.
type Alerts struct {
	Alerts []store.Alert `json:"alerts"`
}

// ResetResult says what a reset removed.
type ResetResult struct {
	Removed []string `json:"removed"`
}

// ResnapshotRequest names tables: to copy again beside the stream (resnapshot), or to
// pause (pause-tables).
type ResnapshotRequest struct {
	// Tables are source tables, as db.table (MySQL) or schema.table (PostgreSQL).
	Tables []string `json:"tables"`
}
