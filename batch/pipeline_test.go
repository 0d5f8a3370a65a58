package batch_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"inlet"
	"inlet/batch"
)

// pipeStore is a store whose commits become durable only at Sync, which
// can be held and made to fail. It logs commits and syncs in order.
type pipeStore struct {
	*store
	mu       sync.Mutex
	log      []string // "commit:ID,ID" and "sync"
	syncHold chan struct{}
	syncing  chan struct{}
	syncFail error
}

func newPipeStore() *pipeStore {
	return &pipeStore{store: newStore(), syncing: make(chan struct{}, 1000)}
}

// Append is what the writer must not call over a Pipeline.
func (s *pipeStore) Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	panic("Append called on a Pipeline")
}

func (s *pipeStore) AppendUnsynced(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	out, err := s.store.Append(ctx, intakes)
	if err == nil {
		ids := ""
		for i := range intakes {
			if i > 0 {
				ids += ","
			}
			ids += intakes[i].Event.ID
		}
		s.record("commit:" + ids)
	}
	return out, err
}

func (s *pipeStore) Sync(ctx context.Context) error {
	s.syncing <- struct{}{}
	s.mu.Lock()
	hold, fail := s.syncHold, s.syncFail
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail == nil {
		s.record("sync")
	}
	return fail
}

func (s *pipeStore) record(entry string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, entry)
}

func (s *pipeStore) holdSyncs() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncHold = make(chan struct{})
	return s.syncHold
}

func (s *pipeStore) entries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// waitFor waits for a signal on ch, for at most 5 s.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not come in 5 s", what)
	}
}

// answered reports whether wait's Appends all returned within d.
func answered(wait func() []error, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func TestWriterPipeline(t *testing.T) {
	t.Run("a batch is answered after the sync that follows its commit, and the next is committed meanwhile", func(t *testing.T) {
		s := newPipeStore()
		var mu sync.Mutex
		var onCommit []string
		w := batch.NewWriter(s, batch.Options{OnCommit: func(intakes []inlet.Intake, out []inlet.Appended) {
			mu.Lock()
			defer mu.Unlock()
			for i := range intakes {
				onCommit = append(onCommit, intakes[i].Event.ID)
			}
			s.record("onCommit")
		}}, discard)
		defer w.Close(context.Background())

		release := s.holdSyncs()
		first := appendAsync(w, "first", 1)
		waitFor(t, s.syncing, "the first sync") // first is committed; its sync is held
		if answered(first, 50*time.Millisecond) {
			t.Fatal("Append returned before the sync of its commit")
		}
		second := appendAsync(w, "second", 1)
		// The writer commits the second batch while the first syncs.
		deadline := time.Now().Add(5 * time.Second)
		for len(s.snapshot()) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the second batch was not committed while the first synced: %v", s.entries())
			}
			time.Sleep(time.Millisecond)
		}
		if answered(second, 20*time.Millisecond) {
			t.Fatal("the second Append returned before any sync after its commit")
		}
		mu.Lock()
		if len(onCommit) != 0 {
			t.Errorf("OnCommit saw %v before any sync returned", onCommit)
		}
		mu.Unlock()
		close(release)
		for _, err := range append(first(), second()...) {
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		// Each commit is followed by a sync before anything is handed on.
		log := s.entries()
		for i, e := range log {
			if e != "onCommit" {
				continue
			}
			if !slices.Contains(log[:i], "sync") {
				t.Fatalf("OnCommit before any sync: %v", log)
			}
		}
		if got := log[0]; got != "commit:firstaa" {
			t.Fatalf("log = %v, want the first commit first", log)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(onCommit, []string{"firstaa", "secondaa"}) {
			t.Fatalf("OnCommit saw %v, want [firstaa secondaa] in commit order", onCommit)
		}
	})

	t.Run("a failed sync answers EUNAVAILABLE to every batch it covers, and OnCommit never sees them", func(t *testing.T) {
		s := newPipeStore()
		var mu sync.Mutex
		var onCommit int
		w := batch.NewWriter(s, batch.Options{OnCommit: func(intakes []inlet.Intake, out []inlet.Appended) {
			mu.Lock()
			defer mu.Unlock()
			onCommit += len(intakes)
		}}, discard)
		defer w.Close(context.Background())
		s.mu.Lock()
		s.syncFail = inlet.Errorf(inlet.EUNAVAILABLE, "flush the log: input/output error")
		s.mu.Unlock()
		for _, err := range appendAsync(w, "e", 20)() {
			if inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
				t.Fatalf("Append after a failed sync: %v, want EUNAVAILABLE", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if onCommit != 0 {
			t.Fatalf("OnCommit saw %d events whose sync failed", onCommit)
		}
	})

	t.Run("Close syncs and answers what was committed", func(t *testing.T) {
		s := newPipeStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		release := s.holdSyncs()
		wait := appendAsync(w, "e", 1)
		waitFor(t, s.syncing, "the sync") // committed, and its sync held
		closed := make(chan error)
		go func() { closed <- w.Close(context.Background()) }()
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while a sync was held", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		if err := <-closed; err != nil {
			t.Fatalf("Close: %v", err)
		}
		for _, err := range wait() {
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
	})

	t.Run("a poisoned request among good ones is refused alone, the others synced", func(t *testing.T) {
		s := newPipeStore()
		w := batch.NewWriter(s, batch.Options{}, discard)
		defer w.Close(context.Background())
		release := s.store.holdCommits()
		first := appendAsync(w, "first", 1)
		waitFor(t, s.store.entered, "the first commit")
		good := appendAsync(w, "good", 20)
		poisoned := appendAsync(w, "poison", 1)
		waitQueued(t, w, 21)
		close(release)
		for _, err := range append(first(), good()...) {
			if err != nil {
				t.Fatalf("Append of a good event: %v", err)
			}
		}
		if err := poisoned()[0]; inlet.ErrorCode(err) != inlet.EINVALID {
			t.Fatalf("Append of the poisoned event: %v, want EINVALID", err)
		}
		if w.Stats().Events != 21 {
			t.Fatalf("stats: %+v, want 21 events", w.Stats())
		}
	})
}
