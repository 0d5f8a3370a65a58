package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"inlet"
	inlethttp "inlet/http"
	"inlet/postgres/pgtest"
)

// These tests deliver events from the real program to real receivers: an
// HTTP server in the test process that counts what it is sent.

const deliveryCrashRoundsEnv = "INLET_DELIVERY_CRASH_ROUNDS" // kills of TestDeliverySurvivesKills (3)

// countingReceiver counts the deliveries of each event id; answer, when
// set, chooses the status of a request.
type countingReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	order  []string
	delay  time.Duration
}

func newCountingReceiver(t *testing.T, delay time.Duration) *countingReceiver {
	t.Helper()
	r := &countingReceiver{counts: map[string]int{}, delay: delay}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var e struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(req.Body).Decode(&e); err != nil || e.ID == "" || req.Header.Get("webhook-id") != e.ID {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		time.Sleep(r.delay)
		r.mu.Lock()
		r.counts[e.ID]++
		r.order = append(r.order, e.ID)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

// missing returns how many of ids were never received, and how many were
// received more than once.
func (r *countingReceiver) missing(ids []string) (missing, twice int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		switch n := r.counts[id]; {
		case n == 0:
			missing++
		case n > 1:
			twice++
		}
	}
	return missing, twice
}

// waitAll waits until every id was received, and returns how many were
// received more than once.
func (r *countingReceiver) waitAll(t *testing.T, ids []string, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		missing, twice := r.missing(ids)
		if missing == 0 {
			return twice
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d acknowledged events were never delivered", within, missing, len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createWebhookDestination(t *testing.T, client *inlethttp.Client, url string, retry *inlet.RetryPolicy) *inlet.Destination {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := client.CreateDestination(ctx, inlethttp.CreateDestinationRequest{
		Name: "receiver",
		Type: "webhook",
		// A short timeout keeps the lease (five timeouts at least) short.
		Config: json.RawMessage(fmt.Sprintf(`{"url":%q,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","timeout":"500ms"}`, url)),
		Retry:  retry,
	})
	if err != nil {
		t.Fatalf("create destination: %v", err)
	}
	return d
}

// TestDeliverySurvivesKills kills the real binary with SIGKILL while it
// delivers to a slow receiver, a few times over one store, and checks that
// every acknowledged event reaches the receiver at least once.
func TestDeliverySurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	rounds := 3
	if v := os.Getenv(deliveryCrashRoundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("$%s=%q: want a positive number of rounds", deliveryCrashRoundsEnv, v)
		}
		rounds = n
	}
	bin := buildInlet(t)
	t.Run("sqlite", func(t *testing.T) {
		testDeliverySurvivesKills(t, bin, rounds)
	})
	t.Run("postgres", func(t *testing.T) {
		testDeliverySurvivesKills(t, bin, rounds, "--db", pgtest.URL(t))
	})
}

// testDeliverySurvivesKills kills a node over and over while it delivers;
// on PostgreSQL a second node runs throughout, shares the work, and takes
// over the killed node's deliveries once their leases run out.
func testDeliverySurvivesKills(t *testing.T, bin string, rounds int, extra ...string) {
	// A receiver slow enough that deliveries are in flight at every kill.
	recv := newCountingReceiver(t, 2*time.Millisecond)
	h := &harness{t: t, bin: bin, dataDir: t.TempDir()}
	args := append([]string{"--delivery-in-flight", "4", "--delivery-lease", "3s"}, extra...)
	var acked []string
	for round := 1; round <= rounds; round++ {
		p := h.start(args...)
		client := inlethttp.NewClient(p.url, crashToken)
		if round == 1 {
			createCrashSource(t, client)
			createWebhookDestination(t, client, recv.URL, &inlet.RetryPolicy{Backoff: []string{"100ms"}})
			if len(extra) > 0 { // a second node on the same database
				other := &harness{t: t, bin: bin, dataDir: t.TempDir()}
				other.start(args...)
			}
		}
		load := startLoad(t, p.url, round, 4)
		load.waitAcks(t, 50)
		delay := time.Duration(200+rand.IntN(400)) * time.Millisecond
		time.Sleep(delay)
		p.kill()
		load.finish()
		for id := range load.acked {
			acked = append(acked, id)
		}
		missing, _ := recv.missing(acked)
		t.Logf("round %d: SIGKILL after %v: %d acknowledged so far, %d not yet delivered at the kill", round, delay, len(acked), missing)
	}
	// A killed node's leases run out after --delivery-lease: the bound on
	// how long its deliveries wait for another owner.
	p := h.start(append([]string{"--delivery-lease", "3s"}, extra...)...)
	twice := recv.waitAll(t, acked, 60*time.Second)
	t.Logf("after the last restart every one of %d acknowledged events was delivered; %d more than once", len(acked), twice)
	client := inlethttp.NewClient(p.url, crashToken)
	ctx := context.Background()
	page, err := client.ListDestinations(ctx, inlet.ListFilter{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListDestinations = %+v, %v", page, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := client.FindDestination(ctx, page.Items[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.State.Pending+d.State.Failed == 0 && d.State.Dead == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the destination's backlog stays at %+v", d.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.terminate(shutdownTimeout)
}

// TestNodesShareADestination runs two nodes on one PostgreSQL database
// that deliver to one destination: each event is delivered once.
func TestNodesShareADestination(t *testing.T) {
	dbURL := pgtest.URL(t)
	recv := newCountingReceiver(t, time.Millisecond)
	a := startPGNode(t, dbURL, nil)
	b := startPGNode(t, dbURL, nil)
	ctx := context.Background()
	if _, err := a.client.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: "shop", Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	createWebhookDestination(t, a.client, recv.URL, nil)
	client := &http.Client{Timeout: 10 * time.Second}
	var ids []string
	for i := range 400 {
		node := a
		if i%2 == 1 {
			node = b
		}
		status, ans, _ := collectAt(t, client, node.url, "/collect/order.created/shop", fmt.Sprintf(`{"n":%d}`, i))
		if status != http.StatusOK {
			t.Fatalf("collect: status %d", status)
		}
		ids = append(ids, ans.Events[0])
	}
	if twice := recv.waitAll(t, ids, 30*time.Second); twice != 0 {
		t.Fatalf("%d of %d events were delivered twice by two nodes in normal operation", twice, len(ids))
	}
	time.Sleep(300 * time.Millisecond) // time for a late duplicate to arrive
	if _, twice := recv.missing(ids); twice != 0 {
		t.Fatalf("%d of %d events were delivered twice by two nodes in normal operation", twice, len(ids))
	}
}

// TestDestinationsAPI drives the destination routes of a live server.
func TestDestinationsAPI(t *testing.T) {
	s := startLive(t, liveConfig(t))
	var mu sync.Mutex
	fail := true
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer recv.Close()
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "shop", "name": "Shop"}, http.StatusCreated, nil)

	var d inlet.Destination
	raw := s.admin("POST", "/api/v1/destinations", map[string]any{
		"id": "crm", "name": "CRM", "type": "webhook",
		"filter": map[string]any{"types": []string{"order.*"}},
		"config": map[string]any{"url": recv.URL, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "headers": map[string]string{"Authorization": "Bearer xyz"}},
		"retry":  map[string]any{"backoff": []string{"50ms"}, "max_age": "2s"},
	}, http.StatusCreated, &d)
	if strings.Contains(string(raw), "MfKQ9r8") || strings.Contains(string(raw), "xyz") {
		t.Fatalf("the created destination shows its secrets: %s", raw)
	}

	// The secret and the header survive an update that sends them back masked.
	var cfg map[string]any
	json.Unmarshal(d.Config, &cfg)
	cfg["timeout"] = "2s"
	s.admin("PATCH", "/api/v1/destinations/crm", map[string]any{"config": cfg}, http.StatusOK, nil)

	for i := range 3 {
		s.collect("POST", "/collect/order.created/shop", nil, strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
	}
	var dead inlet.DeliveryPage
	deadline := time.Now().Add(10 * time.Second)
	for len(dead.Items) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("dead deliveries: %d, want 3", len(dead.Items))
		}
		time.Sleep(50 * time.Millisecond)
		s.admin("GET", "/api/v1/destinations/crm/deliveries?status=dead", nil, http.StatusOK, &dead)
	}
	if dead.Items[0].Attempts < 2 || dead.Items[0].Log[0].Status != 500 {
		t.Fatalf("dead delivery %+v; want its attempts logged", dead.Items[0])
	}
	var got inlet.Destination
	s.admin("GET", "/api/v1/destinations/crm", nil, http.StatusOK, &got)
	if got.State == nil || got.State.Dead != 3 {
		t.Fatalf("state = %+v; want 3 dead", got.State)
	}

	mu.Lock()
	fail = false
	mu.Unlock()
	var retried map[string]int
	s.admin("POST", "/api/v1/destinations/crm/retry", map[string]any{"status": "dead"}, http.StatusOK, &retried)
	if retried["retried"] != 3 {
		t.Fatalf("retry answered %v", retried)
	}
	var delivered inlet.DeliveryPage
	deadline = time.Now().Add(10 * time.Second)
	for len(delivered.Items) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("delivered after retry: %d, want 3 (the secret kept through the update)", len(delivered.Items))
		}
		time.Sleep(50 * time.Millisecond)
		s.admin("GET", "/api/v1/destinations/crm/deliveries?status=delivered", nil, http.StatusOK, &delivered)
	}
	// Each event says where it went: delivered to crm after a retry.
	var eds inlethttp.EventDeliveriesPage
	s.admin("GET", "/api/v1/events/"+delivered.Items[0].EventID+"/deliveries", nil, http.StatusOK, &eds)
	if len(eds.Items) != 1 || eds.Items[0].DestinationID != "crm" || eds.Items[0].Status != "delivered" || eds.Items[0].Attempts < 3 || len(eds.Items[0].Log) < 3 {
		t.Fatalf("the event's deliveries = %+v; want delivered to crm with its attempts", eds.Items)
	}
	var replayed map[string]int
	s.admin("POST", "/api/v1/destinations/crm/replay", map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)}, http.StatusAccepted, &replayed)
	if replayed["replayed"] != 3 {
		t.Fatalf("replay answered %v", replayed)
	}

	bad := []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", "/api/v1/destinations", map[string]any{"name": "x", "type": "webhook", "config": map[string]any{"url": "ftp://x"}}, 400, "invalid"},
		{"POST", "/api/v1/destinations", map[string]any{"name": "x", "type": "kafka", "config": map[string]any{}}, 400, "invalid"},
		{"POST", "/api/v1/destinations", map[string]any{"name": "x", "type": "webhook", "config": map[string]any{"url": "http://x", "secret": "plain"}}, 400, "invalid"},
		{"POST", "/api/v1/destinations", map[string]any{"id": "crm", "name": "x", "type": "webhook", "config": map[string]any{"url": "http://x"}}, 409, "conflict"},
		{"GET", "/api/v1/destinations/nope", nil, 404, "not_found"},
		{"GET", "/api/v1/destinations/crm/deliveries?status=lost", nil, 400, "invalid"},
		{"POST", "/api/v1/destinations/crm/retry", map[string]any{}, 400, "invalid"},
		{"POST", "/api/v1/destinations/crm/discard", map[string]any{"status": "delivered"}, 400, "invalid"},
		{"POST", "/api/v1/destinations/nope/discard", map[string]any{"status": "dead"}, 404, "not_found"},
		{"POST", "/api/v1/destinations/crm/replay", map[string]any{"since": "yesterday"}, 400, "invalid"},
		{"PATCH", "/api/v1/destinations/crm", map[string]any{"retry": map[string]any{"backoff": []string{"x"}}}, 400, "invalid"},
		{"PATCH", "/api/v1/destinations/crm", map[string]any{"disable_after": "soon"}, 400, "invalid"},
		{"POST", "/api/v1/destinations", map[string]any{"name": "x", "type": "webhook", "disable_after": "-1h", "config": map[string]any{"url": "http://x"}}, 400, "invalid"},
		{"GET", "/api/v1/events/nope/deliveries", nil, 404, "not_found"},
		{"GET", "/api/v1/events/%00%ff/deliveries", nil, 404, "not_found"},
		{"DELETE", "/api/v1/destinations/nope", nil, 404, "not_found"},
	}
	for _, b := range bad {
		var body inlethttp.ErrorBody
		s.admin(b.method, b.path, b.body, b.status, &body)
		if body.Error.Code != b.code || body.Error.Message == "" {
			t.Errorf("%s %s: error %+v, want code %s with a message", b.method, b.path, body.Error, b.code)
		}
	}
	s.admin("DELETE", "/api/v1/destinations/crm", nil, http.StatusNoContent, nil)
}

// TestDeliveryFollowsTheReceiversSignals drives a live server against
// receivers that ask for time (429 with Retry-After) and that only fail,
// checked through the API and the metrics.
func TestDeliveryFollowsTheReceiversSignals(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "shop", "name": "Shop"}, http.StatusCreated, nil)
	var mu sync.Mutex
	var slowTimes []time.Time
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		slowTimes = append(slowTimes, time.Now())
		if len(slowTimes) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer slow.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer broken.Close()
	s.admin("POST", "/api/v1/destinations", map[string]any{"id": "slow", "name": "Slow", "type": "webhook",
		"config": map[string]any{"url": slow.URL}, "retry": map[string]any{"backoff": []string{"50ms"}}}, http.StatusCreated, nil)
	s.admin("POST", "/api/v1/destinations", map[string]any{"id": "broken", "name": "Broken", "type": "webhook", "disable_after": "500ms",
		"config": map[string]any{"url": broken.URL}, "retry": map[string]any{"backoff": []string{"50ms"}}}, http.StatusCreated, nil)
	s.collect("POST", "/collect/order.created/shop", nil, strings.NewReader(`{"n":1}`))

	var got inlet.Destination
	deadline := time.Now().Add(15 * time.Second)
	for {
		s.admin("GET", "/api/v1/destinations/broken", nil, http.StatusOK, &got)
		if !got.Enabled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a destination that only fails for longer than its disable_after is still enabled: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.DisabledAt == nil || !strings.Contains(got.DisabledReason, "failed") || got.State == nil || got.State.Failed+got.State.Dead != 1 {
		t.Fatalf("the disabled destination = %+v, state %+v; want when and why, and its event kept", got, got.State)
	}
	for {
		mu.Lock()
		n := len(slowTimes)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver that asked for 2s got %d attempts", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	gap := slowTimes[1].Sub(slowTimes[0])
	mu.Unlock()
	if gap < 1900*time.Millisecond {
		t.Fatalf("the next attempt came %s after a 429 with Retry-After: 2", gap)
	}
	families := s.scrape(nil)
	if got := series(families, "inlet_destination_disabled_total")["destination=broken"]; got != 1 {
		t.Fatalf("inlet_destination_disabled_total of broken = %v; want 1", got)
	}
	if got, ok := series(families, "inlet_delivery_dead_age_seconds")["destination=slow"]; !ok || got != 0 {
		t.Fatalf("inlet_delivery_dead_age_seconds of slow = %v, %v; want 0 (nothing dead)", got, ok)
	}
}
