package http_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"inlet/http/openapitest"
)

// loadOpenAPI returns the embedded OpenAPI document, parsed and validated.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc := openapitest.Document(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi.json declares OpenAPI %s, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

// routeOperations returns the method and OpenAPI path of each operation a
// route serves: a pattern without a method takes GET and POST (its handler
// refuses the others).
func routeOperations(pattern string) (methods []string, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return []string{http.MethodGet, http.MethodPost}, pattern
	}
	return []string{method}, strings.ReplaceAll(path, "...}", "}")
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	// Every route the server can serve: with the metrics on.
	h := newTestServer(t, serverOptions{metricsHandler: http.NotFoundHandler()}).Handler
	served := map[string]bool{}
	for _, pattern := range h.Patterns() {
		methods, path := routeOperations(pattern)
		if path == "/console" || strings.HasPrefix(path, "/console/") {
			continue // the console's pages are for people: not part of the API
		}
		for _, m := range methods {
			served[m+" "+path] = true
			item := doc.Paths.Value(path)
			if item == nil || item.GetOperation(m) == nil {
				t.Errorf("the server serves %s %s, which openapi.json does not describe", m, path)
			}
		}
	}
	if !served["GET /metrics"] || !served["POST /collect/{event_type}/{source_id}"] {
		t.Fatalf("the route table misses routes the test knows of: %v", served)
	}
	for path, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			if !served[m+" "+path] {
				t.Errorf("openapi.json describes %s %s, which the server does not serve", m, path)
			}
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	resp := s.do("GET", "/api/v1/openapi.json", nil) // no token: the description is public
	if resp.Status != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json = %d %s, want 200 JSON", resp.Status, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(resp.Body, &doc); err != nil {
		t.Fatalf("decoding the document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !slices.Contains(mapKeys(doc.Paths), "/api/v1/sources/{id}") {
		t.Errorf("served document: openapi %q, paths %v; want 3.1.0 with the admin API", doc.OpenAPI, mapKeys(doc.Paths))
	}
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
