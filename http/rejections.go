package http

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"inlet"
	"inlet/collect"
)

// Bounds on what a rejection keeps of the request's headers and query.
const (
	maxRejectionHeaders     = 64
	maxRejectionHeaderValue = 1024
	maxRejectionQuery       = 2048
	maxRejectionField       = 256
)

// wellKnownSecretHeaders are never kept for a rejection, whatever the source:
// a request for an unknown source may still carry a signature or key.
var wellKnownSecretHeaders = (&inlet.SourceConfig{SecretHeaders: []string{
	"X-Hub-Signature-256", "X-Hub-Signature", "Stripe-Signature", "X-Shopify-Hmac-Sha256",
	"Webhook-Signature", "Svix-Signature", "X-Api-Key", "Api-Key", "X-Auth-Token",
}})

// isWellKnownSecretParam reports whether a query parameter is named like
// one that carries a key or signature; such parameters are never kept for a
// rejection, whatever the source.
func isWellKnownSecretParam(name string) bool {
	switch strings.ToLower(name) {
	case "api_key", "apikey", "api-key", "key", "token", "access_token", "auth", "secret", "password", "signature", "sig":
		return true
	}
	return false
}

// reject answers err and, when it is a 4xx, counts the request in the
// rejected-request log and, when the log wants a sample of it, records it
// in full. source is nil when the request names no usable source.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, source *inlet.Source, body []byte, err error) {
	Error(w, r, err, s.cfg.Logger)
	status := StatusCode(inlet.ErrorCode(err))
	if s.cfg.Rejections == nil || status < 400 || status >= 500 {
		return
	}
	bucket := inlet.UnknownSourceBucket
	config := &inlet.SourceConfig{}
	if source != nil {
		bucket, config = source.ID, &source.Config
	}
	if !s.cfg.Rejections.Count(bucket, inlet.ErrorReason(err)) {
		return // counted; the log has samples enough of these
	}
	rj := &inlet.Rejection{
		At:         s.now().UTC(),
		SourceID:   truncate(r.PathValue("source_id"), maxRejectionField),
		Reason:     inlet.ErrorReason(err),
		Status:     status,
		Message:    truncate(inlet.ErrorMessage(err), maxRejectionHeaderValue),
		Method:     truncate(r.Method, 16),
		Path:       truncate(r.URL.Path, maxRejectionHeaderValue),
		Query:      truncate(collect.DropQueryParams(collect.KeptQuery(r.URL.RawQuery, config), isWellKnownSecretParam), maxRejectionQuery),
		RemoteAddr: s.clientIP(r),
		Headers:    make(map[string]string, min(len(r.Header), maxRejectionHeaders)),
	}
	for name, values := range r.Header {
		if len(rj.Headers) == maxRejectionHeaders {
			break
		}
		if config.IsSecretHeader(name) || wellKnownSecretHeaders.IsSecretHeader(name) {
			continue
		}
		v := values[0]
		for _, more := range values[1:] {
			v += ", " + more
		}
		rj.Headers[truncate(name, maxRejectionField)] = truncate(v, maxRejectionHeaderValue)
	}
	if body == nil && r.Body != nil && r.ContentLength != 0 {
		// Not read yet (the request was refused before its body): read the
		// start of it, no more, for the log.
		body, _ = io.ReadAll(io.LimitReader(r.Body, inlet.MaxRejectionBody+1))
	}
	if len(body) > inlet.MaxRejectionBody {
		body, rj.BodyTruncated = body[:inlet.MaxRejectionBody], true
	} else if r.ContentLength > int64(len(body)) {
		rj.BodyTruncated = true
	}
	rj.Body = append([]byte(nil), body...)
	s.cfg.Rejections.Record(rj)
}

// truncate cuts s to at most n bytes, not inside a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// ParseRejectionFilter reads the filters of GET /api/v1/rejections.
func ParseRejectionFilter(q map[string][]string) (inlet.RejectionFilter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := inlet.RejectionFilter{SourceID: get("source"), Reason: get("reason")}
	if v := get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, inlet.Reasonf(inlet.EINVALID, "bad_filter", "before must be the id of a rejection, a positive number")
		}
		f.BeforeID = n
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > inlet.MaxRejectionLimit {
			return f, inlet.Reasonf(inlet.EINVALID, "bad_filter", "limit must be a number from 1 to %d", inlet.MaxRejectionLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func (s *Server) handleListRejections(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Rejections == nil {
		Error(w, r, inlet.Reasonf(inlet.ENOTFOUND, "no_rejection_log", "this server keeps no rejected-request log: its store does not support one"), nil)
		return
	}
	f, err := ParseRejectionFilter(r.URL.Query())
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	items, err := s.cfg.Rejections.List(r.Context(), f)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "stats": s.cfg.Rejections.Stats()})
}

func (s *Server) handleCountRejections(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Rejections == nil {
		Error(w, r, inlet.Reasonf(inlet.ENOTFOUND, "no_rejection_log", "this server keeps no rejected-request log: its store does not support one"), nil)
		return
	}
	q := r.URL.Query()
	f := inlet.RejectionFilter{SourceID: q.Get("source"), Reason: q.Get("reason")}
	items, err := s.cfg.Rejections.Counts(r.Context(), f)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// ListRejections returns rejected collect requests, newest first.
func (c *Client) ListRejections(ctx context.Context, f inlet.RejectionFilter) ([]*inlet.Rejection, error) {
	q := url.Values{}
	if f.SourceID != "" {
		q.Set("source", f.SourceID)
	}
	if f.Reason != "" {
		q.Set("reason", f.Reason)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.BeforeID != 0 {
		q.Set("before", strconv.FormatInt(f.BeforeID, 10))
	}
	var out struct {
		Items []*inlet.Rejection `json:"items"`
	}
	return out.Items, c.do(ctx, http.MethodGet, "/api/v1/rejections?"+q.Encode(), nil, &out)
}

// CountRejections returns the counts of refused collect requests by source
// and reason, filtered by f's SourceID and Reason.
func (c *Client) CountRejections(ctx context.Context, f inlet.RejectionFilter) ([]inlet.RejectionCount, error) {
	q := url.Values{}
	if f.SourceID != "" {
		q.Set("source", f.SourceID)
	}
	if f.Reason != "" {
		q.Set("reason", f.Reason)
	}
	var out struct {
		Items []inlet.RejectionCount `json:"items"`
	}
	return out.Items, c.do(ctx, http.MethodGet, "/api/v1/rejections/counts?"+q.Encode(), nil, &out)
}
