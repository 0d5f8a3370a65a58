package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"inlet"
)

// privacyTests are the tests of erasure, export, source retention and
// suppressions (inlet.PrivacyStore).
var privacyTests = []test{
	{"erasing a person removes their profiles, sessions, identifiers, traits, events and deliveries, and nobody else's", testErase},
	{"after an erasure, the person's session starts over with a new profile", testEraseThenSameSession},
	{"events of the person arriving during an erasure are erased or stored after it, never linked to what it removed", testEraseUnderLoad},
	{"an export holds every record of the person and nobody else's", testExport},
	{"a source's retention deletes its old events only, and keeps what a destination may still want", testSourceRetention},
	{"suppressions are kept by hash, listed and lifted", testSuppressions},
	{"an erasure leaves a notice in the log when a destination asked for one, never a value", testErasureNotice},
	{"after the newest events are erased, a cursor past them misses none of the next", testEraseTheNewest},
}

// twoPeople stores Ann (two profiles merged by her email, a session, a
// trait) and Bob, and returns Ann's events and Bob's.
func twoPeople(t *testing.T, s inlet.Store) (ann, bob []*event) {
	t.Helper()
	c := newClock()
	visit := newEvent(c, "web", "page.view", "ann-session")
	appendEvents(t, s, visit)
	form := withTraits(identified(c, "ann-session", "email", "ann@example.com"), "name", `"Ann Example"`)
	appendEvents(t, s, form)
	phone := identified(c, "", "phone", "+15550100")
	appendEvents(t, s, phone)
	both := identified(c, "", "phone", "+15550100", "email", "ann@example.com")
	appendEvents(t, s, both)
	bobEvent := withTraits(identified(c, "bob-session", "email", "bob@example.com"), "name", `"Bob"`)
	appendEvents(t, s, bobEvent)
	return []*event{visit, form, phone, both}, []*event{bobEvent}
}

func testErase(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	ann, bob := twoPeople(t, s)
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	late := identified(c, "ann-session", "email", "ann@example.com")
	appendEvents(t, s, late)
	pos := positions(t, s, cur.Position, late)
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[late.ID], Failed: true,
		Outcomes: []inlet.Outcome{failedOutcome(late, pos[late.ID], inlet.DeliveryDead, time.Now())}}, time.Now())
	ann = append(ann, late)
	phoneProfile := ann[2].ProfileID // merged into the email's profile

	// Erased by the id of the profile merged into hers.
	e, err := s.EraseProfile(ctx, phoneProfile, time.Now())
	if err != nil {
		t.Fatalf("EraseProfile: %v", err)
	}
	if e.Profiles != 2 || e.Sessions != 1 || e.Events != len(ann) || e.Identifiers != 2 || e.Traits != 1 || e.Deliveries != 1 {
		t.Fatalf("erasure = %+v; want 2 profiles, 1 session, %d events, 2 identifiers, 1 trait, 1 delivery", e, len(ann))
	}
	for _, ev := range ann {
		_, err := s.FindEvent(ctx, ev.ID)
		wantCode(t, "FindEvent of an erased person's event", err, inlet.ENOTFOUND)
	}
	for _, id := range []string{ann[1].ProfileID, phoneProfile} {
		_, err := s.FindProfile(ctx, id)
		wantCode(t, "FindProfile of an erased profile", err, inlet.ENOTFOUND)
	}
	_, err = s.FindSession(ctx, "ann-session")
	wantCode(t, "FindSession of an erased session", err, inlet.ENOTFOUND)
	_, err = s.FindProfileByIdentifier(ctx, inlet.Identifier{Kind: "email", Value: "ann@example.com"})
	wantCode(t, "FindProfileByIdentifier of an erased email", err, inlet.ENOTFOUND)
	if ids := deliveryIDs(t, s, d.ID, ""); len(ids) != 0 {
		t.Fatalf("deliveries of erased events stay: %v", ids)
	}
	page, err := s.ListEvents(ctx, inlet.EventFilter{Limit: 100})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != bob[0].ID {
		t.Fatalf("events after the erasure = %+v, %v; want Bob's only", page, err)
	}
	if p := byIdentifier(t, s, "email", "bob@example.com"); p.ID != bob[0].ProfileID || string(p.Traits["name"]) != `"Bob"` {
		t.Fatalf("Bob after Ann's erasure = %+v", p)
	}
	_, err = s.EraseProfile(ctx, phoneProfile, time.Now())
	wantCode(t, "EraseProfile of an erased profile", err, inlet.ENOTFOUND)
}

func testEraseThenSameSession(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	ann, _ := twoPeople(t, s)
	if _, err := s.EraseProfile(ctx, ann[0].ProfileID, time.Now()); err != nil {
		t.Fatalf("EraseProfile: %v", err)
	}
	// The store's session cache knew ann-session: it must not link the
	// next event to the erased profile.
	c := &clock{t: time.Now().UTC()}
	again := newEvent(c, "web", "page.view", "ann-session")
	appendEvents(t, s, again)
	if again.ProfileID == ann[0].ProfileID || again.ProfileID == "" || !again.Answer.NewSession {
		t.Fatalf("the next event of the erased session went to profile %q (new session %v); want a new session and profile", again.ProfileID, again.Answer.NewSession)
	}
	if p := findProfile(t, s, again.ProfileID); p.EventCount != 1 {
		t.Fatalf("the new profile = %+v", p)
	}
}

func testEraseUnderLoad(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	ann, _ := twoPeople(t, s)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	var sent []*event
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &clock{t: time.Now().UTC().Add(time.Duration(w) * time.Hour)}
			for {
				select {
				case <-stop:
					return
				default:
				}
				e := newEvent(c, "web", "page.view", "ann-session")
				if w%2 == 1 {
					e = identified(c, "", "email", "ann@example.com")
				}
				if err := appendTo(ctx, s, e); err != nil {
					t.Errorf("Append during an erasure: %v", err)
					return
				}
				mu.Lock()
				sent = append(sent, e)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := s.EraseProfile(ctx, ann[0].ProfileID, time.Now()); err != nil {
		t.Fatalf("EraseProfile: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	// Every event stored is linked to a profile that exists and to a
	// session that exists: none points at what the erasure removed.
	mu.Lock()
	defer mu.Unlock()
	kept := 0
	for _, e := range sent {
		got, err := s.FindEvent(ctx, e.ID)
		if inlet.ErrorCode(err) == inlet.ENOTFOUND {
			continue // erased
		} else if err != nil {
			t.Fatal(err)
		}
		kept++
		if got.ProfileID == "" {
			t.Fatalf("event %s kept without a profile", e.ID)
		}
		if _, err := s.FindProfile(ctx, got.ProfileID); err != nil {
			t.Fatalf("event %s kept, linked to profile %s: %v", e.ID, got.ProfileID, err)
		}
		if got.SessionID != "" {
			sess, err := s.FindSession(ctx, got.SessionID)
			if err != nil {
				t.Fatalf("event %s kept, linked to session %s: %v", e.ID, got.SessionID, err)
			}
			if sess.ProfileID != got.ProfileID {
				if p := findProfile(t, s, sess.ProfileID); p.ID != findProfile(t, s, got.ProfileID).ID {
					t.Fatalf("event %s is in profile %s, its session in %s", e.ID, got.ProfileID, sess.ProfileID)
				}
			}
		}
	}
	if kept == 0 || kept == len(sent) {
		t.Logf("%d of %d events sent during the erasure were kept", kept, len(sent))
	}
}

func testExport(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	ann, bob := twoPeople(t, s)
	var kinds []string
	var events []string
	var profile *inlet.Profile
	err := s.ExportProfile(ctx, ann[2].ProfileID, func(r inlet.PersonRecord) error {
		kinds = append(kinds, r.Kind)
		switch v := r.Data.(type) {
		case *inlet.Profile:
			profile = v
		case *inlet.Event:
			events = append(events, v.ID)
			if v.ID == bob[0].ID {
				t.Fatalf("Bob's event is in Ann's export")
			}
		case *inlet.Session:
			if v.ID != "ann-session" {
				t.Fatalf("session %s in Ann's export", v.ID)
			}
		default:
			t.Fatalf("a record of kind %s holds %T", r.Kind, r.Data)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("record %s: %v", r.Kind, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ExportProfile: %v", err)
	}
	if want := []string{"profile", "session", "event", "event", "event", "event"}; !slices.Equal(kinds, want) {
		t.Fatalf("export kinds = %v; want %v", kinds, want)
	}
	if profile.ID != ann[1].ProfileID || len(profile.Aliases) != 1 || len(profile.Identifiers) != 2 {
		t.Fatalf("exported profile = %+v", profile)
	}
	if want := []string{ann[0].ID, ann[1].ID, ann[2].ID, ann[3].ID}; !slices.Equal(events, want) {
		t.Fatalf("exported events = %v; want Ann's in commit order %v", events, want)
	}
	err = s.ExportProfile(ctx, "nope", func(inlet.PersonRecord) error { return nil })
	wantCode(t, "ExportProfile of an unknown profile", err, inlet.ENOTFOUND)
}

func testSourceRetention(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	c := &clock{t: now.Add(-10 * 24 * time.Hour)}
	oldShop, oldCRM := newEvent(c, "shop", "a", ""), newEvent(c, "crm", "a", "")
	appendEvents(t, s, oldShop, oldCRM)
	fresh := newEvent(&clock{t: now}, "shop", "a", "")
	appendEvents(t, s, fresh)
	if err := s.DeleteSourceEventsBefore(ctx, "shop", now.Add(-24*time.Hour)); err != nil {
		t.Fatalf("DeleteSourceEventsBefore: %v", err)
	}
	_, err := s.FindEvent(ctx, oldShop.ID)
	wantCode(t, "FindEvent of the source's old event", err, inlet.ENOTFOUND)
	for _, e := range []*event{oldCRM, fresh} {
		if _, err := s.FindEvent(ctx, e.ID); err != nil {
			t.Fatalf("an event the source's retention does not cover was deleted: %v", err)
		}
	}
	// A destination whose cursor has not passed an old event keeps it.
	createDest(t, s, newDestination("d"))
	old2 := newEvent(&clock{t: now.Add(-5 * 24 * time.Hour)}, "shop", "b", "")
	appendEvents(t, s, old2)
	if err := s.DeleteSourceEventsBefore(ctx, "shop", now.Add(-24*time.Hour)); err != nil {
		t.Fatalf("DeleteSourceEventsBefore: %v", err)
	}
	if _, err := s.FindEvent(ctx, old2.ID); err != nil {
		t.Fatalf("an event a destination may still want was deleted: %v", err)
	}
}

func testSuppressions(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	key, err := s.HashKey(ctx)
	if err != nil || len(key) < 16 {
		t.Fatalf("HashKey = %d bytes, %v", len(key), err)
	}
	if again, _ := s.HashKey(ctx); string(again) != string(key) {
		t.Fatal("HashKey changed between two calls")
	}
	h := inlet.SuppressionHash(key, inlet.Identifier{Kind: "email", Value: "ana@example.com"})
	if err := s.Suppress(ctx, []string{h, h}, time.Now()); err != nil {
		t.Fatalf("Suppress: %v", err)
	}
	list, err := s.Suppressions(ctx)
	if err != nil || !slices.Equal(list, []string{h}) {
		t.Fatalf("Suppressions = %v, %v", list, err)
	}
	if ok, err := s.Unsuppress(ctx, h); !ok || err != nil {
		t.Fatalf("Unsuppress = %v, %v", ok, err)
	}
	if ok, err := s.Unsuppress(ctx, h); ok || err != nil {
		t.Fatalf("Unsuppress of a lifted suppression = %v, %v", ok, err)
	}
}

func testErasureNotice(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	ann, bob := twoPeople(t, s)
	plain := createDest(t, s, newDestination("plain"))
	if _, err := s.EraseProfile(ctx, bob[0].ProfileID, time.Now()); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListEvents(ctx, inlet.EventFilter{SourceID: inlet.ErasureSource})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("notices with no destination asking: %+v, %v", page, err)
	}
	d := newDestination("notified")
	d.ErasureNotices = true
	createDest(t, s, d)
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	if _, err := s.EraseProfile(ctx, ann[0].ProfileID, time.Now()); err != nil {
		t.Fatal(err)
	}
	var notice *inlet.Event
	for deadline := time.Now().Add(10 * time.Second); notice == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r, err := s.ReadLog(ctx, cur.Position, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, le := range r.Events {
			if le.Event.SourceID == inlet.ErasureSource {
				notice = le.Event
			}
		}
	}
	if notice == nil || notice.Type != inlet.ErasureEventType {
		t.Fatalf("no notice of the erasure in the log: %+v", notice)
	}
	props := string(notice.Properties)
	sum := sha256.Sum256([]byte("ann@example.com"))
	if !strings.Contains(props, hex.EncodeToString(sum[:])) || !strings.Contains(props, ann[1].ProfileID) || strings.Contains(props, "ann@") {
		t.Fatalf("the notice = %s; want the profile ids and the email's SHA-256, never the email", props)
	}
	got, _ := s.FindDestination(ctx, d.ID)
	if !got.ErasureNotices || !got.Wants(notice) || plain.Wants(notice) {
		t.Fatalf("only the destination that asked wants the notice: %v, %v", got.Wants(notice), plain.Wants(notice))
	}
}

func testEraseTheNewest(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	d := createDest(t, s, newDestination("d"))
	cur := takeCursor(t, s, d.ID, "a", time.Now())
	ann, _ := twoPeople(t, s)
	c := &clock{t: time.Now().UTC()}
	last := identified(c, "", "email", "ann@example.com")
	appendEvents(t, s, last)
	pos := positions(t, s, cur.Position, last)
	settle(t, s, d.ID, "a", inlet.Settlement{Position: pos[last.ID], Succeeded: true}, time.Now())
	if _, err := s.EraseProfile(ctx, ann[0].ProfileID, time.Now()); err != nil {
		t.Fatal(err)
	}
	next := newEvent(c, "shop", "after", "")
	appendEvents(t, s, next)
	if got := positions(t, s, pos[last.ID], next); got[next.ID].Compare(pos[last.ID]) <= 0 {
		t.Fatalf("the event after the erasure is at %v, not after the cursor %v", got[next.ID], pos[last.ID])
	}
	// The same across a reopen is the stores' own test (the head is read
	// at open).
}
