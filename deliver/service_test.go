package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"inlet"
	"inlet/deliver"
	"inlet/sqlite"
)

// store is what the tests need of a store.
type store interface {
	inlet.Store
	deliver.Store
}

// backends returns a store per backend under test: SQLite always,
// PostgreSQL when configured.
func backends(t *testing.T) map[string]func(t *testing.T) store {
	t.Helper()
	b := map[string]func(t *testing.T) store{"sqlite": openSQLite}
	addPostgres(b)
	return b
}

func openSQLite(t *testing.T) store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "inlet.db")})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// forEachStore runs fn as a subtest per backend.
func forEachStore(t *testing.T, fn func(t *testing.T, s store)) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			fn(t, open(t))
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// start runs a delivery service with short intervals until the test ends.
func start(t *testing.T, s store, opts deliver.Options) *deliver.Service {
	t.Helper()
	if opts.Poll == 0 {
		opts.Poll = 10 * time.Millisecond
	}
	if opts.Refresh == 0 {
		opts.Refresh = 50 * time.Millisecond
	}
	svc := deliver.New(s, opts, slog.New(slog.DiscardHandler))
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	return svc
}

// receiver is a real HTTP server that records what it is sent; answer
// chooses the status of each request (200 when nil).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	ids      []string // event ids, in arrival order
	bodies   map[string][]byte
	headers  map[string]http.Header
	answer   func(id string) int
	received chan string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{bodies: map[string][]byte{}, headers: map[string]http.Header{}, received: make(chan string, 100000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var e struct {
			ID string `json:"id"`
		}
		json.Unmarshal(body, &e)
		r.mu.Lock()
		answer := r.answer
		r.mu.Unlock()
		status := http.StatusOK
		if answer != nil {
			status = answer(e.ID)
		}
		if status == 0 { // hang up without an answer
			panic(http.ErrAbortHandler)
		}
		if status >= 200 && status < 300 {
			r.mu.Lock()
			r.ids = append(r.ids, e.ID)
			r.bodies[e.ID] = body
			r.headers[e.ID] = req.Header.Clone()
			r.mu.Unlock()
			r.received <- e.ID
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "answered %d", status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setAnswer(f func(id string) int) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// waitFor waits until the receiver has accepted every id at least once.
func (r *receiver) waitFor(t *testing.T, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for _, id := range r.got() {
		delete(want, id)
	}
	for len(want) > 0 {
		select {
		case id := <-r.received:
			delete(want, id)
		case <-deadline:
			t.Fatalf("after %s, %d of %d events not delivered", within, len(want), len(ids))
		}
	}
}

var clock = struct {
	sync.Mutex
	last time.Time
}{}

// now returns increasing times, so that events order the same by time
// and by commit.
func now() time.Time {
	clock.Lock()
	defer clock.Unlock()
	t := time.Now().UTC().Truncate(time.Microsecond)
	if !t.After(clock.last) {
		t = clock.last.Add(time.Microsecond)
	}
	clock.last = t
	return t
}

func newEvent(source, typ string, n int) *inlet.Event {
	return &inlet.Event{
		ID:         inlet.NewID(),
		Type:       typ,
		InsertedAt: now(),
		SourceID:   source,
		Properties: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":"<café & ☕>"}`, n)),
		Context:    inlet.RequestContext{Method: "POST", Headers: map[string]string{"Content-Type": "application/json"}, IP: "203.0.113.7"},
	}
}

// appendN commits n events of one source and type, in batches of up to
// 50, and returns their ids in commit order.
func appendN(t *testing.T, s store, source, typ string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i += 50 {
		var batch []*inlet.Event
		for j := i; j < min(n, i+50); j++ {
			e := newEvent(source, typ, j)
			batch = append(batch, e)
			ids = append(ids, e.ID)
		}
		if _, err := s.Append(context.Background(), inlet.Intakes(batch...)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	return ids
}

func createDestination(t testing.TB, s store, d *inlet.Destination) *inlet.Destination {
	t.Helper()
	if d.ID == "" {
		d.ID = inlet.NewID()
	}
	if d.Name == "" {
		d.Name = "test"
	}
	if d.Type == "" {
		d.Type = inlet.DestinationWebhook
	}
	d.Enabled = true
	if err := deliver.Validate(d); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := s.CreateDestination(context.Background(), d); err != nil {
		t.Fatalf("CreateDestination: %v", err)
	}
	return d
}

func webhookConfig(url string, extra string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"url":%q%s}`, url, extra))
}

// waitStatus waits until the destination's deliveries of status number n.
func waitStatus(t *testing.T, s store, destID, status string, n int, within time.Duration) []*inlet.Delivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		page, err := s.ListDeliveries(context.Background(), destID, inlet.DeliveryFilter{Status: status, Limit: inlet.MaxEventLimit})
		if err != nil {
			t.Fatalf("ListDeliveries: %v", err)
		}
		if len(page.Items) == n {
			return page.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d deliveries %s; want %d", within, len(page.Items), status, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDelivered waits until the destination's count of delivered events
// is n: a delivery at the first attempt leaves no row, only the count.
func waitDelivered(t *testing.T, s store, destID string, n int64, within time.Duration) *inlet.DeliveryState {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := s.DeliveryState(context.Background(), destID, time.Now())
		if err != nil {
			t.Fatalf("DeliveryState: %v", err)
		}
		if st.Delivered == n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d delivered; want %d", within, st.Delivered, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDisabled waits until delivery has disabled the destination.
func waitDisabled(t *testing.T, s store, destID string, within time.Duration) *inlet.Destination {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := s.FindDestination(context.Background(), destID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Enabled {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the destination is still enabled after %s", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestWebhookDeliversSignedEventsAsTheAPIShowsThem(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(r.URL, `,"secret":"`+testSecret+`","headers":{"X-Team":"blue"}`)})
		start(t, s, deliver.Options{})
		ids := appendN(t, s, "shop", "order.created", 120)
		r.waitFor(t, ids, 10*time.Second)

		wh, err := standardwebhooks.NewWebhook(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			e, err := s.FindEvent(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := inlet.EventJSON(e)
			r.mu.Lock()
			body, h := r.bodies[id], r.headers[id]
			r.mu.Unlock()
			if string(body) != string(want) {
				t.Fatalf("body of %s =\n%s\nwant\n%s", id, body, want)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Fatalf("the Standard Webhooks library rejects the signature of %s: %v", id, err)
			}
			if h.Get("webhook-id") != id || h.Get("Content-Type") != "application/json" || h.Get("X-Team") != "blue" {
				t.Fatalf("headers of %s = %v", id, h)
			}
		}
		waitDelivered(t, s, d.ID, 120, 5*time.Second)
		// Success costs no row: only the count, and the cursor past them.
		if page, err := s.ListDeliveries(context.Background(), d.ID, inlet.DeliveryFilter{}); err != nil || len(page.Items) != 0 {
			t.Fatalf("rows of events delivered at their first attempt: %d, %v; want none", len(page.Items), err)
		}
		eds, err := s.EventDeliveries(context.Background(), ids[7])
		if err != nil || len(eds) != 1 || eds[0].Status != inlet.DeliveryDelivered || eds[0].DestinationID != d.ID {
			t.Fatalf("EventDeliveries = %+v, %v; want delivered to the destination", eds, err)
		}
	})
}

func TestFilterAndCreationTimeChooseTheEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		before := appendN(t, s, "shop", "invoice.paid", 3)
		time.Sleep(2 * time.Millisecond)
		createDestination(t, s, &inlet.Destination{
			Config: webhookConfig(r.URL, ""),
			Filter: inlet.DestinationFilter{Sources: []string{"shop"}, Types: []string{"invoice.*", "refund"}},
		})
		start(t, s, deliver.Options{})
		want := appendN(t, s, "shop", "invoice.paid", 2)
		appendN(t, s, "shop", "order.created", 2)
		appendN(t, s, "crm", "invoice.paid", 2)
		want = append(want, appendN(t, s, "shop", "refund", 2)...)
		r.waitFor(t, want, 10*time.Second)
		time.Sleep(300 * time.Millisecond) // time for anything wrong to arrive
		if got := r.got(); len(got) != len(want) {
			t.Fatalf("received %d events; want the %d that match (not the %d from before the destination)", len(got), len(want), len(before))
		}
	})
}

func TestDownThenBackDrainsTheBacklogInOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		r.setAnswer(func(string) int { return http.StatusServiceUnavailable })
		d := createDestination(t, s, &inlet.Destination{
			Config:  webhookConfig(r.URL, ""),
			Ordered: true,
			Retry:   inlet.RetryPolicy{Backoff: []string{"50ms", "100ms"}},
		})
		start(t, s, deliver.Options{})
		ids := appendN(t, s, "shop", "order.created", 200)
		time.Sleep(500 * time.Millisecond)
		if got := r.got(); len(got) != 0 {
			t.Fatalf("received %d events while down", len(got))
		}
		st, err := s.DeliveryState(context.Background(), d.ID, time.Now())
		if err != nil || st.Pending+st.Failed != 200 || st.OldestPending == nil || st.LagSeconds <= 0 {
			t.Fatalf("state while down = %+v, %v; want 200 undelivered with a lag", st, err)
		}
		r.setAnswer(nil)
		r.waitFor(t, ids, 20*time.Second)
		if got := r.got(); !slices.Equal(got, ids) {
			t.Fatalf("an ordered destination received %d events, in another order than committed", len(got))
		}
		st = waitDelivered(t, s, d.ID, 200, 5*time.Second)
		if st.OldestPending != nil || st.Pending+st.Failed != 0 {
			t.Fatalf("state after = %+v", st)
		}
	})
}

func TestAFailingEventDoesNotHoldBackTheOthersUnlessOrdered(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		var mu sync.Mutex
		poison := ""
		r.setAnswer(func(id string) int {
			mu.Lock()
			defer mu.Unlock()
			if id == poison {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		createDestination(t, s, &inlet.Destination{Config: webhookConfig(r.URL, ""), Retry: inlet.RetryPolicy{Backoff: []string{"1h"}}})
		ids := appendN(t, s, "shop", "order.created", 1)
		mu.Lock()
		poison = ids[0]
		mu.Unlock()
		start(t, s, deliver.Options{})
		later := appendN(t, s, "shop", "order.created", 20)
		r.waitFor(t, later, 10*time.Second)
	})
}

func TestDeadLettersAreListedAndRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		r.setAnswer(func(string) int { return http.StatusInternalServerError })
		d := createDestination(t, s, &inlet.Destination{
			Config: webhookConfig(r.URL, ""),
			// Long enough for several attempts on a busy machine: an attempt
			// past max_age since the event was due is the last.
			Retry: inlet.RetryPolicy{Backoff: []string{"30ms"}, MaxAge: "2s"},
		})
		start(t, s, deliver.Options{})
		ids := appendN(t, s, "shop", "order.created", 5)
		dead := waitStatus(t, s, d.ID, inlet.DeliveryDead, 5, 10*time.Second)
		for _, dl := range dead {
			if dl.Attempts < 2 || dl.LastError != "status 500" || dl.Log[len(dl.Log)-1].Status != 500 || len(dl.Log) > inlet.MaxAttemptLog {
				t.Fatalf("dead delivery = %+v; want several attempts logged, the last a 500", dl)
			}
		}

		r.setAnswer(nil)
		ctx := context.Background()
		n, err := s.RetryDeliveries(ctx, d.ID, []string{ids[0]}, "", time.Now())
		if err != nil || n != 1 {
			t.Fatalf("RetryDeliveries(one) = %d, %v", n, err)
		}
		r.waitFor(t, ids[:1], 10*time.Second)
		n, err = s.RetryDeliveries(ctx, d.ID, nil, inlet.DeliveryDead, time.Now())
		if err != nil || n != 4 {
			t.Fatalf("RetryDeliveries(dead) = %d, %v; want 4", n, err)
		}
		r.waitFor(t, ids, 10*time.Second)
		waitStatus(t, s, d.ID, inlet.DeliveryDelivered, 5, 5*time.Second)
	})
}

func TestTimeoutsAndDroppedConnectionsAreRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		var mu sync.Mutex
		tries := map[string]int{}
		r.setAnswer(func(id string) int {
			mu.Lock()
			tries[id]++
			n := tries[id]
			mu.Unlock()
			switch n {
			case 1:
				time.Sleep(300 * time.Millisecond) // past the timeout
				return http.StatusOK
			case 2:
				return 0 // hang up
			}
			return http.StatusOK
		})
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(r.URL, `,"timeout":"100ms"`), Retry: inlet.RetryPolicy{Backoff: []string{"50ms"}}})
		start(t, s, deliver.Options{})
		ids := appendN(t, s, "shop", "order.created", 3)
		waitStatus(t, s, d.ID, inlet.DeliveryDelivered, 3, 10*time.Second)
		page, _ := s.ListDeliveries(context.Background(), d.ID, inlet.DeliveryFilter{})
		for _, dl := range page.Items {
			if dl.Attempts != 3 || dl.Log[0].Error == "" || dl.Log[1].Error == "" || dl.Log[2].Status != 200 {
				t.Fatalf("delivery %+v; want a timeout, a dropped connection, then 200", dl)
			}
		}
		_ = ids
	})
}

func TestGoneDisablesTheDestination(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		r.setAnswer(func(string) int { return http.StatusGone })
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(r.URL, "")})
		start(t, s, deliver.Options{})
		appendN(t, s, "shop", "order.created", 3)
		got := waitDisabled(t, s, d.ID, 10*time.Second)
		if got.DisabledAt == nil || !strings.Contains(got.DisabledReason, "410") {
			t.Fatalf("disabled destination = %+v; want when and why", got)
		}
		st, err := s.DeliveryState(context.Background(), d.ID, time.Now())
		if err != nil || st.Pending+st.Failed != 3 {
			t.Fatalf("state = %+v, %v; want the 3 events kept for when it is enabled again", st, err)
		}
	})
}

func TestReplayDeliversStoredEventsAgainInOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		old := appendN(t, s, "shop", "order.created", 10)
		appendN(t, s, "crm", "order.created", 5)
		time.Sleep(2 * time.Millisecond)
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(r.URL, ""), Ordered: true})
		start(t, s, deliver.Options{})
		n, err := s.ReplayDeliveries(context.Background(), d.ID, inlet.Replay{Since: time.Now().Add(-time.Hour), Sources: []string{"shop"}}, time.Now())
		if err != nil || n != 10 {
			t.Fatalf("ReplayDeliveries = %d, %v; want the 10 events of shop", n, err)
		}
		r.waitFor(t, old, 10*time.Second)
		if got := r.got(); !slices.Equal(got, old) {
			t.Fatalf("replay received %v; want %v", got, old)
		}
		// Replayed again: every event is sent a second time.
		if n, err := s.ReplayDeliveries(context.Background(), d.ID, inlet.Replay{Since: time.Now().Add(-time.Hour), Sources: []string{"shop"}}, time.Now()); err != nil || n != 10 {
			t.Fatalf("second ReplayDeliveries = %d, %v", n, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(r.got()) < 20 {
			if time.Now().After(deadline) {
				t.Fatalf("after a second replay, %d events received; want 20", len(r.got()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestASlowDestinationHoldsUpNeitherIntakeNorAnother(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		release := make(chan struct{})
		defer close(release)
		slow := newReceiver(t)
		slow.setAnswer(func(string) int {
			<-release // hangs until the test ends
			return http.StatusOK
		})
		fast := newReceiver(t)
		createDestination(t, s, &inlet.Destination{Name: "slow", Config: webhookConfig(slow.URL, `,"timeout":"30s"`)})
		createDestination(t, s, &inlet.Destination{Name: "fast", Config: webhookConfig(fast.URL, "")})
		start(t, s, deliver.Options{})
		// Every commit returns while the slow destination holds all its
		// sends in flight, and the fast one gets every event.
		ids := appendN(t, s, "shop", "order.created", 300)
		fast.waitFor(t, ids, 10*time.Second)
		if got := slow.got(); len(got) != 0 {
			t.Fatalf("the hanging receiver answered %d events", len(got))
		}
	})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		target := newReceiver(t)
		redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
		t.Cleanup(redirect.Close)
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(redirect.URL, ""), Retry: inlet.RetryPolicy{Backoff: []string{"1h"}}})
		start(t, s, deliver.Options{})
		appendN(t, s, "shop", "order.created", 1)
		failed := waitStatus(t, s, d.ID, inlet.DeliveryFailed, 1, 10*time.Second)
		if failed[0].Log[0].Status != http.StatusFound || failed[0].LastError != "status 302" {
			t.Fatalf("delivery = %+v; want a failed attempt with the 302", failed[0])
		}
		if got := target.got(); len(got) != 0 {
			t.Fatalf("the redirect was followed: the target got %d events", len(got))
		}
	})
}

func TestOnlyTheFirstBytesOfAnAnswerAreKept(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		}))
		t.Cleanup(big.Close)
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(big.URL, ""), Retry: inlet.RetryPolicy{Backoff: []string{"1h"}}})
		start(t, s, deliver.Options{})
		appendN(t, s, "shop", "order.created", 2)
		failed := waitStatus(t, s, d.ID, inlet.DeliveryFailed, 2, 10*time.Second)
		if r := failed[0].Log[0].Response; len(r) != 256 || strings.Trim(r, "x") != "" {
			t.Fatalf("the attempt kept %d bytes of a 1 MiB answer; want its first 256", len(r))
		}
	})
}

func TestRetryAfterDefersTheDestination(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		var mu sync.Mutex
		var attempts []time.Time
		r.setAnswer(func(string) int {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, time.Now())
			if len(attempts) == 1 {
				return http.StatusTooManyRequests
			}
			return http.StatusOK
		})
		// The receiver says Retry-After: 2 with its 429; the backoff alone
		// would try again after 50ms.
		slowDown := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			first := len(attempts) == 0
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "2")
			}
			r.Config.Handler.ServeHTTP(w, req)
		}))
		t.Cleanup(slowDown.Close)
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(slowDown.URL, ""), Retry: inlet.RetryPolicy{Backoff: []string{"50ms"}}})
		start(t, s, deliver.Options{})
		ids := appendN(t, s, "shop", "order.created", 1)
		r.waitFor(t, ids, 15*time.Second)
		mu.Lock()
		defer mu.Unlock()
		if len(attempts) != 2 {
			t.Fatalf("%d attempts; want the 429 and one more", len(attempts))
		}
		if gap := attempts[1].Sub(attempts[0]); gap < 1900*time.Millisecond {
			t.Fatalf("the next attempt came %s after a 429 with Retry-After: 2; want at least 2s", gap)
		}
		waitDelivered(t, s, d.ID, 1, 5*time.Second)
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"4", 4 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"0", 0},
		{"soon", 0},
		{"999999999999", time.Hour}, // capped
		{"Tue, 01 Dec 2026 12:00:30 GMT", 30 * time.Second},
		{"Tue, 01 Dec 2026 11:00:00 GMT", 0}, // past
		{"Wed, 02 Dec 2026 12:00:00 GMT", time.Hour},
	} {
		if got := deliver.ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

func TestADestinationThatOnlyFailsIsDisabledAndResumesWhenEnabled(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		r.setAnswer(func(string) int { return http.StatusInternalServerError })
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(r.URL, ""), DisableAfter: "300ms",
			Retry: inlet.RetryPolicy{Backoff: []string{"50ms"}}})
		start(t, s, deliver.Options{})
		ids := appendN(t, s, "shop", "order.created", 3)
		got := waitDisabled(t, s, d.ID, 10*time.Second)
		if got.DisabledAt == nil || !strings.Contains(got.DisabledReason, "every attempt failed for 300ms") {
			t.Fatalf("disabled destination = %+v; want when and why", got)
		}
		r.setAnswer(nil)
		on := true
		if _, err := s.UpdateDestination(context.Background(), d.ID, inlet.DestinationUpdate{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		more := appendN(t, s, "shop", "order.created", 2)
		r.waitFor(t, append(ids, more...), 10*time.Second)
		if got, _ := s.FindDestination(context.Background(), d.ID); !got.Enabled || got.DisabledAt != nil {
			t.Fatalf("enabled again = %+v", got)
		}
	})
}

func TestAnEditDoesNotSendTheEventsInFlightAgain(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		var mu sync.Mutex
		count := map[string]int{}
		r.setAnswer(func(id string) int {
			mu.Lock()
			count[id]++
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
			return http.StatusOK
		})
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(r.URL, "")})
		svc := start(t, s, deliver.Options{})
		ids := appendN(t, s, "shop", "order.created", 40)
		time.Sleep(100 * time.Millisecond) // the sends are in flight
		name := "renamed"
		if _, err := s.UpdateDestination(context.Background(), d.ID, inlet.DestinationUpdate{Name: &name}); err != nil {
			t.Fatal(err)
		}
		svc.Refresh()
		r.waitFor(t, ids, 10*time.Second)
		waitDelivered(t, s, d.ID, 40, 5*time.Second)
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if count[id] != 1 {
				t.Fatalf("event %s was sent %d times across an edit; want once", id, count[id])
			}
		}
	})
}

func TestTwoServicesOnOneStoreDeliverEachEventOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := newReceiver(t)
		var mu sync.Mutex
		count := map[string]int{}
		r.setAnswer(func(id string) int {
			mu.Lock()
			count[id]++
			mu.Unlock()
			return http.StatusOK
		})
		d := createDestination(t, s, &inlet.Destination{Config: webhookConfig(r.URL, "")})
		start(t, s, deliver.Options{Owner: "node-a"})
		start(t, s, deliver.Options{Owner: "node-b"})
		ids := appendN(t, s, "shop", "order.created", 300)
		r.waitFor(t, ids, 15*time.Second)
		waitDelivered(t, s, d.ID, 300, 5*time.Second)
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if count[id] != 1 {
				t.Fatalf("event %s was sent %d times by two nodes sharing a destination; want once", id, count[id])
			}
		}
	})
}
