package http

import (
	"context"
	"net/http"

	"inlet"
)

// secretRoutes are the routes of the secrets at rest.
func (s *Server) secretRoutes() []route {
	return []route{
		{"POST /api/v1/secrets/rotate", ClassAdmin, inlet.ScopeAdmin, http.HandlerFunc(s.handleRotateSecrets)},
	}
}

// handleRotateSecrets re-encrypts every stored secret under the current
// key of the node that serves the request.
func (s *Server) handleRotateSecrets(w http.ResponseWriter, r *http.Request) {
	out, err := s.cfg.Store.RotateSecrets(r.Context())
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// RotateSecrets re-encrypts every stored secret under the current key of
// the node the client talks to.
func (c *Client) RotateSecrets(ctx context.Context) (*inlet.SecretsRotation, error) {
	var out inlet.SecretsRotation
	return &out, c.do(ctx, http.MethodPost, "/api/v1/secrets/rotate", nil, &out)
}
