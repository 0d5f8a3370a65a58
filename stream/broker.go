// Package stream is the in-memory broker of the live event stream: the
// batch writer publishes the events of each commit, and subscribers (the
// SSE endpoint behind the console and `inlet events tail`) receive those
// that match their filter.
//
// The publisher never blocks: every subscriber has a bounded buffer, and a
// subscriber whose buffer is full is dropped (its channel closed with the
// reason ReasonSlow) rather than buffered without bound or waited for.
// A ring of the most recent events lets a subscriber that reconnects resume
// after the last event it saw, as long as that event is still in the ring.
package stream

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"inlet"
)

// Reasons a subscription ends.
const (
	// ReasonSlow: the subscriber did not keep up and its buffer filled.
	ReasonSlow = "slow_subscriber"
	// ReasonShutdown: the broker was closed because the server stops.
	ReasonShutdown = "shutdown"
	// ReasonClosed: the subscriber unsubscribed.
	ReasonClosed = "closed"
)

// Filter selects events of a subscription. Zero fields do not filter.
type Filter struct {
	SourceID  string
	Type      string
	SessionID string
}

// Match reports whether e passes the filter.
func (f Filter) Match(e *inlet.Event) bool {
	return (f.SourceID == "" || f.SourceID == e.SourceID) &&
		(f.Type == "" || f.Type == e.Type) &&
		(f.SessionID == "" || f.SessionID == e.SessionID)
}

// Message is one published event. Its JSON is encoded once, by the first
// subscriber that writes it, and shared by all: the publisher does no
// encoding.
type Message struct {
	Event *inlet.Event

	once sync.Once
	data []byte
}

// JSON returns the event as the admin API writes it.
func (m *Message) JSON() []byte {
	m.once.Do(func() {
		b, err := json.Marshal(m.Event)
		if err != nil { // an Event always marshals; keep the stream going if not
			b = []byte(`{"id":` + quote(m.Event.ID) + `}`)
		}
		m.data = b
	})
	return m.data
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Options bound a Broker. Zero fields take the defaults shown.
type Options struct {
	// Buffer is the most events waiting for one subscriber (1024); a
	// subscriber that falls further behind is dropped.
	Buffer int
	// History is the number of recent events kept for resuming (4096).
	History int
	// MaxSubscribers bounds the subscribers at once (256).
	MaxSubscribers int
}

// Broker fans committed events out to subscribers.
type Broker struct {
	opts Options

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	ring   []*Message // the last History events, oldest at head once full
	head   int
	closed bool

	published atomic.Int64
	dropped   atomic.Int64
}

// New returns a Broker.
func New(opts Options) *Broker {
	if opts.Buffer <= 0 {
		opts.Buffer = 1024
	}
	if opts.History <= 0 {
		opts.History = 4096
	}
	if opts.MaxSubscribers <= 0 {
		opts.MaxSubscribers = 256
	}
	return &Broker{opts: opts, subs: make(map[*Subscription]struct{}), ring: make([]*Message, 0, opts.History)}
}

// Subscription is one subscriber's view of the stream. Read Backlog first,
// then C until it is closed; Reason then says why.
type Subscription struct {
	// Backlog holds the events after the one the subscriber resumed from,
	// oldest first.
	Backlog []*Message
	// Gap is true when the subscriber asked to resume from an event the
	// broker no longer (or never) had: events may have been missed.
	Gap bool
	// C delivers events as they are published.
	C <-chan *Message

	ch     chan *Message
	filter Filter
	reason string
	broker *Broker
}

// Reason says why C was closed; read it only after C is closed.
func (s *Subscription) Reason() string { return s.reason }

// Close ends the subscription; C is closed with ReasonClosed unless it
// ended before.
func (s *Subscription) Close() {
	s.broker.mu.Lock()
	defer s.broker.mu.Unlock()
	s.broker.drop(s, ReasonClosed)
}

// Subscribe returns a subscription to the events matching f. When
// lastEventID is set, the events published after it that match f are in
// Backlog; if the broker does not hold that event any more, Gap is set.
// Returns EUNAVAILABLE when the broker is closed or has MaxSubscribers.
func (b *Broker) Subscribe(f Filter, lastEventID string) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, inlet.Errorf(inlet.EUNAVAILABLE, "the server is shutting down; reconnect later")
	}
	if len(b.subs) >= b.opts.MaxSubscribers {
		return nil, inlet.Errorf(inlet.EUNAVAILABLE, "too many live stream subscribers (%d); retry later", b.opts.MaxSubscribers)
	}
	s := &Subscription{ch: make(chan *Message, b.opts.Buffer), filter: f, broker: b}
	s.C = s.ch
	if lastEventID != "" {
		found := false
		b.each(func(m *Message) {
			if found {
				if f.Match(m.Event) {
					s.Backlog = append(s.Backlog, m)
				}
			} else if m.Event.ID == lastEventID {
				found = true
			}
		})
		if !found {
			s.Backlog, s.Gap = nil, true
		}
	}
	b.subs[s] = struct{}{}
	return s, nil
}

// each calls fn on the ring's events, oldest first.
func (b *Broker) each(fn func(*Message)) {
	for i := range b.ring {
		fn(b.ring[(b.head+i)%len(b.ring)])
	}
}

// Publish hands events to the subscribers whose filter they match and
// keeps them for resuming. It never blocks on a subscriber: one whose
// buffer is full is dropped with ReasonSlow.
func (b *Broker) Publish(events []*inlet.Event) {
	if len(events) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, e := range events {
		m := &Message{Event: e}
		if len(b.ring) < cap(b.ring) {
			b.ring = append(b.ring, m)
		} else {
			b.ring[b.head] = m
			b.head = (b.head + 1) % len(b.ring)
		}
		for s := range b.subs {
			if !s.filter.Match(e) {
				continue
			}
			select {
			case s.ch <- m:
			default:
				b.drop(s, ReasonSlow)
				b.dropped.Add(1)
			}
		}
	}
	b.published.Add(int64(len(events)))
}

// drop ends s with reason; b.mu is held.
func (b *Broker) drop(s *Subscription, reason string) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	s.reason = reason
	close(s.ch)
}

// Close ends every subscription with ReasonShutdown and refuses new ones.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.drop(s, ReasonShutdown)
	}
}

// Stats are counters of a Broker.
type Stats struct {
	Subscribers int   `json:"subscribers"`
	Published   int64 `json:"published"`
	Dropped     int64 `json:"dropped_slow_subscribers"`
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	n := len(b.subs)
	b.mu.Unlock()
	return Stats{Subscribers: n, Published: b.published.Load(), Dropped: b.dropped.Load()}
}
