package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"inlet"
)

// maxAdminBody caps admin request bodies.
const maxAdminBody = 1 << 20

// decodeJSON reads a JSON admin body into v, rejecting unknown fields so
// that a typo is a 400 that names the field rather than a silent no-op.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &maxErr):
			return inlet.Reasonf(inlet.ETOOLARGE, "too_large", "the body is larger than %d bytes", maxAdminBody)
		case errors.Is(err, io.EOF):
			return inlet.Reasonf(inlet.EINVALID, "bad_json", "the body is empty; send a JSON object")
		case errors.As(err, &syntaxErr):
			return inlet.Reasonf(inlet.EINVALID, "bad_json", "invalid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr)
		case errors.As(err, &typeErr):
			return inlet.Reasonf(inlet.EINVALID, "bad_json", "field %q must be %s, not JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return inlet.Reasonf(inlet.EINVALID, "unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return inlet.Reasonf(inlet.EINVALID, "bad_json", "the body is not valid JSON: %s", err)
		}
	}
	if dec.More() {
		return inlet.Reasonf(inlet.EINVALID, "bad_json", "the body holds more than one JSON value")
	}
	return nil
}

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
	if err := compileShape(&src.Config); err != nil {
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
		if err := compileShape(upd.Config); err != nil {
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

// ParseEventFilter reads the filters of GET /api/v1/events from a query.
func ParseEventFilter(q map[string][]string) (inlet.EventFilter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := inlet.EventFilter{
		EventID:   strings.TrimSpace(get("id")),
		SourceID:  get("source"),
		ProfileID: get("profile"),
		SessionID: get("session"),
		Cursor:    get("cursor"),
	}
	if t := get("type"); t != "" {
		var err error
		if f.Type, err = inlet.NormalizeTypePattern(t); err != nil {
			return f, err
		}
	}
	if p, v := get("property"), q["value"]; p != "" || len(v) > 0 {
		if p == "" {
			return f, inlet.Reasonf(inlet.EINVALID, "bad_filter", "value needs a property: the path of the property to compare, such as order")
		}
		if len(v) == 0 {
			return f, inlet.Reasonf(inlet.EINVALID, "bad_filter", "property needs a value to compare with")
		}
		var err error
		if f.Property, err = inlet.ParsePropertyMatch(p, v[0]); err != nil {
			return f, err
		}
	}
	if err := inlet.ParseTimeRange(get, &f.Since, &f.Until); err != nil {
		return f, err
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > inlet.MaxEventLimit {
			return f, inlet.Reasonf(inlet.EINVALID, "bad_filter", "limit must be a number from 1 to %d", inlet.MaxEventLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request) {
	f, err := ParseEventFilter(r.URL.Query())
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	page, err := s.cfg.Store.ListEvents(r.Context(), f)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleGetEvent(w http.ResponseWriter, r *http.Request) {
	e, err := s.cfg.Store.FindEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) handleGetProfile(w http.ResponseWriter, r *http.Request) {
	p, err := s.cfg.Store.FindProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.cfg.Store.FindSession(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	collected := s.cfg.Collector.Stats()
	stats := map[string]any{"in_flight": s.inFlight.Load(), "dropped_by_transform": collected.DroppedByTransform, "suppressed": collected.Suppressed}
	if s.cfg.Catalog != nil {
		stats["catalog"] = map[string]int64{"dropped": s.cfg.Catalog.Dropped()}
	}
	if s.cfg.Stats != nil {
		stats["writer"] = s.cfg.Stats()
	}
	if s.cfg.Rejections != nil {
		stats["rejections"] = s.cfg.Rejections.Stats()
	}
	if s.cfg.Broker != nil {
		stats["stream"] = s.cfg.Broker.Stats()
	}
	writeJSON(w, http.StatusOK, stats)
}
