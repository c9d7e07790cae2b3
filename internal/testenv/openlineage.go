package testenv

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// openLineageSpec is the OpenLineage specification's JSON schema (spec/OpenLineage.json
// of its first release), a fact the tests check weir's events against.
//
//go:embed testdata/OpenLineage.json
var openLineageSpec []byte

// ValidateOpenLineage checks an OpenLineage event (JSON) against the specification's
// schema.
func ValidateOpenLineage(event []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(openLineageSpec))
	if err != nil {
		return err
	}
	comp := jsonschema.NewCompiler()
	comp.AssertFormat()
	if err := comp.AddResource("OpenLineage.json", doc); err != nil {
		return err
	}
	schema, err := comp.Compile("OpenLineage.json")
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return schema.Validate(inst)
}
