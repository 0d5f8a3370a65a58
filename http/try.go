package http

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"unicode/utf8"

	"inlet"
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
