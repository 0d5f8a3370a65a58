package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"inlet"
)

// dedupTests are the tests of idempotency keys.
var dedupTests = []test{
	{"a repeated dedup key is not stored again and names the original", testDedupRepeat},
	{"two duplicates in one batch are stored once", testDedupInBatch},
	{"concurrent duplicates are stored once", testDedupConcurrent},
	{"the same key in two sources is two events", testDedupPerSource},
	{"an expired key is replaced by the next event", testDedupExpired},
	{"a duplicate tells the original's session and profile", testDedupSession},
	{"a duplicate in a failed batch leaves no key behind", testDedupFailedBatch},
}

// keyedEvent returns an event of source with a dedup key remembered for window.
func keyedEvent(c *clock, source, key string, window time.Duration) *event {
	e := newEvent(c, source, "order.paid", "")
	if key != "" {
		e.DedupKey, e.DedupUntil = key, e.InsertedAt.Add(window)
	}
	return e
}

// countEvents returns how many events of source the store holds.
func countEvents(t *testing.T, s inlet.Store, source string) int {
	t.Helper()
	page, err := s.ListEvents(context.Background(), inlet.EventFilter{SourceID: source, Limit: inlet.MaxEventLimit})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	return len(page.Items)
}

func testDedupRepeat(t *testing.T, s inlet.Store) {
	c := newClock()
	first := keyedEvent(c, "src", "delivery-1", time.Hour)
	appendEvents(t, s, first)
	if first.duplicateOf() != "" {
		t.Fatalf("the first event is a duplicate of %s", first.duplicateOf())
	}
	again := keyedEvent(c, "src", "delivery-1", time.Hour)
	appendEvents(t, s, again)
	if again.duplicateOf() != first.ID {
		t.Fatalf("a duplicate of %q, want of the first event %s", again.duplicateOf(), first.ID)
	}
	if _, err := s.FindEvent(context.Background(), again.ID); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Errorf("the duplicate was stored (FindEvent: %v)", err)
	}
	other := keyedEvent(c, "src", "delivery-2", time.Hour)
	plain := keyedEvent(c, "src", "", 0)
	appendEvents(t, s, other, plain)
	if other.duplicateOf() != "" || plain.duplicateOf() != "" {
		t.Errorf("events with another key or none were taken as duplicates")
	}
	if n := countEvents(t, s, "src"); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}
}

func testDedupInBatch(t *testing.T, s inlet.Store) {
	c := newClock()
	a := keyedEvent(c, "src", "k", time.Hour)
	b := keyedEvent(c, "src", "k", time.Hour)
	d := keyedEvent(c, "src", "other", time.Hour)
	appendEvents(t, s, a, b, d)
	if a.duplicateOf() != "" || d.duplicateOf() != "" {
		t.Fatalf("the first of each key is a duplicate: %q, %q", a.duplicateOf(), d.duplicateOf())
	}
	if b.duplicateOf() != a.ID {
		t.Fatalf("the second event with the key: a duplicate of %q, want of %s", b.duplicateOf(), a.ID)
	}
	if n := countEvents(t, s, "src"); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}

func testDedupConcurrent(t *testing.T, s inlet.Store) {
	c := newClock()
	const n = 16
	events := make([]*event, n)
	for i := range events {
		events[i] = keyedEvent(c, "src", "same", time.Hour)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = appendTo(context.Background(), s, events[i])
		}()
	}
	wg.Wait()
	var original string
	for i, e := range events {
		if errs[i] != nil {
			t.Fatalf("Append %d: %v", i, errs[i])
		}
		if e.duplicateOf() == "" {
			if original != "" {
				t.Fatalf("two events with the same key were both stored: %s and %s", original, e.ID)
			}
			original = e.ID
		}
	}
	if original == "" {
		t.Fatal("every event was taken as a duplicate; none was stored")
	}
	for _, e := range events {
		if e.duplicateOf() != "" && e.duplicateOf() != original {
			t.Errorf("a duplicate of %s, want of the stored event %s", e.duplicateOf(), original)
		}
	}
	if got := countEvents(t, s, "src"); got != 1 {
		t.Errorf("%d events stored, want 1", got)
	}
}

func testDedupPerSource(t *testing.T, s inlet.Store) {
	c := newClock()
	a := keyedEvent(c, "src-a", "k", time.Hour)
	b := keyedEvent(c, "src-b", "k", time.Hour)
	appendEvents(t, s, a)
	appendEvents(t, s, b)
	if b.duplicateOf() != "" {
		t.Fatalf("an event of another source with the same key is a duplicate of %s", b.duplicateOf())
	}
}

func testDedupExpired(t *testing.T, s inlet.Store) {
	c := newClock()
	first := keyedEvent(c, "src", "k", time.Millisecond) // expires before the next event's time
	appendEvents(t, s, first)
	c.next()
	second := keyedEvent(c, "src", "k", time.Hour)
	appendEvents(t, s, second)
	if second.duplicateOf() != "" {
		t.Fatalf("an event after its key expired is a duplicate of %s", second.duplicateOf())
	}
	third := keyedEvent(c, "src", "k", time.Hour)
	appendEvents(t, s, third)
	if third.duplicateOf() != second.ID {
		t.Fatalf("after the key was replaced, a duplicate of %q, want the second event %s", third.duplicateOf(), second.ID)
	}
	if n := countEvents(t, s, "src"); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}

func testDedupSession(t *testing.T, s inlet.Store) {
	c := newClock()
	first := newEvent(c, "src", "order.paid", "sess-1")
	first.DedupKey, first.DedupUntil = "k", first.InsertedAt.Add(time.Hour)
	appendEvents(t, s, first)
	again := newEvent(c, "src", "order.paid", "sess-1")
	again.DedupKey, again.DedupUntil = "k", again.InsertedAt.Add(time.Hour)
	inBatch := newEvent(c, "src", "order.paid", "sess-2")
	inBatchDup := newEvent(c, "src", "order.paid", "sess-2")
	inBatch.DedupKey, inBatch.DedupUntil = "k2", inBatch.InsertedAt.Add(time.Hour)
	inBatchDup.DedupKey, inBatchDup.DedupUntil = "k2", inBatchDup.InsertedAt.Add(time.Hour)
	appendEvents(t, s, again, inBatch, inBatchDup)
	if again.duplicateOf() != first.ID || again.ProfileID != first.ProfileID || again.SessionID != "sess-1" {
		t.Errorf("duplicate across batches: of=%s profile=%s session=%s, want of=%s profile=%s session=sess-1",
			again.duplicateOf(), again.ProfileID, again.SessionID, first.ID, first.ProfileID)
	}
	if inBatchDup.duplicateOf() != inBatch.ID || inBatchDup.ProfileID == "" || inBatchDup.ProfileID != inBatch.ProfileID {
		t.Errorf("duplicate in the batch: of=%s profile=%s, want of=%s profile=%s",
			inBatchDup.duplicateOf(), inBatchDup.ProfileID, inBatch.ID, inBatch.ProfileID)
	}
	sess, err := s.FindSession(context.Background(), "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	if sess.EventCount != 1 {
		t.Errorf("session sess-1 counts %d events; a duplicate must not be counted", sess.EventCount)
	}
}

func testDedupFailedBatch(t *testing.T, s inlet.Store) {
	c := newClock()
	keyed := keyedEvent(c, "src", "k", time.Hour)
	bad := keyedEvent(c, "src", "", 0)
	bad.ID = keyed.ID // a duplicate event id fails the whole batch
	err := appendTo(context.Background(), s, keyed, bad)
	wantCode(t, "Append of a batch with two events of one id", err, inlet.ECONFLICT)
	retry := keyedEvent(c, "src", "k", time.Hour)
	appendEvents(t, s, retry)
	if retry.duplicateOf() != "" {
		t.Fatalf("the key of a failed batch was kept: the retry is a duplicate of %s", retry.duplicateOf())
	}
}
