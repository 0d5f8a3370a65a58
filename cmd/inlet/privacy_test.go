package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"inlet"
)

// TestErasingAPersonLeavesNothingOfTheirs collects a person's events (a
// session, an identified email, a trait, a unique property, a refused
// request holding the email) beside another person's, erases the person
// by their email, and checks that no API answers anything of theirs and
// that none of their values is left as bytes in the SQLite files.
func TestErasingAPersonLeavesNothingOfTheirs(t *testing.T) {
	cfg := liveConfig(t)
	s := startLive(t, cfg)
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "forms", "name": "Forms",
		"config": map[string]any{"identify_by": map[string]string{"email": "email"}, "traits": map[string]string{"name": "name"}}}, http.StatusCreated, nil)
	const email, name, unique = "ana.rights@example.com", "Ana Rightsholder", "ORD-RIGHTS-77819"
	var ana []string
	for i, body := range []string{
		`{"page": "/pricing"}`,
		fmt.Sprintf(`{"email": %q, "name": %q}`, email, name),
		fmt.Sprintf(`{"email": %q, "order": %q}`, email, unique),
	} {
		session := "/ana-session"
		if i == 2 {
			session = ""
		}
		c := s.collect("POST", "/collect/form/forms"+session, header("Content-Type", "application/json"), strings.NewReader(body))
		ana = append(ana, c.Events...)
	}
	bob := s.collect("POST", "/collect/form/forms/bob-session", header("Content-Type", "application/json"),
		strings.NewReader(`{"email": "bob@example.com", "name": "Bob"}`))
	// A refused request that holds her email lands in the rejected-request log.
	s.do("POST", "/collect/form/no-such-source", header("Content-Type", "application/json"), strings.NewReader(fmt.Sprintf(`{"email": %q}`, email)))
	for deadline := time.Now().Add(10 * time.Second); !bytes.Contains(s.admin("GET", "/api/v1/rejections", nil, http.StatusOK, nil), []byte(email)); {
		if time.Now().After(deadline) {
			t.Fatalf("the refused request holding the email is not in the rejected-request log after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	var export bytes.Buffer
	status, _, raw := s.do("GET", "/api/v1/profiles/"+*s.event(ana[0]).ProfileID+"/export", header("Authorization", "Bearer "+s.token), nil)
	export.Write(raw)
	if status != http.StatusOK || strings.Count(export.String(), "\n") != 1+1+3 || !strings.Contains(export.String(), unique) || strings.Contains(export.String(), "Bob") {
		t.Fatalf("export before the erasure: %d\n%s\nwant the profile, the session and her 3 events", status, export.String())
	}

	var e inlet.Erasure
	s.admin("DELETE", "/api/v1/profiles?identifier="+url.QueryEscape("email:"+email), nil, http.StatusOK, &e)
	if e.Events != 3 || e.Sessions != 1 || e.Identifiers != 1 || e.Traits != 1 || e.Rejections != 1 {
		t.Fatalf("erasure = %+v; want 3 events, 1 session, 1 identifier, 1 trait, 1 rejected request", e)
	}

	for _, id := range ana {
		s.admin("GET", "/api/v1/events/"+id, nil, http.StatusNotFound, nil)
	}
	s.admin("GET", "/api/v1/sessions/ana-session", nil, http.StatusNotFound, nil)
	s.admin("DELETE", "/api/v1/profiles?identifier="+url.QueryEscape("email:"+email), nil, http.StatusNotFound, nil)
	for _, path := range []string{"/api/v1/events?limit=1000", "/api/v1/rejections?limit=1000", "/api/v1/profiles?identifier=" + url.QueryEscape("email:"+email)} {
		raw := s.admin("GET", path, nil, http.StatusOK, nil)
		for _, v := range []string{email, name, unique} {
			if bytes.Contains(raw, []byte(v)) {
				t.Fatalf("GET %s still answers %q after the erasure:\n%s", path, v, raw)
			}
		}
	}
	if got := s.event(bob.Events[0]); got.ProfileID == nil {
		t.Fatalf("Bob's event after Ana's erasure = %+v", got)
	}
	// Her next visit in the same browser session is a new person.
	again := s.collect("POST", "/collect/page-view/forms/ana-session", header("Content-Type", "application/json"), strings.NewReader(`{}`))
	if again.Profile == nil || again.Session == nil || again.Session.ID != "ana-session" {
		t.Fatalf("the next event of the erased session = %+v", again)
	}

	// The bytes: none of her values in the database file or its log.
	s.stop()
	entries, err := os.ReadDir(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, ent := range entries {
		if ent.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(cfg.DataDir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, v := range []string{email, name, unique} {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("%q is still in %s after the erasure", v, ent.Name())
			}
		}
		if strings.HasPrefix(ent.Name(), "inlet.db") && !bytes.Contains(data, []byte("bob@example.com")) && ent.Name() == "inlet.db" {
			t.Errorf("Bob's email is not in %s either: the check looks in the wrong place", ent.Name())
		}
	}
	if checked == 0 {
		t.Fatal("no file in the data directory to check")
	}
}

// TestAHashedFieldIsNeverStoredInClearAndASuppressedPersonStaysOut sends a
// person's events to a source that hashes their email: the email is in no
// file, and their events still share one profile. Erased with suppress,
// their next event is acknowledged and not stored, until the suppression
// is lifted.
func TestAHashedFieldIsNeverStoredInClearAndASuppressedPersonStaysOut(t *testing.T) {
	cfg := liveConfig(t)
	s := startLive(t, cfg)
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "forms", "name": "Forms", "config": map[string]any{
		"identify_by": map[string]string{"email": "email"},
		"privacy":     map[string]any{"fields": []map[string]any{{"path": "email", "action": "hash"}}},
	}}, http.StatusCreated, nil)
	const email = "ana.hashed@example.com"
	json := header("Content-Type", "application/json")
	first := s.collect("POST", "/collect/signup/forms", json, strings.NewReader(`{"email": "`+email+`"}`))
	second := s.collect("POST", "/collect/order/forms", json, strings.NewReader(`{"email": " ANA.Hashed@Example.com "}`))
	if first.profileID() == "" || first.profileID() != second.profileID() {
		t.Fatalf("profiles %q and %q: want the two events of one hashed email linked", first.profileID(), second.profileID())
	}
	if raw := s.admin("GET", "/api/v1/events/"+first.Events[0], nil, http.StatusOK, nil); !bytes.Contains(raw, []byte(`"email":"hmac:`)) {
		t.Fatalf("the stored event: %s; want the email hashed", raw)
	}

	var e inlet.Erasure
	s.admin("DELETE", "/api/v1/profiles/"+first.profileID()+"?suppress=true", nil, http.StatusOK, &e)
	if e.Events != 2 {
		t.Fatalf("erasure %+v", e)
	}
	status, _, raw := s.do("POST", "/collect/order/forms", json, strings.NewReader(`{"email": "`+email+`"}`))
	if status != http.StatusOK || !bytes.Contains(raw, []byte(`"dropped":true`)) {
		t.Fatalf("an event of the suppressed person: %d %s; want 200, dropped", status, raw)
	}
	var stats struct {
		Suppressed int `json:"suppressed"`
	}
	s.admin("GET", "/api/v1/stats", nil, http.StatusOK, &stats)
	if page := s.listEvents(""); len(page.Items) != 0 || stats.Suppressed != 1 {
		t.Fatalf("after a suppressed event: %d events stored, %d suppressed; want none stored, 1 suppressed", len(page.Items), stats.Suppressed)
	}
	// Another person is not suppressed; lifted, the person is stored again.
	s.collect("POST", "/collect/order/forms", json, strings.NewReader(`{"email": "bob@example.com"}`))
	hashedID := "email:" + inlet.HashValue(mustHashKey(t, s), email)
	s.admin("DELETE", "/api/v1/suppressions?identifier="+url.QueryEscape(hashedID), nil, http.StatusNoContent, nil)
	s.admin("DELETE", "/api/v1/suppressions?identifier="+url.QueryEscape(hashedID), nil, http.StatusNotFound, nil)
	back := s.collect("POST", "/collect/order/forms", json, strings.NewReader(`{"email": "`+email+`"}`))
	if len(back.Events) != 1 {
		t.Fatalf("after lifting: %+v", back)
	}

	s.stop()
	entries, _ := os.ReadDir(cfg.DataDir)
	for _, ent := range entries {
		data, err := os.ReadFile(filepath.Join(cfg.DataDir, ent.Name()))
		if err != nil || ent.IsDir() {
			continue
		}
		if bytes.Contains(bytes.ToLower(data), []byte(email)) {
			t.Errorf("the hashed email is in clear in %s", ent.Name())
		}
	}
}

// mustHashKey reads the installation's hash key from the store of a live
// server.
func mustHashKey(t *testing.T, s *liveServer) []byte {
	t.Helper()
	key, err := s.main.store.HashKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return key
}
