package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"inlet"
)

// RunDelivery runs the conformance suite of destinations, the outbox and
// deliveries. open returns a new, empty store for one test.
func RunDelivery(t *testing.T, open func(t *testing.T) inlet.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s inlet.Store)
	}{
		{"a created destination is found as it was stored", testCreateDestination},
		{"destination errors have the same codes on every store", testDestinationErrors},
		{"destinations are paged by id", testListDestinations},
		{"an update changes only the given fields", testUpdateDestination},
		{"fan-out delivers matching events committed after the destination", testFanOut},
		{"a lease keeps a delivery from other owners until it expires", testClaimLease},
		{"an ordered destination claims only its first undelivered event", testClaimOrdered},
		{"outcomes are recorded, and retry makes deliveries due again", testCompleteAndRetry},
		{"replay makes stored events pending again in commit order", testReplay},
		{"deleting a destination deletes its deliveries", testDeleteDestination},
		{"retention keeps events still to deliver", testRetentionKeepsUndelivered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func newDestination(id string) *inlet.Destination {
	return &inlet.Destination{ID: id, Name: "Destination " + id, Type: inlet.DestinationWebhook, Enabled: true,
		Config: json.RawMessage(`{"url":"http://127.0.0.1:9/hook","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`)}
}

func createDest(t *testing.T, s inlet.Store, d *inlet.Destination) *inlet.Destination {
	t.Helper()
	if err := s.CreateDestination(context.Background(), d); err != nil {
		t.Fatalf("CreateDestination(%s): %v", d.ID, err)
	}
	return d
}

func testCreateDestination(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	d := newDestination("d1")
	d.Filter = inlet.DestinationFilter{Sources: []string{"shop"}, Types: []string{"invoice.*"}}
	d.Ordered = true
	createDest(t, s, d)
	if d.CreatedAt.IsZero() || !slices.Equal(d.Retry.Backoff, inlet.DefaultBackoff) || d.Retry.MaxAge != inlet.DefaultMaxAge {
		t.Fatalf("created = %+v; want its time and the default retry policy set", d)
	}
	got, err := s.FindDestination(ctx, "d1")
	if err != nil {
		t.Fatalf("FindDestination: %v", err)
	}
	var cfg, want map[string]any
	json.Unmarshal(got.Config, &cfg)
	json.Unmarshal(d.Config, &want)
	if got.Name != d.Name || got.Type != d.Type || !got.Enabled || !got.Ordered || !slices.Equal(got.Filter.Types, d.Filter.Types) ||
		!slices.Equal(got.Filter.Sources, d.Filter.Sources) || cfg["secret"] != want["secret"] || !got.CreatedAt.Equal(d.CreatedAt) ||
		!slices.Equal(got.Retry.Backoff, d.Retry.Backoff) {
		t.Fatalf("found %+v (config %s), want %+v", got, got.Config, d)
	}
}

func testDestinationErrors(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	createDest(t, s, newDestination("d1"))
	wantCode(t, "a second destination d1", s.CreateDestination(ctx, newDestination("d1")), inlet.ECONFLICT)
	bad := newDestination("d2")
	bad.Filter.Types = []string{"not a type!"}
	wantCode(t, "a bad filter", s.CreateDestination(ctx, bad), inlet.EINVALID)
	bad = newDestination("d3")
	bad.Retry.Backoff = []string{"soon"}
	wantCode(t, "a bad backoff", s.CreateDestination(ctx, bad), inlet.EINVALID)

	_, err := s.FindDestination(ctx, "nope")
	wantCode(t, "FindDestination of an unknown id", err, inlet.ENOTFOUND)
	_, err = s.UpdateDestination(ctx, "nope", inlet.DestinationUpdate{})
	wantCode(t, "UpdateDestination of an unknown id", err, inlet.ENOTFOUND)
	wantCode(t, "DeleteDestination of an unknown id", s.DeleteDestination(ctx, "nope"), inlet.ENOTFOUND)
	_, err = s.ListDeliveries(ctx, "nope", inlet.DeliveryFilter{})
	wantCode(t, "ListDeliveries of an unknown destination", err, inlet.ENOTFOUND)
	_, err = s.RetryDeliveries(ctx, "nope", nil, inlet.DeliveryDead, time.Now())
	wantCode(t, "RetryDeliveries of an unknown destination", err, inlet.ENOTFOUND)
	_, err = s.ReplayDeliveries(ctx, "nope", inlet.Replay{}, time.Now())
	wantCode(t, "ReplayDeliveries of an unknown destination", err, inlet.ENOTFOUND)
	_, err = s.DeliveryState(ctx, "nope", time.Now())
	wantCode(t, "DeliveryState of an unknown destination", err, inlet.ENOTFOUND)

	_, err = s.ListDeliveries(ctx, "d1", inlet.DeliveryFilter{Status: "lost"})
	wantCode(t, "ListDeliveries by an unknown status", err, inlet.EINVALID)
	_, err = s.ListDeliveries(ctx, "d1", inlet.DeliveryFilter{Cursor: "garbage"})
	wantCode(t, "ListDeliveries with a bad cursor", err, inlet.EINVALID)
	_, err = s.ListDestinations(ctx, inlet.ListFilter{Cursor: "garbage"})
	wantCode(t, "ListDestinations with a bad cursor", err, inlet.EINVALID)
	_, err = s.RetryDeliveries(ctx, "d1", nil, inlet.DeliveryPending, time.Now())
	wantCode(t, "RetryDeliveries of pending deliveries", err, inlet.EINVALID)
}

func testListDestinations(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	for _, id := range []string{"c", "a", "e", "b", "d"} {
		createDest(t, s, newDestination(id))
	}
	var got []string
	f := inlet.ListFilter{Limit: 2}
	for {
		page, err := s.ListDestinations(ctx, f)
		if err != nil {
			t.Fatalf("ListDestinations: %v", err)
		}
		for _, d := range page.Items {
			got = append(got, d.ID)
		}
		if page.Next == nil {
			break
		}
		f.Cursor = *page.Next
	}
	if !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("pages gave %v", got)
	}
}

func testUpdateDestination(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	d := createDest(t, s, newDestination("d1"))
	off := false
	got, err := s.UpdateDestination(ctx, "d1", inlet.DestinationUpdate{Enabled: &off})
	if err != nil || got.Enabled || got.Name != d.Name || string(got.Config) != string(d.Config) {
		t.Fatalf("UpdateDestination = %+v, %v; want only enabled changed", got, err)
	}
	_, err = s.UpdateDestination(ctx, "d1", inlet.DestinationUpdate{Retry: &inlet.RetryPolicy{Backoff: []string{"never"}}})
	wantCode(t, "an invalid update", err, inlet.EINVALID)
	if got, _ := s.FindDestination(ctx, "d1"); !slices.Equal(got.Retry.Backoff, inlet.DefaultBackoff) {
		t.Fatalf("after an invalid update, retry = %v", got.Retry)
	}
}

// fanOutAll empties the outbox, a few entries at a time.
func fanOutAll(t *testing.T, s inlet.Store, now time.Time) {
	t.Helper()
	for {
		n, err := s.FanOut(context.Background(), 3, now)
		if err != nil {
			t.Fatalf("FanOut: %v", err)
		}
		if n < 3 {
			return
		}
	}
}

func deliveryIDs(t *testing.T, s inlet.Store, dest, status string) []string {
	t.Helper()
	var ids []string
	f := inlet.DeliveryFilter{Status: status, Limit: 2}
	for {
		page, err := s.ListDeliveries(context.Background(), dest, f)
		if err != nil {
			t.Fatalf("ListDeliveries: %v", err)
		}
		for _, d := range page.Items {
			ids = append(ids, d.EventID)
		}
		if page.Next == nil {
			return ids
		}
		f.Cursor = *page.Next
	}
}

func testFanOut(t *testing.T, s inlet.Store) {
	c := newClock()
	before := newEvent(c, "shop", "invoice.paid", "")
	appendEvents(t, s, before)
	all := createDest(t, s, newDestination("all"))
	inv := newDestination("invoices")
	inv.Filter = inlet.DestinationFilter{Sources: []string{"shop"}, Types: []string{"invoice.*"}}
	createDest(t, s, inv)

	c = &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	e1, e2, e3, e4 := newEvent(c, "shop", "invoice.paid", ""), newEvent(c, "shop", "order.created", ""), newEvent(c, "crm", "invoice.paid", ""), newEvent(c, "shop", "invoice", "")
	appendEvents(t, s, e1, e2)
	appendEvents(t, s, e3, e4)
	fanOutAll(t, s, time.Now())
	if n, err := s.FanOut(context.Background(), 10, time.Now()); err != nil || n != 0 {
		t.Fatalf("FanOut of an empty outbox = %d, %v", n, err)
	}
	if got := deliveryIDs(t, s, all.ID, ""); !slices.Equal(got, []string{e1.ID, e2.ID, e3.ID, e4.ID}) {
		t.Fatalf("deliveries of all = %v; want the 4 events after it, in commit order", got)
	}
	if got := deliveryIDs(t, s, inv.ID, inlet.DeliveryPending); !slices.Equal(got, []string{e1.ID}) {
		t.Fatalf("deliveries of invoices = %v; want only %s", got, e1.ID)
	}
	st, err := s.DeliveryState(context.Background(), all.ID, time.Now().Add(time.Second))
	if err != nil || st.Pending != 4 || st.Oldest == nil || st.LagSeconds < 1 {
		t.Fatalf("DeliveryState = %+v, %v", st, err)
	}
}

// setup creates a destination and n events for it, fanned out at now.
func setup(t *testing.T, s inlet.Store, d *inlet.Destination, n int, now time.Time) []string {
	t.Helper()
	createDest(t, s, d)
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	var ids []string
	for range n {
		e := newEvent(c, "shop", "order.created", "")
		appendEvents(t, s, e)
		ids = append(ids, e.ID)
	}
	fanOutAll(t, s, now)
	return ids
}

func claimIDs(t *testing.T, s inlet.Store, dest, owner string, limit int, now time.Time) []string {
	t.Helper()
	ds, err := s.ClaimDeliveries(context.Background(), dest, owner, limit, now, time.Minute)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	var ids []string
	for _, d := range ds {
		if d.Event == nil || d.Event.ID != d.EventID {
			t.Fatalf("claimed %s without its event", d.EventID)
		}
		ids = append(ids, d.EventID)
	}
	return ids
}

func testClaimLease(t *testing.T, s inlet.Store) {
	now := time.Now()
	ids := setup(t, s, newDestination("d"), 5, now)
	if got := claimIDs(t, s, "d", "a", 3, now); !slices.Equal(got, ids[:3]) {
		t.Fatalf("a claimed %v; want the first 3 in commit order", got)
	}
	if got := claimIDs(t, s, "d", "b", 10, now); !slices.Equal(got, ids[3:]) {
		t.Fatalf("b claimed %v; want only the 2 not leased", got)
	}
	if got := claimIDs(t, s, "d", "b", 10, now.Add(30*time.Second)); len(got) != 0 {
		t.Fatalf("b claimed %v within the lease", got)
	}
	// a's lease ran out: b takes over, and a's late outcome is ignored.
	if got := claimIDs(t, s, "d", "b", 10, now.Add(2*time.Minute)); !slices.Equal(got, ids) {
		t.Fatalf("b claimed %v after the leases expired; want all 5", got)
	}
	err := s.CompleteDeliveries(context.Background(), "d", "a", []inlet.Outcome{{EventID: ids[0], Status: inlet.DeliveryDelivered, NextAttemptAt: now}})
	if err != nil {
		t.Fatalf("CompleteDeliveries: %v", err)
	}
	if got := deliveryIDs(t, s, "d", inlet.DeliveryDelivered); len(got) != 0 {
		t.Fatalf("an outcome from an owner whose lease was taken was recorded: %v", got)
	}
}

func testClaimOrdered(t *testing.T, s inlet.Store) {
	now := time.Now()
	d := newDestination("d")
	d.Ordered = true
	ids := setup(t, s, d, 3, now)
	if got := claimIDs(t, s, "d", "a", 10, now); !slices.Equal(got, ids[:1]) {
		t.Fatalf("claimed %v; want only the first", got)
	}
	if got := claimIDs(t, s, "d", "b", 10, now); len(got) != 0 {
		t.Fatalf("claimed %v while the first is in flight", got)
	}
	ctx := context.Background()
	s.CompleteDeliveries(ctx, "d", "a", []inlet.Outcome{{EventID: ids[0], Status: inlet.DeliveryFailed, NextAttemptAt: now.Add(time.Hour)}})
	if got := claimIDs(t, s, "d", "a", 10, now.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("claimed %v while the first waits for its retry", got)
	}
	if got := claimIDs(t, s, "d", "a", 10, now.Add(2*time.Hour)); !slices.Equal(got, ids[:1]) {
		t.Fatalf("claimed %v when the retry is due; want the first again", got)
	}
}

func testCompleteAndRetry(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := setup(t, s, newDestination("d"), 3, now)
	claimIDs(t, s, "d", "a", 10, now)
	log := []inlet.Attempt{{At: now, Status: 500, Error: "status 500", LatencyMS: 1.5, Response: "oops"}}
	err := s.CompleteDeliveries(ctx, "d", "a", []inlet.Outcome{
		{EventID: ids[0], Status: inlet.DeliveryDelivered, NextAttemptAt: now, Log: []inlet.Attempt{{At: now, Status: 200}}},
		{EventID: ids[1], Status: inlet.DeliveryFailed, NextAttemptAt: now.Add(time.Minute), Log: log},
		{EventID: ids[2], Status: inlet.DeliveryDead, NextAttemptAt: now.Add(time.Minute), Log: log},
	})
	if err != nil {
		t.Fatalf("CompleteDeliveries: %v", err)
	}
	page, err := s.ListDeliveries(ctx, "d", inlet.DeliveryFilter{Status: inlet.DeliveryFailed})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("failed deliveries = %+v, %v", page, err)
	}
	f := page.Items[0]
	if f.EventID != ids[1] || f.Attempts != 1 || f.LastError != "status 500" || !f.NextAttemptAt.Equal(now.Add(time.Minute)) ||
		len(f.Log) != 1 || f.Log[0].Status != 500 || f.Log[0].Response != "oops" || !f.Log[0].At.Equal(now) {
		t.Fatalf("failed delivery = %+v", f)
	}
	if got := claimIDs(t, s, "d", "a", 10, now.Add(time.Second)); len(got) != 0 {
		t.Fatalf("claimed %v before the retry is due", got)
	}
	if got := claimIDs(t, s, "d", "a", 10, now.Add(2*time.Minute)); !slices.Equal(got, ids[1:2]) {
		t.Fatalf("claimed %v when due; want the failed one, not the dead one", got)
	}
	n, err := s.RetryDeliveries(ctx, "d", nil, inlet.DeliveryDead, now)
	if err != nil || n != 1 {
		t.Fatalf("RetryDeliveries(dead) = %d, %v", n, err)
	}
	if got := deliveryIDs(t, s, "d", inlet.DeliveryPending); !slices.Equal(got, ids[2:]) {
		t.Fatalf("pending after retry = %v; want the dead one", got)
	}
	n, err = s.RetryDeliveries(ctx, "d", []string{ids[0], "unknown"}, "", now)
	if err != nil || n != 1 {
		t.Fatalf("RetryDeliveries(ids) = %d, %v; want the one delivered", n, err)
	}

	// Discarded deliveries are gone; a delivered one is never discarded.
	claimIDs(t, s, "d", "a", 10, now.Add(time.Hour))
	s.CompleteDeliveries(ctx, "d", "a", []inlet.Outcome{{EventID: ids[0], Status: inlet.DeliveryDelivered, NextAttemptAt: now}})
	n, err = s.DiscardDeliveries(ctx, "d", []string{ids[0], ids[1]}, "")
	if err != nil || n != 1 {
		t.Fatalf("DiscardDeliveries(ids) = %d, %v; want 1 (not the delivered one)", n, err)
	}
	_, err = s.DiscardDeliveries(ctx, "d", nil, inlet.DeliveryDelivered)
	wantCode(t, "DiscardDeliveries of delivered ones", err, inlet.EINVALID)
	_, err = s.DiscardDeliveries(ctx, "nope", nil, inlet.DeliveryDead)
	wantCode(t, "DiscardDeliveries of an unknown destination", err, inlet.ENOTFOUND)
	if got := deliveryIDs(t, s, "d", ""); !slices.Equal(got, []string{ids[0], ids[2]}) {
		t.Fatalf("deliveries after discard = %v; want the delivered one and the other", got)
	}
}

func testReplay(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	var old []*event
	for _, src := range []string{"shop", "crm", "shop", "shop"} {
		e := newEvent(c, src, "order.created", "")
		appendEvents(t, s, e)
		old = append(old, e)
	}
	d := createDest(t, s, newDestination("d"))
	fanOutAll(t, s, time.Now())
	if got := deliveryIDs(t, s, "d", ""); len(got) != 0 {
		t.Fatalf("deliveries of events older than the destination: %v", got)
	}
	n, err := s.ReplayDeliveries(ctx, d.ID, inlet.Replay{Since: old[1].InsertedAt, Sources: []string{"shop"}}, time.Now())
	if err != nil || n != 2 {
		t.Fatalf("ReplayDeliveries = %d, %v; want 2", n, err)
	}
	if got := deliveryIDs(t, s, "d", inlet.DeliveryPending); !slices.Equal(got, []string{old[2].ID, old[3].ID}) {
		t.Fatalf("pending after replay = %v", got)
	}
	n, err = s.ReplayDeliveries(ctx, d.ID, inlet.Replay{Since: old[0].InsertedAt, Until: old[1].InsertedAt}, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("ReplayDeliveries with until = %d, %v; want 1", n, err)
	}
}

func testDeleteDestination(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	setup(t, s, newDestination("d"), 2, time.Now())
	if err := s.DeleteDestination(ctx, "d"); err != nil {
		t.Fatalf("DeleteDestination: %v", err)
	}
	createDest(t, s, newDestination("d"))
	if got := deliveryIDs(t, s, "d", ""); len(got) != 0 {
		t.Fatalf("a new destination of the same id has the old one's deliveries: %v", got)
	}
}

func testRetentionKeepsUndelivered(t *testing.T, s inlet.Store) {
	r := s
	ctx := context.Background()
	now := time.Now().UTC()
	c := &clock{t: now.Add(-10 * 24 * time.Hour)}
	e1, e2 := newEvent(c, "shop", "a", ""), newEvent(c, "shop", "b", "")
	appendEvents(t, s, e1, e2)
	d := createDest(t, s, newDestination("d"))
	if n, err := s.ReplayDeliveries(ctx, d.ID, inlet.Replay{Since: e1.InsertedAt, Until: e1.InsertedAt.Add(time.Nanosecond * 1000)}, now); err != nil || n != 1 {
		t.Fatalf("ReplayDeliveries = %d, %v", n, err)
	}
	if err := r.DeleteEventsBefore(ctx, now.Add(-24*time.Hour)); err != nil {
		t.Fatalf("DeleteEventsBefore: %v", err)
	}
	if _, err := s.FindEvent(ctx, e1.ID); err != nil {
		t.Fatalf("an event still to deliver was deleted: %v", err)
	}
	claimIDs(t, s, "d", "a", 10, now)
	s.CompleteDeliveries(ctx, "d", "a", []inlet.Outcome{{EventID: e1.ID, Status: inlet.DeliveryDelivered, NextAttemptAt: now}})
	if err := r.DeleteEventsBefore(ctx, now.Add(-24*time.Hour)); err != nil {
		t.Fatalf("DeleteEventsBefore: %v", err)
	}
	for _, e := range []*event{e1, e2} {
		_, err := s.FindEvent(ctx, e.ID)
		wantCode(t, "FindEvent once delivered and past retention", err, inlet.ENOTFOUND)
	}
	if got := deliveryIDs(t, s, "d", ""); len(got) != 0 {
		t.Fatalf("deliveries of deleted events stay: %v", got)
	}
}
