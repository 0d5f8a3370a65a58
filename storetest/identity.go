package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"inlet"
)

// identityTests are the tests of identity resolution: profiles,
// identifiers, traits and merges.
var identityTests = []test{
	{"an identified event makes a profile that owns the identifier", testIdentifiedEvent},
	{"a profile named by the payload is created on first sight", testNamedProfile},
	{"a session-less event asking for a profile gets a new one", testGeneratedProfile},
	{"an identified event in an anonymous session merges it into the owner", testMergeSessionIntoOwner},
	{"one event owning two profiles' identifiers merges them, newer traits winning", testMergeTwoIdentifiers},
	{"chains of merges resolve to the final survivor", testMergeChain},
	{"traits keep the latest write by time", testTraitsLastWriteWins},
	{"merges within one batch reach every event of the batch", testMergeWithinBatch},
	{"a profile made and merged away in one batch leaves no trace", testFreshProfileMergedLaterInBatch},
	{"the same new identifier appended concurrently makes one profile", testSameIdentifierConcurrently},
	{"warnings are stored with their event", testWarningsStored},
}

// identified returns an event carrying identifiers given as kind, value pairs.
func identified(c *clock, session string, kindValues ...string) *event {
	e := newEvent(c, "src", "identified", session)
	e.Identity = &inlet.Identity{}
	for i := 0; i+1 < len(kindValues); i += 2 {
		e.Identity.Identifiers = append(e.Identity.Identifiers, inlet.Identifier{Kind: kindValues[i], Value: kindValues[i+1]})
	}
	return e
}

func withTraits(e *event, nameValues ...string) *event {
	for i := 0; i+1 < len(nameValues); i += 2 {
		e.Identity.Traits = append(e.Identity.Traits, inlet.Trait{Name: nameValues[i], Value: json.RawMessage(nameValues[i+1])})
	}
	return e
}

func findProfile(t *testing.T, s inlet.Store, id string) *inlet.Profile {
	t.Helper()
	p, err := s.FindProfile(context.Background(), id)
	if err != nil {
		t.Fatalf("FindProfile(%s): %v", id, err)
	}
	return p
}

func byIdentifier(t *testing.T, s inlet.Store, kind, value string) *inlet.Profile {
	t.Helper()
	p, err := s.FindProfileByIdentifier(context.Background(), inlet.Identifier{Kind: kind, Value: value})
	if err != nil {
		t.Fatalf("FindProfileByIdentifier(%s:%s): %v", kind, value, err)
	}
	return p
}

func traitsOf(p *inlet.Profile) string {
	names := make([]string, 0, len(p.Traits))
	for n := range p.Traits {
		names = append(names, n)
	}
	slices.Sort(names)
	out := ""
	for _, n := range names {
		out += fmt.Sprintf("%s=%s;", n, p.Traits[n])
	}
	return out
}

func testIdentifiedEvent(t *testing.T, s inlet.Store) {
	c := newClock()
	first := withTraits(identified(c, "", "email", "ann@example.com"), "name", `"Ann"`)
	appendEvents(t, s, first)
	if first.ProfileID == "" {
		t.Fatal("an identified event has no profile")
	}
	second := identified(c, "", "email", "ann@example.com")
	appendEvents(t, s, second)
	if second.ProfileID != first.ProfileID {
		t.Fatalf("the second event of ann@example.com went to %s, the first to %s", second.ProfileID, first.ProfileID)
	}
	p := byIdentifier(t, s, "email", "  ANN@example.com ")
	want := []inlet.Identifier{{Kind: "email", Value: "ann@example.com"}}
	if p.ID != first.ProfileID || p.EventCount != 2 || !slices.Equal(p.Identifiers, want) || traitsOf(p) != `name="Ann";` {
		t.Fatalf("profile by email = %+v; want %s with 2 events, identifiers %v and name Ann", p, first.ProfileID, want)
	}
	if !p.FirstSeen.Equal(first.InsertedAt) || !p.LastSeen.Equal(second.InsertedAt) {
		t.Fatalf("profile seen %s to %s; want %s to %s", p.FirstSeen, p.LastSeen, first.InsertedAt, second.InsertedAt)
	}
	_, err := s.FindProfileByIdentifier(context.Background(), inlet.Identifier{Kind: "email", Value: "bob@example.com"})
	wantCode(t, "FindProfileByIdentifier(unknown)", err, inlet.ENOTFOUND)
}

func testNamedProfile(t *testing.T, s inlet.Store) {
	c := newClock()
	e := newEvent(c, "src", "charge", "")
	e.Identity = &inlet.Identity{Profile: "cus_123"}
	appendEvents(t, s, e)
	if e.ProfileID != "cus_123" {
		t.Fatalf("event profile %q, want cus_123", e.ProfileID)
	}
	again := newEvent(c, "src", "charge", "")
	again.Identity = &inlet.Identity{Profile: "cus_123"}
	appendEvents(t, s, again)
	if p := findProfile(t, s, "cus_123"); p.EventCount != 2 || !p.FirstSeen.Equal(e.InsertedAt) {
		t.Fatalf("FindProfile(cus_123) = %+v; want 2 events, first seen %s", p, e.InsertedAt)
	}
}

func testGeneratedProfile(t *testing.T, s inlet.Store) {
	c := newClock()
	a, b := newEvent(c, "src", "t", ""), newEvent(c, "src", "t", "")
	a.Identity = &inlet.Identity{NewProfile: true}
	b.Identity = &inlet.Identity{NewProfile: true}
	plain := newEvent(c, "src", "t", "")
	appendEvents(t, s, a, b, plain)
	if a.ProfileID == "" || b.ProfileID == "" || a.ProfileID == b.ProfileID {
		t.Fatalf("generated profiles %q and %q; want two new ones", a.ProfileID, b.ProfileID)
	}
	if plain.ProfileID != "" {
		t.Fatalf("an event without identity got profile %q", plain.ProfileID)
	}
	if p := findProfile(t, s, a.ProfileID); p.EventCount != 1 {
		t.Fatalf("generated profile = %+v; want 1 event", p)
	}
}

func testMergeSessionIntoOwner(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	c := newClock()
	owner := identified(c, "", "email", "ann@example.com")
	appendEvents(t, s, owner)
	anon := newEvent(c, "src", "page", "sess-anon")
	appendEvents(t, s, anon)
	if anon.ProfileID == owner.ProfileID {
		t.Fatal("an anonymous session shares the owner's profile before any link")
	}
	if owner.Answer.Merged != 0 || anon.Answer.Merged != 0 {
		t.Fatalf("events that merged nothing answered %d and %d merges", owner.Answer.Merged, anon.Answer.Merged)
	}
	login := withTraits(identified(c, "sess-anon", "email", "ann@example.com"), "plan", `"pro"`)
	appendEvents(t, s, login)
	if login.ProfileID != owner.ProfileID {
		t.Fatalf("the identified event went to %s; want the older owner %s", login.ProfileID, owner.ProfileID)
	}
	if login.Answer.Merged != 1 {
		t.Fatalf("the event linking the session to its owner answered %d merges, want 1", login.Answer.Merged)
	}
	// The session now belongs to the survivor, also for events resolved
	// through a session cache.
	later := newEvent(c, "src", "page", "sess-anon")
	appendEvents(t, s, later)
	if later.ProfileID != owner.ProfileID {
		t.Fatalf("a later event of the merged session went to %s; want %s", later.ProfileID, owner.ProfileID)
	}
	if sess, err := s.FindSession(ctx, "sess-anon"); err != nil || sess.ProfileID != owner.ProfileID {
		t.Fatalf("FindSession = %+v, %v; want profile %s", sess, err, owner.ProfileID)
	}
	alias := findProfile(t, s, anon.ProfileID)
	if alias.ID != owner.ProfileID || alias.MergedInto != owner.ProfileID {
		t.Fatalf("FindProfile(alias) = %+v; want the survivor %s with merged_into", alias, owner.ProfileID)
	}
	p := findProfile(t, s, owner.ProfileID)
	if p.MergedInto != "" || !slices.Equal(p.Aliases, []string{anon.ProfileID}) || p.EventCount != 4 || p.SessionCount != 1 || traitsOf(p) != `plan="pro";` {
		t.Fatalf("survivor = %+v; want alias %s, 4 events, 1 session, plan pro", p, anon.ProfileID)
	}
	for _, id := range []string{owner.ProfileID, anon.ProfileID} {
		got, _ := listIDs(t, s, inlet.EventFilter{ProfileID: id})
		sameIDs(t, "events of profile "+id, got, newestFirst([]*event{owner, anon, login, later}))
	}
}

func testMergeTwoIdentifiers(t *testing.T, s inlet.Store) {
	c := newClock()
	byEmail := withTraits(identified(c, "", "email", "ann@example.com"), "name", `"Ann"`, "plan", `"free"`)
	appendEvents(t, s, byEmail)
	byPhone := withTraits(identified(c, "", "phone", "+15550100"), "plan", `"pro"`, "city", `"Oslo"`)
	appendEvents(t, s, byPhone)
	if byEmail.ProfileID == byPhone.ProfileID {
		t.Fatal("two unrelated identifiers share a profile")
	}
	both := identified(c, "", "phone", "+15550100", "email", "ann@example.com", "crm", "C-9")
	appendEvents(t, s, both)
	if both.Answer.Merged != 1 {
		t.Fatalf("the event owning two profiles' identifiers answered %d merges, want 1", both.Answer.Merged)
	}
	if both.ProfileID != byEmail.ProfileID {
		t.Fatalf("the linking event went to %s; want the older %s", both.ProfileID, byEmail.ProfileID)
	}
	p := findProfile(t, s, byPhone.ProfileID)
	want := []inlet.Identifier{{Kind: "crm", Value: "C-9"}, {Kind: "email", Value: "ann@example.com"}, {Kind: "phone", Value: "+15550100"}}
	if p.ID != byEmail.ProfileID || !slices.Equal(p.Identifiers, want) || p.EventCount != 3 {
		t.Fatalf("merged profile = %+v; want %s with identifiers %v and 3 events", p, byEmail.ProfileID, want)
	}
	if got := traitsOf(p); got != `city="Oslo";name="Ann";plan="pro";` {
		t.Fatalf("merged traits %s; want the newer plan (pro) and both others", got)
	}
	if q := byIdentifier(t, s, "phone", "+15550100"); q.ID != byEmail.ProfileID {
		t.Fatalf("the phone now belongs to %s; want %s", q.ID, byEmail.ProfileID)
	}
}

func testMergeChain(t *testing.T, s inlet.Store) {
	c := newClock()
	oldest := identified(c, "", "crm", "C-1")
	middle := identified(c, "", "email", "b@example.com")
	newest := identified(c, "", "phone", "+15550100")
	appendEvents(t, s, oldest)
	appendEvents(t, s, middle)
	appendEvents(t, s, newest)
	linkB := identified(c, "", "phone", "+15550100", "email", "b@example.com")
	appendEvents(t, s, linkB)
	if linkB.ProfileID != middle.ProfileID {
		t.Fatalf("the first link went to %s; want %s", linkB.ProfileID, middle.ProfileID)
	}
	// The newest profile is now an alias of the middle one; link that to
	// the oldest.
	linkC := identified(c, "", "email", "b@example.com", "crm", "C-1")
	appendEvents(t, s, linkC)
	if linkC.ProfileID != oldest.ProfileID {
		t.Fatalf("the last link went to %s; want the oldest %s", linkC.ProfileID, oldest.ProfileID)
	}
	for _, id := range []string{newest.ProfileID, middle.ProfileID} {
		if p := findProfile(t, s, id); p.ID != oldest.ProfileID || p.MergedInto != oldest.ProfileID {
			t.Fatalf("FindProfile(%s) = %s merged into %q; want the final survivor %s", id, p.ID, p.MergedInto, oldest.ProfileID)
		}
	}
	p := findProfile(t, s, oldest.ProfileID)
	wantAliases := []string{middle.ProfileID, newest.ProfileID}
	slices.Sort(wantAliases)
	if !slices.Equal(p.Aliases, wantAliases) || p.EventCount != 5 {
		t.Fatalf("survivor = %+v; want aliases %v and 5 events", p, wantAliases)
	}
	if q := byIdentifier(t, s, "phone", "+15550100"); q.ID != oldest.ProfileID {
		t.Fatalf("the phone belongs to %s; want %s", q.ID, oldest.ProfileID)
	}
}

func testTraitsLastWriteWins(t *testing.T, s inlet.Store) {
	c := newClock()
	early := withTraits(identified(c, "", "email", "ann@example.com"), "plan", `"free"`)
	late := withTraits(identified(c, "", "email", "ann@example.com"), "plan", `{"tier":"pro","seats":3}`)
	appendEvents(t, s, late)
	appendEvents(t, s, early) // arrives last but was written first
	if got := traitsOf(findProfile(t, s, late.ProfileID)); got != `plan={"tier":"pro","seats":3};` {
		t.Fatalf("traits %s; want the later write", got)
	}
	newer := withTraits(identified(c, "", "email", "ann@example.com"), "plan", `"team"`)
	appendEvents(t, s, newer)
	if got := traitsOf(findProfile(t, s, late.ProfileID)); got != `plan="team";` {
		t.Fatalf("traits %s; want the newest write", got)
	}
}

func testMergeWithinBatch(t *testing.T, s inlet.Store) {
	c := newClock()
	owner := identified(c, "", "email", "ann@example.com")
	anon := newEvent(c, "src", "page", "sess-batch")
	login := identified(c, "sess-batch", "email", "ann@example.com")
	after := newEvent(c, "src", "page", "sess-batch")
	appendEvents(t, s, owner, anon, login, after)
	for _, e := range []*event{anon, login, after} {
		if e.ProfileID != owner.ProfileID {
			t.Fatalf("event %s of the batch went to %s; want the owner %s", e.ID, e.ProfileID, owner.ProfileID)
		}
	}
	if p := findProfile(t, s, owner.ProfileID); p.EventCount != 4 || p.SessionCount != 1 || len(p.Aliases) != 0 {
		t.Fatalf("profile = %+v; want 4 events, 1 session and no alias (the session's profile of this batch is dropped)", p)
	}
	next := newEvent(c, "src", "page", "sess-batch")
	appendEvents(t, s, next)
	if next.ProfileID != owner.ProfileID {
		t.Fatalf("the next event of the session went to %s; want %s", next.ProfileID, owner.ProfileID)
	}
}

func testSameIdentifierConcurrently(t *testing.T, s inlet.Store) {
	c := newClock()
	const n = 16
	events := make([]*event, n)
	for i := range events {
		session := ""
		if i%2 == 1 {
			session = fmt.Sprint("sess-", i)
		}
		events[i] = identified(c, session, "email", "new@example.com")
	}
	AppendConcurrently(t, []inlet.Store{s}, events)
	p := byIdentifier(t, s, "email", "new@example.com")
	for _, e := range events {
		if got := findProfile(t, s, e.ProfileID).ID; got != p.ID {
			t.Fatalf("event %s resolves to profile %s; want the one owner %s", e.ID, got, p.ID)
		}
	}
	if p.EventCount != n || p.SessionCount != n/2 {
		t.Fatalf("profile = %+v; want %d events and %d sessions", p, n, n/2)
	}
}

// AppendConcurrently appends each event in its own call, all at once,
// spread over the stores (nodes sharing one database), and fails t on any
// error.
func AppendConcurrently(t *testing.T, stores []inlet.Store, events []*event) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(events))
	start := make(chan struct{})
	for i, e := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = appendTo(context.Background(), stores[i%len(stores)], e)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Append of event %d: %v", i, err)
		}
	}
}

// IdentityAcrossNodes checks that the same new identifier appended in
// parallel through several stores sharing one database ends as one
// profile.
func IdentityAcrossNodes(t *testing.T, stores []inlet.Store) {
	t.Helper()
	c := newClock()
	events := make([]*event, 24)
	for i := range events {
		events[i] = identified(c, fmt.Sprint("node-sess-", i), "email", "shared@example.com")
	}
	AppendConcurrently(t, stores, events)
	p := byIdentifier(t, stores[0], "email", "shared@example.com")
	for _, e := range events {
		if got := findProfile(t, stores[len(stores)-1], e.ProfileID).ID; got != p.ID {
			t.Fatalf("event %s resolves to %s; want the one owner %s", e.ID, got, p.ID)
		}
	}
	if p.EventCount != int64(len(events)) || p.SessionCount != int64(len(events)) {
		t.Fatalf("profile = %+v; want %d events and sessions", p, len(events))
	}
}

func testWarningsStored(t *testing.T, s inlet.Store) {
	c := newClock()
	e := newEvent(c, "src", "t", "")
	e.Warnings = []string{"profile_id_path data.customer was not found; the URL's rules applied"}
	plain := newEvent(c, "src", "t", "")
	appendEvents(t, s, e, plain)
	got, err := s.FindEvent(context.Background(), e.ID)
	if err != nil || !slices.Equal(got.Warnings, e.Warnings) {
		t.Fatalf("FindEvent = %+v, %v; want warnings %q", got, err, e.Warnings)
	}
	if got, err := s.FindEvent(context.Background(), plain.ID); err != nil || got.Warnings != nil {
		t.Fatalf("an event without warnings reads back %q, %v", got.Warnings, err)
	}
}

func testFreshProfileMergedLaterInBatch(t *testing.T, s inlet.Store) {
	c := newClock()
	owner := identified(c, "", "phone", "+15550100")
	appendEvents(t, s, owner)
	// The first event makes a session, its profile and the email's owner;
	// the second shows that the email's person is the phone's.
	first := identified(c, "sess-fresh", "email", "ann@example.com")
	generated := identified(c, "", "crm", "C-1")
	link := identified(c, "", "email", "ann@example.com", "phone", "+15550100", "crm", "C-1")
	appendEvents(t, s, first, generated, link)
	for _, e := range []*event{first, generated, link} {
		if e.ProfileID != owner.ProfileID {
			t.Fatalf("event %s went to %s; want the owner %s", e.ID, e.ProfileID, owner.ProfileID)
		}
	}
	p := findProfile(t, s, owner.ProfileID)
	if len(p.Aliases) != 0 || p.EventCount != 4 || p.SessionCount != 1 || len(p.Identifiers) != 3 {
		t.Fatalf("profile = %+v; want no alias, 4 events, 1 session, 3 identifiers", p)
	}
	if sess, err := s.FindSession(context.Background(), "sess-fresh"); err != nil || sess.ProfileID != owner.ProfileID {
		t.Fatalf("FindSession = %+v, %v; want profile %s", sess, err, owner.ProfileID)
	}
}
