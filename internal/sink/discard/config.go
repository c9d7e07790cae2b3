package discard

import "github.com/weir-data/weir/internal/connector"

// Spec declares the discard sink.
var Spec = connector.Spec{
	Type:    "discard",
	Summary: "Drops every change after counting it: for measuring a source and the engine alone.",
}
