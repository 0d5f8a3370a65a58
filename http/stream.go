package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"inlet"
	"inlet/stream"
)

// DefaultHeartbeat is how often an idle event stream sends a comment, so
// that proxies and load balancers keep the connection open.
const DefaultHeartbeat = 15 * time.Second

// streamWriteTimeout bounds one write to a stream's client: a client that
// reads nothing for this long is cut off, beside being dropped by the
// broker once its buffer fills.
const streamWriteTimeout = 30 * time.Second

// streamRetry is the reconnection delay (milliseconds) sent to clients.
const streamRetry = 2000

// streamAuth lets in the admin token, or, when the server has one, a
// console session (an EventSource cannot send an Authorization header).
func (s *Server) streamAuth(h http.HandlerFunc) http.Handler {
	admin := s.admin(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.SessionAuth != nil && r.Header.Get("Authorization") == "" && s.cfg.SessionAuth(r) {
			h(w, r)
			return
		}
		admin.ServeHTTP(w, r)
	})
}

// handleStream serves GET /api/v1/events/stream as Server-Sent Events:
// each committed event that matches the filters is one message whose id
// is the event id and whose data is the event as GET /api/v1/events/{id}
// answers it. A client that reconnects with Last-Event-ID gets the events
// it missed while the broker still holds them (its last History events),
// else an "gap" event first. The stream ends with an "end" event that says
// why (slow_subscriber, shutdown); clients reconnect.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Broker == nil {
		Error(w, r, inlet.Reasonf(inlet.ENOTFOUND, "no_stream", "this server has no live stream"), nil)
		return
	}
	q := r.URL.Query()
	f := stream.Filter{SourceID: q.Get("source"), SessionID: q.Get("session")}
	if t := q.Get("type"); t != "" {
		var err error
		if f.Type, err = inlet.NormalizeEventType(t); err != nil {
			Error(w, r, err, nil)
			return
		}
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("last_event_id") // for clients that cannot set headers
	}
	sub, err := s.cfg.Broker.Subscribe(f, last)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	// write sends one chunk with a fresh deadline, since the server's
	// WriteTimeout would otherwise end every stream after a minute.
	write := func(format string, args ...any) bool {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	send := func(m *stream.Message) bool {
		return write("id: %s\ndata: %s\n\n", m.Event.ID, m.JSON())
	}

	if !write("retry: %d\n: inlet live stream\n\n", streamRetry) {
		return
	}
	if sub.Gap {
		if !write("event: gap\ndata: {\"last_event_id\":%s,\"message\":\"the events after it are no longer held (the server keeps the last ones in memory and restarted or moved on); some may be missing here, list them with GET /api/v1/events\"}\n\n", jsonString(last)) {
			return
		}
	}
	for _, m := range sub.Backlog {
		if !send(m) {
			return
		}
	}
	heartbeat := s.cfg.StreamHeartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-sub.C:
			if !ok {
				write("event: end\ndata: {\"reason\":%s,\"message\":%s}\n\n", jsonString(sub.Reason()), jsonString(endMessage(sub.Reason())))
				return
			}
			if !send(m) {
				return
			}
		case <-tick.C:
			if !write(": heartbeat\n\n") {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

func endMessage(reason string) string {
	switch reason {
	case stream.ReasonSlow:
		return "the client did not keep up with the events; reconnect with Last-Event-ID to resume"
	case stream.ReasonShutdown:
		return "the server is shutting down; reconnect with Last-Event-ID to resume"
	}
	return "the stream ended"
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
