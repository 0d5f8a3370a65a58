package http

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 description of the HTTP API, served at
// GET /api/v1/openapi.json. Tests hold it to the routes the server serves
// and to the answers it gives.
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
