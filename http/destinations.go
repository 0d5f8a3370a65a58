package http

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"inlet"
)

// destinationRoutes are the routes of destinations and their deliveries.
func (s *Server) destinationRoutes() []route {
	return []route{
		{"POST /api/v1/destinations", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleCreateDestination)},
		{"GET /api/v1/destinations", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleListDestinations)},
		{"GET /api/v1/destinations/{id}", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleGetDestination)},
		{"PATCH /api/v1/destinations/{id}", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleUpdateDestination)},
		{"DELETE /api/v1/destinations/{id}", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleDeleteDestination)},
		{"GET /api/v1/destinations/{id}/deliveries", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleListDeliveries)},
		{"POST /api/v1/destinations/{id}/retry", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleRetryDeliveries)},
		{"POST /api/v1/destinations/{id}/discard", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleDiscardDeliveries)},
		{"POST /api/v1/destinations/{id}/replay", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleReplay)},
		{"POST /api/v1/destinations/{id}/try", ClassAdmin, inlet.ScopeWrite, http.HandlerFunc(s.handleTryDestination)},
		{"GET /api/v1/events/{id}/deliveries", ClassAdmin, inlet.ScopeRead, http.HandlerFunc(s.handleEventDeliveries)},
	}
}

// CreateDestinationRequest is the body of POST /api/v1/destinations.
type CreateDestinationRequest struct {
	ID      string                   `json:"id,omitempty"`
	Name    string                   `json:"name"`
	Type    string                   `json:"type"`
	Enabled *bool                    `json:"enabled,omitempty"`
	Filter  *inlet.DestinationFilter `json:"filter,omitempty"`
	Config  json.RawMessage          `json:"config"`
	Retry   *inlet.RetryPolicy       `json:"retry,omitempty"`
	Ordered bool                     `json:"ordered,omitempty"`
	// DisableAfter and ErasureNotices: see inlet.Destination.
	DisableAfter   string `json:"disable_after,omitempty"`
	ErasureNotices bool   `json:"erasure_notices,omitempty"`
}

// destinationsChanged applies a change at once on this node.
func (s *Server) destinationsChanged() {
	if s.cfg.DestinationsChanged != nil {
		s.cfg.DestinationsChanged()
	}
}

func (s *Server) validateDestination(d *inlet.Destination) error {
	if s.cfg.ValidateDestination != nil {
		return s.cfg.ValidateDestination(d)
	}
	return d.Validate()
}

func (s *Server) handleCreateDestination(w http.ResponseWriter, r *http.Request) {
	var req CreateDestinationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	d := &inlet.Destination{ID: req.ID, Name: req.Name, Type: req.Type, Enabled: true, Config: req.Config, Ordered: req.Ordered, DisableAfter: req.DisableAfter, ErasureNotices: req.ErasureNotices}
	if d.ID == "" {
		d.ID = inlet.NewID()
	}
	if req.Enabled != nil {
		d.Enabled = *req.Enabled
	}
	if req.Filter != nil {
		d.Filter = *req.Filter
	}
	if req.Retry != nil {
		d.Retry = *req.Retry
	}
	d.SetDefaults()
	if err := s.validateDestination(d); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	if err := s.cfg.Store.CreateDestination(r.Context(), d); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	s.destinationsChanged()
	w.Header().Set("Location", "/api/v1/destinations/"+d.ID)
	writeJSON(w, http.StatusCreated, d)
}

func (s *Server) handleListDestinations(w http.ResponseWriter, r *http.Request) {
	f := inlet.ListFilter{Cursor: r.URL.Query().Get("cursor")}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > inlet.MaxEventLimit {
			Error(w, r, inlet.Reasonf(inlet.EINVALID, "bad_filter", "limit must be a number from 1 to %d", inlet.MaxEventLimit), nil)
			return
		}
		f.Limit = n
	}
	page, err := s.cfg.Store.ListDestinations(r.Context(), f)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleGetDestination(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := s.cfg.Store.FindDestination(r.Context(), id)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	if d.State, err = s.cfg.Store.DeliveryState(r.Context(), id, s.now()); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleUpdateDestination(w http.ResponseWriter, r *http.Request) {
	var u inlet.DestinationUpdate
	if err := decodeJSON(w, r, &u); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	id := r.PathValue("id")
	old, err := s.cfg.Store.FindDestination(r.Context(), id)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	if string(u.Config) == "null" {
		u.Config = nil
	}
	if len(u.Config) > 0 {
		// Secrets are write-only: one left out or sent back masked stays.
		u.Config = inlet.KeepSecrets(u.Config, old.Config)
	}
	next := *old
	u.Apply(&next)
	if err := s.validateDestination(&next); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	d, err := s.cfg.Store.UpdateDestination(r.Context(), id, u)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	s.destinationsChanged()
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleDeleteDestination(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Store.DeleteDestination(r.Context(), r.PathValue("id")); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	s.destinationsChanged()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := inlet.DeliveryFilter{Status: q.Get("status"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > inlet.MaxEventLimit {
			Error(w, r, inlet.Reasonf(inlet.EINVALID, "bad_filter", "limit must be a number from 1 to %d", inlet.MaxEventLimit), nil)
			return
		}
		f.Limit = n
	}
	page, err := s.cfg.Store.ListDeliveries(r.Context(), r.PathValue("id"), f)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// RetryRequest is the body of POST /api/v1/destinations/{id}/retry and
// /discard: event ids, or a status whose deliveries are all retried or
// discarded.
type RetryRequest struct {
	EventIDs []string `json:"event_ids,omitempty"`
	Status   string   `json:"status,omitempty"`
}

func (s *Server) handleRetryDeliveries(w http.ResponseWriter, r *http.Request) {
	req, ok := s.deliverySelection(w, r, "retry")
	if !ok {
		return
	}
	n, err := s.cfg.Store.RetryDeliveries(r.Context(), r.PathValue("id"), req.EventIDs, req.Status, s.now())
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"retried": n})
}

func (s *Server) handleDiscardDeliveries(w http.ResponseWriter, r *http.Request) {
	req, ok := s.deliverySelection(w, r, "discard")
	if !ok {
		return
	}
	n, err := s.cfg.Store.DiscardDeliveries(r.Context(), r.PathValue("id"), req.EventIDs, req.Status)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"discarded": n})
}

// deliverySelection reads the body of a retry or discard: event ids (a
// bounded number) or a status, not both. On a bad body it answers and
// returns false.
func (s *Server) deliverySelection(w http.ResponseWriter, r *http.Request, verb string) (RetryRequest, bool) {
	var req RetryRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return req, false
	}
	if len(req.EventIDs) > inlet.MaxEventLimit {
		Error(w, r, inlet.Errorf(inlet.EINVALID, "event_ids takes at most %d ids; %s by status for more", inlet.MaxEventLimit, verb), nil)
		return req, false
	}
	if len(req.EventIDs) > 0 && req.Status != "" {
		Error(w, r, inlet.Errorf(inlet.EINVALID, "send event_ids or status, not both"), nil)
		return req, false
	}
	return req, true
}

// ReplayRequest is the body of POST /api/v1/destinations/{id}/replay.
type ReplayRequest struct {
	Since   string   `json:"since"`
	Until   string   `json:"until,omitempty"`
	Sources []string `json:"sources,omitempty"`
	Types   []string `json:"types,omitempty"`
}

func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	var rp inlet.Replay
	var err error
	if rp.Since, err = time.Parse(time.RFC3339Nano, req.Since); err != nil {
		Error(w, r, inlet.Errorf(inlet.EINVALID, "since is required: an RFC 3339 time such as 2026-01-02T15:04:05Z"), nil)
		return
	}
	if req.Until != "" {
		if rp.Until, err = time.Parse(time.RFC3339Nano, req.Until); err != nil {
			Error(w, r, inlet.Errorf(inlet.EINVALID, "until must be an RFC 3339 time such as 2026-01-02T15:04:05Z"), nil)
			return
		}
	}
	rp.Sources, rp.Types = req.Sources, req.Types
	check := inlet.Destination{ID: "replay", Name: "replay", Type: inlet.DestinationWebhook, Config: json.RawMessage("{}"),
		Filter: inlet.DestinationFilter{Sources: rp.Sources, Types: rp.Types}}
	if err := check.Validate(); err != nil {
		Error(w, r, err, nil)
		return
	}
	n, err := s.cfg.Store.ReplayDeliveries(r.Context(), r.PathValue("id"), rp, s.now())
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"replayed": n})
}

// TryDestinationRequest is the body of POST /api/v1/destinations/{id}/try.
type TryDestinationRequest struct {
	EventID string `json:"event_id"`
}

// handleTryDestination answers what the destination's filter and
// transform make of a stored event, without sending it.
func (s *Server) handleTryDestination(w http.ResponseWriter, r *http.Request) {
	var req TryDestinationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	if req.EventID == "" {
		Error(w, r, inlet.Errorf(inlet.EINVALID, "event_id is required: the id of a stored event"), nil)
		return
	}
	if s.cfg.TryDestination == nil {
		Error(w, r, inlet.Errorf(inlet.EUNAVAILABLE, "this server has no delivery to try destinations with"), nil)
		return
	}
	d, err := s.cfg.Store.FindDestination(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	e, err := s.cfg.Store.FindEvent(r.Context(), req.EventID)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	res, err := s.cfg.TryDestination(r.Context(), d, e)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// EventDeliveriesPage is the answer of GET /api/v1/events/{id}/deliveries.
type EventDeliveriesPage struct {
	Items []*inlet.EventDelivery `json:"items"`
}

func (s *Server) handleEventDeliveries(w http.ResponseWriter, r *http.Request) {
	items, err := s.cfg.Store.EventDeliveries(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, EventDeliveriesPage{Items: items})
}
