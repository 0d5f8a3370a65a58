package http

import (
	"bytes"
	"context"
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

// streamGather is how long a stream gathers events after one arrives
// before it writes them.
const streamGather = 50 * time.Millisecond

// streamChunk is about the most bytes sent in one write.
const streamChunk = 64 << 10

// streamRetry is the reconnection delay (milliseconds) sent to clients.
const streamRetry = 2000

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
	f, last, err := streamRequest(r)
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	sub, err := s.cfg.Broker.Subscribe(f, last)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	defer sub.Close()

	out := startEventStream(w)
	if !out.opening(sub, last) {
		return
	}
	heartbeat := s.cfg.StreamHeartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	out.follow(r.Context(), sub, heartbeat)
}

// streamRequest reads a stream's filters from the query, and the id of
// the last event the client saw from Last-Event-ID (or, for clients that
// cannot set headers, last_event_id).
func streamRequest(r *http.Request) (f stream.Filter, last string, err error) {
	q := r.URL.Query()
	f = stream.Filter{SourceID: q.Get("source"), SessionID: q.Get("session")}
	if t := q.Get("type"); t != "" {
		if f.Type, err = inlet.NormalizeEventType(t); err != nil {
			return f, "", err
		}
	}
	last = r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("last_event_id")
	}
	return f, last, nil
}

// eventStream writes Server-Sent Events to one client. Messages are
// gathered in buf and sent with one write and one flush: under load a
// subscriber wakes once for many events, not once each.
type eventStream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf bytes.Buffer
}

// startEventStream answers 200 with the headers of an event stream.
func startEventStream(w http.ResponseWriter) *eventStream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	return &eventStream{w: w, rc: http.NewResponseController(w)}
}

// add gathers one event's message.
func (e *eventStream) add(m *stream.Message) {
	e.buf.WriteString("id: ")
	e.buf.WriteString(m.Event.ID)
	e.buf.WriteString("\ndata: ")
	e.buf.Write(m.JSON())
	e.buf.WriteString("\n\n")
}

// flush sends what is gathered with a fresh deadline, since the server's
// WriteTimeout would otherwise end every stream after a minute. False
// means the client is gone.
func (e *eventStream) flush() bool {
	e.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	_, err := e.w.Write(e.buf.Bytes())
	e.buf.Reset()
	return err == nil && e.rc.Flush() == nil
}

// end sends the "end" event that says why the stream ends.
func (e *eventStream) end(reason string) {
	fmt.Fprintf(&e.buf, "event: end\ndata: {\"reason\":%s,\"message\":%s}\n\n", jsonString(reason), jsonString(endMessage(reason)))
	e.flush()
}

// opening sends the reconnection delay, a "gap" event when the events
// after last are no longer held, and the backlog the broker still holds.
func (e *eventStream) opening(sub *stream.Subscription, last string) bool {
	fmt.Fprintf(&e.buf, "retry: %d\n: inlet live stream\n\n", streamRetry)
	if sub.Gap {
		fmt.Fprintf(&e.buf, "event: gap\ndata: {\"last_event_id\":%s,\"message\":\"the events after it are no longer held (the server keeps the last ones in memory and restarted or moved on); some may be missing here, list them with GET /api/v1/events\"}\n\n", jsonString(last))
	}
	for _, m := range sub.Backlog {
		e.add(m)
		if e.buf.Len() >= streamChunk && !e.flush() {
			return false
		}
	}
	return e.flush()
}

// follow sends the subscription's events as they come, and a comment
// every heartbeat while none does, until the subscription ends (with an
// "end" event), the client goes or its request is cancelled.
func (e *eventStream) follow(ctx context.Context, sub *stream.Subscription, heartbeat time.Duration) {
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	gather := time.NewTimer(streamGather)
	defer gather.Stop()
	for {
		select {
		case m, ok := <-sub.C:
			if !ok {
				e.end(sub.Reason())
				return
			}
			e.add(m)
			if !e.gather(ctx, sub, gather) || !e.flush() {
				return
			}
		case <-tick.C:
			e.buf.WriteString(": heartbeat\n\n")
			if !e.flush() {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// gather adds what follows an event for a moment, up to a chunk: under
// load a subscriber then wakes and writes a few times a second, not once
// per commit, and costs the collector far less. False means the stream is
// over: the subscription ended (what was gathered and the "end" event are
// sent) or the request was cancelled.
func (e *eventStream) gather(ctx context.Context, sub *stream.Subscription, timer *time.Timer) bool {
	timer.Reset(streamGather)
	for e.buf.Len() < streamChunk {
		select {
		case m, ok := <-sub.C:
			if !ok {
				if e.flush() {
					e.end(sub.Reason())
				}
				return false
			}
			e.add(m)
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return true
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
