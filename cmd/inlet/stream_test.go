package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	inlethttp "inlet/http"
	"inlet/stream"
)

// syncBuffer is an io.Writer that a test may read while another goroutine
// writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the complete lines written so far.
func (s *syncBuffer) lines() []string {
	out := s.String()
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		return strings.Split(out[:i], "\n")
	}
	return nil
}

// waitLines waits up to five seconds for n complete lines.
func waitLines(t *testing.T, b *syncBuffer, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if l := b.lines(); len(l) >= n {
			return l
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("want %d lines, got %q", n, b.String())
	return nil
}

// startTail runs tailEvents until the test ends.
func startTail(t *testing.T, s *liveServer, f stream.Filter, asJSON bool) (stdout, stderr *syncBuffer) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tailEvents(ctx, inlethttp.NewClient(s.url, s.token), f, asJSON, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tail: %v", err)
		}
	})
	waitSubscribers(t, s, 1)
	return stdout, stderr
}

// waitSubscribers waits until the broker has at least n subscribers.
func waitSubscribers(t *testing.T, s *liveServer, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.main.broker.Stats().Subscribers < n {
		if time.Now().After(deadline) {
			t.Fatalf("want %d stream subscribers, have %d", n, s.main.broker.Stats().Subscribers)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sseEvent is one message read from a raw stream.
type sseEvent struct{ id, event, data string }

// openStream opens the stream with raw HTTP and returns its messages on a
// channel, closed when the stream ends.
func openStream(t *testing.T, s *liveServer, query, lastEventID string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/api/v1/events/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no message on the stream within 5s")
	}
	return sseEvent{}
}

func TestLiveStream(t *testing.T) {
	t.Run("tail prints the events of its filter as they are committed", func(t *testing.T) {
		s := startLive(t, liveConfig(t))
		s.createSource(map[string]any{"id": "shop", "name": "Shop"})
		s.createSource(map[string]any{"id": "other", "name": "Other"})
		out, _ := startTail(t, s, stream.Filter{SourceID: "shop"}, false)
		jsonOut, _ := startTail(t, s, stream.Filter{Type: "purchase"}, true)
		waitSubscribers(t, s, 2)

		a := s.collect("POST", "/collect/purchase/shop/visit-1", header("Content-Type", "application/json"), strings.NewReader(`{"order":"A-7"}`))
		s.collect("GET", "/collect/purchase/other", nil, nil)
		c := s.collect("GET", "/collect/page-view/shop?page=/pricing", nil, nil)

		lines := waitLines(t, out, 2)
		if len(lines) != 2 || !strings.Contains(lines[0], "  shop  purchase  session=visit-1  id="+a.Events[0]+`  {"order":"A-7"}`) ||
			!strings.Contains(lines[1], "  shop  page-view  session=-  id="+c.Events[0]) {
			t.Fatalf("tail --source shop printed:\n%s", strings.Join(lines, "\n"))
		}
		jl := waitLines(t, jsonOut, 2)
		var first struct {
			ID         string          `json:"id"`
			Type       string          `json:"type"`
			SourceID   string          `json:"source_id"`
			SessionID  *string         `json:"session_id"`
			Properties json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal([]byte(jl[0]), &first); err != nil || first.ID != a.Events[0] || first.SessionID == nil || *first.SessionID != "visit-1" || string(first.Properties) != `{"order":"A-7"}` {
			t.Fatalf("tail --type purchase --json printed %q (%v)", jl[0], err)
		}
		if len(jl) != 2 || !strings.Contains(jl[1], `"source_id":"other"`) {
			t.Fatalf("tail --type purchase --json printed %q", jl)
		}
	})

	t.Run("a client resuming with Last-Event-ID gets the events it missed, once", func(t *testing.T) {
		s := startLive(t, liveConfig(t))
		s.createSource(map[string]any{"id": "shop", "name": "Shop"})
		var ids []string
		for range 3 {
			ids = append(ids, s.collect("GET", "/collect/ping/shop", nil, nil).Events[0])
		}
		ch := openStream(t, s, "", ids[0])
		for _, want := range ids[1:] {
			if ev := next(t, ch); ev.id != want || !strings.Contains(ev.data, `"id":"`+want+`"`) {
				t.Fatalf("resumed stream sent %+v, want event %s", ev, want)
			}
		}
		live := s.collect("GET", "/collect/ping/shop", nil, nil).Events[0]
		if ev := next(t, ch); ev.id != live {
			t.Fatalf("after the backlog: %+v, want %s", ev, live)
		}
	})

	t.Run("resuming from an unknown event says events may be missing", func(t *testing.T) {
		s := startLive(t, liveConfig(t))
		ch := openStream(t, s, "", "0190a1b2-0000-7000-8000-000000000000")
		if ev := next(t, ch); ev.event != "gap" || !strings.Contains(ev.data, "0190a1b2-0000-7000-8000-000000000000") {
			t.Fatalf("first message %+v, want a gap event", ev)
		}
	})

	t.Run("a duplicate is not streamed", func(t *testing.T) {
		s := startLive(t, liveConfig(t))
		s.createSource(map[string]any{"id": "shop", "name": "Shop", "config": map[string]any{"dedup": map[string]any{"header": "Idempotency-Key"}}})
		ch := openStream(t, s, "", "")
		waitSubscribers(t, s, 1)
		first := s.collect("GET", "/collect/ping/shop", header("Idempotency-Key", "k1"), nil).Events[0]
		s.collect("GET", "/collect/ping/shop", header("Idempotency-Key", "k1"), nil)
		last := s.collect("GET", "/collect/ping/shop", header("Idempotency-Key", "k2"), nil).Events[0]
		if a, b := next(t, ch), next(t, ch); a.id != first || b.id != last {
			t.Fatalf("streamed %s then %s, want %s then %s", a.id, b.id, first, last)
		}
	})

	t.Run("the stream refuses a missing token and a bad filter with JSON errors", func(t *testing.T) {
		s := startLive(t, liveConfig(t))
		status, h, body := s.do("GET", "/api/v1/events/stream", nil, nil)
		wantError(t, "no token", status, h, body, http.StatusUnauthorized, "unauthorized")
		status, h, body = s.do("GET", "/api/v1/events/stream?type=no%20such%20type!", header("Authorization", "Bearer "+s.token), nil)
		wantError(t, "bad type", status, h, body, http.StatusBadRequest, "bad_event_type")
	})

	t.Run("closing the server ends streams with an end event and tail resumes after a restart", func(t *testing.T) {
		cfg := liveConfig(t)
		s := startLive(t, cfg)
		s.createSource(map[string]any{"id": "shop", "name": "Shop"})
		ch := openStream(t, s, "", "")
		out, errOut := startTail(t, s, stream.Filter{}, false)
		waitSubscribers(t, s, 2)
		before := s.collect("GET", "/collect/ping/shop", nil, nil).Events[0]
		waitLines(t, out, 1)
		next(t, ch)
		s.stop()
		if ev := next(t, ch); ev.event != "end" || !strings.Contains(ev.data, `"reason":"shutdown"`) {
			t.Fatalf("last message %+v, want an end event with reason shutdown", ev)
		}

		cfg.Addr = s.main.Addr() // the same address, where tail reconnects
		r := startLive(t, cfg)
		waitSubscribers(t, r, 1)
		after := r.collect("GET", "/collect/ping/shop", nil, nil).Events[0]
		lines := waitLines(t, out, 2)
		if !strings.Contains(lines[0], before) || !strings.Contains(lines[1], after) || len(lines) != 2 {
			t.Fatalf("tail printed across the restart:\n%s", strings.Join(lines, "\n"))
		}
		if e := errOut.String(); !strings.Contains(e, "the stream ended (shutdown); reconnecting") || !strings.Contains(e, "may be missing") {
			t.Fatalf("tail's notices: %q", e)
		}
	})
}
