package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"inlet"
)

// overviewTests are the tests of the per-minute counts of the console's
// overview, of the optional inlet.OverviewStore.
var overviewTests = []test{
	{"events are counted by minute and source within the window", testEventsPerMinute},
	{"rejections are counted by minute and reason within the window", testRejectionsPerMinute},
	{"an empty window counts nothing", testPerMinuteEmpty},
}

// overviewStore returns s as an inlet.OverviewStore, which a store need
// not implement: the test is skipped without it.
func overviewStore(t *testing.T, s inlet.Store) inlet.OverviewStore {
	t.Helper()
	os, ok := s.(inlet.OverviewStore)
	if !ok {
		t.Skipf("%T does not implement inlet.OverviewStore", s)
	}
	return os
}

// minuteBase is a whole minute an hour ago, inside today's or
// yesterday's partitions of every backend.
func minuteBase() time.Time {
	return time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
}

func formatCounts(cs []inlet.MinuteCount) string {
	out := ""
	for _, c := range cs {
		out += fmt.Sprintf("[%s %s %d]", c.Minute.Format("15:04"), c.Key, c.Count)
	}
	return out
}

func testEventsPerMinute(t *testing.T, s inlet.Store) {
	base := minuteBase()
	at := func(e *event, d time.Duration) *event { e.InsertedAt = base.Add(d); return e }
	c := newClock()
	appendEvents(t, s,
		at(newEvent(c, "shop", "order", ""), -time.Second), // before the window
		at(newEvent(c, "shop", "order", ""), 0),
		at(newEvent(c, "shop", "order", ""), 59*time.Second+999*time.Millisecond),
		at(newEvent(c, "gh", "push", ""), 30*time.Second),
		at(newEvent(c, "shop", "view", "s1"), 2*time.Minute+time.Second),
		at(newEvent(c, "gh", "push", ""), 3*time.Minute), // at until: outside
	)
	got, err := overviewStore(t, s).EventsPerMinute(context.Background(), base, base.Add(3*time.Minute))
	if err != nil {
		t.Fatalf("EventsPerMinute: %v", err)
	}
	m := base.Format("15:04")
	m2 := base.Add(2 * time.Minute).Format("15:04")
	want := fmt.Sprintf("[%s gh 1][%s shop 2][%s shop 1]", m, m, m2)
	if formatCounts(got) != want {
		t.Fatalf("EventsPerMinute = %s, want %s", formatCounts(got), want)
	}
	if !got[0].Minute.Equal(base) || got[0].Minute.Location() != time.UTC {
		t.Fatalf("first minute %v, want %v in UTC", got[0].Minute, base)
	}
}

func testRejectionsPerMinute(t *testing.T, s inlet.Store) {
	rs := inlet.RejectionStore(s)
	base := minuteBase()
	appendRejections(t, rs, bigBounds,
		newRejection(base.Add(-time.Minute), "shop", "bad_signature"),
		newRejection(base.Add(10*time.Second), "shop", "bad_signature"),
		newRejection(base.Add(20*time.Second), "gh", "bad_signature"),
		newRejection(base.Add(30*time.Second), "", "unknown_source"),
		newRejection(base.Add(5*time.Minute+time.Second), "shop", "bad_json"),
	)
	got, err := overviewStore(t, s).RejectionsPerMinute(context.Background(), base, base.Add(10*time.Minute))
	if err != nil {
		t.Fatalf("RejectionsPerMinute: %v", err)
	}
	m, m5 := base.Format("15:04"), base.Add(5*time.Minute).Format("15:04")
	want := fmt.Sprintf("[%s bad_signature 2][%s unknown_source 1][%s bad_json 1]", m, m, m5)
	if formatCounts(got) != want {
		t.Fatalf("RejectionsPerMinute = %s, want %s", formatCounts(got), want)
	}
}

func testPerMinuteEmpty(t *testing.T, s inlet.Store) {
	os := overviewStore(t, s)
	base := minuteBase()
	for name, f := range map[string]func(context.Context, time.Time, time.Time) ([]inlet.MinuteCount, error){
		"EventsPerMinute": os.EventsPerMinute, "RejectionsPerMinute": os.RejectionsPerMinute,
	} {
		got, err := f(context.Background(), base, base.Add(time.Hour))
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("%s on an empty store = %v, %v; want an empty list", name, got, err)
		}
	}
}
