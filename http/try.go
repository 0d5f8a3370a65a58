package http

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"inlet"
	"inlet/collect"
	"inlet/verify"
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

// handleTrySource serves POST /api/v1/sources/{id}/try: it takes the
// request described in the body through what collecting it would do
// (enabled source, body limit, verification, preset, transform,
// validation, mapping) and answers the outcome, storing nothing and
// spending none of the source's rate limit.
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
	body, err := req.body()
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodPost
	} else if method != http.MethodPost && method != http.MethodGet {
		Error(w, r, inlet.Reasonf(inlet.EINVALID, "bad_try", "method must be POST (the default) or GET, as collect takes"), nil)
		return
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
	writeJSON(w, http.StatusOK, s.try(source, method, eventType, header, req.Query, body, fullURL, s.clientIP(r)))
}

// try runs a request through the collect path up to the append.
func (s *Server) try(source *inlet.Source, method, eventType string, header http.Header, rawQuery string, body []byte, fullURL, ip string) *TryResult {
	res := &TryResult{Events: []*inlet.Event{}}
	refuse := func(err error) *TryResult {
		res.Outcome, res.Status = TryRefused, StatusCode(inlet.ErrorCode(err))
		res.Error = &TryError{Code: inlet.ErrorReason(err), Message: inlet.ErrorMessage(err)}
		return res
	}
	if !source.Enabled {
		return refuse(errUnknownSource)
	}
	if int64(len(body)) > source.Config.BodyLimit() {
		return refuse(tooLarge(source.Config.BodyLimit()))
	}
	if source.Config.Verify != nil {
		res.Verification.Checked = true
		err := s.verify(source, verify.Request{Header: header, RawQuery: rawQuery, Body: body, URL: fullURL})
		if err != nil {
			res.Verification.Reason, res.Verification.Message = inlet.ErrorReason(err), inlet.ErrorMessage(err)
			return refuse(err)
		}
		res.Verification.OK = true
	}
	program, err := s.shapes.Program(source)
	if err != nil {
		return refuse(err)
	}
	built, err := collect.Build(source, collect.Request{
		Method: method, EventType: eventType, Header: header, RawQuery: rawQuery, Body: body,
		IP: ip, Now: s.now().UTC(), Shape: program, HashKey: s.cfg.HashKey,
	})
	if err != nil {
		return refuse(err)
	}
	res.Status, res.Challenge = http.StatusOK, built.Challenge
	if len(built.Intakes) == 0 {
		res.Outcome = TryDropped
		return res
	}
	res.Outcome = TryStored
	for i := range built.Intakes {
		res.Events = append(res.Events, &built.Intakes[i].Event)
	}
	return res
}
