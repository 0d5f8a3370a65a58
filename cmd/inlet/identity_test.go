package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"inlet/postgres/pgtest"
)

// The identity tests replay what real senders post (a payment provider, a
// form tool, an email delivery service) through a running Main, on SQLite
// and, when configured, on PostgreSQL.

// identityProfile is a profile as GET /api/v1/profiles/{id} answers it.
type identityProfile struct {
	ID           string                     `json:"id"`
	EventCount   int64                      `json:"event_count"`
	SessionCount int64                      `json:"session_count"`
	FirstSeen    string                     `json:"first_seen"`
	LastSeen     string                     `json:"last_seen"`
	Traits       map[string]json.RawMessage `json:"traits"`
	Identifiers  []struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	} `json:"identifiers"`
	Aliases    []string `json:"aliases"`
	MergedInto string   `json:"merged_into"`
}

// manyCollected is the answer to a collect request of a mapped source.
type manyCollected struct {
	Events  []string `json:"events"`
	Profile *struct {
		ID string `json:"id"`
	} `json:"profile"`
	Warnings []string `json:"warnings"`
	Items    []struct {
		ID      string `json:"id"`
		Profile *struct {
			ID string `json:"id"`
		} `json:"profile"`
	} `json:"items"`
}

// post sends a JSON body to a collect path and fails the test unless the
// answer has status want.
func (s *liveServer) post(path, body string, want int) manyCollected {
	s.t.Helper()
	status, _, raw := s.do("POST", path, header("Content-Type", "application/json"), strings.NewReader(body))
	if status != want {
		s.t.Fatalf("POST %s: status %d, want %d; body %s", path, status, want, raw)
	}
	var c manyCollected
	if status == http.StatusOK {
		if err := json.Unmarshal(raw, &c); err != nil {
			s.t.Fatalf("POST %s: decoding %s: %v", path, raw, err)
		}
	}
	return c
}

func (s *liveServer) identityProfile(path string) identityProfile {
	s.t.Helper()
	var p identityProfile
	s.admin("GET", path, nil, http.StatusOK, &p)
	return p
}

func (s *liveServer) profileByIdentifier(identifier string) identityProfile {
	s.t.Helper()
	var page struct {
		Items []identityProfile `json:"items"`
	}
	s.admin("GET", "/api/v1/profiles?identifier="+identifier, nil, http.StatusOK, &page)
	if len(page.Items) != 1 {
		s.t.Fatalf("profiles with identifier %s: %d, want 1", identifier, len(page.Items))
	}
	return page.Items[0]
}

// identitySources registers the senders of the identity tests.
func identitySources(s *liveServer) {
	s.t.Helper()
	s.createSource(map[string]any{"id": "web", "name": "Web site"})
	s.createSource(map[string]any{"id": "payments", "name": "Payment provider", "config": map[string]any{
		"event_type_path": "type",
		"profile_id_path": "data.object.customer",
		"identify_by":     map[string]string{"email": "data.object.email"},
		"traits":          map[string]string{"name": "data.object.name", "plan": "data.object.metadata.plan"},
	}})
	s.createSource(map[string]any{"id": "forms", "name": "Form tool", "config": map[string]any{
		"identify_by": map[string]string{"email": "answers.email"},
		"traits":      map[string]string{"name": "answers.name", "company": "answers.company"},
	}})
	s.createSource(map[string]any{"id": "mail", "name": "Email delivery", "config": map[string]any{
		"split_array":     true,
		"event_type_path": "event",
		"session_id_path": "sg_session",
		"identify_by":     map[string]string{"email": "email"},
		"traits":          map[string]string{"last_email_event": "event"},
	}})
}

func TestIdentityFromSenderPayloads(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		replaySenders(t, startLive(t, liveConfig(t)))
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		cfg := liveConfig(t)
		cfg.DB = pgtest.URL(t)
		replaySenders(t, startLive(t, cfg))
	})
}

func replaySenders(t *testing.T, s *liveServer) {
	identitySources(s)

	// An anonymous visitor browses, then submits a form in the same session.
	visit := s.collect("POST", "/collect/page-view/web/sess-web-1", header("Content-Type", "application/json"), strings.NewReader(`{"url":"/pricing"}`))
	anonymous := visit.profileID()
	form := s.post("/collect/form-submitted/forms/sess-web-1",
		`{"form_id":"f-77","answers":{"email":" Ann@Example.com ","name":"Ann","company":"Acme"}}`, http.StatusOK)
	if form.Profile == nil || form.Profile.ID != anonymous {
		t.Fatalf("the form went to profile %+v; want the session's %s", form.Profile, anonymous)
	}

	// The payment provider knows the customer by its own id and the email.
	pay := s.post("/collect/webhook/payments", `{"id":"evt_1","type":"customer.created","data":{"object":
		{"id":"cus_N1","customer":"cus_N1","email":"ann@example.com","name":"Ann Lee","metadata":{"plan":"pro"}}}}`, http.StatusOK)
	if pay.Profile == nil || pay.Profile.ID != anonymous {
		t.Fatalf("the payment event went to %+v; want the older profile %s that owns the email", pay.Profile, anonymous)
	}
	if e := s.event(pay.Events[0]); e.Type != "customer.created" {
		t.Errorf("payment event type %q, want customer.created from the payload", e.Type)
	}
	alias := s.identityProfile("/api/v1/profiles/cus_N1")
	if alias.ID != anonymous || alias.MergedInto != anonymous {
		t.Fatalf("GET /api/v1/profiles/cus_N1 = %s merged into %q; want the survivor %s", alias.ID, alias.MergedInto, anonymous)
	}

	// A payment event without the customer id falls back with a warning.
	invoice := s.post("/collect/webhook/payments", `{"type":"invoice.paid","data":{"object":{"email":"ANN@example.com"}}}`, http.StatusOK)
	if len(invoice.Warnings) != 1 || !strings.Contains(invoice.Warnings[0], "data.object.customer") {
		t.Errorf("answer warnings %q; want one about data.object.customer", invoice.Warnings)
	}
	var stored struct {
		Warnings []string `json:"warnings"`
	}
	s.admin("GET", "/api/v1/events/"+invoice.Events[0], nil, http.StatusOK, &stored)
	if !slices.Equal(stored.Warnings, invoice.Warnings) {
		t.Errorf("stored warnings %q, answered %q", stored.Warnings, invoice.Warnings)
	}

	// The email service posts an array of delivery events.
	mail := s.post("/collect/email/mail", `[
		{"email":"ann@example.com","event":"delivered","sg_event_id":"d-1"},
		{"email":"ANN@EXAMPLE.COM","event":"open","sg_event_id":"o-1"},
		{"email":"bob@example.com","event":"bounce","sg_event_id":"b-1"},
		{"event":"processed","sg_event_id":"p-1"}]`, http.StatusOK)
	if len(mail.Events) != 4 || len(mail.Items) != 4 {
		t.Fatalf("the array answered %d events, %d items; want 4", len(mail.Events), len(mail.Items))
	}
	for i, want := range []string{"delivered", "open", "bounce", "processed"} {
		if e := s.event(mail.Events[i]); e.Type != want || e.SourceID != "mail" {
			t.Errorf("mail event %d: type %q from %s, want %s", i, e.Type, e.SourceID, want)
		}
	}
	if p := mail.Items[0].Profile; p == nil || p.ID != anonymous || mail.Items[1].Profile.ID != anonymous {
		t.Errorf("ann's mail events went to %+v and %+v; want %s", mail.Items[0].Profile, mail.Items[1].Profile, anonymous)
	}
	if p := mail.Items[2].Profile; p == nil || p.ID == anonymous {
		t.Errorf("bob's bounce went to %+v; want a profile of his own", p)
	}
	if p := mail.Items[3].Profile; p != nil {
		t.Errorf("an event with no email went to profile %s", p.ID)
	}

	p := s.profileByIdentifier("email:ANN@example.com")
	if p.ID != anonymous || p.MergedInto != "" || !slices.Equal(p.Aliases, []string{"cus_N1"}) {
		t.Fatalf("profile by email = %s (merged into %q, aliases %v); want %s with alias cus_N1", p.ID, p.MergedInto, p.Aliases, anonymous)
	}
	if p.EventCount != 6 || p.SessionCount != 1 {
		t.Errorf("profile counts %d events, %d sessions; want 6 and 1", p.EventCount, p.SessionCount)
	}
	if len(p.Identifiers) != 1 || p.Identifiers[0].Kind != "email" || p.Identifiers[0].Value != "ann@example.com" {
		t.Errorf("identifiers %+v, want email:ann@example.com", p.Identifiers)
	}
	wantTraits := map[string]string{"name": `"Ann Lee"`, "company": `"Acme"`, "plan": `"pro"`, "last_email_event": `"open"`}
	if len(p.Traits) != len(wantTraits) {
		t.Errorf("traits %s, want %v", p.Traits, wantTraits)
	}
	for name, want := range wantTraits {
		if got := string(p.Traits[name]); got != want {
			t.Errorf("trait %s = %s, want %s", name, got, want)
		}
	}

	// The events of the alias are the survivor's.
	for _, id := range []string{anonymous, "cus_N1"} {
		if page := s.listEvents("profile=" + id); len(page.Items) != 6 {
			t.Errorf("events of profile %s: %d, want 6", id, len(page.Items))
		}
	}

	// The CLI shows the same.
	out := mustRunInlet(t, "profiles", "find", "email:ann@example.com", "--server", s.url, "--admin-token", s.token)
	for _, want := range []string{anonymous, "identifier:  email:ann@example.com", "alias:       cus_N1", `trait:       plan = "pro"`} {
		if !strings.Contains(out, want) {
			t.Errorf("inlet profiles find printed %q; want %q in it", out, want)
		}
	}
	out = mustRunInlet(t, "profiles", "get", "cus_N1", "--server", s.url, "--admin-token", s.token)
	if !strings.Contains(out, "merged into: "+anonymous) {
		t.Errorf("inlet profiles get cus_N1 printed %q; want it merged into %s", out, anonymous)
	}
}

func TestIdentityRefusesBadInput(t *testing.T) {
	s := startLive(t, liveConfig(t))
	identitySources(s)

	status, h, body := s.do("POST", "/api/v1/sources", header("Authorization", "Bearer "+s.token, "Content-Type", "application/json"),
		strings.NewReader(`{"id":"bad","name":"Bad","config":{"identify_by":{"email":"customer..email"}}}`))
	if msg := wantError(t, "a source with a bad identify_by path", status, h, body, http.StatusBadRequest, "invalid"); !strings.Contains(msg, "config.identify_by.email") {
		t.Errorf("message %q does not name config.identify_by.email", msg)
	}

	for _, tc := range []struct{ name, path, body, reason string }{
		{"a profile id with a space", "/collect/webhook/payments", `{"type":"customer.created","data":{"object":{"customer":"cus 1"}}}`, "bad_profile_id"},
		{"an event type that cannot be normalised", "/collect/webhook/payments", `{"type":"café!","data":{"object":{}}}`, "bad_event_type"},
		{"an array with one bad session id", "/collect/email/mail", `[{"email":"x@example.com","event":"open"},{"email":"y@example.com","event":"open","sg_session":"bad session"}]`, "bad_session_id"},
		{"an empty array", "/collect/email/mail", `[]`, "empty_array"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			status, h, body := s.do("POST", tc.path, header("Content-Type", "application/json"), strings.NewReader(tc.body))
			wantError(t, tc.name, status, h, body, http.StatusBadRequest, tc.reason)
		})
	}
	// Nothing of the refused array was stored.
	if page := s.listEvents("source=mail"); len(page.Items) != 0 {
		t.Errorf("%d events of the refused arrays were stored", len(page.Items))
	}
	var none struct {
		Items []identityProfile `json:"items"`
	}
	s.admin("GET", "/api/v1/profiles?identifier=email:x@example.com", nil, http.StatusOK, &none)
	if len(none.Items) != 0 {
		t.Errorf("the refused array's email has a profile: %+v", none.Items)
	}
}

func TestIdentityMergesUnderConcurrency(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		s := startLive(t, liveConfig(t))
		concurrentForms(t, []*liveServer{s})
	})
	t.Run("on two PostgreSQL nodes", func(t *testing.T) {
		url := pgtest.URL(t)
		var nodes []*liveServer
		for range 2 {
			cfg := liveConfig(t)
			cfg.DB = url
			nodes = append(nodes, startLive(t, cfg))
		}
		concurrentForms(t, nodes)
	})
}

// concurrentForms sends form submissions of one new email, each from its
// own new browser session, all at once and spread over the nodes: they must
// end as one profile owning every session.
func concurrentForms(t *testing.T, nodes []*liveServer) {
	identitySources(nodes[0])
	const n = 24
	answers := make([]manyCollected, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = nodes[i%len(nodes)].post(fmt.Sprintf("/collect/form-submitted/forms/race-%d", i),
				fmt.Sprintf(`{"answers":{"email":"race@example.com","name":"Racer %d"}}`, i), http.StatusOK)
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	p := nodes[0].profileByIdentifier("email:race@example.com")
	if p.EventCount != n || p.SessionCount != n {
		t.Fatalf("the one profile has %d events and %d sessions; want %d of each", p.EventCount, p.SessionCount, n)
	}
	for i, a := range answers {
		node := nodes[(i+1)%len(nodes)]
		if got := node.identityProfile("/api/v1/profiles/" + a.Profile.ID).ID; got != p.ID {
			t.Errorf("answered profile %s resolves to %s; want %s", a.Profile.ID, got, p.ID)
		}
		var sess storedSession
		node.admin("GET", fmt.Sprintf("/api/v1/sessions/race-%d", i), nil, http.StatusOK, &sess)
		if sess.ProfileID != p.ID {
			t.Errorf("session race-%d belongs to %s; want %s", i, sess.ProfileID, p.ID)
		}
	}
	// A session's own profile merged away in its first batch is dropped;
	// only profiles that outlived a batch remain as aliases.
	if len(p.Aliases) >= n {
		t.Errorf("the profile has %d aliases; want fewer than %d", len(p.Aliases), n)
	}
}

func TestIdentityMappingFallbacks(t *testing.T) {
	s := startLive(t, liveConfig(t))
	s.createSource(map[string]any{"id": "crm", "name": "CRM", "config": map[string]any{
		"generate_profile": true,
		"split_array":      true,
		"session_id_path":  "visit.id",
		"dedup":            map[string]string{"header": "Idempotency-Key"},
	}})

	t.Run("a session-less event gets a generated profile and a warning", func(t *testing.T) {
		a := s.post("/collect/contact-updated/crm", `{"name":"x"}`, http.StatusOK)
		b := s.post("/collect/contact-updated/crm", `{"name":"y"}`, http.StatusOK)
		if a.Profile == nil || b.Profile == nil || a.Profile.ID == b.Profile.ID {
			t.Fatalf("profiles %+v and %+v; want two generated ones", a.Profile, b.Profile)
		}
		if p := s.identityProfile("/api/v1/profiles/" + a.Profile.ID); p.EventCount != 1 {
			t.Errorf("the generated profile has %d events, want 1", p.EventCount)
		}
		if len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "session_id_path") {
			t.Errorf("warnings %q; want one about session_id_path", a.Warnings)
		}
	})
	t.Run("the URL's session is the fallback of the payload's", func(t *testing.T) {
		c := s.post("/collect/contact-updated/crm/url-sess", `{"x":1}`, http.StatusOK)
		if sess := s.session("url-sess"); sess.ProfileID != c.Profile.ID || sess.EventCount != 1 {
			t.Errorf("session url-sess = %+v; want the event's profile %s and 1 event", sess, c.Profile.ID)
		}
		d := s.post("/collect/contact-updated/crm/url-sess", `{"visit":{"id":"v-1"}}`, http.StatusOK)
		if e := s.event(d.Events[0]); e.SessionID == nil || *e.SessionID != "v-1" {
			t.Errorf("event session %v; want v-1 from the payload", strOrNull(e.SessionID))
		}
	})
	t.Run("an array under one idempotency key is stored once, every element kept", func(t *testing.T) {
		h := header("Content-Type", "application/json", "Idempotency-Key", "batch-1")
		var first, again manyCollected
		for _, out := range []*manyCollected{&first, &again} {
			status, _, raw := s.do("POST", "/collect/note/crm", h, strings.NewReader(`[{"n":1},{"n":2},{"n":3}]`))
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, raw)
			}
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatal(err)
			}
		}
		if len(first.Events) != 3 || !slices.Equal(first.Events, again.Events) {
			t.Fatalf("first answer %v, repeat %v; want the same 3 events", first.Events, again.Events)
		}
		if page := s.listEvents("source=crm&type=note"); len(page.Items) != 3 {
			t.Errorf("%d note events stored, want 3", len(page.Items))
		}
	})
}
