package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"inlet"
	"inlet/deliver"
)

// TestConsoleOperatorPagesInBrowser drives the pages an operator opens to
// find an event and act on its deliveries, on every store: search by a
// property value, open the event, read a failed delivery's attempts,
// retry it and see it delivered; the destinations, the catalog's drift, a
// phone's width, and hostile values that stay text.
func TestConsoleOperatorPagesInBrowser(t *testing.T) {
	inBrowserOnBothStores(t, operatorPages)
}

// inBrowserOnBothStores runs fn on a server of each store, in one browser.
func inBrowserOnBothStores(t *testing.T, fn func(t *testing.T, b *browser, cfg Config)) {
	b := newBrowser(t)
	onBothStores(t, func(t *testing.T, cfg Config) {
		b.t = t
		fn(t, b, cfg)
	})
	t.Logf("screenshots in %s", b.dir)
}

func operatorPages(t *testing.T, b *browser, cfg Config) {
	s := startLive(t, cfg)
	base := s.url

	var failing atomic.Bool
	failing.Store(true)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "down for maintenance")
		}
	}))
	t.Cleanup(recv.Close)
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "shop", "name": "Shop"}, http.StatusCreated, nil)
	s.admin("POST", "/api/v1/destinations", map[string]any{
		"id": "crm", "name": "CRM", "type": "webhook", "filter": map[string]any{"types": []string{"order.*"}},
		"config": map[string]any{"url": recv.URL, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		"retry":  map[string]any{"backoff": []string{"1h"}},
	}, http.StatusCreated, nil)

	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusGone)
	}))
	t.Cleanup(gone.Close)
	s.admin("POST", "/api/v1/destinations", map[string]any{
		"id": "archive", "name": "Archive", "type": "webhook", "filter": map[string]any{"types": []string{"upload"}},
		"config": map[string]any{"url": gone.URL},
	}, http.StatusCreated, nil)

	// Orders for the catalog to learn, the one searched for among them.
	var wanted string
	for i := range inlet.DriftAfterEvents + 1 {
		c := s.collect("POST", "/collect/order.created/shop/visit-7", header("Content-Type", "application/json"),
			strings.NewReader(fmt.Sprintf(`{"order": "A-%d", "total": %d}`, 1000+i, 10+i)))
		if i == 1 {
			wanted = c.Events[0]
		}
	}
	waitCatalog(t, s, "order.created", inlet.DriftAfterEvents+1)
	s.collect("POST", "/collect/order.created/shop", header("Content-Type", "application/json"), strings.NewReader(`{"order": "A-2000", "total": 5, "coupon": "WINTER"}`))
	upload := s.collect("POST", "/collect/upload/shop", header("Content-Type", "application/json"), strings.NewReader(`{"file": "invoice‮fdp.exe"}`)).Events[0]

	b.open(base+"/console/events", "#token")
	b.do("sign in", chromedp.SendKeys("#token", s.token), chromedp.Click("form button[type=submit]"), chromedp.WaitVisible("#f-property"))

	t.Run("an event is found by a property value and shows its failed delivery", func(t *testing.T) {
		b.t = t
		b.do("search", chromedp.SendKeys("#f-property", "order = A-1001"), chromedp.Click("form.search button[type=submit]"))
		b.waitFor("one result", `document.querySelectorAll('#events tbody tr[data-id]').length === 1`, 5*time.Second)
		if got := eval[string](b, `document.querySelector('#events tbody tr[data-id]').dataset.id`); got != wanted {
			t.Fatalf("the search found %s, want %s", got, wanted)
		}
		if w := b.text("#window"); !strings.Contains(w, "100000") {
			t.Fatalf("the page does not say how far a property search reads: %q", w)
		}
		b.shot("events-search")
		b.do("open the event", chromedp.Click(`#events tbody tr[data-id] a`), chromedp.WaitVisible("#deliveries"))
		reloadUntil(b, base+"/console/events/"+wanted, `document.querySelector('.delivery[data-destination="crm"] .status-failed') !== null`)
		attempts := b.text(`.delivery[data-destination="crm"] table.attempts`)
		if !strings.Contains(attempts, "503") || !strings.Contains(attempts, "down for maintenance") || !strings.Contains(attempts, " ms") {
			t.Fatalf("the attempt log does not show the status, the answer and the latency: %q", attempts)
		}
		if raw := b.text("#raw"); !strings.Contains(raw, `"order": "A-1001"`) || !strings.Contains(raw, `"id": "`+wanted+`"`) {
			t.Fatalf("the raw event: %s", raw)
		}
		if curl := b.text("#event-curl"); !strings.Contains(curl, base+"/collect/order.created/shop/visit-7") || !strings.Contains(curl, `"order": "A-1001"`) {
			t.Fatalf("copy as curl: %s", curl)
		}
		b.shot("event-failed-delivery")
	})

	t.Run("retrying the delivery delivers it", func(t *testing.T) {
		b.t = t
		failing.Store(false)
		b.do("retry", chromedp.Click(`.delivery[data-destination="crm"] button.retry`))
		b.waitFor("the retry's notice", `location.search.includes('done=retry')`, 5*time.Second)
		reloadUntil(b, base+"/console/events/"+wanted, `document.querySelector('.delivery[data-destination="crm"] .status-delivered') !== null`)
		if log := b.text(`.delivery[data-destination="crm"] table.attempts`); !strings.Contains(log, "200") {
			t.Fatalf("the attempt log after the retry: %q", log)
		}
		b.shot("event-delivered")
		b.clean("event page")
	})

	t.Run("the destinations show their health, config masked, and act on deliveries", func(t *testing.T) {
		b.t = t
		b.open(base+"/console/destinations", "#destinations")
		if failed := b.text(`#destinations tr[data-id="crm"] td.failed`); failed != fmt.Sprint(inlet.DriftAfterEvents+1) {
			t.Fatalf("the list shows %q failed, want %d", failed, inlet.DriftAfterEvents+1)
		}
		// Every order failed once (a backoff of 1h), and one retry succeeded.
		var crm struct{ State inlet.DeliveryState }
		s.admin("GET", "/api/v1/destinations/crm", nil, http.StatusOK, &crm)
		if st := crm.State; st.Failures1h != inlet.DriftAfterEvents+2 || st.Attempts1h != st.Failures1h+1 || st.FailureRate1h == nil {
			t.Fatalf("the API's state of crm = %+v; want %d attempts of the last hour, all but one failed", st, inlet.DriftAfterEvents+3)
		}
		rate := fmt.Sprintf("%.0f%% %d of %d", *crm.State.FailureRate1h*100, crm.State.Failures1h, crm.State.Attempts1h)
		if got := b.text(`#destinations tr[data-id="crm"] td.failure-rate`); got != rate {
			t.Fatalf("the list shows a failure rate of %q, want %q", got, rate)
		}
		b.do("open", chromedp.Click(`#destinations tr[data-id="crm"] a`), chromedp.WaitVisible("#config"))
		if got := b.text("#failure-rate"); !strings.HasPrefix(got, fmt.Sprintf("%.0f%%", *crm.State.FailureRate1h*100)) ||
			!strings.Contains(got, fmt.Sprintf("%d of %d attempts failed in the last hour", crm.State.Failures1h, crm.State.Attempts1h)) {
			t.Fatalf("the destination page shows a failure rate of %q", got)
		}
		if cfgText := b.text("#config"); strings.Contains(cfgText, "MfKQ9r8") || !strings.Contains(cfgText, "****") {
			t.Fatalf("the config shows its secret: %s", cfgText)
		}
		b.open(base+"/console/destinations/crm?status=failed", "#deliveries")
		before := eval[int](b, `document.querySelectorAll('#deliveries tbody tr[data-event]').length`)
		b.do("discard one", chromedp.Click(`#deliveries tbody tr[data-event] form:last-of-type button`))
		b.waitFor("the discard's notice", `location.search.includes('done=discard')`, 5*time.Second)
		b.open(base+"/console/destinations/crm?status=failed", "#deliveries")
		if after := eval[int](b, `document.querySelectorAll('#deliveries tbody tr[data-event]').length`); after != before-1 {
			t.Fatalf("after a discard %d failed deliveries, want %d", after, before-1)
		}
		b.shot("destination")
		reloadUntil(b, base+"/console/destinations/archive", `document.getElementById('disabled-reason') !== null`)
		if why := b.text("#disabled-reason"); !strings.Contains(why, "410") {
			t.Fatalf("the disabled destination says %q, want the reason", why)
		}
		b.open(base+"/console/destinations", "#destinations")
		if state := b.text(`#destinations tr[data-id="archive"]`); !strings.Contains(state, "disabled") || !strings.Contains(state, "410") {
			t.Fatalf("the list shows the disabled destination as %q", state)
		}
		b.open(base+"/console/", "#delivery-health")
		if h := b.text("#delivery-health"); !strings.Contains(h, "CRM") {
			t.Fatalf("the overview's delivery health: %q", h)
		}
	})

	t.Run("the catalog shows the drift of a type", func(t *testing.T) {
		b.t = t
		reloadUntil(b, base+"/console/catalog?source=shop", `document.querySelector('#catalog tr.drift[data-type="order.created"]') !== null`)
		if paths := b.text(`section.catalog-type table.paths tr.drift`); !strings.Contains(paths, "coupon") {
			t.Fatalf("the drifted path is not marked: %q", paths)
		}
		b.shot("catalog")
	})

	t.Run("a bidi override is shown escaped and a bad filter says what is wrong", func(t *testing.T) {
		b.t = t
		b.open(base+"/console/events?type=upload", "#events")
		if row := b.text("#events tbody"); !strings.Contains(row, "invoice[U+202E]fdp.exe") || strings.Contains(row, "\u202e") {
			t.Fatalf("the row shows %q, want the override escaped", row)
		}
		if status, _, _ := s.do("POST", "/collect/ping/stranger-s-text", header("Content-Type", "application/json"), strings.NewReader(`{}`)); status != http.StatusUnauthorized {
			t.Fatalf("an unknown source answered %d", status)
		}
		reloadUntil(b, base+"/console/rejections", `document.querySelector('#rejections .unknown-source') !== null`)
		if col := eval[string](b, `[...document.querySelectorAll('#rejections tbody tr')].map(r => r.cells[1].textContent).join(' ')`); strings.Contains(col, "stranger") {
			t.Fatalf("the source column shows the stranger's text: %q", col)
		}
		b.open(base+"/console/events?since=yesterday", "#filter-error")
		if msg := b.text("#filter-error"); !strings.Contains(msg, "Since") {
			t.Fatalf("a bad time says %q", msg)
		}
		b.open(base+"/console/live", "#rows")
		if first := eval[string](b, `(document.querySelector('#rows tr.recent') || {dataset: {}}).dataset.id || ''`); first != upload {
			t.Fatalf("the live page opens with %q first, want the latest event %s", first, upload)
		}
		if n := eval[int](b, `document.querySelectorAll('#rows tr.recent').length`); n != inlet.DriftAfterEvents+3 {
			t.Fatalf("the live page opens with %d stored events, want all %d", n, inlet.DriftAfterEvents+3)
		}
		b.open(base+"/console/live?type=a/b", "#filter-error")
		b.waitFor("the live page names the refusal", `document.getElementById('status').textContent.startsWith('refused: event type')`, 5*time.Second)
	})

	t.Run("a phone's width scrolls only inside tables", func(t *testing.T) {
		b.t = t
		b.do("narrow", chromedp.EmulateViewport(390, 844))
		defer b.do("widen", chromedp.EmulateViewport(1200, 760))
		for _, page := range []string{"/console/events", "/console/events/" + wanted, "/console/destinations", "/console/destinations/crm", "/console/catalog", "/console/", "/console/live", "/console/sources", "/console/rejections", "/console/audit"} {
			b.open(base+page, "h1")
			if w := eval[int](b, `document.documentElement.scrollWidth`); w > 390 {
				wide := eval[string](b, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 392 && !(e.parentElement.closest('.scroll'))).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')`)
				t.Fatalf("%s is %d px wide at 390 px: it scrolls sideways (%s)", page, w, wide)
			}
		}
		if eval[bool](b, `getComputedStyle(document.querySelector('header nav')).display !== 'none'`) {
			t.Fatal("the navigation does not collapse at 390 px")
		}
		b.do("open the menu", chromedp.Click("label.menu-button"))
		b.waitFor("the menu opens", `getComputedStyle(document.querySelector('header nav')).display !== 'none'`, 2*time.Second)
		b.open(base+"/console/events/"+wanted, "h1")
		b.shot("phone-event")

		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		dark := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, dark); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		if bg := eval[string](b, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(18, 22, 30)" {
			t.Fatalf("in dark mode the page's background is %s", bg)
		}
		b.shot("phone-event-dark")
	})

	t.Run("a destination is edited as a source is: applied, refused with the API's message, secrets kept", func(t *testing.T) {
		b.t = t
		key, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
		got := make(chan string, 16) // ids of the requests signed with the kept secret
		moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			id := r.Header.Get("webhook-id")
			if r.Header.Get("webhook-signature") == "v1,"+deliver.Sign(key, id, r.Header.Get("webhook-timestamp"), body) {
				select {
				case got <- id:
				default:
				}
			}
		}))
		t.Cleanup(moved.Close)

		b.open(base+"/console/destinations/crm", "#edit")
		if cfgText := eval[string](b, `document.getElementById('config').value`); strings.Contains(cfgText, "MfKQ9r8") || !strings.Contains(cfgText, recv.URL) {
			t.Fatalf("the form's config: %s", cfgText)
		}
		eval[bool](b, fmt.Sprintf(`(() => {
			const c = document.getElementById('config');
			c.value = c.value.replace(%q, %q);
			document.getElementById('name').value = 'CRM (moved)';
			return true;
		})()`, recv.URL, moved.URL))
		b.do("save the new URL and name", chromedp.Click("#save"))
		b.waitFor("the save's notice", `location.search.includes('done=saved')`, 5*time.Second)
		if n := b.text(".notice"); !strings.Contains(n, "saved") {
			t.Fatalf("the notice after saving: %q", n)
		}
		var d inlet.Destination
		s.admin("GET", "/api/v1/destinations/crm", nil, http.StatusOK, &d)
		if d.Name != "CRM (moved)" || !strings.Contains(string(d.Config), moved.URL) || !slices.Equal(d.Filter.Types, []string{"order.*"}) || !slices.Equal(d.Retry.Backoff, []string{"1h"}) {
			t.Fatalf("the destination after the edit: %+v %s", d, d.Config)
		}
		id := s.collect("POST", "/collect/order.moved/shop", header("Content-Type", "application/json"), strings.NewReader(`{"order": "A-3000"}`)).Events[0]
		for deadline := time.After(10 * time.Second); ; {
			select {
			case gotID := <-got:
				if gotID != id {
					continue
				}
			case <-deadline:
				t.Fatal("no event signed with the kept secret reached the new URL")
			}
			break
		}
		b.shot("destination-edited")

		// A bad value: the page says what the API says, the form keeps what
		// was sent, and nothing changes.
		bad := `{"url": "ftp://\"><img src=x onerror=\"window.__sentinel='pwned'\">", "secret": "whsec_****"}`
		raw := s.admin("PATCH", "/api/v1/destinations/crm", map[string]any{"config": json.RawMessage(bad)}, http.StatusBadRequest, nil)
		var apiErr struct{ Error struct{ Message string } }
		if err := json.Unmarshal(raw, &apiErr); err != nil || apiErr.Error.Message == "" {
			t.Fatalf("the API's refusal: %s", raw)
		}
		b.open(base+"/console/destinations/crm", "#edit")
		b.do("send a bad URL", chromedp.SetValue("#config", bad), chromedp.Click("#save"))
		b.waitFor("the refusal", `document.getElementById('edit-error') !== null`, 5*time.Second)
		if msg := b.text("#edit-error"); msg != apiErr.Error.Message {
			t.Fatalf("the page refuses with %q, want the API's %q", msg, apiErr.Error.Message)
		}
		if v := eval[string](b, `document.getElementById('config').value`); v != bad {
			t.Fatalf("the form after a refusal holds %q, want what was sent", v)
		}
		s.admin("GET", "/api/v1/destinations/crm", nil, http.StatusOK, &d)
		if !strings.Contains(string(d.Config), moved.URL) {
			t.Fatalf("a refused edit changed the config: %s", d.Config)
		}
		time.Sleep(100 * time.Millisecond)
		if got := eval[string](b, `String(window.__sentinel)`); got != "undefined" {
			t.Fatalf("a payload in a refused config ran: %s", got)
		}
		if n := eval[int](b, `document.querySelectorAll('main img, main script').length`); n != 0 {
			t.Fatalf("the refusal: %d elements came from the payload", n)
		}
		b.shot("destination-refused")

		// A hostile name is saved and stays text on the list and the page.
		b.open(base+"/console/destinations/crm", "#edit")
		b.do("name it with a payload", chromedp.SetValue("#name", `"><img src=x onerror="window.__sentinel='pwned'"><script>window.__sentinel='pwned'</script>`), chromedp.Click("#save"))
		b.waitFor("the save's notice", `location.search.includes('done=saved')`, 5*time.Second)
		for _, page := range []string{"/console/destinations", "/console/destinations/crm"} {
			b.open(base+page, "h1")
			eval[bool](b, `(window.__sentinel = 'untouched', true)`)
			time.Sleep(100 * time.Millisecond)
			if got := eval[string](b, `String(window.__sentinel)`); got != "untouched" {
				t.Fatalf("%s: a payload ran", page)
			}
			if n := eval[int](b, `document.querySelectorAll('main img, main script').length`); n != 0 {
				t.Fatalf("%s: %d elements came from the payload", page, n)
			}
			b.clean(page)
		}
		s.admin("PATCH", "/api/v1/destinations/crm", map[string]any{"name": "CRM"}, http.StatusOK, nil)
	})

	t.Run("hostile values stay text on the new pages", func(t *testing.T) {
		b.t = t
		body := `{"order": "\"><img src=x onerror=\"window.__sentinel='pwned'\">", "html": "<script>window.__sentinel='pwned'</script>",` +
			` "<svg onload=window.__sentinel='pwned'>": "key", "link": "javascript:window.__sentinel='pwned'"}`
		id := s.collect("POST", "/collect/order.evil/shop", header("Content-Type", "application/json", "X-Evil", `"><script>window.__sentinel='pwned'</script>`), strings.NewReader(body)).Events[0]
		waitCatalog(t, s, "order.evil", 1)
		for _, page := range []string{"/console/events", "/console/events?property=" + "order%20%3D%20%22%3E%3Cimg", "/console/events/" + id, "/console/catalog", "/console/destinations/crm?status=failed", "/console/live"} {
			b.open(base+page, "h1")
			eval[bool](b, `(window.__sentinel = 'untouched', true)`)
			time.Sleep(100 * time.Millisecond)
			if got := eval[string](b, `String(window.__sentinel)`); got != "untouched" {
				t.Fatalf("%s: a payload ran", page)
			}
			if n := eval[int](b, `document.querySelectorAll('main img, main script, main svg [onload], main svg[onload], a[href^="javascript:"]').length`); n != 0 {
				t.Fatalf("%s: %d elements came from the payload", page, n)
			}
			b.clean(page)
		}
	})
}

// waitCatalog waits until the catalog has counted n events of a type of
// the shop source.
func waitCatalog(t *testing.T, s *liveServer, typ string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var e struct {
			Count int64 `json:"count"`
		}
		status, _, raw := s.do("GET", "/api/v1/catalog/shop/"+typ, header("Authorization", "Bearer "+s.token), nil)
		if status == http.StatusOK {
			if err := json.Unmarshal(raw, &e); err == nil && e.Count >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog did not count %d events of %s: %d %s", n, typ, status, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reloadUntil opens url until a JavaScript expression is true.
func reloadUntil(b *browser, url, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.open(url, "h1")
		if eval[bool](b, expr) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not %s within 10s; page text: %.800s", url, expr, b.text("main"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
