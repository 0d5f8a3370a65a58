package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"inlet"
)

// deliveryTests are the tests of destinations and delivery
// (inlet.DestinationStore, inlet.DeliveryStore).
var deliveryTests = []test{
	{"a created destination is found as it was stored", testCreateDestination},
	{"destination errors have the same codes on every store", testDestinationErrors},
	{"destinations are paged by id", testListDestinations},
	{"an update changes only the given fields", testUpdateDestination},
	{"the log holds the committed events after a destination's cursor, in commit order", testReadLog},
	{"the log's head is where a reader of only new events starts", testLogHead},
	{"a lease keeps a cursor from other owners until it expires or is released", testCursorLease},
	{"settling moves the cursor, counts deliveries and writes rows only for failures", testSettle},
	{"rows come due at their time, and an ordered destination sees its first row due or not", testDueRows},
	{"an outcome begun before a retry does not overwrite it", testStaleOutcome},
	{"retry and discard change the rows they name", testRetryAndDiscard},
	{"a replay is released behind the events already in the log", testReplayPosition},
	{"pending and dead are counted and aged apart", testPendingAndDead},
	{"the failure rate counts the attempts of the last hour settled by every owner", testFailureRate},
	{"an event's deliveries list every destination it was for", testEventDeliveries},
	{"a destination disabled by delivery says when and why until it is enabled", testDisable},
	{"deleting a destination deletes its cursor and its rows", testDeleteDestination},
	{"retention keeps events a cursor has not passed and rows not delivered", testRetentionKeepsUndelivered},
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

// logIDs reads the whole log after a position, limit events at a time,
// and returns the event ids and the last head.
func logIDs(t *testing.T, s inlet.Store, after inlet.LogPosition, limit int) ([]string, inlet.LogPosition) {
	t.Helper()
	var ids []string
	for range 100 {
		r, err := s.ReadLog(context.Background(), after, limit)
		if err != nil {
			t.Fatalf("ReadLog: %v", err)
		}
		for i, le := range r.Events {
			if le.Pos.Compare(after) <= 0 || i > 0 && le.Pos.Compare(r.Events[i-1].Pos) <= 0 {
				t.Fatalf("ReadLog after %v returned positions out of order: %v", after, le.Pos)
			}
			ids = append(ids, le.Event.ID)
		}
		if r.Head.Compare(after) < 0 {
			t.Fatalf("ReadLog's head %v is before where it read from, %v", r.Head, after)
		}
		if len(r.Events) == 0 {
			return ids, r.Head
		}
		after = r.Head
	}
	t.Fatalf("ReadLog never reached the end")
	return nil, after
}

func takeCursor(t *testing.T, s inlet.Store, dest, owner string, now time.Time) *inlet.Cursor {
	t.Helper()
	c, err := s.TakeCursor(context.Background(), dest, owner, now, time.Minute)
	if err != nil {
		t.Fatalf("TakeCursor(%s, %s): %v", dest, owner, err)
	}
	return c
}

func settle(t *testing.T, s inlet.Store, dest, owner string, st inlet.Settlement, now time.Time) *inlet.Cursor {
	t.Helper()
	c, err := s.Settle(context.Background(), dest, owner, st, now, time.Minute)
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	return c
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

// positions returns the log positions of events by id, once every one of
// want is readable: on PostgreSQL, a transaction still open elsewhere in
// the cluster holds the readable end of the log back for a moment.
func positions(t *testing.T, s inlet.Store, after inlet.LogPosition, want ...*event) map[string]inlet.LogPosition {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := s.ReadLog(context.Background(), after, 1000)
		if err != nil {
			t.Fatalf("ReadLog: %v", err)
		}
		out := map[string]inlet.LogPosition{}
		for _, le := range r.Events {
			out[le.Event.ID] = le.Pos
		}
		missing := 0
		for _, e := range want {
			if _, ok := out[e.ID]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d committed events are not in the log after 10s", missing, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func failedOutcome(e *event, pos inlet.LogPosition, status string, next time.Time) inlet.Outcome {
	return inlet.Outcome{EventID: e.ID, Pos: pos, Status: status, Attempts: 1, CreatedAt: next.Add(-time.Minute), NextAttemptAt: next,
		InsertedAt: e.InsertedAt, FromLog: true, Log: []inlet.Attempt{{At: next.Add(-time.Minute), Status: 500, Error: "status 500"}}}
}

func testLogHead(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	before := newEvent(c, "shop", "a", "")
	appendEvents(t, s, before)
	head, err := s.LogHead(ctx)
	if err != nil {
		t.Fatalf("LogHead: %v", err)
	}
	after := newEvent(c, "shop", "b", "")
	appendEvents(t, s, after)
	positions(t, s, head, after)
	got, _ := logIDs(t, s, head, 10)
	// On PostgreSQL the head is below the oldest transaction still running
	// in the cluster, so the event just before may be after it too.
	if len(got) > 0 && got[0] == before.ID {
		got = got[1:]
	}
	if !slices.Equal(got, []string{after.ID}) {
		t.Fatalf("the log after the head = %v; want only the event committed after it, %s", got, after.ID)
	}
}

func testReadLog(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	before := newEvent(c, "shop", "invoice.paid", "")
	appendEvents(t, s, before)
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	if cur.Position != cur.Start {
		t.Fatalf("a new cursor is at %v, its start %v: want both at the log's head", cur.Position, cur.Start)
	}
	e1, e2, e3, e4, e5 := newEvent(c, "shop", "a", ""), newEvent(c, "crm", "b", ""), newEvent(c, "shop", "c", ""), newEvent(c, "shop", "d", ""), newEvent(c, "shop", "e", "")
	appendEvents(t, s, e1, e2)
	appendEvents(t, s, e3)
	appendEvents(t, s, e4, e5)
	imported := newEvent(c, "shop", "imported", "")
	if _, err := s.ImportEvents(ctx, []*inlet.Event{&imported.Event}); err != nil {
		t.Fatalf("ImportEvents: %v", err)
	}
	want := []string{e1.ID, e2.ID, e3.ID, e4.ID, e5.ID}
	positions(t, s, cur.Position, e1, e2, e3, e4, e5)
	for _, limit := range []int{1, 2, 100} {
		got, head := logIDs(t, s, cur.Position, limit)
		// On PostgreSQL a cursor starts below the oldest transaction still
		// running in the cluster, so an event committed just before the
		// destination may be in its log too (delivery skips it as older
		// than the destination); on SQLite it never is.
		if len(got) > 0 && got[0] == before.ID {
			got = got[1:]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("the log after a new cursor, read %d at a time = %v; want the 5 events committed after it, in commit order (not the one before, not the imported one): %v", limit, got, want)
		}
		if again, _ := logIDs(t, s, head, limit); len(again) != 0 {
			t.Fatalf("the log after its head = %v; want nothing", again)
		}
	}
	r, err := s.ReadLog(ctx, positions(t, s, cur.Position, e1)[e1.ID], 2)
	if err != nil || len(r.Events) != 2 || r.Head != r.Events[1].Pos {
		t.Fatalf("ReadLog(limit 2) = %+v, %v; want two events and the head at the second", r, err)
	}
	sameEvent(t, r.Events[0].Event, e2)
}

func testCursorLease(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	d := createDest(t, s, newDestination("d"))
	now := time.Now()
	takeCursor(t, s, d.ID, "a", now)
	takeCursor(t, s, d.ID, "a", now.Add(time.Second)) // the owner renews
	_, err := s.TakeCursor(ctx, d.ID, "b", now.Add(time.Second), time.Minute)
	wantCode(t, "TakeCursor of a cursor another owner holds", err, inlet.ECONFLICT)
	_, err = s.Settle(ctx, d.ID, "b", inlet.Settlement{Delivered: 1}, now, time.Minute)
	wantCode(t, "Settle by an owner that does not hold the cursor", err, inlet.ECONFLICT)
	_, err = s.TakeCursor(ctx, "nope", "a", now, time.Minute)
	wantCode(t, "TakeCursor of an unknown destination", err, inlet.ENOTFOUND)

	later := now.Add(2 * time.Minute)
	c := takeCursor(t, s, d.ID, "b", later) // a's lease ran out
	if c.Owner != "b" || c.Delivered != 0 {
		t.Fatalf("cursor taken over = %+v", c)
	}
	_, err = s.Settle(ctx, d.ID, "a", inlet.Settlement{Delivered: 5}, later, time.Minute)
	wantCode(t, "Settle by the owner whose lease was taken over", err, inlet.ECONFLICT)
	if err := s.ReleaseCursor(ctx, d.ID, "b"); err != nil {
		t.Fatalf("ReleaseCursor: %v", err)
	}
	if c := takeCursor(t, s, d.ID, "a", later); c.Delivered != 0 {
		t.Fatalf("a settlement of an owner that lost the lease was recorded: %+v", c)
	}
}

func testSettle(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	e1, e2, e3, e4 := newEvent(c, "shop", "a", ""), newEvent(c, "shop", "b", ""), newEvent(c, "shop", "c", ""), newEvent(c, "shop", "d", "")
	appendEvents(t, s, e1, e2, e3, e4)
	pos := positions(t, s, cur.Position, e1, e2, e3, e4)
	now := time.Now()
	next := now.Add(time.Hour)
	got := settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e2.ID], Delivered: 1, Failed: true, Succeeded: true,
		Outcomes: []inlet.Outcome{failedOutcome(e1, pos[e1.ID], inlet.DeliveryFailed, next)}}, now)
	if got.Position != pos[e2.ID] || got.Delivered != 1 || got.FailingSince != nil {
		t.Fatalf("cursor after settling = %+v; want at e2, 1 delivered, not failing", got)
	}
	if ids := deliveryIDs(t, s, d.ID, ""); !slices.Equal(ids, []string{e1.ID}) {
		t.Fatalf("rows after settling = %v; want only the failure", ids)
	}
	page, err := s.ListDeliveries(ctx, d.ID, inlet.DeliveryFilter{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListDeliveries = %+v, %v", page, err)
	}
	if r := page.Items[0]; r.Status != inlet.DeliveryFailed || r.Attempts != 1 || r.LastError != "status 500" || len(r.Log) != 1 || !r.NextAttemptAt.Equal(next.UTC().Truncate(time.Microsecond)) && !r.NextAttemptAt.Equal(next.UTC()) {
		t.Fatalf("the failure's row = %+v", r)
	}
	// A cursor never moves back.
	got = settle(t, s, d.ID, "a", inlet.Settlement{Position: cur.Position, Failed: true}, now)
	if got.Position != pos[e2.ID] || got.FailingSince == nil {
		t.Fatalf("cursor after settling an earlier position with only failures = %+v; want it unmoved and failing", got)
	}
	since := *got.FailingSince
	got = settle(t, s, d.ID, "a", inlet.Settlement{Failed: true}, now.Add(time.Minute))
	if got.FailingSince == nil || !got.FailingSince.Equal(since) {
		t.Fatalf("failing_since moved with a later failure: %v, was %v", got.FailingSince, since)
	}
	st, err := s.DeliveryState(ctx, d.ID, now.Add(time.Second))
	if err != nil || st.Pending != 2 || st.Failed != 1 || st.Delivered != 1 || st.OldestPending == nil || st.Cursor != pos[e2.ID] {
		t.Fatalf("DeliveryState = %+v, %v; want 2 pending from the log (e3, e4), 1 failed, 1 delivered", st, err)
	}
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e4.ID], Delivered: 2, Succeeded: true}, now)
	st, err = s.DeliveryState(ctx, d.ID, now.Add(time.Second))
	if err != nil || st.Pending != 0 || st.Failed != 1 || st.Delivered != 3 {
		t.Fatalf("DeliveryState after the rest = %+v, %v", st, err)
	}
}

func testFailureRate(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	d := createDest(t, s, newDestination("d"))
	other := createDest(t, s, newDestination("other"))
	rate := func(at time.Time) *inlet.DeliveryState {
		t.Helper()
		st, err := s.DeliveryState(ctx, d.ID, at)
		if err != nil {
			t.Fatalf("DeliveryState: %v", err)
		}
		return st
	}
	start := time.Now().UTC().Truncate(time.Minute)
	if st := rate(start); st.Attempts1h != 0 || st.Failures1h != 0 || st.FailureRate1h != nil {
		t.Fatalf("state of a destination never attempted = %+v; want no attempts and no rate", st)
	}
	// Node a settles 4 attempts, 1 failed; its lease runs out and node b
	// settles 6 more, 5 failed, 30 minutes later: both count.
	takeCursor(t, s, d.ID, "a", start)
	settle(t, s, d.ID, "a", inlet.Settlement{Delivered: 3, Succeeded: true, Failed: true, Attempts: 4, Failures: 1}, start)
	takeCursor(t, s, other.ID, "a", start)
	settle(t, s, other.ID, "a", inlet.Settlement{Failed: true, Attempts: 7, Failures: 7}, start)
	later := start.Add(30 * time.Minute)
	takeCursor(t, s, d.ID, "b", later)
	settle(t, s, d.ID, "b", inlet.Settlement{Delivered: 1, Succeeded: true, Failed: true, Attempts: 6, Failures: 5}, later)
	settle(t, s, d.ID, "b", inlet.Settlement{Position: inlet.LogPosition{}}, later) // a renewal counts nothing
	st := rate(later.Add(time.Second))
	if st.Attempts1h != 10 || st.Failures1h != 6 || st.FailureRate1h == nil || *st.FailureRate1h != 0.6 {
		t.Fatalf("state after 10 attempts, 6 failed, on two nodes = %+v (rate %v); want 10, 6, 0.6", st, st.FailureRate1h)
	}
	// An hour after the first settlement, only the later one counts.
	st = rate(start.Add(time.Hour))
	if st.Attempts1h != 6 || st.Failures1h != 5 {
		t.Fatalf("state an hour after the first 4 attempts = %+v; want only the 6 of later", st)
	}
	// A settlement drops the minutes older than the hour, and the rate
	// reads none of them.
	settle(t, s, d.ID, "b", inlet.Settlement{Succeeded: true, Delivered: 2, Attempts: 2}, start.Add(2*time.Hour))
	st = rate(start.Add(2 * time.Hour))
	if st.Attempts1h != 2 || st.Failures1h != 0 || st.FailureRate1h == nil || *st.FailureRate1h != 0 {
		t.Fatalf("state two hours on = %+v; want 2 attempts, none failed, rate 0", st)
	}
	st = rate(start.Add(-time.Minute))
	if st.Attempts1h != 0 {
		t.Fatalf("state read at a time before every minute still kept = %+v; want the dropped minutes gone", st)
	}
}

func testDueRows(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	e1, e2, e3 := newEvent(c, "shop", "a", ""), newEvent(c, "shop", "b", ""), newEvent(c, "shop", "c", "")
	appendEvents(t, s, e1, e2, e3)
	pos := positions(t, s, cur.Position, e1, e2, e3)
	now := time.Now()
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e3.ID], Failed: true, Outcomes: []inlet.Outcome{
		failedOutcome(e2, pos[e2.ID], inlet.DeliveryFailed, now.Add(time.Minute)),
		failedOutcome(e1, pos[e1.ID], inlet.DeliveryFailed, now.Add(2*time.Minute)),
		failedOutcome(e3, pos[e3.ID], inlet.DeliveryDead, now),
	}}, now)
	due := func(at time.Time, ordered bool) []string {
		t.Helper()
		ds, err := s.DueDeliveries(ctx, d.ID, inlet.DueFilter{Now: at, Released: pos[e3.ID], Ordered: ordered, Limit: 10})
		if err != nil {
			t.Fatalf("DueDeliveries: %v", err)
		}
		var ids []string
		for _, r := range ds {
			if r.Event == nil || r.Event.ID != r.EventID {
				t.Fatalf("a due row without its event: %+v", r)
			}
			ids = append(ids, r.EventID)
		}
		return ids
	}
	if got := due(now, false); len(got) != 0 {
		t.Fatalf("due before their time: %v", got)
	}
	if got := due(now.Add(90*time.Second), false); !slices.Equal(got, []string{e2.ID}) {
		t.Fatalf("due after 90s = %v; want e2", got)
	}
	if got := due(now.Add(3*time.Minute), false); !slices.Equal(got, []string{e1.ID, e2.ID}) {
		t.Fatalf("due after 3m = %v; want e1, e2 in log order (never the dead one)", got)
	}
	if got := due(now, true); !slices.Equal(got, []string{e1.ID}) {
		t.Fatalf("the ordered head = %v; want e1, due or not", got)
	}
}

func testStaleOutcome(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	e1 := newEvent(c, "shop", "a", "")
	appendEvents(t, s, e1)
	pos := positions(t, s, cur.Position, e1)
	now := time.Now()
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e1.ID], Failed: true, Outcomes: []inlet.Outcome{failedOutcome(e1, pos[e1.ID], inlet.DeliveryFailed, now)}}, now)
	ds, err := s.DueDeliveries(ctx, d.ID, inlet.DueFilter{Now: now, Released: pos[e1.ID], Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("DueDeliveries = %v, %v", ds, err)
	}
	read := ds[0]
	// An attempt is in flight when the operator asks for a retry.
	if n, err := s.RetryDeliveries(ctx, d.ID, []string{e1.ID}, "", now); err != nil || n != 1 {
		t.Fatalf("RetryDeliveries = %d, %v", n, err)
	}
	stale := inlet.Outcome{EventID: e1.ID, Pos: read.Pos, Status: inlet.DeliveryDead, Attempts: read.Attempts + 1, CreatedAt: read.CreatedAt, NextAttemptAt: now, Version: read.Version}
	settle(t, s, d.ID, "a", inlet.Settlement{Failed: true, Outcomes: []inlet.Outcome{stale}}, now)
	if got := deliveryIDs(t, s, d.ID, inlet.DeliveryPending); !slices.Equal(got, []string{e1.ID}) {
		t.Fatalf("pending after a stale outcome = %v; want the retried row still pending", got)
	}
	// A new row for an event that has one already (a replay made it) is
	// dropped too.
	settle(t, s, d.ID, "a", inlet.Settlement{Failed: true, Outcomes: []inlet.Outcome{failedOutcome(e1, pos[e1.ID], inlet.DeliveryDead, now)}}, now)
	if got := deliveryIDs(t, s, d.ID, inlet.DeliveryDead); len(got) != 0 {
		t.Fatalf("a log outcome overwrote an existing row: dead = %v", got)
	}
}

func testRetryAndDiscard(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	e1, e2, e3 := newEvent(c, "shop", "a", ""), newEvent(c, "shop", "b", ""), newEvent(c, "shop", "c", "")
	appendEvents(t, s, e1, e2, e3)
	pos := positions(t, s, cur.Position, e1, e2, e3)
	now := time.Now()
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e3.ID], Failed: true, Outcomes: []inlet.Outcome{
		failedOutcome(e1, pos[e1.ID], inlet.DeliveryDead, now), failedOutcome(e2, pos[e2.ID], inlet.DeliveryDead, now),
		failedOutcome(e3, pos[e3.ID], inlet.DeliveryFailed, now.Add(time.Hour)),
	}}, now)
	for _, tc := range []struct {
		what string
		err  error
		code string
	}{
		{"RetryDeliveries without ids or a status", retryErr(s, d.ID, nil, ""), inlet.EINVALID},
		{"RetryDeliveries of pending ones", retryErr(s, d.ID, nil, inlet.DeliveryPending), inlet.EINVALID},
		{"RetryDeliveries of an unknown destination", retryErr(s, "nope", nil, inlet.DeliveryDead), inlet.ENOTFOUND},
		{"DiscardDeliveries of delivered ones", discardErr(s, d.ID, nil, inlet.DeliveryDelivered), inlet.EINVALID},
		{"DiscardDeliveries of an unknown destination", discardErr(s, "nope", nil, inlet.DeliveryDead), inlet.ENOTFOUND},
	} {
		wantCode(t, tc.what, tc.err, tc.code)
	}
	n, err := s.RetryDeliveries(ctx, d.ID, nil, inlet.DeliveryDead, now)
	if err != nil || n != 2 {
		t.Fatalf("RetryDeliveries(dead) = %d, %v; want 2", n, err)
	}
	ds, err := s.DueDeliveries(ctx, d.ID, inlet.DueFilter{Now: now, Released: pos[e3.ID], Limit: 10})
	if err != nil || len(ds) != 2 || ds[0].Status != inlet.DeliveryPending || ds[0].Attempts != 1 || len(ds[0].Log) != 1 || !ds[0].NextAttemptAt.Equal(ds[0].CreatedAt) {
		t.Fatalf("due after a retry = %+v, %v; want the two, pending, due now, with their attempts so far", ds, err)
	}
	n, err = s.DiscardDeliveries(ctx, d.ID, []string{e1.ID, e3.ID}, "")
	if err != nil || n != 2 {
		t.Fatalf("DiscardDeliveries(ids) = %d, %v", n, err)
	}
	if got := deliveryIDs(t, s, d.ID, ""); !slices.Equal(got, []string{e2.ID}) {
		t.Fatalf("rows after discard = %v; want e2", got)
	}
}

func retryErr(s inlet.Store, dest string, ids []string, status string) error {
	_, err := s.RetryDeliveries(context.Background(), dest, ids, status, time.Now())
	return err
}

func discardErr(s inlet.Store, dest string, ids []string, status string) error {
	_, err := s.DiscardDeliveries(context.Background(), dest, ids, status)
	return err
}

func testReplayPosition(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	var old []*event
	for _, src := range []string{"shop", "crm", "shop", "shop"} {
		e := newEvent(c, src, "order.created", "")
		appendEvents(t, s, e)
		old = append(old, e)
	}
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	c2 := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	fresh := newEvent(c2, "shop", "order.created", "")
	appendEvents(t, s, fresh)
	now := time.Now()
	n, err := s.ReplayDeliveries(ctx, d.ID, inlet.Replay{Since: old[1].InsertedAt, Until: now.Add(time.Hour), Sources: []string{"shop"}}, now)
	if err != nil || n != 3 {
		t.Fatalf("ReplayDeliveries = %d, %v; want 3 (two old shop events and the fresh one)", n, err)
	}
	if got := deliveryIDs(t, s, d.ID, inlet.DeliveryPending); !slices.Equal(got, []string{old[2].ID, old[3].ID, fresh.ID}) {
		t.Fatalf("pending after replay = %v; want them in commit order", got)
	}
	// Released only once the cursor has passed what the log held when the
	// replay was made: the fresh event comes first, from the log.
	ds, err := s.DueDeliveries(ctx, d.ID, inlet.DueFilter{Now: now.Add(time.Second), Released: cur.Position, Limit: 10})
	if err != nil || len(ds) != 0 {
		t.Fatalf("replayed rows due before the cursor passed the log's head: %d, %v", len(ds), err)
	}
	positions(t, s, cur.Position, fresh)
	_, head := logIDs(t, s, cur.Position, 10)
	settle(t, s, d.ID, "a", inlet.Settlement{Position: head, Delivered: 1, Succeeded: true}, now)
	ds, err = s.DueDeliveries(ctx, d.ID, inlet.DueFilter{Now: now.Add(time.Second), Released: head, Limit: 10})
	if err != nil || len(ds) != 3 || ds[0].EventID != old[2].ID {
		t.Fatalf("replayed rows due after the cursor passed the head: %d, %v", len(ds), err)
	}
	n, err = s.ReplayDeliveries(ctx, d.ID, inlet.Replay{Since: old[0].InsertedAt, Until: old[1].InsertedAt}, now)
	if err != nil || n != 1 {
		t.Fatalf("ReplayDeliveries with until = %d, %v; want 1", n, err)
	}
	_, err = s.ReplayDeliveries(ctx, "nope", inlet.Replay{Since: old[0].InsertedAt}, now)
	wantCode(t, "ReplayDeliveries of an unknown destination", err, inlet.ENOTFOUND)
}

func testPendingAndDead(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	e1, e2 := newEvent(c, "shop", "a", ""), newEvent(c, "shop", "b", "")
	appendEvents(t, s, e1, e2)
	pos := positions(t, s, cur.Position, e1, e2)
	now := time.Now()
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e1.ID], Failed: true, Outcomes: []inlet.Outcome{failedOutcome(e1, pos[e1.ID], inlet.DeliveryDead, now)}}, now)
	later := now.Add(time.Hour)
	st, err := s.DeliveryState(ctx, d.ID, later)
	if err != nil || st.Pending != 1 || st.Dead != 1 || st.OldestPending == nil || st.LagSeconds < 3000 || st.OldestDead == nil || st.DeadAgeSeconds < 3000 {
		t.Fatalf("DeliveryState = %+v, %v; want one pending from the log and one dead, each with its age", st, err)
	}
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e2.ID], Delivered: 1, Succeeded: true}, now)
	st, err = s.DeliveryState(ctx, d.ID, later)
	if err != nil || st.Pending != 0 || st.LagSeconds != 0 || st.OldestPending != nil {
		t.Fatalf("DeliveryState with only a dead event = %+v, %v; want nothing pending", st, err)
	}
	if st.Dead != 1 || st.DeadAgeSeconds < 3000 || st.OldestUndelivered == nil {
		t.Fatalf("DeliveryState with only a dead event = %+v; want the dead one still aged (an alert on it does not clear itself)", st)
	}
}

func testEventDeliveries(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	all := createDest(t, s, newDestination("all"))
	inv := newDestination("invoices")
	inv.Filter = inlet.DestinationFilter{Types: []string{"invoice.*"}}
	createDest(t, s, inv)
	curAll := takeCursor(t, s, all.ID, "a", time.Now())
	takeCursor(t, s, inv.ID, "a", time.Now())
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond).Add(time.Second)}
	paid, order := newEvent(c, "shop", "invoice.paid", ""), newEvent(c, "shop", "order.created", "")
	appendEvents(t, s, paid, order)
	pos := positions(t, s, curAll.Position, paid, order)
	now := time.Now()
	settle(t, s, all.ID, "a", inlet.Settlement{Position: pos[order.ID], Delivered: 1, Failed: true, Succeeded: true,
		Outcomes: []inlet.Outcome{failedOutcome(order, pos[order.ID], inlet.DeliveryFailed, now.Add(time.Hour))}}, now)
	status := func(id string) map[string]string {
		t.Helper()
		ds, err := s.EventDeliveries(ctx, id)
		if err != nil {
			t.Fatalf("EventDeliveries: %v", err)
		}
		out := map[string]string{}
		for _, d := range ds {
			out[d.DestinationID] = d.Status
			if d.Status == inlet.DeliveryFailed && (d.Attempts != 1 || d.LastError != "status 500" || d.NextAttemptAt == nil) {
				t.Fatalf("a failed delivery = %+v", d)
			}
		}
		return out
	}
	if got := status(paid.ID); got["all"] != inlet.DeliveryDelivered || got["invoices"] != inlet.DeliveryPending || len(got) != 2 {
		t.Fatalf("deliveries of the invoice = %v; want delivered to all, pending for invoices", got)
	}
	if got := status(order.ID); got["all"] != inlet.DeliveryFailed || len(got) != 1 {
		t.Fatalf("deliveries of the order = %v; want failed for all only (invoices does not want it)", got)
	}
	_, err := s.EventDeliveries(ctx, "nope")
	wantCode(t, "EventDeliveries of an unknown event", err, inlet.ENOTFOUND)
}

func testDisable(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	d := createDest(t, s, newDestination("d"))
	now := time.Now().UTC()
	takeCursor(t, s, d.ID, "a", now)
	settle(t, s, d.ID, "a", inlet.Settlement{Failed: true}, now)
	if err := s.DisableDestination(ctx, d.ID, "the receiver answered 410 Gone", now); err != nil {
		t.Fatalf("DisableDestination: %v", err)
	}
	got, err := s.FindDestination(ctx, d.ID)
	if err != nil || got.Enabled || got.DisabledAt == nil || !strings.Contains(got.DisabledReason, "410") {
		t.Fatalf("a disabled destination = %+v, %v", got, err)
	}
	on := true
	got, err = s.UpdateDestination(ctx, d.ID, inlet.DestinationUpdate{Enabled: &on})
	if err != nil || !got.Enabled || got.DisabledAt != nil || got.DisabledReason != "" {
		t.Fatalf("enabled again = %+v, %v; want the reason gone", got, err)
	}
	if got, _ := s.FindDestination(ctx, d.ID); got.DisabledAt != nil {
		t.Fatalf("enabled again, stored = %+v", got)
	}
	if c := takeCursor(t, s, d.ID, "a", now); c.FailingSince != nil {
		t.Fatalf("enabled again, the cursor still counts its failures since %v", c.FailingSince)
	}
	wantCode(t, "DisableDestination of an unknown destination", s.DisableDestination(ctx, "nope", "x", now), inlet.ENOTFOUND)
}

func testDeleteDestination(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	e1 := newEvent(c, "shop", "a", "")
	appendEvents(t, s, e1)
	pos := positions(t, s, cur.Position, e1)
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e1.ID], Failed: true, Attempts: 1, Failures: 1,
		Outcomes: []inlet.Outcome{failedOutcome(e1, pos[e1.ID], inlet.DeliveryDead, time.Now())}}, time.Now())
	if err := s.DeleteDestination(ctx, "d"); err != nil {
		t.Fatalf("DeleteDestination: %v", err)
	}
	createDest(t, s, newDestination("d"))
	if got := deliveryIDs(t, s, "d", ""); len(got) != 0 {
		t.Fatalf("a new destination of the same id has the old one's deliveries: %v", got)
	}
	if c := takeCursor(t, s, "d", "b", time.Now()); c.Delivered != 0 {
		t.Fatalf("a new destination of the same id has the old one's cursor: %+v", c)
	}
	if st, err := s.DeliveryState(ctx, "d", time.Now()); err != nil || st.Attempts1h != 0 || st.FailureRate1h != nil {
		t.Fatalf("a new destination of the same id has the old one's attempts: %+v, %v", st, err)
	}
}

func testRetentionKeepsUndelivered(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	c := &clock{t: now.Add(-10 * 24 * time.Hour)}
	e1, e2 := newEvent(c, "shop", "a", ""), newEvent(c, "shop", "b", "")
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", now)
	appendEvents(t, s, e1, e2)
	if err := s.DeleteEventsBefore(ctx, now.Add(-24*time.Hour)); err != nil {
		t.Fatalf("DeleteEventsBefore: %v", err)
	}
	for _, e := range []*event{e1, e2} {
		if _, err := s.FindEvent(ctx, e.ID); err != nil {
			t.Fatalf("an event the cursor has not passed was deleted: %v", err)
		}
	}
	pos := positions(t, s, cur.Position, e1, e2)
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[e2.ID], Delivered: 1, Failed: true, Succeeded: true,
		Outcomes: []inlet.Outcome{failedOutcome(e1, pos[e1.ID], inlet.DeliveryDead, now)}}, now)
	if err := s.DeleteEventsBefore(ctx, now.Add(-24*time.Hour)); err != nil {
		t.Fatalf("DeleteEventsBefore: %v", err)
	}
	if _, err := s.FindEvent(ctx, e1.ID); err != nil {
		t.Fatalf("a dead event (it may be retried) was deleted: %v", err)
	}
	if _, err := s.DiscardDeliveries(ctx, d.ID, nil, inlet.DeliveryDead); err != nil {
		t.Fatalf("DiscardDeliveries: %v", err)
	}
	if err := s.DeleteEventsBefore(ctx, now.Add(-24*time.Hour)); err != nil {
		t.Fatalf("DeleteEventsBefore: %v", err)
	}
	for _, e := range []*event{e1, e2} {
		_, err := s.FindEvent(ctx, e.ID)
		wantCode(t, "FindEvent once settled and past retention", err, inlet.ENOTFOUND)
	}
}
