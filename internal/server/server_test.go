package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.uber.org/goleak"

	"github.com/weir-data/weir/internal/checkpoint"
	"github.com/weir-data/weir/internal/connectors"
	"github.com/weir-data/weir/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOpenAPIDocument: the document validates as OpenAPI 3, the checked-in copy is what
// the server serves (regenerate: go run ./cmd/weir docs --openapi > docs/openapi.json), and
// every operation it lists is a route the server answers.
func TestOpenAPIDocument(t *testing.T) {
	b, err := DocumentJSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document does not validate: %v", err)
	}
	committed, err := os.ReadFile("../../docs/openapi.json")
	if err != nil || !bytes.Equal(committed, b) {
		t.Errorf("docs/openapi.json is not the document the server serves (%v); run: go run ./cmd/weir docs --openapi > docs/openapi.json", err)
	}
	h := newTestAPI(t)
	n := 0
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			req := httptest.NewRequest(method, strings.ReplaceAll(path, "{name}", "nope"), strings.NewReader(`{"file":"x"}`))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			var e Error
			json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code == http.StatusMethodNotAllowed || e.Error == "" && w.Code >= 400 {
				t.Errorf("%s %s: %d %s: not a route the server answers", method, path, w.Code, w.Body)
			}
			n++
		}
	}
	if n != len(routes) {
		t.Errorf("%d operations in the document, %d routes", n, len(routes))
	}
}

func newTestAPI(t *testing.T) http.Handler {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cps, _ := checkpoint.OpenLocal(filepath.Join(dir, "state"))
	t.Cleanup(func() { cps.Close() })
	c := NewController(context.Background(), Options{Store: st, Registry: connectors.Registry(), Checkpoints: cps, DataDir: dir})
	t.Cleanup(func() { c.Shutdown(0) })
	return (&api{c: c, loopback: true}).handler() // as on loopback with no user yet: the local administrator
}

// TestBadRequests: every body, path and query is checked, with a message that names what
// is wrong.
func TestBadRequests(t *testing.T) {
	h := newTestAPI(t)
	for _, tc := range []struct {
		method, path, body string
		code               int
		says               string
	}{
		{"POST", "/api/v1/pipelines", `{"file":"x","strat":true}`, 400, `unknown field "strat"`},
		{"POST", "/api/v1/pipelines", `{"file":""}`, 400, "file: the pipeline file is empty"},
		{"POST", "/api/v1/pipelines", `{"file":"a"}{"file":"b"}`, 400, "more than one JSON value"},
		{"POST", "/api/v1/pipelines", `{"file":"` + strings.Repeat("x", maxBody) + `"}`, 413, "over"},
		{"POST", "/api/v1/pipelines", `{"file":"source:\n  type: datagen\nsink:\n  type: nope\n"}`, 422, "problem"},
		{"GET", "/api/v1/pipelines?stat=RUNNING", ``, 400, `unknown query parameter "stat"`},
		{"GET", "/api/v1/pipelines?state=RUNING", ``, 400, `state "RUNING"`},
		{"GET", "/api/v1/pipelines/nope", ``, 404, "not found"},
		{"GET", "/api/v1/pipelines/nope/events?limit=0", ``, 404, "not found"},
		{"POST", "/api/v1/pipelines/nope/start", ``, 404, "not found"},
		{"DELETE", "/api/v1/pipelines/nope?drop_state=maybe", ``, 400, "want true or false"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		var e Error
		json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != tc.code || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s %s: %d %s, want %d saying %q", tc.method, tc.path, w.Code, w.Body, tc.code, tc.says)
		}
	}
}

// TestServerFilesNeedANameAndStayInside: on a server a pipeline file names its pipeline,
// and its paths stay under the data directory.
func TestServerFilesNeedANameAndStayInside(t *testing.T) {
	h := newTestAPI(t)
	for file, says := range map[string]string{
		"source:\n  type: datagen\n  name: gen\n  tables: demo.orders\nsink:\n  type: discard\n":                       "pipeline.name",
		"source:\n  type: datagen\n  tables: demo.orders\nsink:\n  type: file\n  path: ../x\npipeline:\n  name: p\n":   "outside the server's data directory",
		"source:\n  type: datagen\n  tables: demo.orders\nsink:\n  type: file\n  path: /tmp/x\npipeline:\n  name: p\n": "outside the server's data directory",
		"source:\n  type: datagen\n  tables: ${TABLES}\nsink:\n  type: discard\npipeline:\n  name: p\n":                "TABLES",
	} {
		b, _ := json.Marshal(CreateRequest{File: file})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/api/v1/pipelines", bytes.NewReader(b)))
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), says) {
			t.Errorf("%q: %d %s, want 422 saying %q", file, w.Code, w.Body, says)
		}
	}
}
