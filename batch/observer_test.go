package batch_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"inlet"
	"inlet/batch"
	"inlet/sqlite"
)

// commit is what an Observer was told of one commit.
type commit struct {
	events, duplicates int
	took               time.Duration
	err                error
}

type recorder struct {
	mu      sync.Mutex
	commits []commit
}

func (r *recorder) Committed(events, duplicates, merges int, took time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits = append(r.commits, commit{events, duplicates, took, err})
}

func (r *recorder) last(t *testing.T, n int) commit {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.commits) != n {
		t.Fatalf("observer told of %d commits, want %d", len(r.commits), n)
	}
	return r.commits[n-1]
}

func TestObserverIsToldOfEveryCommit(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "inlet.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSource(context.Background(), &inlet.Source{ID: "shop", Name: "Shop", Type: inlet.SourceTypeWebhook, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	obs := &recorder{}
	w := batch.NewWriter(db, batch.Options{Observer: obs}, discard)
	defer w.Close(context.Background())
	keyed := func() []inlet.Intake {
		now := time.Now()
		return []inlet.Intake{
			{Event: inlet.Event{ID: inlet.NewID(), Type: "order", SourceID: "shop", InsertedAt: now, Properties: []byte(`{}`)}, DedupKey: "k1", DedupUntil: now.Add(time.Hour)},
			{Event: inlet.Event{ID: inlet.NewID(), Type: "order", SourceID: "shop", InsertedAt: now, Properties: []byte(`{}`)}},
		}
	}

	if _, err := w.Append(context.Background(), keyed()); err != nil {
		t.Fatal(err)
	}
	if c := obs.last(t, 1); c.events != 2 || c.duplicates != 0 || c.err != nil || c.took <= 0 {
		t.Errorf("first commit: %+v, want 2 events, no duplicate, no error, a duration", c)
	}
	if _, err := w.Append(context.Background(), keyed()); err != nil {
		t.Fatal(err)
	}
	if c := obs.last(t, 2); c.events != 2 || c.duplicates != 1 || c.err != nil {
		t.Errorf("commit repeating a key: %+v, want 2 events of which 1 duplicate", c)
	}

	db.Close() // the store can no longer write
	if _, err := w.Append(context.Background(), keyed()); err == nil {
		t.Fatal("append to a closed store succeeded")
	}
	if c := obs.last(t, 3); c.events != 2 || c.duplicates != 0 || c.err == nil {
		t.Errorf("failed commit: %+v, want 2 events and the store's error", c)
	}
}
