package http_test

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/collector"
	inlethttp "inlet/http"
	"inlet/sqlite"
	"inlet/stream"
)

// newStreamServer serves the API with a broker, a short heartbeat and a
// session check that lets in requests carrying the cookie "console=ok".
func newStreamServer(t *testing.T) (*httptest.Server, *stream.Broker) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "inlet.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	broker := stream.New(stream.Options{})
	h := inlethttp.NewServer(inlethttp.Config{
		Store: db, Collector: collector.New(collector.Config{Sources: inlet.NewSourceCache(db, time.Hour)}), Logger: slog.New(slog.DiscardHandler),
		AdminToken: "tok", Broker: broker, StreamHeartbeat: 20 * time.Millisecond,
		ConsoleSignIn: func(r *http.Request) (*inlet.Token, bool) {
			c, err := r.Cookie("console")
			return nil, err == nil && c.Value == "ok"
		},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(broker.Close) // first: ends the streams so that srv.Close returns
	return srv, broker
}

func TestStreamHandler(t *testing.T) {
	t.Run("an idle stream sends heartbeats and a console session opens it", func(t *testing.T) {
		srv, _ := newStreamServer(t)
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/events/stream", nil)
		req.AddCookie(&http.Cookie{Name: "console", Value: "ok"})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s, Cache-Control %q", resp.Status, resp.Header.Get("Cache-Control"))
		}
		sc := bufio.NewScanner(resp.Body)
		deadline := time.Now().Add(5 * time.Second)
		for sc.Scan() && time.Now().Before(deadline) {
			if sc.Text() == ": heartbeat" {
				return
			}
		}
		t.Fatal("no heartbeat comment on an idle stream")
	})

	t.Run("a wrong cookie is not a session", func(t *testing.T) {
		srv, _ := newStreamServer(t)
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/events/stream", nil)
		req.AddCookie(&http.Cookie{Name: "console", Value: "forged"})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s, want 401", resp.Status)
		}
	})

	t.Run("the client reads events, a gap and the end, and resumes from the last event", func(t *testing.T) {
		srv, broker := newStreamServer(t)
		client := inlethttp.NewClient(srv.URL, "tok")
		var got []string
		done := make(chan string, 1)
		go func() {
			last, err := client.Stream(context.Background(), stream.Filter{Type: "order"}, "unknown-id", func(it inlethttp.StreamItem) error {
				if it.Kind == "event" {
					got = append(got, it.Kind+":"+it.Event.ID+":"+string(it.Event.Properties))
				} else {
					got = append(got, it.Kind)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			done <- last
		}()
		for broker.Stats().Subscribers == 0 {
			time.Sleep(time.Millisecond)
		}
		broker.Publish([]*inlet.Event{
			{ID: "e1", Type: "order", SourceID: "s", Properties: []byte(`{"a":1}`)},
			{ID: "e2", Type: "view", SourceID: "s", Properties: []byte(`{}`)},
			{ID: "e3", Type: "order", SourceID: "s", Properties: []byte(`{"a":3}`)},
		})
		time.Sleep(200 * time.Millisecond) // past the stream's gathering of events
		broker.Close()
		last := <-done
		if want := `gap event:e1:{"a":1} event:e3:{"a":3} end`; strings.Join(got, " ") != want || last != "e3" {
			t.Fatalf("read %q, last %q; want %q, last e3", strings.Join(got, " "), last, want)
		}
	})

	t.Run("a server without a broker has no stream", func(t *testing.T) {
		h := inlethttp.NewServer(inlethttp.Config{AdminToken: "tok", Logger: slog.New(slog.DiscardHandler)})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/events/stream", nil)
		req.Header.Set("Authorization", "Bearer tok")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"no_stream"`) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}
