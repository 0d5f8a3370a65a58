package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"inlet"
	"inlet/collector"
)

// serveCollect serves GET and POST /collect/{event_type}/{source_id}[/{session_id}]:
// it bounds the requests and bodies in flight, finds the source, reads the
// body and hands the request to the collector, then answers what became
// of it. A request refused for what it is or says (4xx) is answered and
// recorded in the rejected-request log; one refused because the collector
// cannot take it now (503) is only answered.
func (s *Server) serveCollect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		s.refuseUnproven(w, r, nil, nil, inlet.Reasonf(inlet.EUNSUPPORTED, "method_not_allowed", "collect takes GET or POST, not %s", r.Method))
		return
	}
	if !s.enterCollect(w, r) {
		return
	}
	defer s.inFlight.Add(-1)
	source, err := s.cfg.Collector.Source(r.Context(), r.PathValue("source_id"))
	if err != nil {
		s.refuse(w, r, nil, nil, err)
		return
	}
	noteSource(w, source)
	reserved, ok := s.reserveBody(w, r, source)
	if !ok {
		return
	}
	defer s.bodyBytes.Add(-reserved)
	body, err := readBody(serverWriter(w), r, source.Config.BodyLimit())
	if err != nil {
		s.reject(w, r, source, body, err)
		return
	}
	res, err := s.cfg.Collector.Collect(r.Context(), source, s.collectRequest(r, body))
	if err != nil {
		if res.Verification.Err != nil && source.Config.Verify.Type == inlet.VerifyBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="inlet", charset="UTF-8"`)
		}
		s.refuse(w, r, source, body, err)
		return
	}
	s.answerCollected(w, r, res)
}

// enterCollect counts the request among those in flight, or answers 503
// when there are too many.
func (s *Server) enterCollect(w http.ResponseWriter, r *http.Request) bool {
	if n := s.inFlight.Add(1); n > s.cfg.MaxInFlight {
		s.inFlight.Add(-1)
		Error(w, r, errOverCapacity, nil)
		return false
	}
	return true
}

var errOverCapacity = inlet.Errorf(inlet.EUNAVAILABLE, "the collector is over capacity; retry later")

// reserveBody reserves the memory of the request's body, at most the
// source's limit. Bodies waiting in handlers share one memory budget, so
// that many slow or large requests cannot exhaust memory: over it, 503.
func (s *Server) reserveBody(w http.ResponseWriter, r *http.Request, source *inlet.Source) (int64, bool) {
	reserve := source.Config.BodyLimit()
	if r.ContentLength >= 0 && r.ContentLength < reserve {
		reserve = r.ContentLength
	}
	if s.bodyBytes.Add(reserve) > s.cfg.MaxBodyMemory {
		s.bodyBytes.Add(-reserve)
		Error(w, r, errOverCapacity, nil)
		return 0, false
	}
	return reserve, true
}

// collectRequest is the collector's request of r, with its body.
func (s *Server) collectRequest(r *http.Request, body []byte) collector.Request {
	return collector.Request{
		Method:    r.Method,
		EventType: r.PathValue("event_type"),
		SessionID: r.PathValue("session_id"),
		Header:    r.Header,
		RawQuery:  r.URL.RawQuery,
		URL:       senderURL(s.cfg.PublicURL, r),
		Body:      body,
		IP:        s.clientIP(r),
	}
}

// refuse answers an error of the collector: a refusal that proves no
// source spends the refusal budget, another refusal is answered and
// recorded in the rejected-request log, and anything else is only
// answered.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, source *inlet.Source, body []byte, err error) {
	var refusal *collector.Refusal
	switch {
	case !errors.As(err, &refusal):
		Error(w, r, err, s.cfg.Logger)
	case refusal.Unproven:
		s.refuseUnproven(w, r, source, body, refusal.Err)
	default:
		s.reject(w, r, source, body, refusal.Err)
	}
}

// answerCollected answers what the collector made of a request.
func (s *Server) answerCollected(w http.ResponseWriter, r *http.Request, res collector.Result) {
	switch {
	case res.Handshake != nil:
		// Unsigned, so it spends the budget of requests that prove no
		// source, as a refusal does.
		if ok, wait := s.refusals.allow(s.clientIP(r)); !ok {
			Error(w, r, &collector.RetryError{Err: inlet.Reasonf(inlet.ERATELIMITED, "too_many_refusals", "too many unsigned requests from this address"), Seconds: wait}, nil)
			return
		}
		writeReply(w, res.Handshake)
	case len(res.Intakes) == 0:
		writeDropped(w)
	case res.Challenge != "":
		writeChallenge(w, res.Challenge, res.Appended)
	case res.Reply != nil:
		writeReply(w, res.Reply)
	case len(res.Appended) == 1 && len(res.Intakes[0].Event.Warnings) == 0 && res.Dropped == 0:
		writeCollected(w, res.Appended[0])
	default:
		writeCollectedMany(w, res.Intakes, res.Appended, res.Dropped)
	}
}

// readBody reads the whole body, up to limit bytes; over it, ETOOLARGE. On
// an error it also returns what it read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, collector.TooLarge(limit)
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
		return buf, collector.TooLarge(limit) // what was read, for the rejected-request log
	} else if err != nil {
		return buf, inlet.Reasonf(inlet.EINVALID, "bad_body", "the request body could not be read: %s", err)
	}
	return buf, nil
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
