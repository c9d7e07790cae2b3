package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

// errorCode is the registry's error_code in err, or 0.
func errorCode(err error) int {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return 0
}

// rowSchema is an Avro record "weir.Row" with the given fields (JSON objects).
func rowSchema(fields ...string) sr.Schema {
	return sr.Schema{Schema: `{"type": "record", "name": "Row", "namespace": "weir", "fields": [` + strings.Join(fields, ", ") + `]}`}
}

const (
	idField      = `{"name": "id", "type": "long"}`
	nameField    = `{"name": "name", "type": "string", "default": ""}` // with a default
	qtyField     = `{"name": "qty", "type": "int"}`                    // without one
	idFieldSpace = `{ "name" : "id" ,  "type" : "long" }`
)

// TestSchemaRegistry drives the registry with franz-go's client over HTTP, as the Avro
// connectors do.
func TestSchemaRegistry(t *testing.T) {
	reg, err := StartSchemaRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	cl, err := sr.NewClient(sr.URLs(reg.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	create := func(subject string, s sr.Schema, wantID, wantVersion int) {
		t.Helper()
		ss, err := cl.CreateSchema(ctx, subject, s)
		if err != nil {
			t.Fatalf("registering under %s: %v", subject, err)
		}
		if ss.ID != wantID || ss.Version != wantVersion || ss.Subject != subject {
			t.Fatalf("registering under %s: got %s id %d version %d, want id %d version %d", subject, ss.Subject, ss.ID, ss.Version, wantID, wantVersion)
		}
	}
	refused := func(subject string, s sr.Schema, wantCode int) {
		t.Helper()
		if _, err := cl.CreateSchema(ctx, subject, s); errorCode(err) != wantCode {
			t.Fatalf("registering under %s: got error %v, want error_code %d", subject, err, wantCode)
		}
	}
	versions := func(subject string, want ...int) {
		t.Helper()
		if got := reg.Versions(subject); !reflect.DeepEqual(got, want) {
			t.Fatalf("versions of %s: got %v, want %v", subject, got, want)
		}
	}

	// Ids are global, from 1; the same schema (however spaced) again is the same id and
	// no new version, under the same subject or another.
	create("t-value", rowSchema(idField), 1, 1)
	create("t-value", rowSchema(idFieldSpace), 1, 1)
	create("u-value", rowSchema(idField), 1, 1)
	versions("t-value", 1)

	// A field added with a default is BACKWARD compatible: version 2, a new id.
	create("t-value", rowSchema(idField, nameField), 2, 2)
	versions("t-value", 1, 2)

	// A field added without a default is not: 409, until the subject's level is NONE.
	refused("t-value", rowSchema(idField, nameField, qtyField), 409)
	versions("t-value", 1, 2)
	if c := cl.Compatibility(ctx); c[0].Err != nil || c[0].Level != sr.CompatBackward {
		t.Fatalf("global compatibility: %v %v, want BACKWARD", c[0].Level, c[0].Err)
	}
	if c := cl.Compatibility(ctx, "t-value"); errorCode(c[0].Err) != 40408 {
		t.Fatalf("compatibility of t-value before it is set: %v %v, want error 40408", c[0].Level, c[0].Err)
	}
	if c := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, "t-value"); c[0].Err != nil || c[0].Level != sr.CompatNone {
		t.Fatalf("setting t-value's compatibility to NONE: %v %v", c[0].Level, c[0].Err)
	}
	if c := cl.Compatibility(ctx, "t-value"); c[0].Err != nil || c[0].Level != sr.CompatNone {
		t.Fatalf("compatibility of t-value: %v %v, want NONE", c[0].Level, c[0].Err)
	}
	create("t-value", rowSchema(idField, nameField, qtyField), 3, 3)

	// Removing a field is BACKWARD compatible (the new schema ignores it); under FORWARD,
	// the previous version must read the new data, and the field removed has no default.
	create("r-value", rowSchema(idField, nameField), 2, 1)
	create("r-value", rowSchema(nameField), 4, 2)
	if c := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatForward}); c[0].Err != nil {
		t.Fatalf("setting the global compatibility to FORWARD: %v", c[0].Err)
	}
	create("f-value", rowSchema(idField, nameField), 2, 1)
	refused("f-value", rowSchema(nameField), 409)
	create("f-value", rowSchema(idField), 1, 2) // name has a default

	// Lookups by id, by version, latest, and by schema.
	s, err := cl.SchemaByID(ctx, 2)
	if want, _ := reg.Schema("t-value", 2); err != nil || s.Schema != want || s.Type != sr.TypeAvro {
		t.Fatalf("schema 2: %+v %v, want %s", s, err, want)
	}
	if !strings.Contains(s.Schema, `"default":""`) {
		t.Errorf("schema 2 lost its default: %s", s.Schema)
	}
	ss, err := cl.SchemaByVersion(ctx, "t-value", -1)
	if err != nil || ss.Version != 3 || ss.ID != 3 || !strings.Contains(ss.Schema.Schema, `"qty"`) {
		t.Fatalf("latest of t-value: %+v %v", ss, err)
	}
	ss, err = cl.SchemaByVersion(ctx, "t-value", 2)
	if err != nil || ss.Version != 2 || ss.ID != 2 || ss.Subject != "t-value" {
		t.Fatalf("version 2 of t-value: %+v %v", ss, err)
	}
	uses, err := cl.SchemaVersionsByID(ctx, 1)
	if want := []sr.SubjectVersion{{Subject: "f-value", Version: 2}, {Subject: "t-value", Version: 1}, {Subject: "u-value", Version: 1}}; err != nil || !reflect.DeepEqual(uses, want) {
		t.Fatalf("uses of schema 1: %v %v, want %v", uses, err, want)
	}
	vs, err := cl.SubjectVersions(ctx, "t-value")
	if err != nil || !reflect.DeepEqual(vs, []int{1, 2, 3}) {
		t.Fatalf("versions of t-value: %v %v", vs, err)
	}
	ss, err = cl.LookupSchema(ctx, "t-value", rowSchema(idField, nameField))
	if err != nil || ss.Version != 2 || ss.ID != 2 {
		t.Fatalf("looking up version 2 in t-value: %+v %v", ss, err)
	}
	if _, err := cl.LookupSchema(ctx, "u-value", rowSchema(nameField)); errorCode(err) != 40403 {
		t.Fatalf("looking up a schema u-value lacks: %v, want 40403", err)
	}
	if _, err := cl.LookupSchema(ctx, "none-value", rowSchema(idField)); errorCode(err) != 40401 {
		t.Fatalf("looking up in a subject that does not exist: %v, want 40401", err)
	}
	if _, err := cl.SchemaByID(ctx, 99); errorCode(err) != 40403 {
		t.Fatalf("schema 99: %v, want 40403", err)
	}
	if _, err := cl.SchemaByVersion(ctx, "t-value", 9); errorCode(err) != 40402 {
		t.Fatalf("version 9 of t-value: %v, want 40402", err)
	}
	if _, err := cl.SchemaByVersion(ctx, "none-value", 1); errorCode(err) != 40401 {
		t.Fatalf("version 1 of a subject that does not exist: %v, want 40401", err)
	}

	// What does not parse as Avro is 42201 (HTTP 422).
	for _, bad := range []sr.Schema{
		{Schema: `{"type": "record", "name": "Row", "fields": [{"name": "id", "type": "lnog"}]}`},
		{Schema: `not json`},
		{Schema: `{"type": "string"}`, Type: sr.TypeProtobuf},
	} {
		_, err := cl.CreateSchema(ctx, "bad-value", bad)
		var re *sr.ResponseError
		if !errors.As(err, &re) || re.ErrorCode != 42201 || re.StatusCode != 422 {
			t.Fatalf("registering %s: %v, want 42201", bad.Schema, err)
		}
	}

	// References: a schema may use a type another subject defines, only when it names it.
	create("address", sr.Schema{Schema: `{"type": "record", "name": "Address", "namespace": "weir", "fields": [{"name": "city", "type": "string"}]}`}, 5, 1)
	person := sr.Schema{Schema: `{"type": "record", "name": "Person", "namespace": "weir", "fields": [{"name": "home", "type": "weir.Address"}]}`}
	refused("person-value", person, 42201)
	person.References = []sr.SchemaReference{{Name: "weir.Address", Subject: "address", Version: 1}}
	create("person-value", person, 6, 1)
	person.Schema = strings.ReplaceAll(person.Schema, " ", "\n ")
	create("person-value", person, 6, 1)
	if s, err := cl.SchemaByID(ctx, 6); err != nil || !reflect.DeepEqual(s.References, person.References) || !strings.Contains(s.Schema, `"type":"weir.Address"`) {
		t.Fatalf("schema 6: %+v %v, want its references, and the type it references by name", s, err)
	}

	// A soft delete hides the subject; its version numbers are not reused.
	deleted, err := cl.DeleteSubject(ctx, "u-value", sr.SoftDelete)
	if err != nil || !reflect.DeepEqual(deleted, []int{1}) {
		t.Fatalf("deleting u-value: %v %v", deleted, err)
	}
	subjects, err := cl.Subjects(ctx)
	if want := []string{"address", "f-value", "person-value", "r-value", "t-value"}; err != nil || !reflect.DeepEqual(subjects, want) {
		t.Fatalf("subjects: %v %v, want %v", subjects, err, want)
	}
	versions("u-value")
	create("u-value", rowSchema(idField), 1, 2)
	if _, err := cl.DeleteSubject(ctx, "u-value", sr.HardDelete); errorCode(err) != 40405 {
		t.Fatalf("hard-deleting u-value before a soft delete: %v, want 40405", err)
	}
}

// TestSchemaRegistryHTTP checks what franz-go's client does not show: plain
// application/json bodies, refused content types, the error body, concurrent requests.
func TestSchemaRegistryHTTP(t *testing.T) {
	reg, err := StartSchemaRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	post := func(path, contentType, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(reg.URL+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if status, body := post("/subjects/j/versions", "application/json", `{"schema": "\"string\""}`); status != 200 || body != `{"id":1}` {
		t.Fatalf("registering with application/json: %d %s", status, body)
	}
	if status, body := post("/subjects/j/versions", "text/plain", `{"schema": "\"string\""}`); status != 415 {
		t.Fatalf("registering with text/plain: %d %s, want 415", status, body)
	}
	if status, body := post("/subjects/j/versions", "application/vnd.schemaregistry.v1+json", `{"schema": "\"strnig\""}`); status != 422 || !strings.HasPrefix(body, `{"error_code":42201,"message":"Invalid schema`) {
		t.Fatalf("registering an invalid schema: %d %s", status, body)
	}

	// Many clients registering at once: the same schema gets one id everywhere.
	cl, err := sr.NewClient(sr.URLs(reg.URL))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make([]int, 16)
	errs := make([]error, len(ids))
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = cl.RegisterSchema(context.Background(), fmt.Sprintf("c%d", i%4), rowSchema(idField), -1, -1)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != 2 {
			t.Fatalf("concurrent registration %d: id %d, %v; want id 2", i, ids[i], errs[i])
		}
	}
	for i := range 4 {
		if v := reg.Versions(fmt.Sprintf("c%d", i)); !reflect.DeepEqual(v, []int{1}) {
			t.Fatalf("versions of c%d: %v, want [1]", i, v)
		}
	}
}
