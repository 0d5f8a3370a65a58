package http

import (
	"net/http"
	"strconv"
	"strings"

	"inlet"
)

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
