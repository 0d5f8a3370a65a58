package sqlite_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"inlet"
)

func TestDeleteEventsBeforeRunsInBatches(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	cutoff := time.Now().UTC().Truncate(time.Microsecond)
	const old = 2500 // more than two batches
	var events []*inlet.Event
	for i := range old + 3 {
		at := cutoff.Add(-time.Duration(old-i) * time.Second)
		if i >= old {
			at = cutoff.Add(time.Duration(i-old) * time.Microsecond) // at the cutoff and after: kept
		}
		events = append(events, &inlet.Event{ID: inlet.NewID(), Type: "t", InsertedAt: at, SourceID: "src", Properties: json.RawMessage(`{}`)})
	}
	if _, err := db.Append(ctx, inlet.Intakes(events...)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := db.DeleteEventsBefore(ctx, cutoff); err != nil {
		t.Fatalf("DeleteEventsBefore: %v", err)
	}
	page, err := db.ListEvents(ctx, inlet.EventFilter{Limit: inlet.MaxEventLimit})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if len(page.Items) != 3 || page.Next != nil {
		t.Fatalf("after retention %d events (more: %v), want the 3 at or after the cutoff", len(page.Items), page.Next != nil)
	}
	for _, e := range page.Items {
		if e.InsertedAt.Before(cutoff) {
			t.Fatalf("event of %s kept, before the cutoff %s", e.InsertedAt, cutoff)
		}
	}
}
