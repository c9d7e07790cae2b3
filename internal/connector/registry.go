package connector

import (
	"context"
	"sort"

	"github.com/weir-data/weir/internal/event"
)

// SourceDef is a source connector: its declaration and how to open it.
type SourceDef struct {
	Spec Spec
	Open func(ctx context.Context, cfg *Config, env Env) (Source, error)
	// Check, when set, checks connectivity, privileges and settings for `weir validate`
	// without changing anything; each problem is one error that names the fix.
	Check func(ctx context.Context, cfg *Config, env Env) []error
}

// SinkDef is a sink connector.
type SinkDef struct {
	Spec  Spec
	Open  func(ctx context.Context, cfg *Config, env Env) (Sink, error)
	Check func(ctx context.Context, cfg *Config, env Env) []error // as SourceDef.Check
	// Advise, when set, tells `weir validate` which columns of the source's tables hold
	// values the sink's type mapping cannot take whole (types.SourceExtremes(env.SourceType)
	// says what the source can send): one warning per table and kind of value, naming the
	// columns and what happens to such a row.
	Advise func(schemas []*event.Schema, cfg *Config, env Env) []string
	// CheckTables, when set, tells `weir validate` what would stop the sink from making
	// tables for these sink schemas (a key it cannot index), each with the fix; the sink's
	// writer says the same at the start of a run (TableChecker).
	CheckTables func(schemas []*event.Schema, cfg *Config, env Env) []error
	// Reader, when set, opens a TableReader on the sink's target for `weir verify`.
	Reader func(ctx context.Context, cfg *Config, env Env) (TableReader, error)
	// ColumnTypes, when set, says the type each column of s takes in a table the sink makes
	// for it, from a source of type sourceType (`weir preview`, the console's wizard).
	ColumnTypes func(s *event.Schema, sourceType string) []string
}

// Registry maps connector type names to connectors. It is built explicitly (see package
// connectors), never by init side effects.
type Registry struct {
	Sources map[string]*SourceDef
	Sinks   map[string]*SinkDef
}

// NewRegistry returns a registry holding the given connectors.
func NewRegistry(sources []*SourceDef, sinks []*SinkDef) *Registry {
	r := &Registry{Sources: map[string]*SourceDef{}, Sinks: map[string]*SinkDef{}}
	for _, s := range sources {
		r.Sources[s.Spec.Type] = s
	}
	for _, s := range sinks {
		r.Sinks[s.Spec.Type] = s
	}
	return r
}

// SourceTypes lists the source type names in order.
func (r *Registry) SourceTypes() []string { return sortedKeys(r.Sources) }

// SinkTypes lists the sink type names in order.
func (r *Registry) SinkTypes() []string { return sortedKeys(r.Sinks) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
