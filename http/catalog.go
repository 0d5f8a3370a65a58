package http

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"inlet"
	"inlet/catalog"
)

// handleListCatalog serves GET /api/v1/catalog?source=&type=.
func (s *Server) handleListCatalog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	entries, err := s.cfg.Store.ListCatalog(r.Context(), inlet.CatalogFilter{SourceID: q.Get("source"), Type: q.Get("type")})
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": entries})
}

// handleGetCatalog serves GET /api/v1/catalog/{source}/{type}.
func (s *Server) handleGetCatalog(w http.ResponseWriter, r *http.Request) {
	e, err := s.cfg.Store.FindCatalog(r.Context(), r.PathValue("source"), r.PathValue("type"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// handleCatalogSchema serves GET /api/v1/catalog/{source}/{type}/schema:
// the JSON Schema inferred from what the type's events have held.
func (s *Server) handleCatalogSchema(w http.ResponseWriter, r *http.Request) {
	e, err := s.cfg.Store.FindCatalog(r.Context(), r.PathValue("source"), r.PathValue("type"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.WriteHeader(http.StatusOK)
	w.Write(append(catalog.InferSchema(e), '\n'))
}

// ListCatalog returns the catalog entries matching f.
func (c *Client) ListCatalog(ctx context.Context, f inlet.CatalogFilter) ([]*inlet.CatalogEntry, error) {
	q := url.Values{}
	if f.SourceID != "" {
		q.Set("source", f.SourceID)
	}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	var out struct {
		Items []*inlet.CatalogEntry `json:"items"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/catalog?"+q.Encode(), nil, &out)
	return out.Items, err
}

// FindCatalog returns the catalog entry of one event type of a source.
func (c *Client) FindCatalog(ctx context.Context, sourceID, eventType string) (*inlet.CatalogEntry, error) {
	var e inlet.CatalogEntry
	return &e, c.do(ctx, http.MethodGet, "/api/v1/catalog/"+url.PathEscape(sourceID)+"/"+url.PathEscape(eventType), nil, &e)
}

// CatalogSchema returns the JSON Schema inferred for one event type of a
// source.
func (c *Client) CatalogSchema(ctx context.Context, sourceID, eventType string) (json.RawMessage, error) {
	var s json.RawMessage
	err := c.do(ctx, http.MethodGet, "/api/v1/catalog/"+url.PathEscape(sourceID)+"/"+url.PathEscape(eventType)+"/schema", nil, &s)
	return s, err
}
