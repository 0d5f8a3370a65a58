package collect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"inlet"
	"inlet/jsonpath"
)

// Request is what Build takes of one collect request: the transport's
// part, already read, with nothing of HTTP beyond names.
type Request struct {
	Method string
	// EventType and SessionID are the URL's, as sent; SessionID is "" for
	// a request without a session.
	EventType string
	SessionID string
	// Header holds the request headers under canonical names, as
	// net/http's Header does.
	Header   map[string][]string
	RawQuery string
	Body     []byte
	// IP is the client address, as the transport trusts it.
	IP  string
	Now time.Time
}

// Build returns the events of one collect request to source, as intakes
// for EventStore.Append: the event type and session from the URL, the
// properties from the query string and body (see Parse), the request
// context without secrets, the idempotency key, and what the source's
// mapping reads from the payload (several events for a split array).
// The body is decoded once. Every value that reaches a column of its own
// is checked (see inlet.Intake.Check), so that a request the stores cannot
// hold is refused here, with EINVALID, and never reaches a batch.
//
// Errors are EINVALID or ETOOLARGE with a reason that tells the sender
// what to fix.
func Build(source *inlet.Source, r Request) ([]inlet.Intake, error) {
	config := &source.Config
	eventType, err := inlet.NormalizeEventType(r.EventType)
	if err != nil {
		return nil, err
	}
	if r.SessionID != "" {
		if err := inlet.ValidateSessionID(r.SessionID); err != nil {
			return nil, err
		}
	}
	header := textproto.MIMEHeader(r.Header)
	contentType := header.Get("Content-Type")
	query := KeptQuery(r.RawQuery, config)
	props, err := Parse(query, contentType, r.Body)
	if err != nil {
		return nil, err
	}
	in := inlet.Intake{Event: inlet.Event{
		ID:         inlet.NewID(),
		Type:       eventType,
		InsertedAt: r.Now,
		SourceID:   source.ID,
		SessionID:  r.SessionID,
		Properties: props,
		Context: inlet.RequestContext{
			Method:    r.Method,
			Query:     query,
			Headers:   KeptHeaders(r.Header, config),
			IP:        r.IP,
			UserAgent: header.Get("User-Agent"),
		},
	}}
	if d := config.Dedup; d != nil && d.Header != "" {
		key := strings.TrimSpace(header.Get(d.Header))
		if err := inlet.CheckValue("bad_dedup_key", "the idempotency key in header "+d.Header, key, 0); err != nil {
			return nil, err
		}
		in.DedupKey, in.DedupUntil = storedKey(key), r.Now.Add(d.WindowPeriod())
	}

	// Most sources read nothing from the payload: the properties are
	// never decoded.
	if !config.Maps() && (config.Dedup == nil || config.Dedup.Path == "") {
		if err := in.Check(); err != nil {
			return nil, err
		}
		return []inlet.Intake{in}, nil
	}
	elems := []json.RawMessage{props}
	split := config.SplitArray && isJSONArray(contentType, r.Body)
	if split {
		if elems, err = splitItems(props); err != nil {
			return nil, err
		}
	}
	intakes := make([]inlet.Intake, len(elems))
	for i, el := range elems {
		e := in
		if i > 0 {
			e.Event.ID = inlet.NewID()
		}
		e.Event.Properties = el
		if split && e.DedupKey != "" { // one header for the whole array: each element its own key
			e.DedupKey += "#" + strconv.Itoa(i)
		}
		if err := shape(config, &e); err != nil {
			if split {
				return nil, inlet.Reasonf(inlet.ErrorCode(err), inlet.ErrorReason(err), "element %d: %s", i, inlet.ErrorMessage(err))
			}
			return nil, err
		}
		intakes[i] = e
	}
	return intakes, nil
}

// shape reads the idempotency key and the mapping from the properties of
// one event, decoded once, and checks the result.
func shape(config *inlet.SourceConfig, in *inlet.Intake) error {
	doc, err := jsonpath.Decode(in.Event.Properties)
	if err != nil {
		return inlet.Reasonf(inlet.EINVALID, "bad_json", "the properties cannot be read: %s", err)
	}
	if d := config.Dedup; d != nil && d.Path != "" {
		in.DedupKey, in.DedupUntil = "", time.Time{}
		if key := idAt(doc, d.Path); key != "" {
			if err := inlet.CheckValue("bad_dedup_key", "the idempotency key at "+d.Path, key, 0); err != nil {
				return err
			}
			in.DedupKey, in.DedupUntil = storedKey(key), in.Event.InsertedAt.Add(d.WindowPeriod())
		}
	}
	if config.Maps() {
		if err := applyMapping(&config.Mapping, in, doc); err != nil {
			return err
		}
	}
	return in.Check()
}

// maxStoredKey is the longest key stored as it is; longer keys are stored
// as their SHA-256, so a sender cannot make the key table hold large values.
const maxStoredKey = 200

func storedKey(key string) string {
	if len(key) > maxStoredKey {
		sum := sha256.Sum256([]byte(key))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

// idAt returns the id at a property path of a decoded document (see
// jsonpath.ID), or "" when there is none.
func idAt(doc any, path string) string {
	p, err := jsonpath.Parse(path)
	if err != nil { // validated with the source
		return ""
	}
	if v, ok := p.Lookup(doc); ok {
		if id, ok := jsonpath.ID(v); ok {
			return id
		}
	}
	return ""
}

// isJSONArray reports whether a body is a JSON array, as Parse reads it
// (JSON by media type, or by sniffing when there is none).
func isJSONArray(contentType string, body []byte) bool {
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) > 0 && body[0] == '[' && (contentType == "" || bytes.Contains(bytes.ToLower([]byte(contentType)), []byte("json")))
}

// splitItems returns the elements of the properties {"items": [...]} that
// Parse makes of an array body, each as the properties of its own event.
func splitItems(props json.RawMessage) ([]json.RawMessage, error) {
	var wrapper struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(props, &wrapper); err != nil {
		return nil, inlet.Reasonf(inlet.EINVALID, "bad_json", "the array body cannot be split: %s", err)
	}
	if len(wrapper.Items) == 0 {
		return nil, inlet.Reasonf(inlet.EINVALID, "empty_array", "the body is an empty array: this source makes one event per element, and there are none")
	} else if len(wrapper.Items) > inlet.MaxSplitEvents {
		return nil, inlet.Reasonf(inlet.ETOOLARGE, "too_many_events", "the body is an array of %d elements; at most %d are taken in one request", len(wrapper.Items), inlet.MaxSplitEvents)
	}
	elems := wrapper.Items
	for i, el := range elems {
		if el = bytes.TrimSpace(el); len(el) == 0 || el[0] != '{' {
			b, _ := json.Marshal(map[string]json.RawMessage{"value": el})
			elems[i] = b
		}
	}
	return elems, nil
}

// KeptHeaders returns the request headers to store: all but credentials
// and the source's secret headers, several values joined with ", ".
func KeptHeaders(h map[string][]string, config *inlet.SourceConfig) map[string]string {
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

// KeptQuery returns the raw query without the parameter that carries the
// source's API key, so that the key is neither a property nor stored.
func KeptQuery(rawQuery string, config *inlet.SourceConfig) string {
	name := config.SecretQueryParam()
	if name == "" {
		return rawQuery
	}
	return DropQueryParams(rawQuery, func(k string) bool { return k == name })
}

// DropQueryParams returns the raw query without the parameters whose
// (unescaped) names drop reports, keeping the rest byte for byte.
func DropQueryParams(rawQuery string, drop func(name string) bool) string {
	if rawQuery == "" {
		return rawQuery
	}
	var b strings.Builder
	for pair := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil && drop(k) || drop(key) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	return b.String()
}
