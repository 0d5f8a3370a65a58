package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
	inlethttp "inlet/http"
	"inlet/postgres/pgtest"
)

// These tests run several real collector nodes (Main, each on its own
// loopback port and data directory) against one PostgreSQL schema, as a
// deployment behind a load balancer would.

const nodeToken = "node-admin-token"

// pgNode is a running Main on PostgreSQL and a client of its admin API.
type pgNode struct {
	main   *Main
	url    string
	client *inlethttp.Client
}

// startPGNode runs a Main against the database at dbURL and closes it when
// the test ends.
func startPGNode(t *testing.T, dbURL string, tune func(*Config)) *pgNode {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = nodeToken
	cfg.DB = dbURL
	cfg.SecretsKey = pgtest.SecretsKey
	cfg.ShutdownTimeout = 10 * time.Second
	if tune != nil {
		tune(&cfg)
	}
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("run a node: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close a node: %v", err)
		}
	})
	return &pgNode{main: m, url: m.URL(), client: inlethttp.NewClient(m.URL(), nodeToken)}
}

// collectAnswer is the body of a 200 from /collect.
type collectAnswer struct {
	Events  []string `json:"events"`
	Profile *struct {
		ID string `json:"id"`
	} `json:"profile"`
}

// collectAt sends one event to a node and returns the status, the answer of
// a 200 and the response headers.
func collectAt(t *testing.T, client *http.Client, baseURL, path, body string) (int, collectAnswer, http.Header) {
	t.Helper()
	var ans collectAnswer
	resp, err := client.Post(baseURL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Errorf("POST %s: %v", path, err)
		return 0, ans, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("POST %s: reading the answer: %v", path, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &ans); err != nil || len(ans.Events) != 1 {
			t.Errorf("POST %s: 200 with %q, want one event id", path, b)
		}
	}
	return resp.StatusCode, ans, resp.Header
}

func TestNodesShareSourceChangesWithinTheSourceTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	dbURL := pgtest.URL(t)
	tune := func(c *Config) { c.SourceTTL = ttl }
	a, b := startPGNode(t, dbURL, tune), startPGNode(t, dbURL, tune)
	ctx := context.Background()
	client := &http.Client{Timeout: 10 * time.Second}

	if _, err := a.client.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: "shop", Name: "Shop"}); err != nil {
		t.Fatalf("create the source through node A: %v", err)
	}
	// Node B looked the source up before the change, so its cache holds it
	// as enabled.
	if status, _, _ := collectAt(t, client, b.url, "/collect/page-view/shop", `{}`); status != http.StatusOK {
		t.Fatalf("node B before the change: %d, want 200", status)
	}

	off, on := false, true
	if _, err := a.client.UpdateSource(ctx, "shop", inlet.SourceUpdate{Enabled: &off}); err != nil {
		t.Fatalf("disable through node A: %v", err)
	}
	changed := time.Now()
	if status, _, _ := collectAt(t, client, a.url, "/collect/page-view/shop", `{}`); status != http.StatusUnauthorized {
		t.Fatalf("node A right after disabling through it: %d, want 401", status)
	}
	// B's entry was made before the change, so it expires within the TTL.
	time.Sleep(time.Until(changed.Add(ttl + 20*time.Millisecond)))
	if status, _, _ := collectAt(t, client, b.url, "/collect/page-view/shop", `{}`); status != http.StatusUnauthorized {
		t.Fatalf("node B %s after the source was disabled through node A (TTL %s): %d, want 401", time.Since(changed).Round(time.Millisecond), ttl, status)
	}

	// And back: enabled through B, accepted by A within the TTL.
	if _, err := b.client.UpdateSource(ctx, "shop", inlet.SourceUpdate{Enabled: &on}); err != nil {
		t.Fatalf("enable through node B: %v", err)
	}
	changed = time.Now()
	time.Sleep(time.Until(changed.Add(ttl + 20*time.Millisecond)))
	if status, _, _ := collectAt(t, client, a.url, "/collect/page-view/shop", `{}`); status != http.StatusOK {
		t.Fatalf("node A %s after the source was enabled through node B: %d, want 200", time.Since(changed).Round(time.Millisecond), status)
	}
}

func TestNodesCreateANewSessionOnce(t *testing.T) {
	dbURL := pgtest.URL(t)
	nodes := []*pgNode{startPGNode(t, dbURL, nil), startPGNode(t, dbURL, nil)}
	ctx := context.Background()
	if _, err := nodes[0].client.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: "app", Name: "App"}); err != nil {
		t.Fatalf("create the source: %v", err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	const sessions, perSession = 4, 24 // each session's requests alternate between the nodes
	type result struct {
		session, profile string
		status           int
	}
	results := make(chan result, sessions*perSession)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for s := range sessions {
		session := fmt.Sprintf("visitor-%d-%d", s, time.Now().UnixNano())
		for i := range perSession {
			node := nodes[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status, ans, _ := collectAt(t, client, node.url, "/collect/page-view/app/"+session, fmt.Sprintf(`{"i":%d}`, i))
				r := result{session: session, status: status}
				if ans.Profile != nil {
					r.profile = ans.Profile.ID
				}
				results <- r
			}()
		}
	}
	close(start)
	wg.Wait()
	close(results)

	profiles := map[string]map[string]bool{} // session -> profiles answered
	for r := range results {
		if r.status != http.StatusOK {
			t.Fatalf("session %s: status %d, want 200", r.session, r.status)
		}
		if profiles[r.session] == nil {
			profiles[r.session] = map[string]bool{}
		}
		profiles[r.session][r.profile] = true
	}
	seen := map[string]bool{}
	for session, ps := range profiles {
		if len(ps) != 1 {
			t.Fatalf("session %s was answered with %d profiles %v, want one", session, len(ps), ps)
		}
		var profile string
		for p := range ps {
			profile = p
		}
		if profile == "" || seen[profile] {
			t.Fatalf("session %s: profile %q is empty or shared with another session", session, profile)
		}
		seen[profile] = true
		for _, n := range nodes {
			sess, err := n.client.FindSession(ctx, session)
			if err != nil {
				t.Fatalf("find session %s: %v", session, err)
			}
			if sess.ProfileID != profile || sess.EventCount != perSession {
				t.Fatalf("session %s = profile %s, %d events; want profile %s, %d events", session, sess.ProfileID, sess.EventCount, profile, perSession)
			}
			prof, err := n.client.FindProfile(ctx, profile)
			if err != nil {
				t.Fatalf("find profile %s: %v", profile, err)
			}
			if prof.SessionCount != 1 || prof.EventCount != perSession {
				t.Fatalf("profile %s = %d sessions, %d events; want 1 session, %d events", profile, prof.SessionCount, prof.EventCount, perSession)
			}
		}
	}
	if len(profiles) != sessions {
		t.Fatalf("%d sessions answered, want %d", len(profiles), sessions)
	}
	// No node made a profile that lost the race and stayed behind.
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var nSessions, nProfiles, nEvents int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM profiles), (SELECT count(*) FROM events)`).Scan(&nSessions, &nProfiles, &nEvents); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	if nSessions != sessions || nProfiles != sessions || nEvents != sessions*perSession {
		t.Fatalf("the database holds %d sessions, %d profiles, %d events; want %d, %d, %d", nSessions, nProfiles, nEvents, sessions, sessions, sessions*perSession)
	}
}

func TestNodesHoldDedupKeysTogether(t *testing.T) {
	dbURL := pgtest.URL(t)
	nodes := []*pgNode{startPGNode(t, dbURL, nil), startPGNode(t, dbURL, nil)}
	ctx := context.Background()
	if _, err := nodes[0].client.CreateSource(ctx, inlethttp.CreateSourceRequest{
		ID: "payments", Name: "Payments", Config: &inlet.SourceConfig{Dedup: &inlet.DedupConfig{Header: "Idempotency-Key"}},
	}); err != nil {
		t.Fatalf("create the source: %v", err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	const keys, deliveries = 3, 16 // each key delivered many times, to both nodes at once
	type answer struct {
		key, event string
		duplicate  bool
	}
	answers := make(chan answer, keys*deliveries)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for k := range keys {
		key := fmt.Sprintf("delivery-%d-%d", k, time.Now().UnixNano())
		for i := range deliveries {
			node := nodes[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req, _ := http.NewRequest("POST", node.url+"/collect/charge.succeeded/payments", strings.NewReader(`{"amount":100}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", key)
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("POST: %v", err)
					return
				}
				defer resp.Body.Close()
				var body struct {
					Events    []string `json:"events"`
					Duplicate bool     `json:"duplicate"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || len(body.Events) != 1 {
					t.Errorf("POST with key %s: status %d (%v), want 200 with one event", key, resp.StatusCode, err)
					return
				}
				answers <- answer{key: key, event: body.Events[0], duplicate: body.Duplicate}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(answers)
	if t.Failed() {
		t.FailNow()
	}

	type tally struct {
		events   map[string]bool
		original int
	}
	byKey := map[string]*tally{}
	for a := range answers {
		if byKey[a.key] == nil {
			byKey[a.key] = &tally{events: map[string]bool{}}
		}
		byKey[a.key].events[a.event] = true
		if !a.duplicate {
			byKey[a.key].original++
		}
	}
	for key, tl := range byKey {
		if len(tl.events) != 1 || tl.original != 1 {
			t.Fatalf("key %s: answered with %d event ids, %d of them not duplicates; want one event, stored once", key, len(tl.events), tl.original)
		}
		for id := range tl.events {
			if _, err := nodes[1].client.FindEvent(ctx, id); err != nil {
				t.Fatalf("key %s: the event answered, %s: %v", key, id, err)
			}
		}
	}
	page, err := nodes[1].client.ListEvents(ctx, inlet.EventFilter{SourceID: "payments", Limit: 100})
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	if len(byKey) != keys || len(page.Items) != keys {
		t.Fatalf("%d keys answered and %d events stored, want %d of each", len(byKey), len(page.Items), keys)
	}
}
