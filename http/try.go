package http

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"inlet"
	"inlet/collector"
)

// TryRequest is the body of POST /api/v1/sources/{id}/try: a request as a
// sender would send it to the source's collect URL.
type TryRequest struct {
	// Method is POST (the default) or GET.
	Method string `json:"method,omitempty"`
	// Headers are the request's headers, several values joined with ", ".
	Headers map[string]string `json:"headers,omitempty"`
	// Query is the raw query string, without '?'.
	Query string `json:"query,omitempty"`
	// Body is the body as text; BodyBase64 the body in base64, for bytes
	// that are not UTF-8. At most one of them.
	Body       *string `json:"body,omitempty"`
	BodyBase64 string  `json:"body_base64,omitempty"`
	// EventType is the event type of the URL (/collect/{event_type}/...);
	// "try" when empty.
	EventType string `json:"event_type,omitempty"`
}

// SetBody sets Body, or BodyBase64 for bytes that are not UTF-8.
func (r *TryRequest) SetBody(b []byte) {
	if len(b) == 0 {
		r.Body, r.BodyBase64 = nil, ""
	} else if utf8.Valid(b) {
		s := string(b)
		r.Body, r.BodyBase64 = &s, ""
	} else {
		r.Body, r.BodyBase64 = nil, base64.StdEncoding.EncodeToString(b)
	}
}

// body returns the request's body bytes.
func (r *TryRequest) body() ([]byte, error) {
	if r.Body != nil && r.BodyBase64 != "" {
		return nil, inlet.Reasonf(inlet.EINVALID, "bad_try", "send body or body_base64, not both")
	}
	if r.BodyBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(r.BodyBase64)
		if err != nil {
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_try", "body_base64 is not base64: %s", err)
		}
		return b, nil
	}
	if r.Body != nil {
		return []byte(*r.Body), nil
	}
	return nil, nil
}

// TryVerification is how the tried request fared against the source's
// verify configuration.
type TryVerification struct {
	// Checked is false when the source verifies nothing.
	Checked bool   `json:"checked"`
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Outcomes of a tried request.
const (
	TryStored  = "stored"  // the events would be stored
	TryDropped = "dropped" // the source's transform would drop the event
	TryRefused = "refused" // the request would be refused with Error
)

// TryResult is the answer of a dry run: what collecting the request would
// do. Nothing is stored.
type TryResult struct {
	Verification TryVerification `json:"verification"`
	Outcome      string          `json:"outcome"`
	// Status is the HTTP status the sender would get.
	Status int `json:"status"`
	// Error is the refusal, when Outcome is TryRefused.
	Error *TryError `json:"error,omitempty"`
	// Challenge is what a Slack url_verification request is answered with.
	Challenge string `json:"challenge,omitempty"`
	// Events are the events as they would be stored (before their session
	// and profile are resolved, which storing does).
	Events []*inlet.Event `json:"events"`
}

// TryError is the code and message a refused request would get.
type TryError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TrySource asks what collecting req for the source would do.
func (c *Client) TrySource(ctx context.Context, id string, req TryRequest) (*TryResult, error) {
	var res TryResult
	err := c.do(ctx, http.MethodPost, "/api/v1/sources/"+url.PathEscape(id)+"/try", req, &res)
	return &res, err
}

// handleTrySource serves POST /api/v1/sources/{id}/try: it hands the
// request described in the body to the collector as a dry run, which
// takes it through what collecting it would do (enabled source, body
// limit, verification, preset, transform, validation, mapping), and
// answers the outcome, storing nothing and spending none of the source's
// rate limit.
func (s *Server) handleTrySource(w http.ResponseWriter, r *http.Request) {
	var req TryRequest
	if err := decodeJSON(w, r, &req); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	source, err := s.cfg.Store.FindSource(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	creq, err := s.tryRequest(r, source, req)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	res, err := s.cfg.Collector.Collect(r.Context(), source, creq)
	writeJSON(w, http.StatusOK, tryResult(res, err))
}

// tryRequest is the collector's dry run of the request req describes, as
// its sender would send it to source's collect URL.
func (s *Server) tryRequest(r *http.Request, source *inlet.Source, req TryRequest) (collector.Request, error) {
	body, err := req.body()
	if err != nil {
		return collector.Request{}, err
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodPost
	} else if method != http.MethodPost && method != http.MethodGet {
		return collector.Request{}, inlet.Reasonf(inlet.EINVALID, "bad_try", "method must be POST (the default) or GET, as collect takes")
	}
	eventType := req.EventType
	if eventType == "" {
		eventType = "try"
	}
	header := http.Header{}
	for k, v := range req.Headers {
		header.Set(k, v)
	}
	base := s.cfg.PublicURL
	if base == "" {
		base = "http://" + r.Host
	}
	fullURL := strings.TrimRight(base, "/") + "/collect/" + url.PathEscape(eventType) + "/" + url.PathEscape(source.ID)
	if req.Query != "" {
		fullURL += "?" + req.Query
	}
	return collector.Request{
		Method: method, EventType: eventType, Header: header, RawQuery: req.Query, Body: body,
		URL: fullURL, IP: s.clientIP(r), DryRun: true,
	}, nil
}

// tryResult is the answer of a dry run that ended with res and err.
func tryResult(res collector.Result, err error) *TryResult {
	tr := &TryResult{Events: []*inlet.Event{}}
	if v := res.Verification; v.Checked {
		tr.Verification = TryVerification{Checked: true, OK: v.Err == nil, Reason: inlet.ErrorReason(v.Err), Message: inlet.ErrorMessage(v.Err)}
	}
	if err != nil {
		tr.Outcome, tr.Status = TryRefused, StatusCode(inlet.ErrorCode(err))
		tr.Error = &TryError{Code: inlet.ErrorReason(err), Message: inlet.ErrorMessage(err)}
		return tr
	}
	tr.Status, tr.Challenge = http.StatusOK, res.Challenge
	if len(res.Intakes) == 0 {
		tr.Outcome = TryDropped
		return tr
	}
	tr.Outcome = TryStored
	for i := range res.Intakes {
		tr.Events = append(tr.Events, &res.Intakes[i].Event)
	}
	return tr
}
