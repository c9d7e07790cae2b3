package cli

import (
	"os"
	"runtime/debug"
)

// gcPercent lets the heap grow fivefold between collections: weir's garbage is short-lived
// (decoded rows, batches), and at Go's default of 100 the collector took a third of the
// CPU of a change backlog.
const gcPercent = 400

// gcHeadroom is what the process needs beside the queued changes: batches being applied,
// source and sink buffers, the runtime.
const gcHeadroom = 64 << 20

// tuneGC sets Go's collector for a pipeline whose queue holds up to queueBytes: rarely, yet
// never letting the heap pass twice queueBytes + gcHeadroom (a soft limit: the collector
// works harder as the heap nears it). The queue's bytes are live data; the second share
// is room for the garbage of decoding between collections, which a fast snapshot makes
// quickly: at queueBytes + 48 MiB the collector took a fifth of a PostgreSQL snapshot's CPU
// (1.1 against 0.9 CPU s for 1M rows). GOGC or GOMEMLIMIT in the environment override
// both. It returns the limit set, 0 when the environment decides.
func tuneGC(queueBytes int64) int64 {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit := 2*queueBytes + gcHeadroom
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(limit)
	return limit
}
