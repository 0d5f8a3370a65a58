package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/sqlite"
)

func TestAdminRequiresToken(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/sources"},
		{"GET", "/api/v1/sources"},
		{"GET", "/api/v1/sources/x"},
		{"PATCH", "/api/v1/sources/x"},
		{"DELETE", "/api/v1/sources/x"},
		{"GET", "/api/v1/events"},
		{"GET", "/api/v1/events/x"},
		{"GET", "/api/v1/profiles/x"},
		{"GET", "/api/v1/sessions/x"},
	}
	credentials := []struct{ name, header string }{
		{"no Authorization header", ""},
		{"a wrong token", "Bearer wrong-token"},
		{"a token with a character more", "Bearer " + testToken + "x"},
		{"an empty bearer token", "Bearer "},
		{"the right token under another scheme", "Basic " + testToken},
		{"the bare token", testToken},
	}
	for _, r := range routes {
		for _, c := range credentials {
			t.Run(r.method+" "+r.path+" with "+c.name+" is 401", func(t *testing.T) {
				var header []string
				if c.header != "" {
					header = []string{"Authorization", c.header}
				}
				assertError(t, s.do(r.method, r.path, strings.NewReader(`{"name":"x"}`), header...), http.StatusUnauthorized, "unauthorized")
			})
		}
	}
	var list struct{ Items []sourceJSON }
	s.adminOK("GET", "/api/v1/sources", "", http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Errorf("unauthorized requests created %d sources", len(list.Items))
	}
}

func TestAdminCreateSource(t *testing.T) {
	s := newTestServer(t, serverOptions{})

	t.Run("a source without an id gets a generated one", func(t *testing.T) {
		resp := s.admin("POST", "/api/v1/sources", `{"name": "Shop", "type": "webhook"}`)
		if resp.Status != http.StatusCreated {
			t.Fatalf("status = %d %s, want 201", resp.Status, resp.Body)
		}
		var src sourceJSON
		if err := json.Unmarshal(resp.Body, &src); err != nil {
			t.Fatal(err)
		}
		if !inlet.ValidID(src.ID) || src.Name != "Shop" || src.Type != "webhook" || !src.Enabled {
			t.Errorf("created %+v, want a valid id, name Shop, type webhook, enabled", src)
		}
		if loc := resp.Header.Get("Location"); loc != "/api/v1/sources/"+src.ID {
			t.Errorf("Location = %q", loc)
		}
		if _, err := time.Parse(time.RFC3339Nano, src.CreatedAt); err != nil || src.CreatedAt != src.UpdatedAt {
			t.Errorf("created_at %q, updated_at %q", src.CreatedAt, src.UpdatedAt)
		}
		var got sourceJSON
		s.adminOK("GET", "/api/v1/sources/"+src.ID, "", http.StatusOK, &got)
		if !reflect.DeepEqual(got, src) {
			t.Errorf("read back %+v, created %+v", got, src)
		}
	})
	t.Run("two sources without ids get different ids", func(t *testing.T) {
		a, b := s.createSource(`{"name": "A"}`), s.createSource(`{"name": "B"}`)
		if a.ID == b.ID {
			t.Errorf("both got id %q", a.ID)
		}
	})
	t.Run("a given id, enabled flag and config are kept", func(t *testing.T) {
		src := s.createSource(`{"id": "stripe-live", "name": "Stripe", "enabled": false, "config": {"secret_headers": ["Stripe-Signature"], "max_body_bytes": 4096}}`)
		if src.ID != "stripe-live" || src.Enabled || src.Config.MaxBodyBytes != 4096 || !reflect.DeepEqual(src.Config.SecretHeaders, []string{"Stripe-Signature"}) {
			t.Errorf("created %+v", src)
		}
	})

	tests := []struct {
		name    string
		body    string
		status  int
		code    string
		message string // a part the message must contain
	}{
		{name: "a duplicate id is a conflict", body: `{"id": "stripe-live", "name": "Again"}`, status: 409, code: "conflict", message: "stripe-live"},
		{name: "an unknown config field is named", body: `{"name": "X", "config": {"max_body": 10}}`, status: 400, code: "unknown_field", message: "max_body"},
		{name: "an unknown top-level field is named", body: `{"name": "X", "enabeld": true}`, status: 400, code: "unknown_field", message: "enabeld"},
		{name: "a missing name is refused", body: `{"id": "no-name"}`, status: 400, code: "invalid", message: "name"},
		{name: "an id with a space is refused", body: `{"id": "has space", "name": "X"}`, status: 400, code: "invalid", message: "id"},
		{name: "an id over 128 characters is refused", body: `{"id": "` + strings.Repeat("i", 129) + `", "name": "X"}`, status: 400, code: "invalid", message: "id"},
		{name: "an unknown type is refused", body: `{"name": "X", "type": "kafka"}`, status: 400, code: "invalid", message: "type"},
		{name: "a body limit over 64 MiB is refused", body: `{"name": "X", "config": {"max_body_bytes": 67108865}}`, status: 400, code: "invalid", message: "max_body_bytes"},
		{name: "a field of the wrong type is named", body: `{"name": "X", "enabled": "yes"}`, status: 400, code: "bad_json", message: "enabled"},
		{name: "invalid JSON is refused", body: `{"name": }`, status: 400, code: "bad_json", message: "byte"},
		{name: "an empty body is refused", body: ``, status: 400, code: "bad_json", message: "empty"},
		{name: "two JSON values are refused", body: `{"name": "X"} {"name": "Y"}`, status: 400, code: "bad_json", message: "more than one"},
		{name: "a body over 1 MiB is refused", body: `{"name": "` + strings.Repeat("n", 1<<20) + `"}`, status: 413, code: "too_large", message: "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.admin("POST", "/api/v1/sources", tt.body)
			assertError(t, resp, tt.status, tt.code)
			if !strings.Contains(string(resp.Body), tt.message) {
				t.Errorf("message %s does not name %q", resp.Body, tt.message)
			}
		})
	}

	t.Run("refused creations store nothing", func(t *testing.T) {
		var list struct{ Items []sourceJSON }
		s.adminOK("GET", "/api/v1/sources", "", http.StatusOK, &list)
		if len(list.Items) != 4 {
			t.Errorf("%d sources, want the 4 created", len(list.Items))
		}
	})
}

func TestAdminSources(t *testing.T) {
	s := newTestServer(t, serverOptions{})

	t.Run("an empty list is an empty items array", func(t *testing.T) {
		resp := s.admin("GET", "/api/v1/sources", "")
		if resp.Status != http.StatusOK {
			t.Fatalf("status = %d", resp.Status)
		}
		assertSameJSON(t, resp.Body, `{"items": []}`)
	})

	for _, id := range []string{"zeta", "alpha", "mid"} {
		s.createSource(`{"id": "` + id + `", "name": "Source ` + id + `"}`)
	}
	t.Run("the list holds every source ordered by id", func(t *testing.T) {
		var list struct{ Items []sourceJSON }
		s.adminOK("GET", "/api/v1/sources", "", http.StatusOK, &list)
		var ids []string
		for _, src := range list.Items {
			ids = append(ids, src.ID)
		}
		if !reflect.DeepEqual(ids, []string{"alpha", "mid", "zeta"}) {
			t.Errorf("ids = %v", ids)
		}
	})
	t.Run("get returns one source", func(t *testing.T) {
		var src sourceJSON
		s.adminOK("GET", "/api/v1/sources/mid", "", http.StatusOK, &src)
		if src.ID != "mid" || src.Name != "Source mid" {
			t.Errorf("got %+v", src)
		}
	})
	t.Run("get of an unknown source is 404", func(t *testing.T) {
		assertError(t, s.admin("GET", "/api/v1/sources/nope", ""), http.StatusNotFound, "not_found")
	})
	t.Run("patch changes only the fields given", func(t *testing.T) {
		var before, after sourceJSON
		s.adminOK("GET", "/api/v1/sources/mid", "", http.StatusOK, &before)
		s.adminOK("PATCH", "/api/v1/sources/mid", `{"name": "Renamed", "config": {"max_body_bytes": 100}}`, http.StatusOK, &after)
		if after.Name != "Renamed" || after.Config.MaxBodyBytes != 100 || !after.Enabled || after.CreatedAt != before.CreatedAt {
			t.Errorf("after patch %+v, before %+v", after, before)
		}
		if after.UpdatedAt <= before.UpdatedAt {
			t.Errorf("updated_at %s did not move past %s", after.UpdatedAt, before.UpdatedAt)
		}
		var stored sourceJSON
		s.adminOK("GET", "/api/v1/sources/mid", "", http.StatusOK, &stored)
		if !reflect.DeepEqual(stored, after) {
			t.Errorf("stored %+v, answered %+v", stored, after)
		}
	})
	t.Run("patch can disable and enable", func(t *testing.T) {
		var src sourceJSON
		s.adminOK("PATCH", "/api/v1/sources/alpha", `{"enabled": false}`, http.StatusOK, &src)
		if src.Enabled || src.Name != "Source alpha" {
			t.Errorf("after disabling: %+v", src)
		}
		s.adminOK("PATCH", "/api/v1/sources/alpha", `{"enabled": true}`, http.StatusOK, &src)
		if !src.Enabled {
			t.Errorf("after enabling: %+v", src)
		}
	})
	t.Run("patch of an unknown source is 404", func(t *testing.T) {
		assertError(t, s.admin("PATCH", "/api/v1/sources/nope", `{"enabled": false}`), http.StatusNotFound, "not_found")
	})
	t.Run("patch to an empty name is refused", func(t *testing.T) {
		assertError(t, s.admin("PATCH", "/api/v1/sources/zeta", `{"name": ""}`), http.StatusBadRequest, "invalid")
	})
	t.Run("patch with an unknown field names it", func(t *testing.T) {
		resp := s.admin("PATCH", "/api/v1/sources/zeta", `{"enable": false}`)
		assertError(t, resp, http.StatusBadRequest, "unknown_field")
		if !strings.Contains(string(resp.Body), "enable") {
			t.Errorf("body %s does not name the field", resp.Body)
		}
	})
	t.Run("refused patches change nothing", func(t *testing.T) {
		var src sourceJSON
		s.adminOK("GET", "/api/v1/sources/zeta", "", http.StatusOK, &src)
		if src.Name != "Source zeta" || !src.Enabled {
			t.Errorf("zeta is now %+v", src)
		}
	})
	t.Run("delete removes the source", func(t *testing.T) {
		resp := s.admin("DELETE", "/api/v1/sources/zeta", "")
		if resp.Status != http.StatusNoContent || len(resp.Body) != 0 {
			t.Fatalf("delete = %d %s, want 204 and no body", resp.Status, resp.Body)
		}
		assertError(t, s.admin("GET", "/api/v1/sources/zeta", ""), http.StatusNotFound, "not_found")
		assertError(t, s.admin("DELETE", "/api/v1/sources/zeta", ""), http.StatusNotFound, "not_found")
	})
}

// seedEvents stores n events straight into the store, one minute apart from
// base, in the order the listing returns them reversed. Even events come
// from source "a", odd ones from "b"; every third is an "order", the rest
// "view"; every fifth is in session "s1".
func seedEvents(t *testing.T, db *sqlite.DB, base time.Time, n int) []*inlet.Event {
	t.Helper()
	events := make([]*inlet.Event, n)
	for i := range events {
		e := &inlet.Event{
			ID:         inlet.NewID(),
			Type:       "view",
			InsertedAt: base.Add(time.Duration(i) * time.Minute),
			SourceID:   "b",
			Properties: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
			Context:    inlet.RequestContext{Method: "POST", Headers: map[string]string{}},
		}
		if i%2 == 0 {
			e.SourceID = "a"
		}
		if i%3 == 0 {
			e.Type = "order"
		}
		if i%5 == 0 {
			e.SessionID = "s1"
		}
		events[i] = e
	}
	out, err := db.Append(context.Background(), inlet.Intakes(events...))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range out {
		events[i].ProfileID = a.ProfileID
	}
	return events
}

// newestFirst returns the ids of the events that keep passes, newest first.
func newestFirst(events []*inlet.Event, keep func(i int, e *inlet.Event) bool) []string {
	var ids []string
	for i := len(events) - 1; i >= 0; i-- {
		if keep(i, events[i]) {
			ids = append(ids, events[i].ID)
		}
	}
	return ids
}

type eventPage struct {
	Items []eventJSON `json:"items"`
	Next  *string     `json:"next"`
}

func (p *eventPage) ids() []string {
	ids := []string{}
	for _, e := range p.Items {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestAdminListEvents(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := seedEvents(t, s.DB, base, 60)
	profile := events[0].ProfileID
	if profile == "" {
		t.Fatal("the session's events got no profile")
	}
	at := func(minute int) string {
		return url.QueryEscape(base.Add(time.Duration(minute) * time.Minute).Format(time.RFC3339Nano))
	}
	all := func(int, *inlet.Event) bool { return true }

	tests := []struct {
		name     string
		query    string
		want     []string
		wantNext bool
	}{
		{name: "no filter gives the default 50, newest first", query: "", want: newestFirst(events, all)[:50], wantNext: true},
		{name: "source filters by source", query: "source=a&limit=1000", want: newestFirst(events, func(_ int, e *inlet.Event) bool { return e.SourceID == "a" })},
		{name: "type filters by type", query: "type=order&limit=1000", want: newestFirst(events, func(_ int, e *inlet.Event) bool { return e.Type == "order" })},
		{name: "type is normalized like an event type", query: "type=%20ORDER%20&limit=1000", want: newestFirst(events, func(_ int, e *inlet.Event) bool { return e.Type == "order" })},
		{name: "session filters by session", query: "session=s1", want: newestFirst(events, func(_ int, e *inlet.Event) bool { return e.SessionID == "s1" })},
		{name: "profile filters by profile", query: "profile=" + profile, want: newestFirst(events, func(_ int, e *inlet.Event) bool { return e.SessionID == "s1" })},
		{name: "since is inclusive", query: "since=" + at(30) + "&limit=1000", want: newestFirst(events, func(i int, _ *inlet.Event) bool { return i >= 30 })},
		{name: "until is exclusive", query: "until=" + at(10), want: newestFirst(events, func(i int, _ *inlet.Event) bool { return i < 10 })},
		{name: "since takes a zone offset", query: "since=" + url.QueryEscape(base.Add(55*time.Minute).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)), want: newestFirst(events, func(i int, _ *inlet.Event) bool { return i >= 55 })},
		{name: "filters combine", query: "source=a&type=order&since=" + at(10) + "&until=" + at(40), want: newestFirst(events, func(i int, e *inlet.Event) bool {
			return e.SourceID == "a" && e.Type == "order" && i >= 10 && i < 40
		})},
		{name: "a filter that matches nothing gives an empty page", query: "source=nobody", want: []string{}},
		{name: "id selects one event", query: "id=" + events[7].ID, want: []string{events[7].ID}},
		{name: "a type with * is a pattern", query: "type=ord*&limit=1000", want: newestFirst(events, func(_ int, e *inlet.Event) bool { return e.Type == "order" })},
		{name: "property and value select by a property", query: "property=i&value=42", want: []string{events[42].ID}},
		{name: "a property search combines with the other filters", query: "property=i&value=42&source=b", want: []string{}},
		{name: "limit 1 gives one event and a cursor", query: "limit=1", want: newestFirst(events, all)[:1], wantNext: true},
		{name: "limit 1000 gives all 60 and no cursor", query: "limit=1000", want: newestFirst(events, all)},
		{name: "a limit equal to the count gives no cursor", query: "limit=60", want: newestFirst(events, all)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var page eventPage
			s.adminOK("GET", "/api/v1/events?"+tt.query, "", http.StatusOK, &page)
			if got := page.ids(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %d events, want %d\ngot  %v\nwant %v", len(got), len(tt.want), got, tt.want)
			}
			if (page.Next != nil) != tt.wantNext {
				t.Errorf("next = %v, want a cursor: %v", page.Next, tt.wantNext)
			}
		})
	}

	t.Run("an empty page answers items [] and next null", func(t *testing.T) {
		resp := s.admin("GET", "/api/v1/events?source=nobody", "")
		assertSameJSON(t, resp.Body, `{"items": [], "next": null}`)
	})

	t.Run("events carry their fields", func(t *testing.T) {
		var page eventPage
		s.adminOK("GET", "/api/v1/events?limit=1000", "", http.StatusOK, &page)
		for _, e := range page.Items {
			var i int
			var props struct{ I int }
			json.Unmarshal(e.Properties, &props)
			i = props.I
			want := events[i]
			if e.ID != want.ID || e.Type != want.Type || e.SourceID != want.SourceID || deref(e.SessionID) != want.SessionID || deref(e.ProfileID) != want.ProfileID {
				t.Fatalf("event %d = %+v, want %+v", i, e, want)
			}
			if e.InsertedAt != inlet.FormatTime(want.InsertedAt) {
				t.Fatalf("event %d inserted_at = %q, want %q", i, e.InsertedAt, inlet.FormatTime(want.InsertedAt))
			}
		}
	})

	for _, tt := range []struct {
		name, filter string
		limit        int
	}{
		{name: "paging through every event by 7 has no duplicates or gaps", filter: "", limit: 7},
		{name: "paging through a filter by 4 has no duplicates or gaps", filter: "source=a&", limit: 4},
		{name: "paging by the exact count ends on a page without a cursor", filter: "", limit: 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := newestFirst(events, all)
			if tt.filter != "" {
				want = newestFirst(events, func(_ int, e *inlet.Event) bool { return e.SourceID == "a" })
			}
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(events) {
					t.Fatal("paging does not end")
				}
				var page eventPage
				q := fmt.Sprintf("/api/v1/events?%slimit=%d", tt.filter, tt.limit)
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				s.adminOK("GET", q, "", http.StatusOK, &page)
				if len(page.Items) > tt.limit || (page.Next != nil && len(page.Items) != tt.limit) {
					t.Fatalf("page %d has %d items with next %v, limit %d", pages, len(page.Items), page.Next, tt.limit)
				}
				got = append(got, page.ids()...)
				if page.Next == nil {
					break
				}
				cursor = *page.Next
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("paged %d ids, want %d\ngot  %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}

	t.Run("new events do not shift a cursor", func(t *testing.T) {
		var first eventPage
		s.adminOK("GET", "/api/v1/events?limit=10", "", http.StatusOK, &first)
		seedEvents(t, s.DB, base.Add(time.Hour), 5)
		var second eventPage
		s.adminOK("GET", "/api/v1/events?limit=10&cursor="+url.QueryEscape(*first.Next), "", http.StatusOK, &second)
		if want := newestFirst(events, all)[10:20]; !reflect.DeepEqual(second.ids(), want) {
			t.Errorf("second page = %v, want %v", second.ids(), want)
		}
	})

	for _, tt := range []struct{ name, query, code string }{
		{"limit 0 is refused", "limit=0", "bad_filter"},
		{"limit 1001 is refused", "limit=1001", "bad_filter"},
		{"a negative limit is refused", "limit=-5", "bad_filter"},
		{"a limit that is not a number is refused", "limit=ten", "bad_filter"},
		{"a since that is not RFC 3339 is refused", "since=yesterday", "bad_filter"},
		{"an until without a zone is refused", "until=2026-01-01T00:00:00", "bad_filter"},
		{"a bad event type is refused", "type=a/b", "bad_event_type"},
		{"a bad type pattern is refused", "type=a*/b", "bad_event_type"},
		{"a property without a value is refused", "property=order", "bad_filter"},
		{"a value without a property is refused", "value=A-1", "bad_filter"},
		{"a property path with an empty key is refused", "property=a..b&value=1", "bad_filter"},
		{"a cursor that is not base64 is refused", "cursor=%21%21%21", "bad_cursor"},
		{"a cursor of the wrong form is refused", "cursor=" + url.QueryEscape("eA"), "bad_cursor"},
		{"a cursor made up by a client is refused", "cursor=" + url.QueryEscape(sqlite.EncodeCursor(5)[1:]), "bad_cursor"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assertError(t, s.admin("GET", "/api/v1/events?"+tt.query, ""), http.StatusBadRequest, tt.code)
		})
	}
}

func TestAdminEventProfileSession(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.createSource(`{"id": "app", "name": "App"}`)
	var ids []string
	var profile string
	start := time.Now().UTC().Add(-time.Second)
	for i := range 3 {
		c := parseCollected(t, s.do("GET", fmt.Sprintf("/collect/step/app/visit-1?i=%d", i), nil))
		ids = append(ids, c.Event)
		profile = c.ProfileID
	}
	end := time.Now().UTC().Add(time.Second)

	t.Run("an event is found by id", func(t *testing.T) {
		e := s.event(ids[1])
		if e.ID != ids[1] || e.Type != "step" || deref(e.SessionID) != "visit-1" || deref(e.ProfileID) != profile {
			t.Errorf("event = %+v", e)
		}
		assertSameJSON(t, e.Properties, `{"i":"1"}`)
	})
	t.Run("an unknown event is 404", func(t *testing.T) {
		assertError(t, s.admin("GET", "/api/v1/events/"+inlet.NewID(), ""), http.StatusNotFound, "not_found")
	})

	within := func(t *testing.T, name, v string) time.Time {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil || at.Before(start) || at.After(end) {
			t.Errorf("%s = %q, want a time between %s and %s", name, v, start, end)
		}
		return at
	}
	t.Run("a session has its counts and times", func(t *testing.T) {
		var sess struct {
			ID         string `json:"id"`
			ProfileID  string `json:"profile_id"`
			FirstSeen  string `json:"first_seen"`
			LastSeen   string `json:"last_seen"`
			EventCount int64  `json:"event_count"`
		}
		s.adminOK("GET", "/api/v1/sessions/visit-1", "", http.StatusOK, &sess)
		if sess.ID != "visit-1" || sess.ProfileID != profile || sess.EventCount != 3 {
			t.Errorf("session = %+v, want visit-1 of %s with 3 events", sess, profile)
		}
		first, last := within(t, "first_seen", sess.FirstSeen), within(t, "last_seen", sess.LastSeen)
		if last.Before(first) {
			t.Errorf("last_seen %s is before first_seen %s", sess.LastSeen, sess.FirstSeen)
		}
		if want := s.event(ids[2]).InsertedAt; sess.LastSeen != want {
			t.Errorf("last_seen = %s, want the last event's time %s", sess.LastSeen, want)
		}
	})
	t.Run("a profile has its counts and times", func(t *testing.T) {
		var p struct {
			ID           string `json:"id"`
			FirstSeen    string `json:"first_seen"`
			LastSeen     string `json:"last_seen"`
			EventCount   int64  `json:"event_count"`
			SessionCount int64  `json:"session_count"`
		}
		s.adminOK("GET", "/api/v1/profiles/"+profile, "", http.StatusOK, &p)
		if p.ID != profile || p.EventCount != 3 || p.SessionCount != 1 {
			t.Errorf("profile = %+v, want %s with 3 events in 1 session", p, profile)
		}
		first, last := within(t, "first_seen", p.FirstSeen), within(t, "last_seen", p.LastSeen)
		if last.Before(first) {
			t.Errorf("last_seen %s is before first_seen %s", p.LastSeen, p.FirstSeen)
		}
		if want := s.event(ids[2]).InsertedAt; p.LastSeen != want {
			t.Errorf("last_seen = %s, want the last event's time %s", p.LastSeen, want)
		}
	})
	t.Run("an unknown session is 404", func(t *testing.T) {
		assertError(t, s.admin("GET", "/api/v1/sessions/visit-2", ""), http.StatusNotFound, "not_found")
	})
	t.Run("an unknown profile is 404", func(t *testing.T) {
		assertError(t, s.admin("GET", "/api/v1/profiles/"+inlet.NewID(), ""), http.StatusNotFound, "not_found")
	})
}

func TestHealth(t *testing.T) {
	broken := &brokenStore{}
	s := newTestServer(t, serverOptions{store: func(db *sqlite.DB) inlet.Store {
		broken.DB = db
		return broken
	}})

	t.Run("healthz answers ok without a token", func(t *testing.T) {
		resp := s.do("GET", "/healthz", nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("status = %d", resp.Status)
		}
		assertSameJSON(t, resp.Body, `{"status": "ok"}`)
	})
	t.Run("readyz answers ready when the store answers", func(t *testing.T) {
		resp := s.do("GET", "/readyz", nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("status = %d %s", resp.Status, resp.Body)
		}
		assertSameJSON(t, resp.Body, `{"status": "ready"}`)
	})
	t.Run("readyz answers 503 when the store does not", func(t *testing.T) {
		broken.ping = storeDown
		defer func() { broken.ping = nil }()
		resp := s.do("GET", "/readyz", nil)
		var body struct{ Status string }
		if resp.Status != http.StatusServiceUnavailable || json.Unmarshal(resp.Body, &body) != nil || body.Status != "unavailable" {
			t.Fatalf("readyz = %d %s, want 503 and status unavailable", resp.Status, resp.Body)
		}
		if strings.Contains(string(resp.Body), "disk I/O") {
			t.Errorf("readyz leaks the internal error: %s", resp.Body)
		}
	})
	t.Run("healthz stays ok when the store is down", func(t *testing.T) {
		broken.ping = errors.New("down")
		defer func() { broken.ping = nil }()
		if resp := s.do("GET", "/healthz", nil); resp.Status != http.StatusOK {
			t.Fatalf("status = %d", resp.Status)
		}
	})
}

func TestUnknownRoutes(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	for _, tt := range []struct {
		method, path string
	}{
		{"GET", "/"},
		{"GET", "/nope"},
		{"POST", "/collect"},
		{"POST", "/collect/only-type"},
		{"POST", "/collect/type/source/session/extra"},
		{"GET", "/api/v1/nope"},
		{"GET", "/api/v2/sources"},
	} {
		t.Run(tt.method+" "+tt.path+" is a JSON 404", func(t *testing.T) {
			assertError(t, s.do(tt.method, tt.path, nil, "Authorization", "Bearer "+testToken), http.StatusNotFound, "no_route")
		})
	}
}
