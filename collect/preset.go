package collect

// The quirks of inbound presets (inlet.Preset): the JSON inside a form
// field, the event type read by rule from a header or the body, and
// Slack's url_verification challenge.

import (
	"mime"
	"net/url"
	"strings"

	"inlet"
	"inlet/jsonpath"
)

// FormPayload returns the JSON that a form-encoded delivery carries in its
// payload field (GitHub's "application/x-www-form-urlencoded" content
// type), to be parsed in place of the body, with its content type. ok is
// false for any other body, which is then parsed as it is.
func FormPayload(contentType string, body []byte) (payload []byte, payloadType string, ok bool) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		return nil, "", false
	}
	values, err := url.ParseQuery(string(body))
	if err != nil || len(values["payload"]) != 1 {
		return nil, "", false
	}
	return []byte(values.Get("payload")), "application/json", true
}

// EventType reads an event's type by rule from the request's headers (get
// returns a header's value) and its decoded properties (see
// jsonpath.Decode); in a header's value, and in a preset's body path's,
// '/' becomes '.'. found is false when the rule reads nothing, and the
// URL's type stands; a value that is there but not a valid type is
// EINVALID with reason bad_event_type.
func EventType(rule inlet.EventTypeRule, get func(name string) string, props any) (eventType string, found bool, err error) {
	if rule.Header != "" {
		if v := strings.TrimSpace(get(rule.Header)); v != "" {
			t, err := inlet.HeaderEventType(v)
			if err != nil {
				return "", false, inlet.Reasonf(inlet.EINVALID, "bad_event_type", "the event type in the %s header: %s", rule.Header, inlet.ErrorMessage(err))
			}
			eventType, found = t, true
		}
	}
	if !found {
		for _, path := range rule.Paths {
			v, ok := lookupID(props, path)
			if !ok {
				continue
			}
			normalize := inlet.NormalizeEventType
			if rule.FromPreset {
				normalize = inlet.HeaderEventType // a sender's store/order/created is store.order.created
			}
			t, err := normalize(v)
			if err != nil {
				return "", false, inlet.Reasonf(inlet.EINVALID, "bad_event_type", "the event type at %s: %s", path, inlet.ErrorMessage(err))
			}
			eventType, found = t, true
			break
		}
	}
	if found && rule.ActionPath != "" {
		if action, ok := lookupID(props, rule.ActionPath); ok {
			t, err := inlet.NormalizeEventType(eventType + "." + action)
			if err != nil {
				return "", false, inlet.Reasonf(inlet.EINVALID, "bad_event_type", "the event type with the action at %s: %s", rule.ActionPath, inlet.ErrorMessage(err))
			}
			eventType = t
		}
	}
	return eventType, found, nil
}

func lookupID(props any, path string) (string, bool) {
	p, err := jsonpath.Parse(path)
	if err != nil {
		return "", false
	}
	v, ok := p.Lookup(props)
	if !ok {
		return "", false
	}
	return jsonpath.ID(v)
}

// SlackChallenge returns the challenge of a Slack url_verification
// request, which the collector must answer with it.
func SlackChallenge(props any) (string, bool) {
	m, ok := props.(map[string]any)
	if !ok || m["type"] != "url_verification" {
		return "", false
	}
	c, ok := m["challenge"].(string)
	return c, ok && c != ""
}
