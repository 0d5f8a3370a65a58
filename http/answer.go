package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"inlet"
	"inlet/collect"
)

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
func writeCollectedMany(w http.ResponseWriter, intakes []inlet.Intake, out []inlet.Appended, dropped int) {
	answer := struct {
		Events   []string         `json:"events"`
		Profile  *idRef           `json:"profile"`
		Session  *idRef           `json:"session"`
		Warnings []string         `json:"warnings,omitempty"`
		Dropped  int              `json:"dropped,omitempty"`
		Items    []collectedEvent `json:"items"`
	}{Profile: ref(out[0].ProfileID), Session: ref(out[0].SessionID), Dropped: dropped}
	for i, a := range out {
		c := collectedEvent{ID: a.EventID, Duplicate: a.Duplicate, Profile: ref(a.ProfileID), Session: ref(a.SessionID), Warnings: intakes[i].Event.Warnings}
		answer.Events = append(answer.Events, c.ID)
		answer.Items = append(answer.Items, c)
		answer.Warnings = append(answer.Warnings, c.Warnings...)
	}
	writeJSON(w, http.StatusOK, answer)
}

// writeDropped answers a request whose events the source's transform all
// dropped: nothing was stored.
func writeDropped(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`{"events":[],"dropped":true}` + "\n"))
}

// writeChallenge answers a Slack url_verification request with its
// challenge, beside the id of the event it was stored as.
func writeChallenge(w http.ResponseWriter, challenge string, out []inlet.Appended) {
	answer := struct {
		Challenge string   `json:"challenge"`
		Events    []string `json:"events"`
	}{Challenge: challenge}
	for _, a := range out {
		answer.Events = append(answer.Events, a.EventID)
	}
	writeJSON(w, http.StatusOK, answer)
}

// writeReply answers a sender's handshake as the sender wants it.
func writeReply(w http.ResponseWriter, reply *collect.Reply) {
	if reply.ContentType != "" {
		w.Header().Set("Content-Type", reply.ContentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
	}
	w.WriteHeader(reply.Status)
	w.Write(reply.Body)
}

// decodeJSON reads a JSON admin body into v, rejecting unknown fields so
// that a typo is a 400 that names the field rather than a silent no-op.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &maxErr):
			return inlet.Reasonf(inlet.ETOOLARGE, "too_large", "the body is larger than %d bytes", maxAdminBody)
		case errors.Is(err, io.EOF):
			return inlet.Reasonf(inlet.EINVALID, "bad_json", "the body is empty; send a JSON object")
		case errors.As(err, &syntaxErr):
			return inlet.Reasonf(inlet.EINVALID, "bad_json", "invalid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr)
		case errors.As(err, &typeErr):
			return inlet.Reasonf(inlet.EINVALID, "bad_json", "field %q must be %s, not JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return inlet.Reasonf(inlet.EINVALID, "unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return inlet.Reasonf(inlet.EINVALID, "bad_json", "the body is not valid JSON: %s", err)
		}
	}
	if dec.More() {
		return inlet.Reasonf(inlet.EINVALID, "bad_json", "the body holds more than one JSON value")
	}
	return nil
}

// maxAdminBody caps admin request bodies.
const maxAdminBody = 1 << 20
