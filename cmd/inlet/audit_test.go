package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"inlet"
	inlethttp "inlet/http"
)

// TestAuditShowsConsoleAndCLIEdits edits a source in the console, signed
// in with one token, and with the CLI, with another, then reads the audit
// log as an admin would (CLI, API and console): each edit names its token
// and client, shows before and after, and the source's secret appears in
// none of them.
func TestAuditShowsConsoleAndCLIEdits(t *testing.T) {
	isolateCLIEnv(t)
	const secret = "gh-secret-the-audit-log-never-shows"
	cfg := liveConfig(t)
	cfg.AdminToken = "" // the data directory's admin token, named admin
	s := startLive(t, cfg)
	ctx := context.Background()
	admin := inlethttp.NewClient(s.url, s.token)
	if _, err := admin.CreateSource(ctx, inlethttp.CreateSourceRequest{ID: "shop", Name: "Shop",
		Config: &inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyGitHub, Secret: secret}}}); err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		tok, err := admin.CreateToken(ctx, inlethttp.CreateTokenRequest{Name: name, Scope: inlet.ScopeWrite})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Secret
	}
	editor, ci := token("console-editor"), token("ci-writer")

	c := newConsoleClient(t, s)
	if resp, _ := c.do("POST", "/console/signin", url.Values{"token": {editor}, "next": {"/console/sources"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in with the editor's token: %s", resp.Status)
	}
	form := url.Values{"csrf": {c.csrf()}, "name": {"Shop (EU)"}, "config": {`{"verify": {"type": "github", "secret": "` + secret + `"}}`}}
	if resp, body := c.do("POST", "/console/sources/shop", form, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the console's edit of shop: %s %.300s", resp.Status, body)
	}
	if resp, _ := c.do("GET", "/console/audit", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the audit page with a write token: %s, want 403", resp.Status)
	}
	mustRunInlet(t, "sources", "disable", "shop", "--server", s.url, "--admin-token", ci)

	out := mustRunInlet(t, "audit", "list", "--object-type", "source", "--object-id", "shop", "--server", s.url, "--data", cfg.DataDir)
	rows := tableRows(t, out)
	var got []string
	for _, r := range rows[1:] {
		got = append(got, strings.Join(r[1:], "|"))
	}
	want := []string{
		"ci-writer|127.0.0.1|source.update|source shop|ok",
		"console-editor|127.0.0.1|source.update|source shop|ok",
		"admin|127.0.0.1|source.create|source shop|ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("inlet audit list:\n%s\nwant rows (after the time):\n%s", out, strings.Join(want, "\n"))
	}

	jsonOut := mustRunInlet(t, "audit", "list", "--object-id", "shop", "--json", "--server", s.url, "--data", cfg.DataDir)
	var page inlet.AuditPage
	decodeOutput(t, jsonOut, &page)
	type shown struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
		Config  struct {
			Verify struct {
				Secret string `json:"secret"`
			} `json:"verify"`
		} `json:"config"`
	}
	for i, want := range []struct{ before, after string }{{"Shop (EU) enabled", "Shop (EU) disabled"}, {"Shop enabled", "Shop (EU) enabled"}} {
		var before, after shown
		if err := json.Unmarshal(page.Records[i].Before, &before); err != nil {
			t.Fatalf("record %d's before %s: %v", i, page.Records[i].Before, err)
		}
		if err := json.Unmarshal(page.Records[i].After, &after); err != nil {
			t.Fatalf("record %d's after %s: %v", i, page.Records[i].After, err)
		}
		state := func(v shown) string {
			if v.Enabled {
				return v.Name + " enabled"
			}
			return v.Name + " disabled"
		}
		if state(before) != want.before || state(after) != want.after {
			t.Errorf("%s by %s: %q then %q, want %q then %q", page.Records[i].Action, page.Records[i].Token, state(before), state(after), want.before, want.after)
		}
		if !strings.HasPrefix(before.Config.Verify.Secret, inlet.MaskedSecret) || !strings.HasPrefix(after.Config.Verify.Secret, inlet.MaskedSecret) {
			t.Errorf("record %d shows the secret as %q and %q, want it masked", i, before.Config.Verify.Secret, after.Config.Verify.Secret)
		}
	}

	admins := newConsoleClient(t, s)
	admins.signIn()
	_, pageHTML := admins.do("GET", "/console/audit?object_id=shop", nil, nil)
	_, apiBody := admins.do("GET", "/api/v1/audit", nil, http.Header{"Authorization": {"Bearer " + s.token}})
	for what, body := range map[string]string{"inlet audit list": out, "inlet audit list --json": jsonOut, "the console's audit page": pageHTML, "GET /api/v1/audit": apiBody} {
		if strings.Contains(body, secret) {
			t.Errorf("%s shows the source's secret", what)
		}
	}
	for _, name := range []string{"console-editor", "ci-writer", "source.update"} {
		if !strings.Contains(pageHTML, name) {
			t.Errorf("the console's audit page does not show %q: %.500s", name, pageHTML)
		}
	}
}
