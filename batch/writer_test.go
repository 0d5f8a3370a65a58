package batch_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"inlet"
	"inlet/batch"
)

// store records the batches it is given. While hold is set, Append blocks
// until it is released; fail makes Append fail.
type store struct {
	inlet.EventStore
	mu      sync.Mutex
	batches [][]string
	hold    chan struct{}
	entered chan struct{}
	fail    error
}

func newStore() *store { return &store{entered: make(chan struct{}, 1000)} }

func (s *store) Append(ctx context.Context, events []*inlet.Event) error {
	s.entered <- struct{}{}
	s.mu.Lock()
	hold, fail := s.hold, s.fail
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail != nil {
		return fail
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	s.mu.Lock()
	s.batches = append(s.batches, ids)
	s.mu.Unlock()
	return nil
}

func (s *store) holdCommits() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = make(chan struct{})
	return s.hold
}

func (s *store) snapshot() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.batches...)
}

func event(id string) []*inlet.Event {
	return []*inlet.Event{{ID: id, Properties: []byte(`{}`)}}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// appendAsync appends n events from n goroutines and returns their errors.
func appendAsync(w *batch.Writer, prefix string, n int) (wait func() []error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = w.Append(context.Background(), event(prefix+string(rune('a'+i%26))+string(rune('a'+i/26))))
		}(i)
	}
	return func() []error { wg.Wait(); return errs }
}

func TestWriter(t *testing.T) {
	t.Run("a lone event is committed at once and Append returns after the commit", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		defer w.Close(context.Background())
		if err := w.Append(context.Background(), event("e1")); err != nil {
			t.Fatalf("Append: %v", err)
		}
		if got := s.snapshot(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != "e1" {
			t.Fatalf("batches after Append returned = %v, want [[e1]]", got)
		}
	})

	t.Run("events that arrive during a commit are committed together in the next", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		defer w.Close(context.Background())
		release := s.holdCommits()
		first := appendAsync(w, "first", 1)
		<-s.entered // the first commit is running
		rest := appendAsync(w, "rest", 40)
		waitQueued(t, w, 40)
		close(release)
		for _, err := range append(first(), rest()...) {
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		got := s.snapshot()
		if len(got) != 2 || len(got[0]) != 1 || len(got[1]) != 40 {
			t.Fatalf("batch sizes = %v, want [1 40]", sizes(got))
		}
	})

	t.Run("no batch holds more than MaxBatch events", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{MaxBatch: 10}, discard)
		defer w.Close(context.Background())
		release := s.holdCommits()
		first := appendAsync(w, "first", 1)
		<-s.entered
		rest := appendAsync(w, "rest", 35)
		waitQueued(t, w, 35)
		close(release)
		first()
		rest()
		total := 0
		for _, b := range s.snapshot() {
			if len(b) > 10 {
				t.Fatalf("batch sizes = %v, one is over MaxBatch 10", sizes(s.snapshot()))
			}
			total += len(b)
		}
		if total != 36 {
			t.Fatalf("committed %d events, want 36", total)
		}
	})

	t.Run("a full queue is answered unavailable at once instead of waiting", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{QueueSize: 2}, discard)
		defer w.Close(context.Background())
		release := s.holdCommits()
		first := appendAsync(w, "first", 1)
		<-s.entered
		queued := appendAsync(w, "queued", 2)
		waitQueued(t, w, 2)
		err := w.Append(context.Background(), event("over"))
		if inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			t.Fatalf("Append over a full queue = %v, want EUNAVAILABLE", err)
		}
		close(release)
		first()
		for _, err := range queued() {
			if err != nil {
				t.Fatalf("a queued Append failed: %v", err)
			}
		}
	})

	t.Run("queued bytes are bounded too", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{QueueBytes: 4096}, discard)
		defer w.Close(context.Background())
		big := []*inlet.Event{{ID: "big", Properties: make([]byte, 8192)}}
		if err := w.Append(context.Background(), big); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			t.Fatalf("Append over QueueBytes = %v, want EUNAVAILABLE", err)
		}
		if err := w.Append(context.Background(), event("small")); err != nil {
			t.Fatalf("Append after a refused one: %v", err)
		}
	})

	t.Run("a failed commit fails every request of its batch as unavailable, and the next commit works", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		defer w.Close(context.Background())
		s.fail = errors.New("disk I/O error")
		err := w.Append(context.Background(), event("e1"))
		if inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			t.Fatalf("Append during a store failure = %v, want EUNAVAILABLE", err)
		}
		s.mu.Lock()
		s.fail = nil
		s.mu.Unlock()
		if err := w.Append(context.Background(), event("e2")); err != nil {
			t.Fatalf("Append after the store recovered: %v", err)
		}
		if got := s.snapshot(); len(got) != 1 || got[0][0] != "e2" {
			t.Fatalf("batches = %v, want only [[e2]]", got)
		}
	})

	t.Run("Close commits what is queued and refuses what comes after", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		release := s.holdCommits()
		first := appendAsync(w, "first", 1)
		<-s.entered
		queued := appendAsync(w, "queued", 5)
		waitQueued(t, w, 5)
		closed := make(chan error)
		go func() { closed <- w.Close(context.Background()) }()
		time.Sleep(10 * time.Millisecond)
		close(release)
		if err := <-closed; err != nil {
			t.Fatalf("Close: %v", err)
		}
		for _, err := range append(first(), queued()...) {
			if err != nil {
				t.Fatalf("an Append queued before Close failed: %v", err)
			}
		}
		if err := w.Append(context.Background(), event("late")); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			t.Fatalf("Append after Close = %v, want EUNAVAILABLE", err)
		}
		if n := len(s.snapshot()); n != 2 {
			t.Fatalf("%d batches committed, want 2", n)
		}
	})

	t.Run("MaxWait counts from a batch's first event, so a steady stream cannot hold a batch open", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{MaxWait: 30 * time.Millisecond}, discard)
		defer w.Close(context.Background())
		var wg sync.WaitGroup
		for i := 0; i < 30; i++ { // one event every 10ms for 300ms
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				w.Append(context.Background(), event(string(rune('a'+i))))
			}(i)
			time.Sleep(10 * time.Millisecond)
		}
		wg.Wait()
		if got := s.snapshot(); len(got) < 3 {
			t.Fatalf("a 300ms stream with a 30ms MaxWait made %d batches %v; want at least 3", len(got), sizes(got))
		}
	})
}

// waitQueued waits until n requests wait in the writer's queue.
func waitQueued(t *testing.T, w *batch.Writer, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Queued < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests queued after 5s, want %d", w.Stats().Queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func sizes(batches [][]string) []int {
	out := make([]int, len(batches))
	for i, b := range batches {
		out[i] = len(b)
	}
	return out
}
