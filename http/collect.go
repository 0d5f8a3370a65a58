package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"inlet"
	"inlet/collect"
)

var errUnknownSource = inlet.Reasonf(inlet.EUNAUTHORIZED, "unknown_source", "unknown or disabled source; check the source id in the URL and that the source is enabled")

// serveCollect serves GET and POST /collect/{event_type}/{source_id}[/{session_id}].
// A request refused for what it is or says (4xx) is answered and recorded in
// the rejected-request log; one refused because the collector cannot take
// it now (503) is only answered.
func (s *Server) serveCollect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		s.refuseUnproven(w, r, nil, nil, inlet.Reasonf(inlet.EUNSUPPORTED, "method_not_allowed", "collect takes GET or POST, not %s", r.Method))
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
		s.refuseUnproven(w, r, nil, nil, errUnknownSource)
		return
	}
	noteSource(w, source)

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

	body, err := readBody(serverWriter(w), r, source.Config.BodyLimit())
	if err != nil {
		s.reject(w, r, source, body, err)
		return
	}
	if reply, ok := collect.Handshake(&source.Config, r.Method, r.Header, r.URL.RawQuery); ok {
		// Unsigned, so it spends the budget of requests that prove no
		// source, as a refusal does.
		if ok, wait := s.refusals.allow(s.clientIP(r)); !ok {
			Error(w, r, &retryError{err: inlet.Reasonf(inlet.ERATELIMITED, "too_many_refusals", "too many unsigned requests from this address"), seconds: wait}, nil)
			return
		}
		writeReply(w, reply)
		return
	}
	if !s.admit(w, r, source, body) {
		return
	}
	program, err := s.shapes.Program(source)
	if err != nil { // a source stored before a check it now fails
		s.reject(w, r, source, body, err)
		return
	}
	built, err := collect.Build(source, collect.Request{
		Method:    r.Method,
		EventType: r.PathValue("event_type"),
		SessionID: r.PathValue("session_id"),
		Header:    r.Header,
		RawQuery:  r.URL.RawQuery,
		Body:      body,
		IP:        s.clientIP(r),
		Now:       s.now().UTC(),
		Shape:     program,
		HashKey:   s.cfg.HashKey,
	})
	if err != nil {
		s.reject(w, r, source, body, err)
		return
	}
	s.dropped.Add(int64(built.Dropped))
	intakes, err := s.unsuppressed(ctx, built.Intakes)
	if err != nil {
		Error(w, r, errors.Join(inlet.Errorf(inlet.EUNAVAILABLE, "suppressions cannot be read right now; retry later"), err), s.cfg.Logger)
		return
	}
	built.Dropped += len(built.Intakes) - len(intakes)
	if len(intakes) == 0 {
		writeDropped(w)
		return
	}
	out, err := s.cfg.Appender.Append(ctx, intakes)
	if err != nil {
		if code := inlet.ErrorCode(err); code == inlet.EINVALID || code == inlet.ECONFLICT {
			s.reject(w, r, source, body, err) // the store refused this request's own data
			return
		}
		Error(w, r, err, s.cfg.Logger)
		return
	}
	s.recordCatalog(intakes, out)
	switch {
	case built.Challenge != "":
		writeChallenge(w, built.Challenge, out)
	case built.Reply != nil:
		writeReply(w, built.Reply)
	case len(out) == 1 && len(intakes[0].Event.Warnings) == 0 && built.Dropped == 0:
		writeCollected(w, out[0])
	default:
		writeCollectedMany(w, intakes, out, built.Dropped)
	}
}

// recordCatalog hands the events stored (not the duplicates) to the
// catalog, which learns from them in the background.
func (s *Server) recordCatalog(intakes []inlet.Intake, out []inlet.Appended) {
	if s.cfg.Catalog == nil {
		return
	}
	for i := range intakes {
		if !out[i].Duplicate {
			s.cfg.Catalog.Record(&intakes[i].Event)
		}
	}
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

// writeCollected answers a stored event, or for a duplicate the original
// with "duplicate": true.
func writeCollected(w http.ResponseWriter, a inlet.Appended) {
	b := make([]byte, 0, 192)
	b = append(b, `{"events":[`...)
	b = appendString(b, a.EventID)
	if a.Duplicate {
		b = append(b, `],"duplicate":true,"profile":`...)
	} else {
		b = append(b, `],"profile":`...)
	}
	b = appendRef(b, a.ProfileID)
	b = append(b, `,"session":`...)
	b = appendRef(b, a.SessionID)
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// appendRef appends {"id": id}, or null for "".
func appendRef(b []byte, id string) []byte {
	if id == "" {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	return append(b, '}')
}

// appendString appends s as a JSON string: as it is when it needs no
// escaping (the ids Inlet makes and accepts), else through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// unsuppressed returns the intakes whose identifiers are not suppressed:
// an event of a suppressed person is answered as accepted (so that its
// sender does not retry it), counted, and not stored.
func (s *Server) unsuppressed(ctx context.Context, intakes []inlet.Intake) ([]inlet.Intake, error) {
	if s.cfg.Suppressed == nil {
		return intakes, nil
	}
	var kept []inlet.Intake // nil while every intake is kept
	for i := range intakes {
		sup, err := s.cfg.Suppressed.Suppressed(ctx, intakes[i].Identity)
		if err != nil {
			return nil, err
		}
		if sup {
			s.suppressed.Add(1)
			if kept == nil {
				kept = append(make([]inlet.Intake, 0, len(intakes)), intakes[:i]...)
			}
			continue
		}
		if kept != nil {
			kept = append(kept, intakes[i])
		}
	}
	if kept == nil {
		return intakes, nil
	}
	return kept, nil
}
