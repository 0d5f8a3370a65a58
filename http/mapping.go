package http

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"inlet"
	"inlet/jsonpath"
)

// collectMapped finishes a collect request of a source with a mapping (see
// inlet.Mapping): e is the event as the URL alone shapes it. The events it
// makes (several for a split array) are appended in one call, so that they
// are committed together or not at all.
func (s *Server) collectMapped(w http.ResponseWriter, r *http.Request, source *inlet.Source, e *inlet.Event, body []byte) {
	events, err := mapEvents(r, &source.Config, e, body)
	if err != nil {
		s.reject(w, r, source, body, err)
		return
	}
	if err := s.cfg.Appender.Append(r.Context(), events); err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	if len(events) == 1 && len(events[0].Warnings) == 0 {
		writeCollected(w, events[0])
		return
	}
	writeCollectedMany(w, events)
}

// mapEvents applies a source's mapping to the event that the URL shapes,
// first splitting an array body into one event per element when the source
// asks for it.
func mapEvents(r *http.Request, config *inlet.SourceConfig, tmpl *inlet.Event, body []byte) ([]*inlet.Event, error) {
	m := &config.Mapping
	elems := []json.RawMessage{tmpl.Properties}
	split := m.SplitArray && isJSONArray(r.Header.Get("Content-Type"), body)
	if split {
		var wrapper struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(tmpl.Properties, &wrapper); err != nil {
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_json", "the array body cannot be split: %s", err)
		}
		if len(wrapper.Items) == 0 {
			return nil, inlet.Reasonf(inlet.EINVALID, "empty_array", "the body is an empty array: this source makes one event per element, and there are none")
		} else if len(wrapper.Items) > inlet.MaxSplitEvents {
			return nil, inlet.Reasonf(inlet.ETOOLARGE, "too_many_events", "the body is an array of %d elements; at most %d are taken in one request", len(wrapper.Items), inlet.MaxSplitEvents)
		}
		elems = wrapper.Items
		for i, el := range elems {
			if el = bytes.TrimSpace(el); len(el) == 0 || el[0] != '{' {
				elems[i] = wrapValue(el)
			}
		}
	}
	events := make([]*inlet.Event, len(elems))
	for i, props := range elems {
		e := *tmpl
		if i > 0 {
			e.ID = inlet.NewID()
		}
		e.Properties = props
		if split && config.Dedup != nil {
			if config.Dedup.Path != "" {
				e.DedupKey, e.DedupUntil = dedupKey(r, config, props, e.InsertedAt)
			} else if e.DedupKey != "" { // one header for the whole array: each element its own key
				e.DedupKey += "#" + strconv.Itoa(i)
			}
		}
		if err := applyMapping(m, &e); err != nil {
			if split {
				return nil, inlet.Reasonf(inlet.ErrorCode(err), inlet.ErrorReason(err), "element %d: %s", i, inlet.ErrorMessage(err))
			}
			return nil, err
		}
		events[i] = &e
	}
	return events, nil
}

// isJSONArray reports whether a body is a JSON array, as collect.Parse
// reads it (JSON by media type, or by sniffing when there is none).
func isJSONArray(contentType string, body []byte) bool {
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) > 0 && body[0] == '[' && (contentType == "" || bytes.Contains(bytes.ToLower([]byte(contentType)), []byte("json")))
}

func wrapValue(v json.RawMessage) json.RawMessage {
	b, _ := json.Marshal(map[string]json.RawMessage{"value": v})
	return b
}

// applyMapping reads the event's type, session, profile, identifiers and
// traits from its properties. A value that is there but unusable is
// EINVALID; one that is missing leaves the URL's rules and a warning.
func applyMapping(m *inlet.Mapping, e *inlet.Event) error {
	doc, err := jsonpath.Decode(e.Properties)
	if err != nil {
		return inlet.Reasonf(inlet.EINVALID, "bad_json", "the properties cannot be read: %s", err)
	}
	lookup := func(path string) (any, bool) {
		p, err := jsonpath.Parse(path)
		if err != nil { // validated with the source
			return nil, false
		}
		return p.Lookup(doc)
	}
	lookupID := func(path string) (string, bool) {
		v, ok := lookup(path)
		if !ok {
			return "", false
		}
		return jsonpath.ID(v)
	}
	missing := func(field, path, fallback string) {
		e.Warnings = append(e.Warnings, field+": no id at "+path+"; "+fallback)
	}

	if m.EventTypePath != "" {
		if v, ok := lookupID(m.EventTypePath); ok {
			t, err := inlet.NormalizeEventType(v)
			if err != nil {
				return inlet.Reasonf(inlet.EINVALID, "bad_event_type", "the event type at %s: %s", m.EventTypePath, inlet.ErrorMessage(err))
			}
			e.Type = t
		} else {
			missing("event_type_path", m.EventTypePath, "the URL's event type was used")
		}
	}
	if m.SessionIDPath != "" {
		if v, ok := lookupID(m.SessionIDPath); ok {
			if err := inlet.ValidateSessionID(v); err != nil {
				return inlet.Reasonf(inlet.EINVALID, "bad_session_id", "the session id at %s: %s", m.SessionIDPath, inlet.ErrorMessage(err))
			}
			e.SessionID = v
		} else {
			missing("session_id_path", m.SessionIDPath, "the URL's session was used")
		}
	}
	var id inlet.Identity
	if m.ProfileIDPath != "" {
		if v, ok := lookupID(m.ProfileIDPath); ok {
			if !inlet.ValidID(v) {
				return inlet.Reasonf(inlet.EINVALID, "bad_profile_id", "the profile id at %s must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", m.ProfileIDPath, inlet.MaxIDLength)
			}
			id.Profile = v
		} else {
			missing("profile_id_path", m.ProfileIDPath, "the URL's rules applied")
		}
	}
	for _, kind := range sortedKeys(m.IdentifyBy) {
		v, ok := lookupID(m.IdentifyBy[kind])
		if !ok {
			continue
		}
		v = jsonpath.Normalize(kind, v)
		if len(v) > inlet.MaxIdentifierLength {
			e.Warnings = append(e.Warnings, "identify_by."+kind+": the value is longer than "+strconv.Itoa(inlet.MaxIdentifierLength)+" bytes and was not used")
			continue
		}
		id.Identifiers = append(id.Identifiers, inlet.Identifier{Kind: kind, Value: v})
	}
	for _, name := range sortedKeys(m.Traits) {
		v, ok := lookup(m.Traits[name])
		if !ok || v == nil {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		id.Traits = append(id.Traits, inlet.Trait{Name: name, Value: b})
	}
	id.NewProfile = m.GenerateProfile && e.SessionID == "" && id.Profile == ""
	if len(id.Traits) > 0 && e.SessionID == "" && id.Profile == "" && len(id.Identifiers) == 0 && !id.NewProfile {
		e.Warnings = append(e.Warnings, "traits: the event has no profile, so its traits were not written")
	}
	if id.Profile != "" || id.NewProfile || len(id.Identifiers) > 0 || len(id.Traits) > 0 {
		e.Identity = &id
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// collectedEvent is one event of an answer to a collect request.
type collectedEvent struct {
	ID        string   `json:"id"`
	Duplicate bool     `json:"duplicate,omitempty"`
	Profile   *idRef   `json:"profile"`
	Session   *idRef   `json:"session"`
	Warnings  []string `json:"warnings,omitempty"`
}

type idRef struct {
	ID string `json:"id"`
}

func ref(id string) *idRef {
	if id == "" {
		return nil
	}
	return &idRef{id}
}

// writeCollectedMany answers the events of one request: every id, the
// first event's profile and session as for a single event, and each
// event's own under items. Duplicates are answered by their original's id.
func writeCollectedMany(w http.ResponseWriter, events []*inlet.Event) {
	answer := struct {
		Events   []string         `json:"events"`
		Profile  *idRef           `json:"profile"`
		Session  *idRef           `json:"session"`
		Warnings []string         `json:"warnings,omitempty"`
		Items    []collectedEvent `json:"items"`
	}{Profile: ref(events[0].ProfileID), Session: ref(events[0].SessionID)}
	for _, e := range events {
		c := collectedEvent{ID: e.ID, Profile: ref(e.ProfileID), Session: ref(e.SessionID), Warnings: e.Warnings}
		if e.DuplicateOf != "" {
			c.ID, c.Duplicate = e.DuplicateOf, true
		}
		answer.Events = append(answer.Events, c.ID)
		answer.Items = append(answer.Items, c)
		answer.Warnings = append(answer.Warnings, e.Warnings...)
	}
	writeJSON(w, http.StatusOK, answer)
}
