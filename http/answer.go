package http

import (
	"net/http"

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
