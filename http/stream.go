package http

import (
	"bytes"
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

	// Messages are gathered in buf and sent with one write and one flush:
	// under load a subscriber wakes once for many events, not once each.
	var buf bytes.Buffer
	add := func(m *stream.Message) {
		buf.WriteString("id: ")
		buf.WriteString(m.Event.ID)
		buf.WriteString("\ndata: ")
		buf.Write(m.JSON())
		buf.WriteString("\n\n")
	}
	// flush sends buf with a fresh deadline, since the server's
	// WriteTimeout would otherwise end every stream after a minute.
	flush := func() bool {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		return err == nil && rc.Flush() == nil
	}
	end := func(reason string) {
		fmt.Fprintf(&buf, "event: end\ndata: {\"reason\":%s,\"message\":%s}\n\n", jsonString(reason), jsonString(endMessage(reason)))
		flush()
	}

	fmt.Fprintf(&buf, "retry: %d\n: inlet live stream\n\n", streamRetry)
	if sub.Gap {
		fmt.Fprintf(&buf, "event: gap\ndata: {\"last_event_id\":%s,\"message\":\"the events after it are no longer held (the server keeps the last ones in memory and restarted or moved on); some may be missing here, list them with GET /api/v1/events\"}\n\n", jsonString(last))
	}
	for _, m := range sub.Backlog {
		add(m)
		if buf.Len() >= streamChunk && !flush() {
			return
		}
	}
	if !flush() {
		return
	}
	heartbeat := s.cfg.StreamHeartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	gather := time.NewTimer(streamGather)
	defer gather.Stop()
	for {
		select {
		case m, ok := <-sub.C:
			if !ok {
				end(sub.Reason())
				return
			}
			add(m)
			// Gather what follows for a moment, up to a chunk: under load a
			// subscriber then wakes and writes a few times a second, not once
			// per commit, and costs the collector far less.
			gather.Reset(streamGather)
		gather:
			for buf.Len() < streamChunk {
				select {
				case m, ok := <-sub.C:
					if !ok {
						if flush() {
							end(sub.Reason())
						}
						return
					}
					add(m)
				case <-gather.C:
					break gather
				case <-r.Context().Done():
					return
				}
			}
			if !flush() {
				return
			}
		case <-tick.C:
			buf.WriteString(": heartbeat\n\n")
			if !flush() {
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
