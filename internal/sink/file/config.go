package file

import (
	"github.com/weir-data/weir/internal/connector"
	"github.com/weir-data/weir/internal/format"
)

// Spec declares the file sink.
var Spec = connector.Spec{
	Type:    "file",
	Summary: "Writes changes as JSON lines (Debezium-style envelope) into files in a directory. Exactly once: data is written under temporary names and committed by atomic rename with the checkpoint.",
	Fields: append([]connector.Field{
		{Name: "path", Type: connector.TypeString, Required: true, Example: "./out",
			Description: "Directory of the committed files (created if missing). One process at a time may write into it."},
		{Name: "fsync", Type: connector.TypeBool, Default: "true",
			Description: "fsync files and directory at each commit; false is faster and survives a process crash but not a machine crash."},
	}, format.Fields()...),
}
