// Package storetest is the conformance suite of inlet.Store: every storage
// backend runs it, so that all of them keep the same contract.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"inlet"
)

// Run runs the whole suite against stores made by open, which returns a
// new, empty store for one test; it is called once per test and must close
// the store in t.Cleanup. The tests of a part run in parallel, each with
// its own store; those of a part the store does not implement are skipped,
// naming the interface it lacks.
func Run(t *testing.T, open func(t *testing.T) inlet.Store) {
	t.Helper()
	for _, p := range parts {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range p.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, open(t))
				})
			}
		})
	}
	runAudit(t, open)
}

// parts are the parts of the suite, in the order they run: every part is
// listed here, and only here.
var parts = []struct {
	name  string
	tests []test
}{
	{"events", eventTests},
	{"dedup", dedupTests},
	{"rejections", rejectionTests},
	{"identity", identityTests},
	{"privacy", privacyTests},
	{"delivery", deliveryTests},
	{"catalog", catalogTests},
	{"overview", overviewTests},
	{"tokens", tokenTests},
}

// test is one test of the suite, named as a sentence.
type test struct {
	name string
	fn   func(t *testing.T, s inlet.Store)
}

// eventTests are the tests of sources, events, sessions, listing and retention.
var eventTests = []test{
	{"a new store pings", testPing},
	{"a created source is found as it was stored", testCreateSource},
	{"a second source with the same id is a conflict", testCreateSourceConflict},
	{"an invalid source is refused", testCreateSourceInvalid},
	{"an unknown source is not found", testFindSourceNotFound},
	{"sources are listed by id", testListSources},
	{"an update changes only the given fields", testUpdateSource},
	{"updating an unknown source is not found", testUpdateSourceNotFound},
	{"an invalid update is refused and changes nothing", testUpdateSourceInvalid},
	{"deleting a source keeps its events", testDeleteSource},
	{"deleting an unknown source is not found", testDeleteSourceNotFound},
	{"appending nothing succeeds", testAppendNothing},
	{"profile-less events are stored exactly as sent", testAppendProfileless},
	{"a batch with one bad event stores nothing", testAppendAllOrNothing},
	{"values no store can hold are invalid, the same on every store, and store nothing", testAppendUnstorable},
	{"Append never writes into its intakes", testAppendKeepsInput},
	{"a closed store is unavailable, not broken", testClosedUnavailable},
	{"a new session creates its session and profile", testAppendNewSession},
	{"a known session links the event and counts it", testAppendKnownSession},
	{"the same new session twice in one batch is created once", testAppendSameSessionInBatch},
	{"the same new session in concurrent appends is created once", testAppendSameSessionConcurrently},
	{"sessions are counted apart in one batch", testAppendManySessions},
	{"an unknown event is not found", testFindEventNotFound},
	{"unknown sessions and profiles are not found", testFindSessionProfileNotFound},
	{"events are listed newest first", testListNewestFirst},
	{"every filter selects its events", testListFilters},
	{"the limit bounds a page", testListLimit},
	{"cursors page through every event once", testListPaging},
	{"a bad cursor is invalid", testListBadCursor},
	{"events are found by id, type pattern and property value", testListSearch},
	{"a search reads a bounded window and pages on below it", testListSearchWindow},
	{"cursors page through a time range once, with or without a search", testListTimePaging},
	{"retention deletes old events and keeps the rest", testRetention},
}

// clock hands out increasing times, a millisecond apart, at the microsecond
// precision every backend keeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)}
}

func (c *clock) next() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond + time.Microsecond)
	return c.t
}

var eventN atomic.Int64

// newEvent returns an event as the collect handler makes it.
func newEvent(c *clock, source, typ, session string) *event {
	n := eventN.Add(1)
	return &event{Event: inlet.Event{
		ID:         inlet.NewID(),
		Type:       typ,
		InsertedAt: c.next(),
		SourceID:   source,
		SessionID:  session,
		Properties: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":"caf\u00e9 \u0000 ☕","nested":{"a":[1,2.5,true,null]}}`, n)),
		Context: inlet.RequestContext{
			Method:    "POST",
			Query:     "a=1&b=%C3%A9",
			Headers:   map[string]string{"Content-Type": "application/json", "X-Request-Id": fmt.Sprint(n)},
			IP:        "203.0.113.7",
			UserAgent: "storetest/1.0",
		},
	}}
}

// event is an intake of the tests and, once appended, what Append answered
// for it, kept beside it so that assertions read as before and after.
type event struct {
	inlet.Event
	Identity   *inlet.Identity
	DedupKey   string
	DedupUntil time.Time

	// Answer is what Append answered for the event.
	Answer inlet.Appended
}

// duplicateOf returns the id of the stored event that Append answered the
// event repeats, or "".
func (e *event) duplicateOf() string {
	if e.Answer.Duplicate {
		return e.Answer.EventID
	}
	return ""
}

// appendTo appends events as one batch and records the answer beside each
// (Answer); each event takes its answered session and profile, so that it
// reads as the stored event it expects.
func appendTo(ctx context.Context, s inlet.EventStore, events ...*event) error {
	intakes := make([]inlet.Intake, len(events))
	for i, e := range events {
		intakes[i] = inlet.Intake{Event: e.Event, Identity: e.Identity, DedupKey: e.DedupKey, DedupUntil: e.DedupUntil}
	}
	out, err := s.Append(ctx, intakes)
	if err != nil {
		return err
	}
	if len(out) != len(events) {
		return fmt.Errorf("Append answered %d results for %d intakes", len(out), len(events))
	}
	for i, e := range events {
		a := out[i]
		if !a.Duplicate && a.EventID != e.ID {
			return fmt.Errorf("Append answered event id %s for intake %s", a.EventID, e.ID)
		}
		e.Answer = a
		e.SessionID, e.ProfileID = a.SessionID, a.ProfileID
	}
	return nil
}

func appendEvents(t *testing.T, s inlet.Store, events ...*event) {
	t.Helper()
	if err := appendTo(context.Background(), s, events...); err != nil {
		t.Fatalf("Append(%d events): %v", len(events), err)
	}
}

func createSource(t *testing.T, s inlet.Store, id string) *inlet.Source {
	t.Helper()
	src := &inlet.Source{ID: id, Name: "Source " + id, Type: inlet.SourceTypeWebhook, Enabled: true}
	if err := s.CreateSource(context.Background(), src); err != nil {
		t.Fatalf("CreateSource(%s): %v", id, err)
	}
	return src
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := inlet.ErrorCode(err); got != code {
		t.Fatalf("%s: error code %q (%v), want %q", what, got, err, code)
	}
}

// sameEvent fails unless got is want as stored: every field the store keeps.
func sameEvent(t *testing.T, got *inlet.Event, want *event) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.SourceID != want.SourceID ||
		got.SessionID != want.SessionID || got.ProfileID != want.ProfileID {
		t.Fatalf("event: got id=%s type=%s source=%s session=%s profile=%s, want id=%s type=%s source=%s session=%s profile=%s",
			got.ID, got.Type, got.SourceID, got.SessionID, got.ProfileID, want.ID, want.Type, want.SourceID, want.SessionID, want.ProfileID)
	}
	if !got.InsertedAt.Equal(want.InsertedAt) {
		t.Fatalf("event %s: inserted_at %s, want %s", want.ID, inlet.FormatTime(got.InsertedAt), inlet.FormatTime(want.InsertedAt))
	}
	if got.InsertedAt.Location() != time.UTC {
		t.Fatalf("event %s: inserted_at in %s, want UTC", want.ID, got.InsertedAt.Location())
	}
	if string(got.Properties) != string(want.Properties) {
		t.Fatalf("event %s: properties\n%s\nwant exactly\n%s", want.ID, got.Properties, want.Properties)
	}
	if !reflect.DeepEqual(got.Context, want.Context) {
		t.Fatalf("event %s: context %+v, want %+v", want.ID, got.Context, want.Context)
	}
}

func ids[E interface{ *event | *inlet.Event }](events []E) []string {
	out := make([]string, len(events))
	for i, e := range events {
		switch e := any(e).(type) {
		case *event:
			out[i] = e.ID
		case *inlet.Event:
			out[i] = e.ID
		}
	}
	return out
}

// newestFirst returns the ids of events in reverse order of appending.
func newestFirst(events []*event) []string {
	out := ids(events)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func listIDs(t *testing.T, s inlet.Store, f inlet.EventFilter) ([]string, *string) {
	t.Helper()
	page, err := s.ListEvents(context.Background(), f)
	if err != nil {
		t.Fatalf("ListEvents(%+v): %v", f, err)
	}
	if page.Items == nil {
		t.Fatalf("ListEvents(%+v): Items is nil, want an empty list (the API answers [])", f)
	}
	return ids(page.Items), page.Next
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %d ids %v, want %d ids %v", what, len(got), got, len(want), want)
	}
}

func testPing(t *testing.T, s inlet.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testCreateSource(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	src := &inlet.Source{
		ID: "shop.main:1", Name: "Shop", Type: inlet.SourceTypeWebhook, Enabled: true,
		Config: inlet.SourceConfig{SecretHeaders: []string{"X-Signature"}, MaxBodyBytes: 4096},
	}
	if err := s.CreateSource(ctx, src); err != nil {
		t.Fatalf("CreateSource: %v", err)
	}
	if src.CreatedAt.Before(before) || !src.UpdatedAt.Equal(src.CreatedAt) {
		t.Fatalf("CreateSource set created_at=%s updated_at=%s, want now and equal", src.CreatedAt, src.UpdatedAt)
	}
	got, err := s.FindSource(ctx, src.ID)
	if err != nil {
		t.Fatalf("FindSource: %v", err)
	}
	if got.ID != src.ID || got.Name != src.Name || got.Type != src.Type || !got.Enabled || !reflect.DeepEqual(got.Config, src.Config) {
		t.Fatalf("FindSource = %+v, want %+v", got, src)
	}
	if got.CreatedAt.Sub(src.CreatedAt).Abs() > time.Microsecond || got.UpdatedAt.Sub(src.UpdatedAt).Abs() > time.Microsecond {
		t.Fatalf("FindSource times %s/%s, want %s/%s", got.CreatedAt, got.UpdatedAt, src.CreatedAt, src.UpdatedAt)
	}

	disabled := &inlet.Source{ID: "off", Name: "Off", Type: inlet.SourceTypeWebhook}
	if err := s.CreateSource(ctx, disabled); err != nil {
		t.Fatalf("CreateSource(disabled): %v", err)
	}
	if got, err := s.FindSource(ctx, "off"); err != nil || got.Enabled {
		t.Fatalf("FindSource(off) = %+v, %v; want a disabled source", got, err)
	}
}

func testCreateSourceConflict(t *testing.T, s inlet.Store) {
	createSource(t, s, "dup")
	err := s.CreateSource(context.Background(), &inlet.Source{ID: "dup", Name: "Other", Type: inlet.SourceTypeWebhook})
	wantCode(t, "CreateSource of an existing id", err, inlet.ECONFLICT)
	got, err := s.FindSource(context.Background(), "dup")
	if err != nil || got.Name != "Source dup" {
		t.Fatalf("after the conflict FindSource = %+v, %v; want the first source", got, err)
	}
}

func testCreateSourceInvalid(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	for _, src := range []*inlet.Source{
		{ID: "", Name: "x", Type: inlet.SourceTypeWebhook},
		{ID: "has space", Name: "x", Type: inlet.SourceTypeWebhook},
		{ID: "ok", Name: "", Type: inlet.SourceTypeWebhook},
		{ID: "ok", Name: "x", Type: "email"},
		{ID: "ok", Name: "x", Type: inlet.SourceTypeWebhook, Config: inlet.SourceConfig{MaxBodyBytes: -1}},
		{ID: "ok", Name: "x", Type: inlet.SourceTypeWebhook, Config: inlet.SourceConfig{SecretHeaders: []string{""}}},
	} {
		wantCode(t, fmt.Sprintf("CreateSource(%+v)", src), s.CreateSource(ctx, src), inlet.EINVALID)
	}
	sources, err := s.ListSources(ctx)
	if err != nil || len(sources) != 0 {
		t.Fatalf("ListSources after invalid creates = %d sources, %v; want none", len(sources), err)
	}
}

func testFindSourceNotFound(t *testing.T, s inlet.Store) {
	_, err := s.FindSource(context.Background(), "nope")
	wantCode(t, "FindSource(nope)", err, inlet.ENOTFOUND)
}

func testListSources(t *testing.T, s inlet.Store) {
	sources, err := s.ListSources(context.Background())
	if err != nil {
		t.Fatalf("ListSources: %v", err)
	}
	if sources == nil || len(sources) != 0 {
		t.Fatalf("ListSources on an empty store = %#v, want an empty, non-nil list", sources)
	}
	for _, id := range []string{"b", "C", "a", "a-2"} {
		createSource(t, s, id)
	}
	sources, err = s.ListSources(context.Background())
	if err != nil {
		t.Fatalf("ListSources: %v", err)
	}
	var got []string
	for _, src := range sources {
		got = append(got, src.ID)
	}
	sameIDs(t, "ListSources", got, []string{"C", "a", "a-2", "b"})
}

func testUpdateSource(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	src := createSource(t, s, "up")
	time.Sleep(2 * time.Millisecond)
	off := false
	got, err := s.UpdateSource(ctx, "up", inlet.SourceUpdate{Enabled: &off})
	if err != nil {
		t.Fatalf("UpdateSource: %v", err)
	}
	if got.Enabled || got.Name != src.Name || !got.UpdatedAt.After(src.UpdatedAt) {
		t.Fatalf("UpdateSource(enabled=false) = %+v, want disabled, same name, later updated_at than %s", got, src.UpdatedAt)
	}
	name := "Renamed"
	cfg := inlet.SourceConfig{MaxBodyBytes: 10}
	if _, err := s.UpdateSource(ctx, "up", inlet.SourceUpdate{Name: &name, Config: &cfg}); err != nil {
		t.Fatalf("UpdateSource(name, config): %v", err)
	}
	stored, err := s.FindSource(ctx, "up")
	if err != nil {
		t.Fatalf("FindSource: %v", err)
	}
	if stored.Enabled || stored.Name != "Renamed" || stored.Config.MaxBodyBytes != 10 || stored.CreatedAt.Sub(src.CreatedAt).Abs() > time.Microsecond {
		t.Fatalf("stored after updates = %+v", stored)
	}
}

func testUpdateSourceNotFound(t *testing.T, s inlet.Store) {
	name := "x"
	_, err := s.UpdateSource(context.Background(), "nope", inlet.SourceUpdate{Name: &name})
	wantCode(t, "UpdateSource(nope)", err, inlet.ENOTFOUND)
}

func testUpdateSourceInvalid(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	createSource(t, s, "keep")
	empty := ""
	_, err := s.UpdateSource(ctx, "keep", inlet.SourceUpdate{Name: &empty})
	wantCode(t, "UpdateSource(name=\"\")", err, inlet.EINVALID)
	_, err = s.UpdateSource(ctx, "keep", inlet.SourceUpdate{Config: &inlet.SourceConfig{MaxBodyBytes: 1 << 40}})
	wantCode(t, "UpdateSource(max_body_bytes=1TiB)", err, inlet.EINVALID)
	got, err := s.FindSource(ctx, "keep")
	if err != nil || got.Name != "Source keep" || got.Config.MaxBodyBytes != 0 {
		t.Fatalf("after invalid updates FindSource = %+v, %v; want it unchanged", got, err)
	}
}

func testDeleteSource(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	createSource(t, s, "gone")
	createSource(t, s, "stays")
	e := newEvent(newClock(), "gone", "page-view", "")
	appendEvents(t, s, e)
	if err := s.DeleteSource(ctx, "gone"); err != nil {
		t.Fatalf("DeleteSource: %v", err)
	}
	_, err := s.FindSource(ctx, "gone")
	wantCode(t, "FindSource after delete", err, inlet.ENOTFOUND)
	if _, err := s.FindSource(ctx, "stays"); err != nil {
		t.Fatalf("FindSource(stays) after deleting another: %v", err)
	}
	got, err := s.FindEvent(ctx, e.ID)
	if err != nil {
		t.Fatalf("FindEvent after deleting its source: %v", err)
	}
	sameEvent(t, got, e)
	wantCode(t, "deleting it again", s.DeleteSource(ctx, "gone"), inlet.ENOTFOUND)
	// The id is free again.
	createSource(t, s, "gone")
}

func testDeleteSourceNotFound(t *testing.T, s inlet.Store) {
	wantCode(t, "DeleteSource(nope)", s.DeleteSource(context.Background(), "nope"), inlet.ENOTFOUND)
}

func testAppendNothing(t *testing.T, s inlet.Store) {
	appendEvents(t, s)
	ids, next := listIDs(t, s, inlet.EventFilter{})
	if len(ids) != 0 || next != nil {
		t.Fatalf("after appending nothing: %d events, next %v", len(ids), next)
	}
}

func testAppendProfileless(t *testing.T, s inlet.Store) {
	c := newClock()
	events := []*event{newEvent(c, "src", "page-view", ""), newEvent(c, "src", "click", "")}
	events[1].Properties = json.RawMessage(`{ "spaced" :  [ 1 , 2 ] , "a":"\ud83d\ude00" }`)
	events[1].Context.Headers = map[string]string{}
	appendEvents(t, s, events...)
	for _, e := range events {
		if e.ProfileID != "" || e.Answer.NewSession {
			t.Fatalf("Append set profile %q, new session %v on a profile-less event", e.ProfileID, e.Answer.NewSession)
		}
		got, err := s.FindEvent(context.Background(), e.ID)
		if err != nil {
			t.Fatalf("FindEvent: %v", err)
		}
		sameEvent(t, got, e)
	}
}

func testAppendAllOrNothing(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	stored := newEvent(c, "src", "first", "")
	appendEvents(t, s, stored)

	fresh := newEvent(c, "src", "second", "sess-aon")
	again := *stored // the same event a second time breaks the batch
	err := appendTo(ctx, s, fresh, &again)
	wantCode(t, "Append of a batch repeating a stored event", err, inlet.ECONFLICT)
	_, err = s.FindEvent(ctx, fresh.ID)
	wantCode(t, "FindEvent of the failed batch's good event", err, inlet.ENOTFOUND)
	_, err = s.FindSession(ctx, "sess-aon")
	wantCode(t, "FindSession of the failed batch's session", err, inlet.ENOTFOUND)
	ids, _ := listIDs(t, s, inlet.EventFilter{})
	sameIDs(t, "events after the failed batch", ids, []string{stored.ID})

	// The store still takes the good event afterwards.
	fresh.ProfileID, fresh.Answer.NewSession = "", false
	appendEvents(t, s, fresh)
	if !fresh.Answer.NewSession || fresh.ProfileID == "" {
		t.Fatalf("retried event: new session %v, profile %q; want a new session and profile", fresh.Answer.NewSession, fresh.ProfileID)
	}
}

func testAppendNewSession(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	e := newEvent(newClock(), "src", "page-view", "sess-1")
	appendEvents(t, s, e)
	if !e.Answer.NewSession || e.ProfileID == "" {
		t.Fatalf("Append: new session %v, profile %q; want a new session with a profile", e.Answer.NewSession, e.ProfileID)
	}
	got, err := s.FindEvent(ctx, e.ID)
	if err != nil {
		t.Fatalf("FindEvent: %v", err)
	}
	sameEvent(t, got, e)

	sess, err := s.FindSession(ctx, "sess-1")
	if err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	if sess.ID != "sess-1" || sess.ProfileID != e.ProfileID || sess.EventCount != 1 ||
		!sess.FirstSeen.Equal(e.InsertedAt) || !sess.LastSeen.Equal(e.InsertedAt) {
		t.Fatalf("FindSession = %+v, want profile %s, 1 event, first and last seen %s", sess, e.ProfileID, e.InsertedAt)
	}
	prof, err := s.FindProfile(ctx, e.ProfileID)
	if err != nil {
		t.Fatalf("FindProfile: %v", err)
	}
	if prof.ID != e.ProfileID || prof.EventCount != 1 || prof.SessionCount != 1 ||
		!prof.FirstSeen.Equal(e.InsertedAt) || !prof.LastSeen.Equal(e.InsertedAt) {
		t.Fatalf("FindProfile = %+v, want 1 event, 1 session, first and last seen %s", prof, e.InsertedAt)
	}
}

func testAppendKnownSession(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	first := newEvent(c, "src", "page-view", "sess-k")
	appendEvents(t, s, first)
	second, third := newEvent(c, "src", "click", "sess-k"), newEvent(c, "src", "click", "sess-k")
	appendEvents(t, s, second, third)
	for _, e := range []*event{second, third} {
		if e.Answer.NewSession || e.ProfileID != first.ProfileID {
			t.Fatalf("known session: new session %v, profile %q; want profile %q of the first event", e.Answer.NewSession, e.ProfileID, first.ProfileID)
		}
		got, err := s.FindEvent(ctx, e.ID)
		if err != nil {
			t.Fatalf("FindEvent: %v", err)
		}
		sameEvent(t, got, e)
	}
	sess, err := s.FindSession(ctx, "sess-k")
	if err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	if sess.EventCount != 3 || !sess.FirstSeen.Equal(first.InsertedAt) || !sess.LastSeen.Equal(third.InsertedAt) {
		t.Fatalf("FindSession = %+v, want 3 events, first seen %s, last seen %s", sess, first.InsertedAt, third.InsertedAt)
	}
	prof, err := s.FindProfile(ctx, first.ProfileID)
	if err != nil {
		t.Fatalf("FindProfile: %v", err)
	}
	if prof.EventCount != 3 || prof.SessionCount != 1 || !prof.FirstSeen.Equal(first.InsertedAt) || !prof.LastSeen.Equal(third.InsertedAt) {
		t.Fatalf("FindProfile = %+v, want 3 events, 1 session, seen %s to %s", prof, first.InsertedAt, third.InsertedAt)
	}
}

func testAppendSameSessionInBatch(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	a, b := newEvent(c, "src", "page-view", "sess-twice"), newEvent(c, "src", "click", "sess-twice")
	appendEvents(t, s, a, b)
	if a.ProfileID == "" || a.ProfileID != b.ProfileID {
		t.Fatalf("profiles %q and %q, want one profile for one session", a.ProfileID, b.ProfileID)
	}
	if !a.Answer.NewSession || !b.Answer.NewSession {
		t.Fatalf("new session %v and %v; both events came with the session's creation", a.Answer.NewSession, b.Answer.NewSession)
	}
	sess, err := s.FindSession(ctx, "sess-twice")
	if err != nil || sess.EventCount != 2 || sess.ProfileID != a.ProfileID {
		t.Fatalf("FindSession = %+v, %v; want 2 events of profile %s", sess, err, a.ProfileID)
	}
	prof, err := s.FindProfile(ctx, a.ProfileID)
	if err != nil || prof.EventCount != 2 || prof.SessionCount != 1 {
		t.Fatalf("FindProfile = %+v, %v; want 2 events, 1 session", prof, err)
	}
}

func testAppendSameSessionConcurrently(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	const n = 16
	events := make([]*event, n)
	for i := range events {
		events[i] = newEvent(c, "src", "page-view", "sess-race")
	}
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, e := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- appendTo(ctx, s, e)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Append: %v", err)
		}
	}
	created := 0
	for _, e := range events {
		if e.ProfileID != events[0].ProfileID || e.ProfileID == "" {
			t.Fatalf("profiles %q and %q for one session", e.ProfileID, events[0].ProfileID)
		}
		if e.Answer.NewSession {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d appends reported a new session, want exactly 1", created)
	}
	sess, err := s.FindSession(ctx, "sess-race")
	if err != nil || sess.EventCount != n {
		t.Fatalf("FindSession = %+v, %v; want %d events", sess, err, n)
	}
	prof, err := s.FindProfile(ctx, events[0].ProfileID)
	if err != nil || prof.EventCount != n || prof.SessionCount != 1 {
		t.Fatalf("FindProfile = %+v, %v; want %d events, 1 session", prof, err, n)
	}
}

func testAppendManySessions(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	known := newEvent(c, "src", "page-view", "sess-old")
	appendEvents(t, s, known)
	batch := []*event{
		newEvent(c, "src", "a", "sess-new-1"),
		newEvent(c, "src", "b", "sess-old"),
		newEvent(c, "src", "c", ""),
		newEvent(c, "src", "d", "sess-new-2"),
		newEvent(c, "src", "e", "sess-new-1"),
	}
	appendEvents(t, s, batch...)
	if batch[1].Answer.NewSession || batch[1].ProfileID != known.ProfileID {
		t.Fatalf("known session in a mixed batch: new %v, profile %q, want profile %q", batch[1].Answer.NewSession, batch[1].ProfileID, known.ProfileID)
	}
	if batch[2].ProfileID != "" || batch[2].Answer.NewSession {
		t.Fatalf("profile-less event in a mixed batch got profile %q", batch[2].ProfileID)
	}
	if !batch[0].Answer.NewSession || !batch[3].Answer.NewSession || batch[0].ProfileID != batch[4].ProfileID ||
		batch[0].ProfileID == batch[3].ProfileID || batch[0].ProfileID == known.ProfileID || batch[3].ProfileID == "" {
		t.Fatalf("new sessions in a mixed batch: profiles %q %q %q, want two new distinct profiles", batch[0].ProfileID, batch[3].ProfileID, batch[4].ProfileID)
	}
	for id, want := range map[string]int64{"sess-old": 2, "sess-new-1": 2, "sess-new-2": 1} {
		sess, err := s.FindSession(ctx, id)
		if err != nil || sess.EventCount != want {
			t.Fatalf("FindSession(%s) = %+v, %v; want %d events", id, sess, err, want)
		}
	}
	for _, e := range batch {
		got, err := s.FindEvent(ctx, e.ID)
		if err != nil {
			t.Fatalf("FindEvent: %v", err)
		}
		sameEvent(t, got, e)
	}
}

func testFindEventNotFound(t *testing.T, s inlet.Store) {
	_, err := s.FindEvent(context.Background(), inlet.NewID())
	wantCode(t, "FindEvent(unknown)", err, inlet.ENOTFOUND)
	_, err = s.FindEvent(context.Background(), "not-an-id")
	wantCode(t, "FindEvent(not-an-id)", err, inlet.ENOTFOUND)
}

func testFindSessionProfileNotFound(t *testing.T, s inlet.Store) {
	_, err := s.FindSession(context.Background(), "nope")
	wantCode(t, "FindSession(nope)", err, inlet.ENOTFOUND)
	_, err = s.FindProfile(context.Background(), inlet.NewID())
	wantCode(t, "FindProfile(unknown)", err, inlet.ENOTFOUND)
}

func testListNewestFirst(t *testing.T, s inlet.Store) {
	c := newClock()
	var events []*event
	for i := range 6 {
		e := newEvent(c, "src", "t", "")
		if i%2 == 0 {
			e.SessionID = "sess-list"
		}
		events = append(events, e)
	}
	appendEvents(t, s, events[:2]...)
	appendEvents(t, s, events[2])
	appendEvents(t, s, events[3:]...)
	page, err := s.ListEvents(context.Background(), inlet.EventFilter{})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	sameIDs(t, "ListEvents", ids(page.Items), newestFirst(events))
	if page.Next != nil {
		t.Fatalf("one page holds all; next = %q", *page.Next)
	}
	for i, got := range page.Items {
		sameEvent(t, got, events[len(events)-1-i])
	}
}

func testListFilters(t *testing.T, s inlet.Store) {
	c := newClock()
	var all []*event
	add := func(source, typ, session string) *event {
		e := newEvent(c, source, typ, session)
		all = append(all, e)
		return e
	}
	a1 := add("a", "view", "s1")
	a2 := add("a", "click", "s1")
	b1 := add("b", "view", "s2")
	b2 := add("b", "view", "")
	a3 := add("a", "view", "s3")
	b3 := add("b", "click", "s2")
	appendEvents(t, s, all[:3]...)
	appendEvents(t, s, all[3:]...)
	s1, s2 := a1.ProfileID, b1.ProfileID

	for _, tc := range []struct {
		name string
		f    inlet.EventFilter
		want []*event
	}{
		{"source", inlet.EventFilter{SourceID: "a"}, []*event{a3, a2, a1}},
		{"type", inlet.EventFilter{Type: "view"}, []*event{a3, b2, b1, a1}},
		{"profile", inlet.EventFilter{ProfileID: s2}, []*event{b3, b1}},
		{"session", inlet.EventFilter{SessionID: "s1"}, []*event{a2, a1}},
		{"since is inclusive", inlet.EventFilter{Since: b2.InsertedAt}, []*event{b3, a3, b2}},
		{"until is exclusive", inlet.EventFilter{Until: b2.InsertedAt}, []*event{b1, a2, a1}},
		{"since and until", inlet.EventFilter{Since: a2.InsertedAt, Until: a3.InsertedAt}, []*event{b2, b1, a2}},
		{"all filters at once", inlet.EventFilter{SourceID: "a", Type: "view", ProfileID: s1, SessionID: "s1", Since: a1.InsertedAt, Until: b3.InsertedAt}, []*event{a1}},
		{"no match", inlet.EventFilter{SourceID: "a", Type: "nothing"}, nil},
		{"unknown profile", inlet.EventFilter{ProfileID: inlet.NewID()}, nil},
	} {
		got, next := listIDs(t, s, tc.f)
		sameIDs(t, "filter by "+tc.name, got, ids(tc.want))
		if next != nil {
			t.Fatalf("filter by %s: next = %q on the only page", tc.name, *next)
		}
	}
}

func testListLimit(t *testing.T, s inlet.Store) {
	c := newClock()
	events := make([]*event, inlet.MaxEventLimit+1)
	for i := range events {
		events[i] = newEvent(c, "src", "bulk", "")
	}
	appendEvents(t, s, events...)
	want := newestFirst(events)

	got, next := listIDs(t, s, inlet.EventFilter{Limit: 3})
	sameIDs(t, "limit 3", got, want[:3])
	if next == nil {
		t.Fatal("limit 3 of many: no next cursor")
	}
	got, next = listIDs(t, s, inlet.EventFilter{})
	sameIDs(t, "no limit (the default)", got, want[:inlet.DefaultEventLimit])
	if next == nil {
		t.Fatal("default limit of many: no next cursor")
	}
	got, next = listIDs(t, s, inlet.EventFilter{Limit: inlet.MaxEventLimit + 500})
	sameIDs(t, "a limit over the maximum", got, want[:inlet.MaxEventLimit])
	if next == nil {
		t.Fatal("maximum limit of more: no next cursor")
	}
	got, next = listIDs(t, s, inlet.EventFilter{Cursor: *next})
	sameIDs(t, "the page after the maximum", got, want[inlet.MaxEventLimit:])
	if next != nil {
		t.Fatalf("last page: next = %q", *next)
	}
}

func testListPaging(t *testing.T, s inlet.Store) {
	c := newClock()
	var events []*event
	for i := range 25 {
		e := newEvent(c, "src", "page", "")
		if i%3 == 0 {
			e.Type = "other"
		}
		events = append(events, e)
	}
	// Several batches, so that paging crosses commits.
	appendEvents(t, s, events[:10]...)
	appendEvents(t, s, events[10:11]...)
	appendEvents(t, s, events[11:]...)

	page := func(f inlet.EventFilter, limit int) []string {
		t.Helper()
		var got []string
		seen := map[string]bool{}
		f.Limit = limit
		for pages := 0; ; pages++ {
			if pages > len(events) {
				t.Fatalf("paging with limit %d does not end", limit)
			}
			ids, next := listIDs(t, s, f)
			if len(ids) > limit || len(ids) == 0 && pages > 0 {
				t.Fatalf("page %d with limit %d has %d events", pages, limit, len(ids))
			}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("event %s on two pages", id)
				}
				seen[id] = true
			}
			got = append(got, ids...)
			if next == nil {
				return got
			}
			if len(ids) != limit {
				t.Fatalf("a page of %d with limit %d has a next cursor", len(ids), limit)
			}
			f.Cursor = *next
		}
	}
	for _, limit := range []int{1, 4, 5, 24, 25, 26} {
		sameIDs(t, fmt.Sprintf("all pages with limit %d", limit), page(inlet.EventFilter{}, limit), newestFirst(events))
	}
	var others []*event
	for _, e := range events {
		if e.Type == "other" {
			others = append(others, e)
		}
	}
	sameIDs(t, "filtered pages", page(inlet.EventFilter{Type: "other"}, 2), newestFirst(others))

	// Events appended after a cursor was handed out come before it, not after.
	_, next := listIDs(t, s, inlet.EventFilter{Limit: 10})
	later := newEvent(c, "src", "page", "")
	appendEvents(t, s, later)
	got, _ := listIDs(t, s, inlet.EventFilter{Limit: 10, Cursor: *next})
	sameIDs(t, "the page after a cursor, with a newer event appended", got, newestFirst(events)[10:20])
}

func testListBadCursor(t *testing.T, s inlet.Store) {
	c := newClock()
	for range 3 {
		appendEvents(t, s, newEvent(c, "src", "t", ""))
	}
	for _, cursor := range []string{"garbage", "!!", "ZTEyMw==x", "e-1", "AAAA"} {
		_, err := s.ListEvents(context.Background(), inlet.EventFilter{Cursor: cursor})
		wantCode(t, fmt.Sprintf("ListEvents(cursor=%q)", cursor), err, inlet.EINVALID)
	}
}

// testAppendUnstorable appends, in a batch with a good event, each value
// that one database or another cannot hold in a column of its own: every
// store refuses the batch as EINVALID and stores nothing of it.
func testAppendUnstorable(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	cases := []struct {
		name   string
		reason string
		spoil  func(e *event)
	}{
		{"a NUL byte in an idempotency key", "bad_dedup_key", func(e *event) { e.DedupKey, e.DedupUntil = "k\x00", e.InsertedAt.Add(time.Hour) }},
		{"invalid UTF-8 in an idempotency key", "bad_dedup_key", func(e *event) { e.DedupKey, e.DedupUntil = "caf\xe9", e.InsertedAt.Add(time.Hour) }},
		{"an over-long idempotency key", "bad_dedup_key", func(e *event) {
			e.DedupKey, e.DedupUntil = strings.Repeat("k", inlet.MaxDedupKeyLength+1), e.InsertedAt.Add(time.Hour)
		}},
		{"a NUL byte in an identifier", "bad_identifier", func(e *event) {
			e.Identity = &inlet.Identity{Identifiers: []inlet.Identifier{{Kind: "email", Value: "a\x00@example.com"}}}
		}},
		{"invalid UTF-8 in an identifier", "bad_identifier", func(e *event) {
			e.Identity = &inlet.Identity{Identifiers: []inlet.Identifier{{Kind: "email", Value: "\xff@example.com"}}}
		}},
		{"a NUL byte in a kept header", "bad_header", func(e *event) { e.Context.Headers["X-Odd"] = "a\x00b" }},
		{"invalid UTF-8 in a kept header", "bad_header", func(e *event) { e.Context.Headers["X-Odd"] = "caf\xe9" }},
		{"a session id with a NUL byte", "bad_session_id", func(e *event) { e.SessionID = "s\x00" }},
		{"a named profile id with spaces", "bad_profile_id", func(e *event) { e.Identity = &inlet.Identity{Profile: "cus 1"} }},
		{"an event type with upper case", "bad_event_type", func(e *event) { e.Type = "Order" }},
	}
	for _, tc := range cases {
		good := newEvent(c, "src", "order", "sess-good")
		bad := newEvent(c, "src", "order", "")
		tc.spoil(bad)
		err := appendTo(ctx, s, good, bad)
		wantCode(t, tc.name, err, inlet.EINVALID)
		if got := inlet.ErrorReason(err); got != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.reason)
		}
		if _, err := s.FindEvent(ctx, good.ID); inlet.ErrorCode(err) != inlet.ENOTFOUND {
			t.Fatalf("%s: the good event of the refused batch was stored (%v)", tc.name, err)
		}
	}
	if _, err := s.FindSession(ctx, "sess-good"); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Fatalf("the session of refused batches exists (%v)", err)
	}
	// Properties are JSON, whose escapes hold any text: a NUL character
	// and non-ASCII text in them are stored as sent.
	e := newEvent(c, "src", "order", "")
	e.Properties = json.RawMessage(`{"nul":"a\u0000b","text":"caf\u00e9 \ud83d\ude00"}`)
	appendEvents(t, s, e)
	got, err := s.FindEvent(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameEvent(t, got, e)
}

// testAppendKeepsInput checks that the answer comes back as results, not
// written into the intakes: a caller may reuse or retry them as they were.
func testAppendKeepsInput(t *testing.T, s inlet.Store) {
	c := newClock()
	e := newEvent(c, "src", "order", "sess-keep")
	in := []inlet.Intake{{Event: e.Event, DedupKey: "keep", DedupUntil: e.InsertedAt.Add(time.Hour)}}
	before := in[0]
	out, err := s.Append(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].EventID != e.ID || out[0].ProfileID == "" || !out[0].NewSession || out[0].SessionID != "sess-keep" {
		t.Fatalf("Append answered %+v, want the event with its new session and a profile", out)
	}
	if !reflect.DeepEqual(in[0], before) {
		t.Fatalf("Append wrote into its intake:\n%+v\nwas\n%+v", in[0], before)
	}
	again := in[0]
	again.Event.ID = inlet.NewID()
	out, err = s.Append(context.Background(), []inlet.Intake{again})
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Duplicate || out[0].EventID != e.ID || out[0].SessionID != "sess-keep" {
		t.Fatalf("a repeat of the key answered %+v, want a duplicate of %s in its session", out[0], e.ID)
	}
}

// testClosedUnavailable checks the code of a store that cannot be reached:
// a sender told EUNAVAILABLE retries, and nothing it sent is lost.
func testClosedUnavailable(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err := appendTo(ctx, s, newEvent(c, "src", "order", ""))
	wantCode(t, "Append to a closed store", err, inlet.EUNAVAILABLE)
	_, err = s.FindEvent(ctx, inlet.NewID())
	wantCode(t, "FindEvent in a closed store", err, inlet.EUNAVAILABLE)
	_, err = s.ListEvents(ctx, inlet.EventFilter{})
	wantCode(t, "ListEvents in a closed store", err, inlet.EUNAVAILABLE)
}

// searchEvents appends events of the given types with the given
// properties, oldest first.
func searchEvents(t *testing.T, s inlet.Store, props ...[2]string) []*event {
	t.Helper()
	c := newClock()
	var all []*event
	for _, p := range props {
		e := newEvent(c, "shop", p[0], "")
		e.Properties = json.RawMessage(p[1])
		all = append(all, e)
	}
	appendEvents(t, s, all...)
	return all
}

func testListSearch(t *testing.T, s inlet.Store) {
	all := searchEvents(t, s,
		[2]string{"order.created", `{"order": "A-1001", "total": 12, "customer": {"email": "a@example.com"}}`},
		[2]string{"order.paid", `{"order": "A-1002", "total": 12.5, "customer": {"email": "b@example.com"}}`},
		[2]string{"order_paid", `{"order": "A-1001", "paid": true}`},
		[2]string{"refund", `{"order": ["A-1001"], "customer": "a@example.com"}`},
	)
	match := func(path, value string) *inlet.PropertyMatch {
		m, err := inlet.ParsePropertyMatch(path, value)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		f    inlet.EventFilter
		want []*event
	}{
		{"event id", inlet.EventFilter{EventID: all[1].ID}, all[1:2]},
		{"an unknown event id", inlet.EventFilter{EventID: inlet.NewID()}, nil},
		{"a type pattern", inlet.EventFilter{Type: "order.*"}, []*event{all[1], all[0]}},
		{"a type pattern whose _ is no wildcard", inlet.EventFilter{Type: "order_*"}, all[2:3]},
		{"a pattern of any type", inlet.EventFilter{Type: "*"}, []*event{all[3], all[2], all[1], all[0]}},
		{"a string property", inlet.EventFilter{Property: match("order", "A-1001")}, []*event{all[2], all[0]}},
		{"a nested property", inlet.EventFilter{Property: match("customer.email", "a@example.com")}, all[0:1]},
		{"a whole number", inlet.EventFilter{Property: match("total", "12")}, all[0:1]},
		{"a fraction", inlet.EventFilter{Property: match("total", "12.5")}, all[1:2]},
		{"a property and a type pattern", inlet.EventFilter{Type: "order.*", Property: match("order", "A-1001")}, all[0:1]},
		{"a value that is not there", inlet.EventFilter{Property: match("order", "A-9")}, nil},
		{"a path that is not there", inlet.EventFilter{Property: match("missing.key", "A-1001")}, nil},
	} {
		page, err := s.ListEvents(context.Background(), tc.f)
		if err != nil {
			t.Fatalf("search by %s: %v", tc.name, err)
		}
		sameIDs(t, "search by "+tc.name, ids(page.Items), ids(tc.want))
		if page.Next != nil {
			t.Fatalf("search by %s: next = %q on the only page", tc.name, *page.Next)
		}
		if searches := tc.f.Searches(); (page.Window != nil) != searches || searches && (page.Window.Events != inlet.PropertySearchWindow || page.Window.Reached) {
			t.Fatalf("search by %s: window %+v", tc.name, page.Window)
		}
	}
}

func testListSearchWindow(t *testing.T, s inlet.Store) {
	var props [][2]string
	for i := range 10 {
		v := "other"
		if i%3 == 0 {
			v = "wanted"
		}
		props = append(props, [2]string{"t", `{"k": "` + v + `"}`})
	}
	all := searchEvents(t, s, props...) // wanted: 0, 3, 6, 9
	m, _ := inlet.ParsePropertyMatch("k", "wanted")
	f := inlet.EventFilter{Property: m, Window: 4}
	var pages [][]string
	for {
		page, err := s.ListEvents(context.Background(), f)
		if err != nil {
			t.Fatalf("ListEvents(%+v): %v", f, err)
		}
		pages = append(pages, ids(page.Items))
		if page.Window == nil || page.Window.Events != 4 {
			t.Fatalf("page %d: window %+v, want 4 events", len(pages), page.Window)
		}
		if page.Next == nil {
			if page.Window.Reached {
				t.Fatalf("the last page says it reached its window")
			}
			break
		}
		if !page.Window.Reached {
			t.Fatalf("page %d is not full and has a next cursor, yet does not say it reached its window", len(pages))
		}
		f.Cursor = *page.Next
	}
	// Windows of 4 events: 9..6, 5..2, 1..0.
	want := [][]string{{all[9].ID, all[6].ID}, {all[3].ID}, {all[0].ID}}
	if !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages %v, want %v", pages, want)
	}
}

func testListTimePaging(t *testing.T, s inlet.Store) {
	var props [][2]string
	for i := range 7 {
		props = append(props, [2]string{"t", fmt.Sprintf(`{"k": "v", "i": %d}`, i)})
	}
	all := searchEvents(t, s, props...)
	m, _ := inlet.ParsePropertyMatch("k", "v")
	for _, f := range []inlet.EventFilter{
		{Since: all[1].InsertedAt, Until: all[6].InsertedAt, Limit: 2},
		{Since: all[1].InsertedAt, Until: all[6].InsertedAt, Limit: 2, Property: m, Window: 3},
	} {
		var got []string
		for range 10 {
			page, err := s.ListEvents(context.Background(), f)
			if err != nil {
				t.Fatalf("ListEvents(%+v): %v", f, err)
			}
			got = append(got, ids(page.Items)...)
			if page.Next == nil {
				break
			}
			f.Cursor = *page.Next
		}
		sameIDs(t, fmt.Sprintf("pages of %+v", f), got, newestFirst(all[1:6]))
	}
}
