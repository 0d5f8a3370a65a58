package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	inlethttp "inlet/http"
)

// TestConsoleScopesInBrowser signs in to the console with a token of each
// kind, on every store: a read token sees no button that changes
// something, a write token retries a delivery, a token bound to a source
// sees only its events and finds another source's event missing, and a
// revocation signs the browser out at its next page.
func TestConsoleScopesInBrowser(t *testing.T) {
	inBrowserOnBothStores(t, scopesInBrowser)
}

func scopesInBrowser(t *testing.T, b *browser, cfg Config) {
	sc := startScopedConsole(t, cfg)
	base := sc.s.url
	eventPage := base + "/console/events/" + sc.shopEvent
	signIn := func(secret, next, sel string) {
		b.t.Helper()
		b.open(next, "#token")
		b.do("sign in", chromedp.SendKeys("#token", secret), chromedp.Click("form button[type=submit]"), chromedp.WaitVisible(sel))
	}
	signOut := func() {
		b.t.Helper()
		b.do("sign out", chromedp.Click("form.signout button"), chromedp.WaitVisible("#token"))
	}
	// The delivery to the unreachable destination fails at its first
	// attempt and waits an hour for the next.
	reloadUntil(b, base+"/console/signin", `document.getElementById('token') !== null`)
	signIn(sc.s.token, eventPage, "#deliveries")
	reloadUntil(b, eventPage, `document.querySelector('#deliveries .status-failed') !== null`)
	signOut()

	t.Run("a read token sees no button that changes something", func(t *testing.T) {
		b.t = t
		signIn(sc.read.Secret, eventPage, "#deliveries")
		if n := eval[int](b, `document.querySelectorAll('#deliveries form, #deliveries button.retry, #deliveries button.discard').length`); n != 0 {
			t.Fatalf("the event page shows a read token %d delivery forms", n)
		}
		if !eval[bool](b, `document.querySelector('#deliveries .status-failed') !== null`) {
			t.Fatalf("the read token does not see the failed delivery: %.600s", b.text("#deliveries"))
		}
		b.shot("scopes-read-event")
		b.open(base+"/console/sources", "table")
		if n := eval[int](b, `document.querySelectorAll('main form, a.button').length`); n != 0 {
			t.Fatalf("the sources page shows a read token %d forms or buttons", n)
		}
		b.open(base+"/console/destinations/hook", "#deliveries")
		if n := eval[int](b, `document.querySelectorAll('main form').length`); n != 0 {
			t.Fatalf("the destination page shows a read token %d forms (edit, enable, retry, discard, replay)", n)
		}
		b.clean("read token's pages")
		signOut()
	})

	t.Run("a write token retries a delivery", func(t *testing.T) {
		b.t = t
		signIn(sc.write.Secret, eventPage, "#deliveries button.retry")
		b.do("retry", chromedp.Click("#deliveries button.retry"), chromedp.WaitVisible("p.notice"))
		if notice := b.text("p.notice"); !strings.Contains(notice, "pending again") {
			t.Fatalf("after retrying, the page says %q", notice)
		}
		raw := sc.s.admin("GET", "/api/v1/events/"+sc.shopEvent+"/deliveries", nil, http.StatusOK, nil)
		if !strings.Contains(string(raw), `"attempts":2`) && !strings.Contains(string(raw), `"status":"pending"`) {
			t.Fatalf("after the retry, the delivery is %s; want it pending or attempted again", raw)
		}
		b.clean("write token's retry")
		signOut()
	})

	t.Run("a token bound to a source sees only its events", func(t *testing.T) {
		b.t = t
		signIn(sc.shop.Secret, base+"/console/events", "#events")
		if !eval[bool](b, fmt.Sprintf(`document.querySelector('#events tr[data-id=%q]') !== null`, sc.shopEvent)) ||
			eval[bool](b, fmt.Sprintf(`document.querySelector('#events tr[data-id=%q]') !== null`, sc.crmEvent)) {
			t.Fatalf("the events page of a token bound to shop: %.800s", b.text("#events"))
		}
		if eval[bool](b, `document.querySelector('nav a[href="/console/destinations"]') !== null`) {
			t.Fatal("the navigation shows a bound token the destinations")
		}
		if opts := eval[string](b, `[...document.querySelectorAll('#f-source option')].map(o => o.value).join(',')`); opts != "shop" {
			t.Fatalf("the source filter offers %q, want only shop", opts)
		}
		b.shot("scopes-bound-events")
		b.open(base+"/console/live", "#rows")
		b.waitFor("the live page connects", `document.getElementById('status').textContent === 'live'`, 5*time.Second)
		sc.s.collect("POST", "/collect/lead/crm", header("Content-Type", "application/json"), strings.NewReader(`{}`))
		id := sc.s.collect("POST", "/collect/order/shop", header("Content-Type", "application/json"), strings.NewReader(`{}`)).Events[0]
		b.waitFor("the shop event on the live page", fmt.Sprintf(`document.querySelector('#rows tr[data-id=%q]') !== null`, id), 2*time.Second)
		if n := eval[int](b, `document.querySelectorAll('#rows tr:not(.recent)').length`); n != 1 {
			t.Fatalf("the live page of a token bound to shop added %d rows, want the shop event only", n)
		}
		b.open(base+"/console/events/"+sc.crmEvent, "p.error")
		other := strings.ReplaceAll(b.text("main"), sc.crmEvent, "ID")
		missing := strings.Repeat("0", len(sc.crmEvent))
		b.open(base+"/console/events/"+missing, "p.error")
		if got := strings.ReplaceAll(b.text("main"), missing, "ID"); other != got || !strings.Contains(got, "not found") {
			t.Fatalf("another source's event shows %q; a missing one %q", other, got)
		}
		b.clean("bound token's pages")
	})

	t.Run("a revoked token's sign-in stops working at once", func(t *testing.T) {
		b.t = t
		if _, err := inlethttp.NewClient(base, sc.s.token).RevokeToken(context.Background(), "shop-team"); err != nil {
			t.Fatal(err)
		}
		b.open(base+"/console/events", "#token")
		b.do("sign in again", chromedp.SendKeys("#token", sc.shop.Secret), chromedp.Click("form button[type=submit]"), chromedp.WaitVisible("p.error"))
		if msg := b.text("p.error"); !strings.Contains(msg, `The token "shop-team" was revoked at`) {
			t.Fatalf("signing in again with the revoked token says %q", msg)
		}
		b.shot("scopes-revoked")
	})
}
