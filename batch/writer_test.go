package batch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"inlet"
	"inlet/batch"
)

// store records the batches it is given. While hold is set, Append blocks
// until it is released; fail makes Append fail; a batch holding an event
// whose id starts with "poison" fails as a store fails on a value it cannot
// hold.
type store struct {
	inlet.EventStore
	mu      sync.Mutex
	batches [][]string
	hold    chan struct{}
	entered chan struct{}
	fail    error
	failed  int // commits failed by a poisoned batch
}

func newStore() *store { return &store{entered: make(chan struct{}, 1000)} }

func (s *store) Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	s.entered <- struct{}{}
	s.mu.Lock()
	hold, fail := s.hold, s.fail
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail != nil {
		return nil, fail
	}
	ids := make([]string, len(intakes))
	out := make([]inlet.Appended, len(intakes))
	for i := range intakes {
		ids[i] = intakes[i].Event.ID
		if strings.HasPrefix(ids[i], "poison") {
			s.mu.Lock()
			s.failed++
			s.mu.Unlock()
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_value", "the store cannot hold %s", ids[i])
		}
		out[i] = inlet.Appended{EventID: ids[i]}
	}
	s.mu.Lock()
	s.batches = append(s.batches, ids)
	s.mu.Unlock()
	return out, nil
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

func event(id string) []inlet.Intake {
	return []inlet.Intake{{Event: inlet.Event{ID: id, Properties: []byte(`{}`)}}}
}

// appendOne appends one event and checks that the answer is its own.
func appendOne(w *batch.Writer, id string) error {
	out, err := w.Append(context.Background(), event(id))
	if err == nil && (len(out) != 1 || out[0].EventID != id) {
		return fmt.Errorf("Append(%s) answered %+v", id, out)
	}
	return err
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
			errs[i] = appendOne(w, prefix+string(rune('a'+i%26))+string(rune('a'+i/26)))
		}(i)
	}
	return func() []error { wg.Wait(); return errs }
}

func TestWriter(t *testing.T) {
	t.Run("a lone event is committed at once and Append returns after the commit", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		defer w.Close(context.Background())
		if err := appendOne(w, "e1"); err != nil {
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
		err := appendOne(w, "over")
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
		w := batch.NewWriter(s, batch.Options{QueueBytes: 16 << 10}, discard)
		defer w.Close(context.Background())
		release := s.holdCommits()
		first := appendAsync(w, "first", 1)
		<-s.entered
		queued := appendAsync(w, "queued", 3) // 3 x 1 KiB of the 16 KiB
		waitQueued(t, w, 3)
		// 3.5 KiB each, under the large size: three fit, the fourth is over.
		mid := func(id string) []inlet.Intake {
			return []inlet.Intake{{Event: inlet.Event{ID: id, Properties: make([]byte, 3<<10)}}}
		}
		mids := make(chan error, 3)
		for i := range 3 {
			go func() { _, err := w.Append(context.Background(), mid(fmt.Sprint("mid", i))); mids <- err }()
		}
		waitQueued(t, w, 6)
		_, over := w.Append(context.Background(), mid("over"))
		close(release)
		first()
		queued()
		for range 3 {
			if err := <-mids; err != nil {
				t.Fatalf("an Append within QueueBytes failed: %v", err)
			}
		}
		if inlet.ErrorCode(over) != inlet.EUNAVAILABLE {
			t.Fatalf("the Append over QueueBytes = %v, want EUNAVAILABLE", over)
		}
	})

	t.Run("a request larger than the queue's bytes is committed through the large slot, not refused", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{QueueBytes: 4096}, discard)
		defer w.Close(context.Background())
		big := []inlet.Intake{{Event: inlet.Event{ID: "big", Properties: make([]byte, 8192)}}}
		if _, err := w.Append(context.Background(), big); err != nil {
			t.Fatalf("Append of an event over QueueBytes = %v, want it committed", err)
		}
		<-s.entered
		// A second large request waits for the slot; it gives up when its
		// context ends, as overload.
		release := s.holdCommits()
		done := make(chan error, 1)
		go func() { _, err := w.Append(context.Background(), big); done <- err }()
		<-s.entered
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := w.Append(ctx, big); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			t.Fatalf("a second large Append while the slot is taken = %v, want EUNAVAILABLE when its context ends", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("the large Append holding the slot: %v", err)
		}
		if err := appendOne(w, "small"); err != nil {
			t.Fatalf("Append after the large ones: %v", err)
		}
	})

	t.Run("a failed commit fails every request of its batch as unavailable, and the next commit works", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		defer w.Close(context.Background())
		s.fail = inlet.Errorf(inlet.EUNAVAILABLE, "disk I/O error")
		err := appendOne(w, "e1")
		if inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
			t.Fatalf("Append during a store failure = %v, want EUNAVAILABLE", err)
		}
		s.mu.Lock()
		s.fail = nil
		s.mu.Unlock()
		if err := appendOne(w, "e2"); err != nil {
			t.Fatalf("Append after the store recovered: %v", err)
		}
		if got := s.snapshot(); len(got) != 1 || got[0][0] != "e2" {
			t.Fatalf("batches = %v, want only [[e2]]", got)
		}
	})

	t.Run("an uncoded store failure is internal for a lone request, never unavailable", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		defer w.Close(context.Background())
		s.fail = errors.New("a bug")
		if err := appendOne(w, "e1"); inlet.ErrorCode(err) != inlet.EINTERNAL {
			t.Fatalf("Append = %v, want EINTERNAL", err)
		}
	})

	t.Run("a poisoned request in a batch fails alone; every other request of the batch is committed", func(t *testing.T) {
		s := newStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		defer w.Close(context.Background())
		release := s.holdCommits()
		first := appendAsync(w, "first", 1)
		<-s.entered
		good := appendAsync(w, "good", 40)
		poison := make(chan error, 1)
		go func() { poison <- appendOne(w, "poison") }()
		waitQueued(t, w, 41)
		s.mu.Lock()
		s.hold = nil
		s.mu.Unlock()
		close(release)
		for _, err := range append(first(), good()...) {
			if err != nil {
				t.Fatalf("a good request sharing the batch failed: %v", err)
			}
		}
		if err := <-poison; inlet.ErrorCode(err) != inlet.EINVALID {
			t.Fatalf("the poisoned request = %v, want EINVALID (a 400, not a retry)", err)
		}
		committed := 0
		for _, b := range s.snapshot() {
			committed += len(b)
		}
		if committed != 41 {
			t.Fatalf("committed %d events, want the 41 good ones", committed)
		}
		// Halving 41 requests down to the poisoned one takes about log2(41)
		// failed commits, not one per request.
		if s.failed > 8 {
			t.Fatalf("%d failed commits to isolate one poisoned request among 41", s.failed)
		}
		if st := w.Stats(); st.Refused != 1 {
			t.Fatalf("Stats().Refused = %d, want 1", st.Refused)
		}
		if err := appendOne(w, "after"); err != nil {
			t.Fatalf("Append after the poisoned batch: %v", err)
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
		if err := appendOne(w, "late"); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
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
				appendOne(w, string(rune('a'+i)))
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

func TestWriterOnCommit(t *testing.T) {
	t.Run("committed events are handed to OnCommit before Append returns, failed ones never", func(t *testing.T) {
		s := newStore()
		var mu sync.Mutex
		var seen []string
		w := batch.NewWriter(s, batch.Options{OnCommit: func(intakes []inlet.Intake, out []inlet.Appended) {
			mu.Lock()
			defer mu.Unlock()
			if len(intakes) != len(out) {
				t.Errorf("OnCommit got %d intakes and %d results", len(intakes), len(out))
			}
			for i := range intakes {
				seen = append(seen, intakes[i].Event.ID+"="+out[i].EventID)
			}
		}}, discard)
		defer w.Close(context.Background())
		if _, err := w.Append(context.Background(), event("e1")); err != nil {
			t.Fatalf("Append: %v", err)
		}
		mu.Lock()
		got := append([]string(nil), seen...)
		mu.Unlock()
		if len(got) != 1 || got[0] != "e1=e1" {
			t.Fatalf("OnCommit saw %v after Append returned, want [e1=e1]", got)
		}
		if _, err := w.Append(context.Background(), event("poison-1")); err == nil {
			t.Fatal("Append of a poisoned event succeeded")
		}
		s.mu.Lock()
		s.fail = inlet.Errorf(inlet.EUNAVAILABLE, "disk full")
		s.mu.Unlock()
		if _, err := w.Append(context.Background(), event("e2")); err == nil {
			t.Fatal("Append succeeded on a failing store")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 1 {
			t.Fatalf("OnCommit saw %v, want only the committed e1", seen)
		}
	})
}
