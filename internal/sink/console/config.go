package console

import (
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/format"
)

// Spec declares the console sink.
var Spec = connector.Spec{
	Type:    "console",
	Summary: "Prints changes as JSON lines (Debezium-style envelope) on standard output. At least once: after a crash, changes since the last checkpoint are printed again.",
	Fields: append([]connector.Field{
		{Name: "schema-changes", Type: connector.TypeBool, Default: "true",
			Description: "Print schema changes as {\"ddl\": …} lines too."},
	}, format.Fields()...),
}
