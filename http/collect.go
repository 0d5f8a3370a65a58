package http

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"inlet"
	"inlet/collect"
)

var errUnknownSource = inlet.Reasonf(inlet.EUNAUTHORIZED, "unknown_source", "unknown or disabled source; check the source id in the URL and that the source is enabled")

// handleCollect serves GET and POST /collect/{event_type}/{source_id}[/{session_id}].
// A request refused for what it is or says (4xx) is answered and recorded in
// the rejected-request log; one refused because the collector cannot take
// it now (503) is only answered.
func (s *Server) handleCollect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		s.reject(w, r, nil, nil, inlet.Reasonf(inlet.EUNSUPPORTED, "method_not_allowed", "collect takes GET or POST, not %s", r.Method))
		return
	}
	if n := s.inFlight.Add(1); n > s.cfg.MaxInFlight {
		s.inFlight.Add(-1)
		Error(w, r, inlet.Errorf(inlet.EUNAVAILABLE, "the collector is over capacity; retry later"), nil)
		return
	}
	defer s.inFlight.Add(-1)

	ctx := r.Context()
	source, err := s.cfg.Sources.Find(ctx, r.PathValue("source_id"))
	if err != nil && inlet.ErrorCode(err) != inlet.ENOTFOUND {
		if inlet.ErrorCode(err) == inlet.EINTERNAL { // a store failure: the sender should retry
			err = errors.Join(inlet.Errorf(inlet.EUNAVAILABLE, "sources cannot be read right now; retry later"), err)
		}
		Error(w, r, err, s.cfg.Logger)
		return
	} else if source == nil || !source.Enabled {
		s.reject(w, r, nil, nil, errUnknownSource)
		return
	}
	if err := s.rateLimit(source); err != nil {
		s.reject(w, r, source, nil, err)
		return
	}

	eventType, err := inlet.NormalizeEventType(r.PathValue("event_type"))
	if err != nil {
		s.reject(w, r, source, nil, err)
		return
	}
	sessionID := r.PathValue("session_id")
	if sessionID != "" {
		if err := inlet.ValidateSessionID(sessionID); err != nil {
			s.reject(w, r, source, nil, err)
			return
		}
	}

	// Bodies waiting in handlers share one memory budget, so that many slow
	// or large requests cannot exhaust memory: over it, 503.
	reserve := source.Config.BodyLimit()
	if r.ContentLength >= 0 && r.ContentLength < reserve {
		reserve = r.ContentLength
	}
	if s.bodyBytes.Add(reserve) > s.cfg.MaxBodyMemory {
		s.bodyBytes.Add(-reserve)
		Error(w, r, inlet.Errorf(inlet.EUNAVAILABLE, "the collector is over capacity; retry later"), nil)
		return
	}
	defer s.bodyBytes.Add(-reserve)

	body, err := readBody(w, r, source.Config.BodyLimit())
	if err != nil {
		s.reject(w, r, source, body, err)
		return
	}
	if err := s.verifyRequest(w, r, source, body); err != nil {
		s.reject(w, r, source, body, err)
		return
	}
	query := keptQuery(r.URL.RawQuery, &source.Config)
	props, err := collect.Parse(query, r.Header.Get("Content-Type"), body)
	if err != nil {
		s.reject(w, r, source, body, err)
		return
	}

	now := s.now().UTC()
	e := &inlet.Event{
		ID:         inlet.NewID(),
		Type:       eventType,
		InsertedAt: now,
		SourceID:   source.ID,
		SessionID:  sessionID,
		Properties: props,
		Context: inlet.RequestContext{
			Method:    r.Method,
			Query:     query,
			Headers:   keptHeaders(r.Header, &source.Config),
			IP:        s.clientIP(r),
			UserAgent: r.UserAgent(),
		},
	}
	e.DedupKey, e.DedupUntil = dedupKey(r, &source.Config, props, now)
	if source.Config.Maps() {
		s.collectMapped(w, r, source, e, body)
		return
	}
	if err := s.cfg.Appender.Append(ctx, []*inlet.Event{e}); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeCollected(w, e)
}

// readBody reads the whole body, up to limit bytes; over it, ETOOLARGE. On
// an error it also returns what it read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	if r.ContentLength == 0 {
		return nil, nil
	}
	if r.ContentLength > 0 {
		// The length is known: one allocation of exactly that size (the
		// server stops the body at Content-Length).
		buf := make([]byte, r.ContentLength)
		n, err := io.ReadFull(r.Body, buf)
		if err != nil {
			return buf[:n], inlet.Reasonf(inlet.EINVALID, "bad_body", "the request body could not be read: %s", err)
		}
		return buf, nil
	}
	buf, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return buf, tooLarge(limit) // what was read, for the rejected-request log
	} else if err != nil {
		return buf, inlet.Reasonf(inlet.EINVALID, "bad_body", "the request body could not be read: %s", err)
	}
	return buf, nil
}

func tooLarge(limit int64) error {
	return inlet.Reasonf(inlet.ETOOLARGE, "too_large", "the body is larger than this source's limit of %d bytes", limit)
}

// keptHeaders returns the request headers to store: all but credentials and
// the source's secret headers, several values joined with ", ".
func keptHeaders(h http.Header, config *inlet.SourceConfig) map[string]string {
	kept := make(map[string]string, len(h))
	for name, values := range h {
		if config.IsSecretHeader(name) {
			continue
		}
		if len(values) == 1 {
			kept[name] = values[0]
		} else {
			kept[name] = strings.Join(values, ", ")
		}
	}
	return kept
}

// writeCollected answers a stored event, or for a duplicate the original
// with "duplicate": true. Ids are from a safe character set, so they need
// no escaping.
func writeCollected(w http.ResponseWriter, e *inlet.Event) {
	b := make([]byte, 0, 192)
	b = append(b, `{"events":["`...)
	if e.DuplicateOf != "" {
		b = append(b, e.DuplicateOf...)
		b = append(b, `"],"duplicate":true,"profile":`...)
	} else {
		b = append(b, e.ID...)
		b = append(b, `"],"profile":`...)
	}
	if e.ProfileID == "" {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":"`...)
		b = append(b, e.ProfileID...)
		b = append(b, `"}`...)
	}
	b = append(b, `,"session":`...)
	if e.SessionID == "" {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":"`...)
		b = append(b, e.SessionID...)
		b = append(b, `"}`...)
	}
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
