package http

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 description of the HTTP API, served at
// GET /api/v1/openapi.json. Tests hold it to the routes the server serves
// (TestOpenAPIDescribesEveryRoute) and to the answers it gives (every
// answer of the handler and end-to-end test helpers goes through
// openapitest.Check).
//
// To add a route: a row in routeTable, and in openapi.json an operation
// under "paths" with every status it answers (errors by $ref to
// #/components/responses) and the schemas of its bodies under
// components/schemas; schemas are JSON Schema 2020-12, so a nullable
// value is {"type": ["string", "null"]}, not "nullable".
//
//go:embed openapi.json
var OpenAPI []byte

// handleOpenAPI serves the API description. It is public: it describes
// the API, and holds no data.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(OpenAPI)
}
