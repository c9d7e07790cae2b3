package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
)

// SchemaRegistry is an in-process server speaking the Confluent Schema Registry REST API
// subset that serializers and deserializers use: registering and looking up Avro schemas
// by subject, version and global id, compatibility configuration, subject deletion. No
// registry installs on these machines (it needs a JVM); the Avro connectors' tests run
// against this. Everything lives in memory and is gone after Stop.
//
// Schemas are compared, kept and returned in Avro's full canonical JSON (hamba/avro's,
// with defaults, docs and aliases, without whitespace), as the real registry returns its
// canonical form rather than the text it was given; a schema with references is returned
// as given, without whitespace, so that the types it references stay names. Only AVRO
// schemas are accepted.
type SchemaRegistry struct {
	// URL is the base address, for schema.registry.url.
	URL string

	srv  *http.Server
	done chan struct{} // closed when the server's goroutine returns

	mu       sync.Mutex
	schemas  []*storedSchema     // by global id - 1; ids are never reused
	ids      map[string]int      // storedSchema.key → global id
	subjects map[string]*subject // with at least one version, live or soft-deleted
	config   map[string]string   // subject-level compatibility levels
	compat   string              // the global compatibility level
}

// storedSchema is a schema as registered, shared by every subject version with its id.
type storedSchema struct {
	text   string      // full canonical JSON (see SchemaRegistry)
	refs   []schemaRef // the named types it uses from other subjects
	key    string      // identity: full canonical JSON and references
	parsed avro.Schema // for compatibility checks
}

// schemaRef is a reference to a type defined by another subject's version.
type schemaRef struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

type subject struct {
	versions []subjectVersion // in registration order, so by increasing version
}

type subjectVersion struct {
	version, id int
	deleted     bool // soft-deleted: kept for numbering and references, hidden otherwise
}

// schemaBody is a request body carrying a schema, and the subject-version reply.
type schemaBody struct {
	Subject    string      `json:"subject,omitempty"`
	Version    int         `json:"version,omitempty"`
	ID         int         `json:"id,omitempty"`
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType,omitempty"` // absent means AVRO
	References []schemaRef `json:"references,omitempty"`
}

// apiError is an error reply: Confluent's error_code, whose first three digits are the
// HTTP status (40401 → 404), or the status itself (409).
type apiError struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func apiErr(code int, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *apiError) status() int {
	if e.Code > 999 {
		return e.Code / 100
	}
	return e.Code
}

// The registry's error codes.
const (
	errSubjectNotFound     = 40401
	errVersionNotFound     = 40402
	errSchemaNotFound      = 40403
	errSubjectSoftDeleted  = 40404
	errSubjectNotDeleted   = 40405
	errCompatNotConfigured = 40408
	errIncompatible        = 409
	errInvalidSchema       = 42201
	errInvalidVersion      = 42202
	errInvalidCompat       = 42203
)

const contentType = "application/vnd.schemaregistry.v1+json"

// compatLevels are the levels a subject or the registry can be set to.
var compatLevels = []string{"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
	"FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}

// StartSchemaRegistry starts a registry on a free port of 127.0.0.1, with the global
// compatibility level BACKWARD (the real registry's default).
func StartSchemaRegistry() (*SchemaRegistry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the schema registry: %w", err)
	}
	r := &SchemaRegistry{
		URL:      "http://" + ln.Addr().String(),
		done:     make(chan struct{}),
		ids:      map[string]int{},
		subjects: map[string]*subject{},
		config:   map[string]string{},
		compat:   "BACKWARD",
	}
	mux := http.NewServeMux()
	for pattern, h := range map[string]func(*http.Request) (any, *apiError){
		"POST /subjects/{subject}/versions":                 r.register,
		"POST /subjects/{subject}":                          r.lookup,
		"GET /subjects":                                     r.listSubjects,
		"GET /subjects/{subject}/versions":                  r.listVersions,
		"GET /subjects/{subject}/versions/{version}":        r.getVersion,
		"GET /subjects/{subject}/versions/{version}/schema": r.getVersionText,
		"DELETE /subjects/{subject}":                        r.deleteSubject,
		"GET /schemas/ids/{id}":                             r.getByID,
		"GET /schemas/ids/{id}/versions":                    r.getIDVersions,
		"GET /schemas/types":                                func(*http.Request) (any, *apiError) { return []string{"AVRO"}, nil },
		"GET /config":                                       r.getConfig,
		"PUT /config":                                       r.putConfig,
		"GET /config/{subject}":                             r.getConfig,
		"PUT /config/{subject}":                             r.putConfig,
		"DELETE /config/{subject}":                          r.deleteConfig,
		"/":                                                 func(req *http.Request) (any, *apiError) { return nil, apiErr(404, "HTTP 404 Not Found") },
	} {
		mux.Handle(pattern, r.serve(h))
	}
	r.srv = &http.Server{Handler: mux}
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(ln) // returns http.ErrServerClosed on Stop
	}()
	return r, nil
}

// Stop closes the server and its connections; what it held is gone.
func (r *SchemaRegistry) Stop() {
	_ = r.srv.Close()
	<-r.done
}

// Versions returns the live (not deleted) versions registered under subject, ascending.
func (r *SchemaRegistry) Versions(subject string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var vs []int
	for _, v := range r.live(subject) {
		vs = append(vs, v.version)
	}
	return vs
}

// Schema returns the text of a live version of subject, as the registry returns it.
func (r *SchemaRegistry) Schema(subject string, version int) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.live(subject) {
		if v.version == version {
			return r.schemas[v.id-1].text, true
		}
	}
	return "", false
}

// serve wraps a handler: it checks the request's content type, runs the handler under
// the registry's lock (one request at a time keeps every handler simple) and writes the
// reply or the error as JSON.
func (r *SchemaRegistry) serve(h func(*http.Request) (any, *apiError)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var reply any
		var e *apiError
		if ct := req.Header.Get("Content-Type"); ct != "" && !acceptedType(ct) {
			e = apiErr(415, "HTTP 415 Unsupported Media Type: %s", ct)
		} else {
			r.mu.Lock()
			reply, e = h(req)
			r.mu.Unlock()
		}
		w.Header().Set("Content-Type", contentType)
		if e != nil {
			w.WriteHeader(e.status())
			reply = e
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(reply)
	})
}

// acceptedType reports whether the registry reads request bodies of content type ct.
func acceptedType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	switch mt {
	case contentType, "application/vnd.schemaregistry+json", "application/json", "application/octet-stream":
		return err == nil
	}
	return false
}

// register handles POST /subjects/{subject}/versions: it returns the id of a schema
// already live under the subject unchanged, otherwise checks the new schema against the
// subject's compatibility level and adds it as the next version, under the global id
// the same schema has elsewhere or a new one.
func (r *SchemaRegistry) register(req *http.Request) (any, *apiError) {
	name := req.PathValue("subject")
	s, e := r.parseBody(req)
	if e != nil {
		return nil, e
	}
	live := r.live(name)
	for _, v := range live {
		if r.schemas[v.id-1].key == s.key {
			return map[string]int{"id": v.id}, nil
		}
	}
	if err := r.compatible(name, live, s.parsed); err != nil {
		return nil, apiErr(errIncompatible, "Schema being registered is incompatible with an earlier schema for subject %q, details: [%v]", name, err)
	}
	id, ok := r.ids[s.key]
	if !ok {
		r.schemas = append(r.schemas, s)
		id = len(r.schemas)
		r.ids[s.key] = id
	}
	sub := r.subjects[name]
	if sub == nil {
		sub = &subject{}
		r.subjects[name] = sub
	}
	next := 1 // soft-deleted versions keep their numbers
	if n := len(sub.versions); n > 0 {
		next = sub.versions[n-1].version + 1
	}
	sub.versions = append(sub.versions, subjectVersion{version: next, id: id})
	return map[string]int{"id": id}, nil
}

// lookup handles POST /subjects/{subject}: the live version of the subject that holds
// the schema in the body.
func (r *SchemaRegistry) lookup(req *http.Request) (any, *apiError) {
	name := req.PathValue("subject")
	s, e := r.parseBody(req)
	if e != nil {
		return nil, e
	}
	live := r.live(name)
	if len(live) == 0 {
		return nil, apiErr(errSubjectNotFound, "Subject '%s' not found.", name)
	}
	for _, v := range live {
		if r.schemas[v.id-1].key == s.key {
			return r.reply(name, v), nil
		}
	}
	return nil, apiErr(errSchemaNotFound, "Schema not found")
}

func (r *SchemaRegistry) listSubjects(*http.Request) (any, *apiError) {
	names := []string{}
	for name := range r.subjects {
		if len(r.live(name)) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (r *SchemaRegistry) listVersions(req *http.Request) (any, *apiError) {
	name := req.PathValue("subject")
	live := r.live(name)
	if len(live) == 0 {
		return nil, apiErr(errSubjectNotFound, "Subject '%s' not found.", name)
	}
	vs := []int{}
	for _, v := range live {
		vs = append(vs, v.version)
	}
	return vs, nil
}

// getVersion handles GET /subjects/{subject}/versions/{version}, version a number or
// "latest" (or -1).
func (r *SchemaRegistry) getVersion(req *http.Request) (any, *apiError) {
	name := req.PathValue("subject")
	v, e := r.version(name, req.PathValue("version"))
	if e != nil {
		return nil, e
	}
	return r.reply(name, v), nil
}

// getVersionText handles GET /subjects/{subject}/versions/{version}/schema: the schema
// itself, not wrapped in a reply object.
func (r *SchemaRegistry) getVersionText(req *http.Request) (any, *apiError) {
	v, e := r.version(req.PathValue("subject"), req.PathValue("version"))
	if e != nil {
		return nil, e
	}
	return json.RawMessage(r.schemas[v.id-1].text), nil
}

// deleteSubject handles DELETE /subjects/{subject}: a soft delete hides the versions
// (their numbers are not reused); with permanent=true, after a soft delete, the subject
// is forgotten. Either returns the versions deleted.
func (r *SchemaRegistry) deleteSubject(req *http.Request) (any, *apiError) {
	name := req.PathValue("subject")
	sub := r.subjects[name]
	if sub == nil {
		return nil, apiErr(errSubjectNotFound, "Subject '%s' not found.", name)
	}
	live := r.live(name)
	permanent := req.URL.Query().Get("permanent") == "true"
	switch {
	case permanent && len(live) > 0:
		return nil, apiErr(errSubjectNotDeleted, "Subject '%s' was not deleted first before being permanently deleted", name)
	case !permanent && len(live) == 0:
		return nil, apiErr(errSubjectSoftDeleted, "Subject '%s' was soft deleted.Set permanent=true to delete permanently", name)
	}
	deleted := []int{}
	for i := range sub.versions {
		if permanent || !sub.versions[i].deleted {
			deleted = append(deleted, sub.versions[i].version)
		}
		sub.versions[i].deleted = true
	}
	if permanent {
		delete(r.subjects, name)
	}
	return deleted, nil
}

// getByID handles GET /schemas/ids/{id}.
func (r *SchemaRegistry) getByID(req *http.Request) (any, *apiError) {
	s, e := r.byID(req.PathValue("id"))
	if e != nil {
		return nil, e
	}
	return schemaBody{Schema: s.text, References: s.refs}, nil
}

// getIDVersions handles GET /schemas/ids/{id}/versions: the live subject versions that
// hold the schema.
func (r *SchemaRegistry) getIDVersions(req *http.Request) (any, *apiError) {
	s, e := r.byID(req.PathValue("id"))
	if e != nil {
		return nil, e
	}
	type subjectVersionReply struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	uses := []subjectVersionReply{}
	for name := range r.subjects {
		for _, v := range r.live(name) {
			if r.schemas[v.id-1] == s {
				uses = append(uses, subjectVersionReply{name, v.version})
			}
		}
	}
	sort.Slice(uses, func(i, j int) bool {
		if uses[i].Subject != uses[j].Subject {
			return uses[i].Subject < uses[j].Subject
		}
		return uses[i].Version < uses[j].Version
	})
	return uses, nil
}

// getConfig handles GET /config and GET /config/{subject}. A subject without a level of
// its own is an error unless defaultToGlobal=true, as in the real registry.
func (r *SchemaRegistry) getConfig(req *http.Request) (any, *apiError) {
	level := r.compat
	if name := req.PathValue("subject"); name != "" {
		own, ok := r.config[name]
		switch {
		case ok:
			level = own
		case req.URL.Query().Get("defaultToGlobal") != "true":
			return nil, apiErr(errCompatNotConfigured, "Subject '%s' does not have subject-level compatibility configured", name)
		}
	}
	return map[string]string{"compatibilityLevel": level}, nil
}

// putConfig handles PUT /config and PUT /config/{subject}, body {"compatibility": level}.
func (r *SchemaRegistry) putConfig(req *http.Request) (any, *apiError) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		return nil, apiErr(400, "Reading the compatibility level: %v", err)
	}
	level := strings.ToUpper(body.Compatibility)
	if !slices.Contains(compatLevels, level) {
		return nil, apiErr(errInvalidCompat, "Invalid compatibility level %q. Valid values are %s", body.Compatibility, strings.Join(compatLevels, ", "))
	}
	if name := req.PathValue("subject"); name != "" {
		r.config[name] = level
	} else {
		r.compat = level
	}
	return map[string]string{"compatibility": level}, nil
}

// deleteConfig handles DELETE /config/{subject}: the subject goes back to the global
// level; the reply is the level it had.
func (r *SchemaRegistry) deleteConfig(req *http.Request) (any, *apiError) {
	name := req.PathValue("subject")
	level, ok := r.config[name]
	if !ok {
		if r.subjects[name] == nil {
			return nil, apiErr(errSubjectNotFound, "Subject '%s' not found.", name)
		}
		level = r.compat
	}
	delete(r.config, name)
	return map[string]string{"compatibilityLevel": level}, nil
}

// live returns the subject's versions that are not deleted.
func (r *SchemaRegistry) live(name string) []subjectVersion {
	var live []subjectVersion
	if sub := r.subjects[name]; sub != nil {
		for _, v := range sub.versions {
			if !v.deleted {
				live = append(live, v)
			}
		}
	}
	return live
}

// version resolves a version path parameter: a number, "latest" or -1.
func (r *SchemaRegistry) version(name, param string) (subjectVersion, *apiError) {
	n, err := strconv.Atoi(param)
	if param == "latest" {
		n, err = -1, nil
	}
	if err != nil || n == 0 || n < -1 {
		return subjectVersion{}, apiErr(errInvalidVersion, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", param)
	}
	live := r.live(name)
	if len(live) == 0 {
		return subjectVersion{}, apiErr(errSubjectNotFound, "Subject '%s' not found.", name)
	}
	if n == -1 {
		return live[len(live)-1], nil
	}
	for _, v := range live {
		if v.version == n {
			return v, nil
		}
	}
	return subjectVersion{}, apiErr(errVersionNotFound, "Version %d not found.", n)
}

// byID resolves a global schema id path parameter.
func (r *SchemaRegistry) byID(param string) (*storedSchema, *apiError) {
	id, err := strconv.Atoi(param)
	if err != nil || id < 1 || id > len(r.schemas) {
		return nil, apiErr(errSchemaNotFound, "Schema %s not found", param)
	}
	return r.schemas[id-1], nil
}

// reply is the subject-version reply of GET /subjects/{subject}/versions/{version}.
func (r *SchemaRegistry) reply(name string, v subjectVersion) schemaBody {
	s := r.schemas[v.id-1]
	return schemaBody{Subject: name, Version: v.version, ID: v.id, Schema: s.text, References: s.refs}
}

// parseBody reads a schema body and parses its schema as Avro, with the types of its
// references; a schema that does not parse is 42201, as is any type but AVRO.
func (r *SchemaRegistry) parseBody(req *http.Request) (*storedSchema, *apiError) {
	var body schemaBody
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		return nil, apiErr(400, "Reading the schema: %v", err)
	}
	if body.SchemaType != "" && body.SchemaType != "AVRO" {
		return nil, apiErr(errInvalidSchema, "Invalid schema: schema type %s is not supported by this test registry, only AVRO", body.SchemaType)
	}
	if !json.Valid([]byte(body.Schema)) { // avro.Parse would take a bare word for a type name
		return nil, apiErr(errInvalidSchema, "Invalid schema %s: not JSON", body.Schema)
	}
	cache := &avro.SchemaCache{} // not avro's global cache: no type leaks between schemas
	if err := r.loadRefs(body.References, cache); err != nil {
		return nil, apiErr(errInvalidSchema, "Invalid schema: %v", err)
	}
	parsed, err := avro.ParseWithCache(body.Schema, "", cache)
	if err != nil {
		return nil, apiErr(errInvalidSchema, "Invalid schema %s: %v", body.Schema, err)
	}
	full, err := canonical(parsed)
	if err != nil {
		return nil, apiErr(errInvalidSchema, "Invalid schema: writing its canonical form: %v", err)
	}
	refs, _ := json.Marshal(body.References) // cannot fail: strings and ints
	s := &storedSchema{text: full, refs: body.References, key: full + "\x00" + string(refs), parsed: parsed}
	if len(body.References) > 0 {
		// The full form inlines the referenced types; a reader that parses the references
		// and then the schema would see them defined twice. Keep the types as names, as
		// the real registry does, by keeping the text given (without its whitespace).
		var b bytes.Buffer
		_ = json.Compact(&b, []byte(body.Schema)) // valid JSON, checked above
		s.text = b.String()
	}
	return s, nil
}

// loadRefs parses the schemas that refs name, and theirs before them, into cache, so a
// schema using their types parses. Soft-deleted versions can still be referenced.
func (r *SchemaRegistry) loadRefs(refs []schemaRef, cache *avro.SchemaCache) error {
	for _, ref := range refs {
		var s *storedSchema
		if sub := r.subjects[ref.Subject]; sub != nil {
			for _, v := range sub.versions {
				if v.version == ref.Version {
					s = r.schemas[v.id-1]
				}
			}
		}
		if s == nil {
			return fmt.Errorf("reference %q: subject %q has no version %d", ref.Name, ref.Subject, ref.Version)
		}
		if err := r.loadRefs(s.refs, cache); err != nil {
			return err
		}
		if _, err := avro.ParseWithCache(s.text, "", cache); err != nil {
			return fmt.Errorf("reference %q: parsing subject %q version %d: %w", ref.Name, ref.Subject, ref.Version, err)
		}
	}
	return nil
}

// canonical returns Avro's full JSON form of a parsed schema: the form the registry
// stores, compares and returns. (The schemas' String is the Parsing Canonical Form, which
// drops defaults: two schemas differing only in a default would be one.)
func canonical(s avro.Schema) (string, error) {
	m, ok := s.(json.Marshaler)
	if !ok {
		return "", fmt.Errorf("%T does not marshal to JSON", s)
	}
	b, err := m.MarshalJSON()
	return string(b), err
}

// compatible checks a schema about to be registered under subject name against its live
// versions, at the subject's compatibility level, by Avro's schema resolution rules:
// BACKWARD, the new schema must read data written with the latest version (a field it
// adds needs a default; removing a field is fine); FORWARD, the latest version must read
// data written with the new one (a field removed needs a default in the latest version);
// FULL, both; the _TRANSITIVE levels check every live version, not only the latest.
func (r *SchemaRegistry) compatible(name string, live []subjectVersion, s avro.Schema) error {
	level, ok := r.config[name]
	if !ok {
		level = r.compat
	}
	if level == "NONE" || len(live) == 0 {
		return nil
	}
	if !strings.HasSuffix(level, "_TRANSITIVE") {
		live = live[len(live)-1:]
	}
	var errs []string
	for _, v := range live {
		old := r.schemas[v.id-1].parsed
		if !strings.HasPrefix(level, "FORWARD") {
			if err := avro.NewSchemaCompatibility().Compatible(s, old); err != nil {
				errs = append(errs, fmt.Sprintf("reading data written with version %d (%s): %v", v.version, level, err))
			}
		}
		if !strings.HasPrefix(level, "BACKWARD") {
			if err := avro.NewSchemaCompatibility().Compatible(old, s); err != nil {
				errs = append(errs, fmt.Sprintf("version %d reading data written with the new schema (%s): %v", v.version, level, err))
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
