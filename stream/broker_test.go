package stream_test

import (
	"fmt"
	"strings"
	"testing"

	"inlet"
	"inlet/stream"
)

func ev(id, source, typ string) *inlet.Event {
	return &inlet.Event{ID: id, SourceID: source, Type: typ, Properties: []byte(`{}`)}
}

func ids(ms []*stream.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Event.ID)
	}
	return out
}

func receive(t *testing.T, s *stream.Subscription, n int) []string {
	t.Helper()
	var out []string
	for range n {
		select {
		case m, ok := <-s.C:
			if !ok {
				t.Fatalf("subscription ended (%s) after %v", s.Reason(), out)
			}
			out = append(out, m.Event.ID)
		default:
			t.Fatalf("want %d events, got %v", n, out)
		}
	}
	return out
}

func TestBroker(t *testing.T) {
	t.Run("a subscriber receives only the events its filter matches", func(t *testing.T) {
		b := stream.New(stream.Options{})
		s, err := b.Subscribe(stream.Filter{SourceID: "shop", Type: "order"}, "")
		if err != nil {
			t.Fatal(err)
		}
		b.Publish([]*inlet.Event{ev("1", "shop", "order"), ev("2", "shop", "view"), ev("3", "gh", "order"), ev("4", "shop", "order")})
		if got := fmt.Sprint(receive(t, s, 2)); got != "[1 4]" {
			t.Fatalf("got %s", got)
		}
		select {
		case m := <-s.C:
			t.Fatalf("unexpected event %s", m.Event.ID)
		default:
		}
	})

	t.Run("a slow subscriber is dropped with a reason and others keep receiving", func(t *testing.T) {
		b := stream.New(stream.Options{Buffer: 2})
		slow, _ := b.Subscribe(stream.Filter{}, "")
		fast, _ := b.Subscribe(stream.Filter{}, "")
		for i := range 5 {
			b.Publish([]*inlet.Event{ev(fmt.Sprint(i), "s", "t")})
			<-fast.C
		}
		got := receive(t, slow, 2)
		if _, ok := <-slow.C; ok {
			t.Fatal("the slow subscription was not closed")
		}
		if slow.Reason() != stream.ReasonSlow {
			t.Fatalf("reason %q, want %q", slow.Reason(), stream.ReasonSlow)
		}
		if fmt.Sprint(got) != "[0 1]" {
			t.Fatalf("the slow subscriber got %v before it was dropped", got)
		}
		if st := b.Stats(); st.Subscribers != 1 || st.Dropped != 1 || st.Published != 5 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("a subscriber resumes after the last event it saw", func(t *testing.T) {
		b := stream.New(stream.Options{History: 3})
		b.Publish([]*inlet.Event{ev("1", "a", "t"), ev("2", "b", "t"), ev("3", "a", "t"), ev("4", "a", "t")})
		s, _ := b.Subscribe(stream.Filter{SourceID: "a"}, "2")
		if s.Gap || fmt.Sprint(ids(s.Backlog)) != "[3 4]" {
			t.Fatalf("gap %v backlog %v", s.Gap, ids(s.Backlog))
		}
		b.Publish([]*inlet.Event{ev("5", "a", "t")})
		if got := fmt.Sprint(receive(t, s, 1)); got != "[5]" {
			t.Fatalf("got %s", got)
		}
	})

	t.Run("resuming from an event no longer kept reports a gap", func(t *testing.T) {
		b := stream.New(stream.Options{History: 2})
		b.Publish([]*inlet.Event{ev("1", "a", "t"), ev("2", "a", "t"), ev("3", "a", "t")})
		s, _ := b.Subscribe(stream.Filter{}, "1")
		if !s.Gap || len(s.Backlog) != 0 {
			t.Fatalf("gap %v backlog %v", s.Gap, ids(s.Backlog))
		}
	})

	t.Run("close ends every subscription and refuses new ones", func(t *testing.T) {
		b := stream.New(stream.Options{MaxSubscribers: 1})
		s, _ := b.Subscribe(stream.Filter{}, "")
		if _, err := b.Subscribe(stream.Filter{}, ""); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			t.Fatalf("over MaxSubscribers: %v", err)
		}
		b.Close()
		if _, ok := <-s.C; ok || s.Reason() != stream.ReasonShutdown {
			t.Fatalf("after Close: open %v reason %q", ok, s.Reason())
		}
		if _, err := b.Subscribe(stream.Filter{}, ""); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			t.Fatalf("after Close: %v", err)
		}
		b.Publish([]*inlet.Event{ev("1", "a", "t")}) // must not panic on closed channels
	})

	t.Run("a message encodes its event once as the API does", func(t *testing.T) {
		b := stream.New(stream.Options{})
		s, _ := b.Subscribe(stream.Filter{}, "")
		b.Publish([]*inlet.Event{ev("e1", "a", "t")})
		m := <-s.C
		first, again := m.JSON(), m.JSON()
		if got := string(first); !strings.Contains(got, `"id":"e1"`) || !strings.Contains(got, `"session_id":null`) {
			t.Fatalf("json %q", got)
		}
		if &first[0] != &again[0] {
			t.Fatal("the message encoded its event twice")
		}
	})
}

// BenchmarkPublish is the cost on the batch writer's goroutine of handing
// a commit of 100 events to the broker, per event, with subscribers that
// drain their channels as fast as they can.
//
//	go test ./stream -run '^$' -bench Publish
func BenchmarkPublish(b *testing.B) {
	for _, bc := range []struct {
		name     string
		subs     int
		filtered bool
	}{{"subscribers=0", 0, false}, {"subscribers=50,filtered_out", 50, true}, {"subscribers=50,every_event", 50, false}} {
		b.Run(bc.name, func(b *testing.B) {
			br := stream.New(stream.Options{Buffer: 1 << 16})
			for i := range bc.subs {
				f := stream.Filter{}
				if bc.filtered {
					f.SourceID = fmt.Sprintf("other-%d", i)
				}
				s, _ := br.Subscribe(f, "")
				go func() {
					for range s.C {
					}
				}()
			}
			events := make([]*inlet.Event, 100)
			for i := range events {
				events[i] = ev(fmt.Sprint(i), "shop", "order")
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += len(events) {
				br.Publish(events)
			}
			b.StopTimer()
			if st := br.Stats(); st.Dropped != 0 {
				b.Fatalf("%d subscribers dropped", st.Dropped)
			}
			br.Close()
		})
	}
}
