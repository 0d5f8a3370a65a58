package storetest

import (
	"context"
	"testing"
	"time"

	"inlet"
)

func testRetention(t *testing.T, s inlet.Store) {
	r := s
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	cutoff := now.Add(-48 * time.Hour)
	at := func(e *event, t time.Time) *event { e.InsertedAt = t; return e }
	c := newClock()
	veryOld := at(newEvent(c, "src", "old", "sess-ret"), cutoff.Add(-9*24*time.Hour))
	old := at(newEvent(c, "src", "old", ""), cutoff.Add(-25*time.Hour))
	justAfter := at(newEvent(c, "src", "new", ""), cutoff.Add(time.Microsecond))
	recent := at(newEvent(c, "src", "new", "sess-ret"), now)
	appendEvents(t, s, veryOld, old)
	appendEvents(t, s, justAfter, recent)

	for range 2 { // a second run finds nothing more to delete
		if err := r.DeleteEventsBefore(ctx, cutoff); err != nil {
			t.Fatalf("DeleteEventsBefore: %v", err)
		}
		for _, e := range []*event{veryOld, old} {
			_, err := s.FindEvent(ctx, e.ID)
			wantCode(t, "FindEvent of an event past retention", err, inlet.ENOTFOUND)
		}
		got, _ := listIDs(t, s, inlet.EventFilter{})
		sameIDs(t, "events after retention", got, []string{recent.ID, justAfter.ID})
	}
	if sess, err := s.FindSession(ctx, "sess-ret"); err != nil || sess.ProfileID != veryOld.ProfileID {
		t.Fatalf("FindSession after retention = %+v, %v; want the session kept", sess, err)
	}
	if _, err := s.FindProfile(ctx, veryOld.ProfileID); err != nil {
		t.Fatalf("FindProfile after retention: %v", err)
	}

	// A late event of a day already purged is still taken.
	late := at(newEvent(c, "src", "late", ""), cutoff.Add(-9*24*time.Hour))
	appendEvents(t, s, late)
	if _, err := s.FindEvent(ctx, late.ID); err != nil {
		t.Fatalf("FindEvent of a late event: %v", err)
	}
}
