package collect

import (
	"bytes"
	"context"
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
	"inlet/shape"
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
	// Shape is the source's compiled transform and schemas (see
	// shape.Cache), nil when it has none.
	Shape *shape.Program
	// HashKey is the installation's key of the hash policies
	// (inlet.SuppressionStore.HashKey).
	HashKey []byte
}

// Built is what Build made of one request.
type Built struct {
	// Intakes are the events to append, in order; none when the source's
	// transform dropped every one.
	Intakes []inlet.Intake
	// Dropped counts the events the transform dropped.
	Dropped int
	// Challenge, when set, is what the request must be answered with: the
	// challenge of a Slack url_verification request (which is also stored).
	Challenge string
	// Reply, when set, is the answer another sender's handshake wants
	// (see inlet.Preset.Handshake); the request is stored as well.
	Reply *Reply
}

// Build returns the events of one collect request to source, as intakes
// for EventStore.Append, in this order once the transport has verified the
// request: the preset (the body's quirks, the event type from a header or
// body path, the idempotency key), the source's transform, validation
// against its schemas, and the mapping (session, profile, identifiers,
// traits; several events for a split array). The properties come from the
// query string and body (see Parse); the request context is kept without
// secrets. The properties are decoded only when a step reads them, once
// (and once more when the transform replaced them).
// Every value that reaches a column of its own is checked (see
// inlet.Intake.Check), so that a request the stores cannot hold is refused
// here, with EINVALID, and never reaches a batch.
//
// Errors are EINVALID or ETOOLARGE with a reason that tells the sender
// what to fix.
func Build(source *inlet.Source, r Request) (Built, error) {
	built, err := build(source, r)
	if err != nil {
		return Built{}, err
	}
	// The request context, encoded here in the handler rather than in the
	// store's one writer.
	for i := range built.Intakes {
		in := &built.Intakes[i]
		if in.ContextJSON, err = json.Marshal(&in.Event.Context); err != nil {
			return Built{}, err
		}
	}
	return built, nil
}

func build(source *inlet.Source, r Request) (Built, error) {
	config := source.Config.Effective()
	preset, _ := inlet.LookupPreset(config.Preset)
	eventType, err := inlet.NormalizeEventType(r.EventType)
	if err != nil {
		return Built{}, err
	}
	if r.SessionID != "" {
		if err := inlet.ValidateSessionID(r.SessionID); err != nil {
			return Built{}, err
		}
	}
	header := textproto.MIMEHeader(r.Header)
	contentType := header.Get("Content-Type")
	body := r.Body
	if preset.FormPayload {
		if payload, payloadType, ok := FormPayload(contentType, body); ok {
			body, contentType = payload, payloadType
		}
	}
	privacy := config.Privacy
	query := privateQuery(privacy, r.HashKey, KeptQuery(r.RawQuery, &config))
	props, err := Parse(query, contentType, body)
	if err != nil {
		return Built{}, err
	}
	headers := KeptHeaders(r.Header, &config)
	privateHeaders(privacy, r.HashKey, headers)
	ip, userAgent := r.IP, header.Get("User-Agent")
	if !privacy.KeepsIP() {
		ip = ""
	}
	if !privacy.KeepsUserAgent() {
		userAgent = ""
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
			Headers:   headers,
			IP:        ip,
			UserAgent: userAgent,
		},
	}}
	if d := config.Dedup; d != nil && d.Header != "" {
		key := d.HeaderKey(header.Get)
		if err := inlet.CheckValue("bad_dedup_key", "the idempotency key in header "+d.Header, key, 0); err != nil {
			return Built{}, err
		}
		if key != "" {
			in.DedupKey, in.DedupUntil = storedKey(key), r.Now.Add(d.WindowPeriod())
		}
	}

	// Most sources read nothing from the payload: the properties are
	// never decoded.
	rule := config.EventTypeRule()
	if !config.Maps() && (config.Dedup == nil || config.Dedup.Path == "") && rule.IsZero() && r.Shape == nil && preset.Handshake == "" && !hasPathPolicies(privacy) {
		if err := in.Check(); err != nil {
			return Built{}, err
		}
		return Built{Intakes: []inlet.Intake{in}}, nil
	}
	elems := []json.RawMessage{props}
	split := config.SplitArray && isJSONArray(contentType, body)
	if split {
		if elems, err = splitItems(props); err != nil {
			return Built{}, err
		}
	}
	b := &builder{config: &config, preset: preset, rule: rule, header: header, req: &r, query: query}
	var built Built
	for i, el := range elems {
		e := in
		if i > 0 {
			e.Event.ID = inlet.NewID()
		}
		e.Event.Properties = el
		if split && e.DedupKey != "" { // one header for the whole array: each element its own key
			e.DedupKey += "#" + strconv.Itoa(i)
		}
		keep, err := b.shape(source, &e, &built)
		if err != nil {
			if split {
				return Built{}, inlet.Reasonf(inlet.ErrorCode(err), inlet.ErrorReason(err), "element %d: %s", i, inlet.ErrorMessage(err))
			}
			return Built{}, err
		}
		if !keep {
			built.Dropped++
			continue
		}
		built.Intakes = append(built.Intakes, e)
	}
	return built, nil
}

// builder holds what shaping each event of one request shares.
type builder struct {
	config *inlet.SourceConfig // with the preset's fields filled in
	preset inlet.Preset
	rule   inlet.EventTypeRule
	header textproto.MIMEHeader
	req    *Request
	query  string
	vars   *shape.Input // the transform's variables beside properties, made once
}

// shape takes one event through the preset's reading of the payload, the
// transform, validation and the mapping, decoding its properties once (and
// once more when the transform replaced them). It reports false for an
// event the transform dropped.
func (b *builder) shape(source *inlet.Source, in *inlet.Intake, built *Built) (bool, error) {
	props := &properties{in: in}
	if err := b.dedupKey(in, props); err != nil {
		return false, err
	}
	if err := b.eventType(in, props); err != nil {
		return false, err
	}
	if err := b.handshake(props, built); err != nil {
		return false, err
	}
	if err := b.private(in, props); err != nil {
		return false, err
	}
	keep, err := b.transform(source, in, props)
	if err != nil || !keep {
		return false, err
	}
	if err := b.mapping(in, props); err != nil {
		return false, err
	}
	return true, in.Check()
}

// properties decodes an event's properties when a step first reads them,
// once for each version of them.
type properties struct {
	in      *inlet.Intake
	doc     any
	decoded bool
}

func (p *properties) decode() (any, error) {
	if !p.decoded {
		d, err := jsonpath.Decode(p.in.Event.Properties)
		if err != nil {
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_json", "the properties cannot be read: %s", err)
		}
		p.doc, p.decoded = d, true
	}
	return p.doc, nil
}

// replace makes raw the event's properties, to be decoded again when read.
func (p *properties) replace(raw json.RawMessage) {
	p.in.Event.Properties, p.doc, p.decoded = raw, nil, false
}

// dedupKey takes the preset's idempotency key from the payload as sent.
func (b *builder) dedupKey(in *inlet.Intake, props *properties) error {
	d := b.config.Dedup
	if d == nil || d.Path == "" {
		return nil
	}
	doc, err := props.decode()
	if err != nil {
		return err
	}
	in.DedupKey, in.DedupUntil = "", time.Time{}
	if key := idAt(doc, d.Path); key != "" {
		if err := inlet.CheckValue("bad_dedup_key", "the idempotency key at "+d.Path, key, 0); err != nil {
			return err
		}
		in.DedupKey, in.DedupUntil = storedKey(key), in.Event.InsertedAt.Add(d.WindowPeriod())
	}
	return nil
}

// eventType takes the event's type from the payload or a header, as the
// source's rule says, or warns that it was missing.
func (b *builder) eventType(in *inlet.Intake, props *properties) error {
	if b.rule.IsZero() {
		return nil
	}
	var doc any
	if len(b.rule.Paths) > 0 || b.rule.ActionPath != "" {
		var err error
		if doc, err = props.decode(); err != nil {
			return err
		}
	}
	t, found, err := EventType(b.rule, b.header.Get, doc)
	if err != nil {
		return err
	}
	if found {
		in.Event.Type = t
	} else if !b.rule.FromPreset {
		in.Event.Warnings = append(in.Event.Warnings, missingTypeWarning(b.rule))
	}
	return nil
}

// handshake finds the answer a sender's verification handshake expects,
// once a request.
func (b *builder) handshake(props *properties, built *Built) error {
	if b.preset.Handshake == "" || built.Challenge != "" || built.Reply != nil {
		return nil
	}
	doc, err := props.decode()
	if err != nil {
		return err
	}
	if c, ok := SlackChallenge(doc); ok && b.preset.Handshake == inlet.HandshakeSlack {
		built.Challenge = c
	} else {
		built.Reply = signedHandshake(b.preset, b.config, b.header, doc)
	}
	return nil
}

// private applies the source's privacy policy to the properties: what
// follows sees only what is kept.
func (b *builder) private(in *inlet.Intake, props *properties) error {
	p := b.config.Privacy
	if !hasPathPolicies(p) {
		return nil
	}
	doc, err := props.decode()
	if err != nil {
		return err
	}
	if privateProperties(p, b.req.HashKey, doc) {
		if in.Event.Properties, err = json.Marshal(doc); err != nil {
			return err
		}
	}
	return nil
}

// transform runs the source's transform, then validation; it reports false
// for an event the transform dropped.
func (b *builder) transform(source *inlet.Source, in *inlet.Intake, props *properties) (bool, error) {
	if b.req.Shape == nil {
		return true, nil
	}
	if b.vars == nil {
		b.vars = &shape.Input{Headers: in.Event.Context.Headers, Query: queryVariables(b.query), SourceID: source.ID, SourceName: source.Name}
	}
	input := *b.vars
	input.Properties, input.Type = in.Event.Properties, in.Event.Type
	res, err := b.req.Shape.Transform(context.Background(), input)
	if err != nil || res.Drop {
		return false, err
	}
	in.Event.Type = res.Type
	in.Event.Warnings = append(in.Event.Warnings, res.Warnings...)
	if !bytes.Equal(res.Properties, in.Event.Properties) {
		props.replace(res.Properties)
	}
	// Validation decodes the properties itself unless a step has.
	warnings, err := b.req.Shape.Validate(in.Event.Type, in.Event.Properties, props.doc)
	if err != nil {
		return false, err
	}
	in.Event.Warnings = append(in.Event.Warnings, warnings...)
	return true, nil
}

// mapping takes the profile's identifiers and traits from the properties.
func (b *builder) mapping(in *inlet.Intake, props *properties) error {
	if !b.config.Maps() {
		return nil
	}
	doc, err := props.decode()
	if err != nil {
		return err
	}
	if err := applyMapping(&b.config.Mapping, in, doc); err != nil {
		return err
	}
	privateIdentifiers(b.config.Privacy, b.req.HashKey, in.Identity)
	return nil
}

func missingTypeWarning(rule inlet.EventTypeRule) string {
	if len(rule.Paths) > 0 {
		if rule.Header != "" {
			return "event_type_header: no " + rule.Header + " header, and event_type_path: no id at " + rule.Paths[0] + "; the URL's event type was used"
		}
		return "event_type_path: no id at " + rule.Paths[0] + "; the URL's event type was used"
	}
	return "event_type_header: no " + rule.Header + " header; the URL's event type was used"
}

// queryVariables returns the query parameters as a transform sees them: a
// string each, a list of strings for a repeated one.
func queryVariables(rawQuery string) map[string]any {
	values, _ := url.ParseQuery(rawQuery) // checked by Parse
	q := make(map[string]any, len(values))
	for k, v := range values {
		if len(v) == 1 {
			q[k] = v[0]
		} else {
			q[k] = v
		}
	}
	return q
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
