// Package openapitest holds answers to the OpenAPI document of package
// http, for tests: an answer the document does not describe fails the test.
// It is imported by tests only, so the validator (kin-openapi) stays out
// of the program.
package openapitest

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	inlethttp "inlet/http"
)

// The document, parsed once.
var (
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
)

// Document returns the parsed and validated OpenAPI document.
func Document(t testing.TB) *openapi3.T {
	t.Helper()
	once.Do(func() {
		// The live stream and exports are checked as text.
		openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
		loader := openapi3.NewLoader()
		doc, err = loader.LoadFromData(inlethttp.OpenAPI)
		if err == nil {
			err = doc.Validate(loader.Context)
		}
		if err == nil {
			router, err = legacy.NewRouter(doc)
		}
	})
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// Check fails the test unless the answer to req is one the document
// describes: a documented status, headers and a body that validates
// against its schema (kin-openapi validates an OpenAPI 3.1 document's
// schemas as JSON Schema 2020-12). The answer to a path that no route
// takes (a JSON 404 with code no_route) is described by no operation, and
// is not checked.
func Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	Document(t)
	if status == http.StatusNotFound && bytes.Contains(body, []byte(`"code":"no_route"`)) {
		return
	}
	route, params, err := router.FindRoute(req)
	if err != nil && status == http.StatusMethodNotAllowed {
		// A method the document has no operation for (OpenAPI cannot say
		// "any other method"): the answer must be the 405 that the path's
		// GET operation documents.
		get := req.Clone(req.Context())
		get.Method = http.MethodGet
		route, params, err = router.FindRoute(get)
	}
	if err != nil {
		t.Errorf("%s %s: openapi.json has no operation for it: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: answer %d %s does not match openapi.json: %v", req.Method, req.URL.RequestURI(), status, truncate(body), err)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
