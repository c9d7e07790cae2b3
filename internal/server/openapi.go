package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
)

// Document is the API's OpenAPI 3 document, built from routes and the Go types of the
// bodies: the handlers, their types and the document are declared in one place. It is
// served at /openapi.json and checked in as docs/openapi.json (a test keeps them equal).
func Document() (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "weir control plane", Version: "1",
			Description: "Pipelines on a weir server: create them from their file, watch their state, change their lifecycle. " +
				"Requests carry an API token (Authorization: Bearer weir_…; a user's from POST /api/v1/login) and act in the workspace of the Weir-Workspace header " +
				"(default \"default\"); x-weir-permission names what each operation needs, and the role matrix of docs/server.md who has it."},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{Schemas: openapi3.Schemas{}, SecuritySchemes: openapi3.SecuritySchemes{
			"token": &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer")}}},
		Security: openapi3.SecurityRequirements{openapi3.NewSecurityRequirement().Authenticate("token")},
	}
	gen := openapi3gen.NewGenerator(openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{ExportComponentSchemas: true}),
		openapi3gen.CreateTypeNameGenerator(func(t reflect.Type) string { return t.Name() }))
	schema := func(v any) (*openapi3.SchemaRef, error) {
		return gen.NewSchemaRefForValue(v, doc.Components.Schemas)
	}
	errRef, err := schema(Error{})
	if err != nil {
		return nil, err
	}
	for _, rt := range routes {
		op := &openapi3.Operation{OperationID: rt.id, Summary: rt.summary, Responses: openapi3.NewResponses()}
		if rt.perm == "" {
			op.Security = &openapi3.SecurityRequirements{} // logging in needs no token
		} else {
			op.Extensions = map[string]any{"x-weir-permission": string(rt.perm)}
		}
		for _, p := range rt.params {
			var prm *openapi3.Parameter
			if p.in == "path" {
				prm = openapi3.NewPathParameter(p.name)
			} else {
				prm = openapi3.NewQueryParameter(p.name)
			}
			s := openapi3.NewStringSchema()
			switch p.typ {
			case "integer":
				s = openapi3.NewIntegerSchema()
			case "boolean":
				s = openapi3.NewBoolSchema()
			}
			op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: prm.WithDescription(p.doc).WithRequired(p.required).WithSchema(s)})
		}
		if rt.in != nil {
			ref, err := schema(rt.in)
			if err != nil {
				return nil, err
			}
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).WithJSONSchemaRef(ref)}
		}
		ok := openapi3.NewResponse().WithDescription(http.StatusText(rt.status))
		if rt.out != nil {
			ref, err := schema(rt.out)
			if err != nil {
				return nil, err
			}
			ok = ok.WithJSONSchemaRef(ref)
		}
		op.Responses = openapi3.NewResponses(openapi3.WithStatus(rt.status, &openapi3.ResponseRef{Value: ok}))
		for _, code := range rt.errors {
			op.Responses.Set(strconv.Itoa(code), &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(http.StatusText(code)).WithJSONSchemaRef(errRef)})
		}
		item := doc.Paths.Value(rt.path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(rt.path, item)
		}
		item.SetOperation(rt.method, op)
	}
	return doc, nil
}

// DocumentJSON is Document as indented JSON.
func DocumentJSON() ([]byte, error) {
	doc, err := Document()
	if err != nil {
		return nil, fmt.Errorf("build the OpenAPI document: %w", err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
