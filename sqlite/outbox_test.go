package sqlite_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"inlet"
	"inlet/sqlite"
)

// Append writes outbox entries only while a destination exists: an event
// inserted when there is none is delivered nowhere, so its entry would be
// written and fanned out for nothing. The count of destinations survives a
// restart and a failed create.
func TestOutboxOnlyWithDestinations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inlet.db")
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()

	appendN := func(n int) {
		t.Helper()
		events := make([]*inlet.Event, n)
		for i := range events {
			events[i] = &inlet.Event{ID: inlet.NewID(), Type: "purchase", SourceID: "shop", InsertedAt: time.Now(),
				Properties: json.RawMessage(`{"n":1}`)}
		}
		if _, err := db.Append(ctx, inlet.Intakes(events...)); err != nil {
			t.Fatal(err)
		}
	}
	fanOut := func(want int) {
		t.Helper()
		got, err := db.FanOut(ctx, 1000, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("FanOut took %d outbox entries, want %d", got, want)
		}
	}
	dest := func(id string) *inlet.Destination {
		return &inlet.Destination{ID: id, Name: id, Type: inlet.DestinationWebhook, Enabled: true,
			Config: json.RawMessage(`{"url":"http://127.0.0.1:9/hook"}`)}
	}

	appendN(3)
	fanOut(0)

	if err := db.CreateDestination(ctx, dest("d1")); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateDestination(ctx, dest("d1")); inlet.ErrorCode(err) != inlet.ECONFLICT {
		t.Fatalf("second create of d1: %v, want a conflict", err)
	}
	appendN(4)
	fanOut(4)

	// The count is read again from the file when it is opened.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = sqlite.Open(ctx, sqlite.Options{Path: path}); err != nil {
		t.Fatal(err)
	}
	appendN(2)
	fanOut(2)

	// The failed create did not leave a count behind: with d1 gone there
	// is no destination, and no entry is written.
	if err := db.DeleteDestination(ctx, "d1"); err != nil {
		t.Fatal(err)
	}
	appendN(5)
	fanOut(0)
}
