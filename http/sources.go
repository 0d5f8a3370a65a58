package http

import (
	"net/http"

	"inlet"
	"inlet/shape"
)

// createSourceRequest is the body of POST /api/v1/sources.
type createSourceRequest struct {
	ID      string              `json:"id"`
	Name    string              `json:"name"`
	Type    string              `json:"type"`
	Enabled *bool               `json:"enabled"`
	Config  *inlet.SourceConfig `json:"config"`
}

func (s *Server) handleCreateSource(w http.ResponseWriter, r *http.Request) {
	var req createSourceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	src := &inlet.Source{ID: req.ID, Name: req.Name, Type: req.Type, Enabled: true}
	if src.ID == "" {
		src.ID = inlet.NewID()
	}
	if src.Type == "" {
		src.Type = inlet.SourceTypeWebhook
	}
	if req.Enabled != nil {
		src.Enabled = *req.Enabled
	}
	if req.Config != nil {
		src.Config = *req.Config
	}
	if err := checkSourceConfig(&src.Config); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	if err := s.cfg.Store.CreateSource(r.Context(), src); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	s.cfg.Collector.Forget(src.ID)
	w.Header().Set("Location", "/api/v1/sources/"+src.ID)
	writeJSON(w, http.StatusCreated, src.Masked())
}

func (s *Server) handleListSources(w http.ResponseWriter, r *http.Request) {
	sources, err := s.cfg.Store.ListSources(r.Context())
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	tok := requestToken(r.Context())
	shown := sources[:0]
	for _, src := range sources {
		if tok == nil || tok.Allows(src.ID) {
			shown = append(shown, src.Masked())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": shown})
}

func (s *Server) handleGetSource(w http.ResponseWriter, r *http.Request) {
	src, err := s.cfg.Store.FindSource(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, src.Masked())
}

func (s *Server) handleUpdateSource(w http.ResponseWriter, r *http.Request) {
	var upd inlet.SourceUpdate
	if err := decodeJSON(w, r, &upd); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	id := r.PathValue("id")
	if upd.Config != nil && upd.Config.Verify != nil {
		// Secrets are write-only: one left out or sent back masked stays.
		if old, err := s.cfg.Store.FindSource(r.Context(), id); err == nil {
			upd.Config.KeepSecrets(&old.Config)
		}
	}
	if upd.Config != nil {
		if err := checkSourceConfig(upd.Config); err != nil {
			Error(w, r, err, s.cfg.Logger)
			return
		}
	}
	src, err := s.cfg.Store.UpdateSource(r.Context(), id, upd)
	s.cfg.Collector.Forget(id)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, src.Masked())
}

func (s *Server) handleDeleteSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := s.cfg.Store.DeleteSource(r.Context(), id)
	s.cfg.Collector.Forget(id)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkSourceConfig checks, when a source is saved, that its configuration is
// valid and that its transform and schemas compile: a 400 naming the field
// (config.transform.properties, config.schemas.<type>.schema) rather than
// a failure on the first event. A verify without a type gets its preset's
// type and signature header, so that the stored configuration says what
// it checks.
func checkSourceConfig(cfg *inlet.SourceConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Verify != nil && cfg.Verify.Type == "" {
		cfg.Verify = cfg.Effective().Verify
	}
	_, err := shape.Compile(cfg)
	return err
}
