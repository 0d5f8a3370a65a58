// Package listen forwards the events of a collector's log to an
// application on a developer's machine, as their senders sent them and
// signed again in each source's scheme, so that the application's own
// verification runs unchanged. A listener keeps its place in the log in a
// local state file written only after the application accepted an event:
// stopped and started again, it forwards every event it missed, in order.
package listen

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"inlet"
	"inlet/verify"
)

// Rule sends the events whose type matches Types (all when empty; a type
// ending in "*" matches every type with its prefix) to URL.
type Rule struct {
	Types []string
	URL   string
}

// ParseRule reads a --forward-to value: a URL, or TYPES=URL with TYPES a
// comma-separated list of types and prefixes (invoice.*,charge.*).
func ParseRule(s string) (Rule, error) {
	var r Rule
	types, target, ok := strings.Cut(s, "=")
	if !ok || strings.Contains(types, "://") {
		target, types = s, ""
	}
	if types != "" {
		for t := range strings.SplitSeq(types, ",") {
			if t = strings.TrimSpace(t); t != "" {
				r.Types = append(r.Types, t)
			}
		}
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return r, inlet.Errorf(inlet.EINVALID, "%q is not an http:// or https:// URL, or TYPES=URL such as 'invoice.*=http://localhost:3000/billing'", s)
	}
	r.URL = target
	return r, nil
}

// Target returns the URL of the first rule whose types match typ, or "".
func Target(rules []Rule, typ string) string {
	for _, r := range rules {
		f := inlet.DestinationFilter{Types: r.Types}
		if f.Match("", typ) {
			return r.URL
		}
	}
	return ""
}

// droppedHeaders are request headers that belong to the hop from the
// sender to the collector, not to the event: the forwarded request has its
// own.
var droppedHeaders = []string{
	"Host", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Te", "Trailer", "Upgrade",
	"Accept-Encoding", "Content-Encoding", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Forwarded-Port", "X-Real-Ip", "Proxy-Connection",
}

// EventIDHeader names the event a forwarded request carries.
const EventIDHeader = "Inlet-Event-Id"

// Body returns the body to forward for an event and its content type: the
// sender's own bytes where the event keeps them (a JSON object), else the
// properties serialized again in the sender's format (a form, raw text or
// bytes), else the properties as JSON. formPayload says that a form's
// payload field held the JSON (GitHub), which is then sent as JSON.
func Body(e *inlet.Event, formPayload bool) ([]byte, string) {
	contentType := header(e.Context.Headers, "Content-Type")
	mediaType, _, _ := mime.ParseMediaType(contentType)
	props := []byte(e.Properties)
	switch {
	case mediaType == "application/x-www-form-urlencoded" && !formPayload:
		if form, ok := propertiesForm(props); ok {
			return []byte(form.Encode()), contentType
		}
	case mediaType == "" || mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		if contentType == "" {
			contentType = "application/json"
		}
		return props, contentType
	}
	var raw struct {
		Raw       *string `json:"raw"`
		RawBase64 *string `json:"raw_base64"`
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(props, &members) == nil && len(members) == 1 && json.Unmarshal(props, &raw) == nil {
		if raw.Raw != nil {
			return []byte(*raw.Raw), contentType
		}
		if raw.RawBase64 != nil {
			if b, err := base64.StdEncoding.DecodeString(*raw.RawBase64); err == nil {
				return b, contentType
			}
		}
	}
	return props, "application/json"
}

// propertiesForm turns properties of strings and lists of strings back
// into a form.
func propertiesForm(props []byte) (url.Values, bool) {
	var members map[string]json.RawMessage
	if json.Unmarshal(props, &members) != nil {
		return nil, false
	}
	form := url.Values{}
	for k, v := range members {
		var s string
		var list []string
		switch {
		case json.Unmarshal(v, &s) == nil:
			form.Add(k, s)
		case json.Unmarshal(v, &list) == nil:
			form[k] = append(form[k], list...)
		default:
			return nil, false
		}
	}
	return form, true
}

func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// NewRequest builds the request that forwards e to target: the sender's
// method, query, headers and body (see Body), signed again with v (nil:
// not signed) at now.
func NewRequest(e *inlet.Event, v *inlet.VerifyConfig, formPayload bool, target string, now time.Time) (*http.Request, error) {
	body, contentType := Body(e, formPayload)
	method := e.Context.Method
	if method == "" {
		method = http.MethodPost
	}
	if method == http.MethodGet || method == http.MethodHead {
		body = nil // a GET's properties came from the query, which is forwarded
	}
	full := target
	if q := e.Context.Query; q != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		full += sep + q
	}
	h := http.Header{}
	for k, val := range e.Context.Headers {
		if ck := http.CanonicalHeaderKey(k); !slices.Contains(droppedHeaders, ck) && !strings.HasPrefix(ck, "Proxy-") {
			h.Set(ck, val)
		}
	}
	h.Set("Content-Type", contentType)
	h.Set(EventIDHeader, e.ID)
	if v != nil {
		var err error
		if body, err = verify.SignBody(v, body, now); err != nil {
			return nil, fmt.Errorf("event %s of source %s: %w", e.ID, e.SourceID, err)
		}
		sig, err := verify.Sign(v, verify.Request{Header: h, Body: body, URL: full, Now: now})
		if err != nil {
			return nil, fmt.Errorf("event %s of source %s: %w", e.ID, e.SourceID, err)
		}
		for k, vals := range sig.Header {
			h[k] = vals
		}
		if sig.QueryName != "" {
			sep := "?"
			if strings.Contains(full, "?") {
				sep = "&"
			}
			full += sep + url.Values{sig.QueryName: {sig.QueryValue}}.Encode()
		}
	}
	req, err := http.NewRequest(method, full, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = h
	return req, nil
}
