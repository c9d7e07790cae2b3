package runtime

import (
	"os"
	"runtime/debug"
	"sync"
)

// GCPercent lets the heap grow fivefold between collections: weir's garbage is short-lived
// (decoded rows, batches), and at Go's default of 100 the collector took a third of the
// CPU of a change backlog.
const GCPercent = 400

// gcHeadroom is what the process needs beside the queued changes: batches being applied
// (parallelism × batch.max-rows changes), source and sink buffers (a COPY's encoded
// batch per writer), the schemas and progress of each table, the runtime.
const gcHeadroom = 48 << 20

// minQueue is the least queue a pipeline is given however many share the budget.
const minQueue = 4 << 20

// Memory budgets the change queues (queue.max-bytes) of the pipelines of one process, and
// sets Go's collector to fit what they hold together. With a Total, the pipelines share
// it: each gets what it asks for, at most an equal share of the Total among those
// running (never under 4 MiB); without one (weir run: one pipeline), each gets what it
// asks. The collector runs rarely (GCPercent), yet never lets the heap pass the queues
// granted plus a headroom (a soft limit: it works harder as the heap nears it). A queue is
// seldom full, so the headroom is room both for what a full one would hold over its usual
// level and for the garbage of decoding between collections. Peak RSS is that limit plus
// the binary's pages in memory (about 28 MB) and a little: of a 1M-row MariaDB →
// PostgreSQL snapshot (2 cores), 202–214 MB at twice the queue plus 64 MiB (192 MiB),
// 143–154 MB at the queue plus 64 MiB, 132–137 MB at the queue plus 48 MiB (112 MiB) with
// the same CPU, and 120 MB at 96 MiB with 10% more. In that snapshot the queue held 4–8
// MiB and the heap in use swung between 38 and 103 MiB: most of it garbage, collected when
// the heap nears the limit. GOGC or GOMEMLIMIT in the environment override the
// collector's settings (the grants stand).
type Memory struct {
	Total int64

	mu   sync.Mutex
	held map[string]int64
}

// Reserve grants pipeline a queue of at most want bytes and returns it; the pipeline
// holds it until Release. Reserving again replaces the pipeline's grant.
func (m *Memory) Reserve(pipeline string, want int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held == nil {
		m.held = map[string]int64{}
	}
	delete(m.held, pipeline)
	grant := want
	if m.Total > 0 {
		grant = min(want, max(m.Total/int64(len(m.held)+1), minQueue))
	}
	m.held[pipeline] = grant
	m.tune()
	return grant
}

// Release gives pipeline's grant back.
func (m *Memory) Release(pipeline string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.held, pipeline)
	m.tune()
}

// Limit returns the heap limit the grants call for (0: none granted).
func (m *Memory) Limit() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.limit()
}

func (m *Memory) limit() int64 {
	if len(m.held) == 0 {
		return 0
	}
	sum := int64(0)
	for _, b := range m.held {
		sum += b
	}
	return sum + gcHeadroom
}

func (m *Memory) tune() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if l := m.limit(); l > 0 {
		debug.SetGCPercent(GCPercent)
		debug.SetMemoryLimit(l)
	}
}
