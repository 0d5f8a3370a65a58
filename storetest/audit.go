package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"inlet"
)

// knownSecret is a sender secret that no record of the audit log may show.
const knownSecret = "gh-secret-known-to-the-audit-test"

// runAudit runs the conformance tests of the audit log against stores made
// by open.
func runAudit(t *testing.T, open func(t *testing.T) inlet.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s inlet.Store)
	}{
		{"a change is recorded with its token, client, before and after, secrets masked", testAuditChange},
		{"a change that fails is recorded with its error and leaves its object unchanged", testAuditFailure},
		{"a change the server makes on its own is recorded as inlet's", testAuditServer},
		{"an erasure and a suppression are recorded with their token, never the person's identifiers", testAuditPrivacy},
		{"the audit log's filters select their records, and cursors page through them once", testAuditFilters},
		{"a bad cursor or limit of the audit log is invalid", testAuditBadFilter},
		{"the audit log's retention deletes old records and keeps the rest", testAuditRetention},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func actorCtx(name, client string) context.Context {
	return inlet.WithActor(context.Background(), &inlet.Actor{TokenID: "id-" + name, Token: name, Client: client})
}

func auditPage(t *testing.T, s inlet.Store, f inlet.AuditFilter) *inlet.AuditPage {
	t.Helper()
	page, err := s.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", f, err)
	}
	return page
}

func actions(records []*inlet.AuditRecord) string {
	var out []string
	for _, r := range records {
		out = append(out, r.Action+" "+r.ObjectID+" "+r.Outcome)
	}
	return strings.Join(out, ", ")
}

func testAuditChange(t *testing.T, s inlet.Store) {
	ctx := actorCtx("ci-writer", "192.0.2.7")
	src := &inlet.Source{ID: "shop", Name: "Shop", Type: inlet.SourceTypeWebhook, Enabled: true,
		Config: inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyGitHub, Secret: knownSecret}}}
	if err := s.CreateSource(ctx, src); err != nil {
		t.Fatalf("CreateSource: %v", err)
	}
	name := "Shop (EU)"
	if _, err := s.UpdateSource(ctx, "shop", inlet.SourceUpdate{Name: &name}); err != nil {
		t.Fatalf("UpdateSource: %v", err)
	}
	page := auditPage(t, s, inlet.AuditFilter{})
	if got, want := actions(page.Records), "source.update shop ok, source.create shop ok"; got != want {
		t.Fatalf("the audit log holds %q, want %q", got, want)
	}
	up := page.Records[0]
	if up.Token != "ci-writer" || up.TokenID != "id-ci-writer" || up.Client != "192.0.2.7" || up.ObjectType != inlet.AuditSource || up.Error != "" {
		t.Errorf("the update's record = %+v, want token ci-writer (id-ci-writer), client 192.0.2.7, object source", up)
	}
	if !strings.Contains(string(up.Before), `"name":"Shop"`) || !strings.Contains(string(up.After), `"name":"Shop (EU)"`) {
		t.Errorf("the update's record has before %s and after %s, want the names Shop and Shop (EU)", up.Before, up.After)
	}
	if create := page.Records[1]; len(create.Before) != 0 || !strings.Contains(string(create.After), inlet.MaskedSecret) {
		t.Errorf("the creation's record has before %s and after %s, want no before and an after with the secret masked", create.Before, create.After)
	}
	if at := up.At; at.IsZero() || time.Since(at) > time.Minute || time.Until(at) > time.Minute {
		t.Errorf("the update's record is at %v, want about now", at)
	}
	b, _ := json.Marshal(page)
	if strings.Contains(string(b), knownSecret) {
		t.Fatalf("the audit log shows the source's secret: %s", b)
	}
}

func testAuditFailure(t *testing.T, s inlet.Store) {
	ctx := actorCtx("ci-writer", "192.0.2.7")
	createSource(t, s, "keep")
	empty := ""
	_, err := s.UpdateSource(ctx, "keep", inlet.SourceUpdate{Name: &empty})
	wantCode(t, "UpdateSource(name=\"\")", err, inlet.EINVALID)
	err = s.CreateSource(ctx, &inlet.Source{ID: "keep", Name: "Again", Type: inlet.SourceTypeWebhook})
	wantCode(t, "CreateSource(keep) again", err, inlet.ECONFLICT)
	err = s.DeleteDestination(ctx, "nowhere")
	wantCode(t, "DeleteDestination(nowhere)", err, inlet.ENOTFOUND)

	got, err := s.FindSource(context.Background(), "keep")
	if err != nil || got.Name != "Source keep" {
		t.Fatalf("after the failed changes FindSource = %+v, %v; want it unchanged", got, err)
	}
	page := auditPage(t, s, inlet.AuditFilter{Token: "ci-writer"})
	if got, want := actions(page.Records), "destination.delete nowhere not_found, source.create keep conflict, source.update keep invalid"; got != want {
		t.Fatalf("the audit log holds %q, want %q", got, want)
	}
	for _, r := range page.Records {
		if r.Error == "" || len(r.After) != 0 {
			t.Errorf("the record of a failed %s has error %q and after %s, want a message and no after", r.Action, r.Error, r.After)
		}
	}
	if up := page.Records[2]; !strings.Contains(string(up.Before), `"name":"Source keep"`) {
		t.Errorf("the failed update's record has before %s, want the source as it stayed", up.Before)
	}
}

func testAuditServer(t *testing.T, s inlet.Store) {
	createDest(t, s, newDestination("hook"))
	if err := s.DisableDestination(context.Background(), "hook", "410 Gone", time.Now()); err != nil {
		t.Fatalf("DisableDestination: %v", err)
	}
	page := auditPage(t, s, inlet.AuditFilter{Action: "destination.disable"})
	if len(page.Records) != 1 || page.Records[0].Token != inlet.ServerActor || page.Records[0].TokenID != "" {
		t.Fatalf("the disabling's records = %s, want one by %q", actions(page.Records), inlet.ServerActor)
	}
	r := page.Records[0]
	if !strings.Contains(string(r.Before), `"enabled":true`) || !strings.Contains(string(r.After), `"enabled":false`) {
		t.Errorf("the disabling's record has before %s and after %s, want enabled true then false", r.Before, r.After)
	}
	if strings.Contains(string(r.Before)+string(r.After), "whsec_MfKQ9r8") {
		t.Errorf("the disabling's record shows the destination's secret: %s %s", r.Before, r.After)
	}
}

func testAuditPrivacy(t *testing.T, s inlet.Store) {
	ctx := actorCtx("dpo", "192.0.2.9")
	ann, _ := twoPeople(t, s)
	if err := s.Suppress(ctx, []string{"hmac:ann"}, time.Now()); err != nil {
		t.Fatalf("Suppress: %v", err)
	}
	if _, err := s.EraseProfile(ctx, ann[0].ProfileID, time.Now()); err != nil {
		t.Fatalf("EraseProfile: %v", err)
	}
	_, err := s.EraseProfile(ctx, "nobody", time.Now())
	wantCode(t, "EraseProfile(nobody)", err, inlet.ENOTFOUND)
	if lifted, err := s.Unsuppress(ctx, "hmac:ann"); err != nil || !lifted {
		t.Fatalf("Unsuppress = %v, %v; want lifted", lifted, err)
	}
	page := auditPage(t, s, inlet.AuditFilter{Token: "dpo"})
	want := "suppression.lift hmac:ann ok, profile.erase nobody not_found, profile.erase " + ann[0].ProfileID + " ok, suppression.create  ok"
	if got := actions(page.Records); got != want {
		t.Fatalf("the audit log holds %q, want %q", got, want)
	}
	b, _ := json.Marshal(page)
	for _, personal := range []string{"ann@example.com", "+15550100", "Ann Example"} {
		if strings.Contains(string(b), personal) {
			t.Errorf("the audit log shows %q: %s", personal, b)
		}
	}
	if got := string(page.Records[3].After); got != `{"identifiers":1}` {
		t.Errorf("the suppression's record has after %s, want how many identifiers", got)
	}
}

func testAuditFilters(t *testing.T, s inlet.Store) {
	ana, bob := actorCtx("ana", "192.0.2.1"), actorCtx("bob", "192.0.2.2")
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := s.CreateSource(ana, &inlet.Source{ID: id, Name: id, Type: inlet.SourceTypeWebhook}); err != nil {
			t.Fatalf("CreateSource(%s): %v", id, err)
		}
	}
	mid := time.Now()
	time.Sleep(2 * time.Millisecond)
	if err := s.DeleteSource(bob, "a2"); err != nil {
		t.Fatalf("DeleteSource: %v", err)
	}
	wantCode(t, "DeleteSource(a2) again", s.DeleteSource(bob, "a2"), inlet.ENOTFOUND)
	if err := s.CreateDestination(bob, newDestination("d1")); err != nil {
		t.Fatalf("CreateDestination: %v", err)
	}
	for _, tt := range []struct {
		f    inlet.AuditFilter
		want string
	}{
		{inlet.AuditFilter{Token: "ana"}, "source.create a3 ok, source.create a2 ok, source.create a1 ok"},
		{inlet.AuditFilter{Token: "id-bob"}, "destination.create d1 ok, source.delete a2 not_found, source.delete a2 ok"},
		{inlet.AuditFilter{ObjectType: inlet.AuditSource, ObjectID: "a2"}, "source.delete a2 not_found, source.delete a2 ok, source.create a2 ok"},
		{inlet.AuditFilter{Action: "source.delete", Outcome: inlet.AuditOK}, "source.delete a2 ok"},
		{inlet.AuditFilter{Outcome: inlet.ENOTFOUND}, "source.delete a2 not_found"},
		{inlet.AuditFilter{Since: mid}, "destination.create d1 ok, source.delete a2 not_found, source.delete a2 ok"},
		{inlet.AuditFilter{Until: mid}, "source.create a3 ok, source.create a2 ok, source.create a1 ok"},
		{inlet.AuditFilter{Token: "nobody"}, ""},
	} {
		if got := actions(auditPage(t, s, tt.f).Records); got != tt.want {
			t.Errorf("ListAudit(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	var (
		seen []string
		f    = inlet.AuditFilter{Limit: 2}
	)
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("paging never ends: %v", seen)
		}
		page := auditPage(t, s, f)
		if len(page.Records) > 2 {
			t.Fatalf("a page of limit 2 holds %d records", len(page.Records))
		}
		seen = append(seen, actions(page.Records))
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	if got, want := strings.Join(seen, " | "), "destination.create d1 ok, source.delete a2 not_found | source.delete a2 ok, source.create a3 ok | source.create a2 ok, source.create a1 ok"; got != want {
		t.Errorf("pages of 2 = %q, want %q", got, want)
	}
}

func testAuditBadFilter(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	for _, f := range []inlet.AuditFilter{{Cursor: "yesterday"}, {Cursor: "-3"}, {Limit: -1}, {Limit: inlet.MaxAuditLimit + 1}} {
		_, err := s.ListAudit(ctx, f)
		wantCode(t, "ListAudit", err, inlet.EINVALID)
	}
}

func testAuditRetention(t *testing.T, s inlet.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i, age := range []time.Duration{400 * 24 * time.Hour, 366 * 24 * time.Hour, 10 * 24 * time.Hour} {
		r := inlet.NewAuditRecord(ctx, now.Add(-age), "source.update", inlet.AuditSource, []string{"old", "older", "recent"}[i], nil, nil, nil)
		if err := s.RecordAudit(ctx, r); err != nil {
			t.Fatalf("RecordAudit: %v", err)
		}
	}
	n, err := s.DeleteAuditBefore(ctx, now.Add(-365*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteAuditBefore(a year ago) = %d, %v; want 2", n, err)
	}
	page := auditPage(t, s, inlet.AuditFilter{})
	if got := actions(page.Records); got != "source.update recent ok" {
		t.Fatalf("after retention the audit log holds %q, want the recent record only", got)
	}
	if got := page.Records[0].At; !got.Equal(now.Add(-10 * 24 * time.Hour)) {
		t.Errorf("the kept record is at %v, want %v", got, now.Add(-10*24*time.Hour))
	}
}
