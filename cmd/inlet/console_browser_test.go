package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"inlet/http/console"
)

// These tests drive Debian's Chromium through the console of a real Main.
// They are skipped when Chromium is missing, except in CI (CI=true), where
// they must run.

// chromiumPath is the browser the tests drive.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("INLET_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is required in CI and is missing at %s (apt-get install chromium): %v", path, err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium, or set INLET_CHROMIUM)", path)
	}
	return path
}

// browser is one Chromium tab with what the test watches: dialogs opened
// and uncaught script exceptions.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string // screenshots
	mu   sync.Mutex
	dlgs []string
	exc  []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 760),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })

	b := &browser{t: t, ctx: ctx, dir: os.Getenv("INLET_SCREENSHOTS")}
	if b.dir == "" {
		b.dir = t.ArtifactDir()
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The first call starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	dialogs := make(chan struct{}, 16)
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.mu.Lock()
			b.dlgs = append(b.dlgs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			select {
			case dialogs <- struct{}{}:
			default:
			}
		case *runtime.EventExceptionThrown:
			b.mu.Lock()
			b.exc = append(b.exc, fmt.Sprintf("%s at %s:%d", ev.ExceptionDetails.Text, ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber))
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { // a dialog blocks the page: dismiss it, the test fails on it
		for range dialogs {
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

// do runs actions with a timeout.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits up to d for a JavaScript expression to be true. It polls
// from Go, so that it survives the navigation of a form post.
func (b *browser) waitFor(what, expr string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s (within %s): %v; page text: %.600s", what, d, err, b.text("main"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", sel)))
	return s
}

func (b *browser) open(url, sel string) {
	b.t.Helper()
	b.do("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(sel))
}

// shot saves a screenshot of the viewport as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// clean fails the test if the page opened a dialog or threw.
func (b *browser) clean(when string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.dlgs) > 0 || len(b.exc) > 0 {
		b.t.Fatalf("%s: dialogs %q, script exceptions %q", when, b.dlgs, b.exc)
	}
}

// githubPost sends a body to a GitHub-verified source, signed with secret
// (or with a wrong signature when secret is ""), and returns the status and
// the answer.
func githubPost(t *testing.T, url, secret, body string, h http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header[k] = v
	}
	sig := "sha256=00"
	if secret != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		sig = "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, sb.String()
}

// eventID takes the one event id out of a collect answer.
func eventID(t *testing.T, answer string) string {
	t.Helper()
	i := strings.Index(answer, `"events":["`)
	if i < 0 {
		t.Fatalf("no event id in %s", answer)
	}
	rest := answer[i+len(`"events":["`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestConsoleInBrowser(t *testing.T) {
	parent := t
	b := newBrowser(t)
	cfg := liveConfig(t)
	s := startLive(t, cfg)
	base := s.url
	const secret = "shop-secret"

	// Signing in: the console sends a stranger to the sign-in page and back.
	b.open(base+"/console/sources", "#token")
	b.shot("signin")
	b.do("sign in", chromedp.SendKeys("#token", s.token), chromedp.Click("form button[type=submit]"), chromedp.WaitVisible("a.button"))
	if loc, _ := chromedp.Run(b.ctx, chromedp.Location()); loc != base+"/console/sources" {
		t.Fatalf("after signing in the browser is at %s, want the sources page", loc)
	}

	t.Run("a source is created, edited, disabled and enabled from the sources page", func(t *testing.T) {
		b.t = t
		b.open(base+"/console/sources/new", "#name")
		b.do("create", chromedp.SendKeys("#name", "Shop"), chromedp.SendKeys("#id", "shop"),
			chromedp.SetValue("#config", `{"verify": {"type": "github", "secret": "`+secret+`"}}`),
			chromedp.Click("form.card button[type=submit]"), chromedp.WaitVisible("#curl"))
		if h1 := b.text("h1"); h1 != "Source Shop" {
			t.Fatalf("after creating, the page is %q", h1)
		}
		if urls := eval[string](b, `[...document.querySelectorAll('input.copy')].map(i => i.value).join(' ')`); !strings.Contains(urls, base+"/collect/{event_type}/shop/{session_id}") || strings.Count(urls, "/collect/") != 4 {
			t.Fatalf("collect URLs: %s", urls)
		}
		b.shot("source")

		// The curl sample, with the secret pasted in, is accepted.
		sample := strings.ReplaceAll(b.text("#curl"), console.SecretPlaceholder, secret)
		out, err := exec.Command("bash", "-c", sample).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"events":["`) {
			t.Fatalf("the curl sample of the source page:\n%s\nanswered %s (%v)", sample, out, err)
		}

		b.do("rename", chromedp.SetValue("#name", "Shop front"), chromedp.Click("section form.card button[type=submit]"))
		b.waitFor("the renamed source's page", `document.querySelector('h1').textContent === 'Source Shop front'`, 5*time.Second)
		if cfgText := eval[string](b, `document.getElementById('config').value`); !strings.Contains(cfgText, `"secret": "****"`) {
			t.Fatalf("the configuration shows %s, want the secret masked", cfgText)
		}
		if status, _ := githubPost(t, base+"/collect/ping/shop", secret, `{}`, nil); status != 200 {
			t.Fatalf("after saving with the masked secret, a signed request answers %d: the secret was lost", status)
		}

		b.open(base+"/console/sources", "table")
		b.do("disable", chromedp.Click("table form.inline button"), chromedp.WaitVisible("span.off"))
		if status, _ := githubPost(t, base+"/collect/ping/shop", secret, `{}`, nil); status != http.StatusUnauthorized {
			t.Fatalf("a disabled source answered %d, want 401", status)
		}
		b.do("enable", chromedp.Click("table form.inline button"), chromedp.WaitVisible("span.ok"))
		b.shot("sources")
	})

	var firstID string
	t.Run("an event sent over HTTP appears on the live page within a second", func(t *testing.T) {
		b.t = t
		b.open(base+"/console/live", "#rows")
		b.waitFor("the live page connects", `document.getElementById('status').textContent === 'live'`, 5*time.Second)
		status, answer := githubPost(t, base+"/collect/purchase/shop/visit-1", secret, `{"order": "A-7", "total": 12.5, "items": ["mug", "tea"]}`,
			header("X-Request-Id", "req-42", "User-Agent", "shop-backend/2.1"))
		if status != 200 {
			t.Fatalf("collect: %d %s", status, answer)
		}
		firstID = eventID(t, answer)
		b.waitFor("the event's row", fmt.Sprintf(`document.querySelector('#rows tr[data-id=%q]') !== null`, firstID), time.Second)
		for range 4 {
			githubPost(t, base+"/collect/page-view/shop/visit-1?page=/pricing", secret, `{"page": "/pricing"}`, nil)
		}
		b.waitFor("five new rows", `document.querySelectorAll('#rows tr:not(.recent)').length === 5`, 2*time.Second)
		b.waitFor("the rate counter", `document.getElementById('rate').textContent !== '0.0'`, 3*time.Second)
		b.shot("live")

		// Pause holds new rows back; resume shows them.
		b.do("pause", chromedp.Click("#pause"))
		_, answer = githubPost(t, base+"/collect/paused/shop", secret, `{}`, nil)
		held := eventID(t, answer)
		b.waitFor("the held counter", `document.getElementById('held').textContent.includes('1 held')`, 2*time.Second)
		if eval[bool](b, fmt.Sprintf(`document.querySelector('#rows tr[data-id=%q]') !== null`, held)) {
			t.Fatal("an event was shown while paused")
		}
		b.do("resume", chromedp.Click("#pause"))
		b.waitFor("the held event after resuming", fmt.Sprintf(`document.querySelector('#rows tr[data-id=%q]') !== null`, held), time.Second)
		b.clean("live page")
	})

	t.Run("opening an event shows its properties and headers", func(t *testing.T) {
		b.t = t
		b.do("open the event", chromedp.Click(fmt.Sprintf(`#rows tr[data-id=%q] a`, firstID)), chromedp.WaitVisible("#properties"))
		props := b.text("#properties")
		if !strings.Contains(props, `"order": "A-7"`) || !strings.Contains(props, "\n  \"items\": [") {
			t.Fatalf("properties shown:\n%s", props)
		}
		headers := b.text("#headers")
		if !strings.Contains(headers, "X-Request-Idreq-42") || strings.Contains(headers, "X-Hub-Signature") {
			t.Fatalf("headers shown: %s", headers)
		}
		if facts := b.text("main"); !strings.Contains(facts, "shop-backend/2.1") || !strings.Contains(facts, "127.0.0.1") {
			t.Fatalf("the request facts miss the user agent or IP: %.400s", facts)
		}
		b.shot("event")
		b.do("open the session", chromedp.Click(`a[href^="/console/sessions/"]`), chromedp.WaitVisible("ol.timeline"))
		if n := eval[int](b, `document.querySelectorAll('ol.timeline li').length`); n != 5 {
			t.Fatalf("the session's timeline has %d events, want 5", n)
		}
		b.shot("session")
		b.do("open the profile", chromedp.Click(`a[href^="/console/profiles/"]`))
		b.waitFor("the profile page", `document.querySelector('h1').textContent.startsWith('Profile ')`, 5*time.Second)
		b.shot("profile")
	})

	t.Run("a hostile payload is shown as text and runs nothing", func(t *testing.T) {
		b.t = t
		const evil = `<script>window.__sentinel='pwned';alert(1)</script>`
		body := `{"name": "\"><img src=x onerror=\"window.__sentinel='pwned';alert(2)\">", "html": "` + strings.ReplaceAll(evil, `'`, `'`) + `",` +
			` "link": "javascript:window.__sentinel='pwned';alert(3)", "<svg onload=alert(4)>": "key"}`
		b.open(base+"/console/live", "#rows")
		b.waitFor("the live page connects", `document.getElementById('status').textContent === 'live'`, 5*time.Second)
		eval[bool](b, `(window.__sentinel = 'untouched', true)`)
		status, answer := githubPost(t, base+"/collect/evil/shop", secret, body, header("X-Evil", `"><script>alert(5)</script>`, "User-Agent", `<img src=x onerror=alert(6)>`))
		if status != 200 {
			t.Fatalf("collect: %d %s", status, answer)
		}
		id := eventID(t, answer)
		b.waitFor("the hostile event's row", fmt.Sprintf(`document.querySelector('#rows tr[data-id=%q]') !== null`, id), 2*time.Second)
		if row := eval[string](b, fmt.Sprintf(`document.querySelector('#rows tr[data-id=%q] td.props').textContent`, id)); !strings.Contains(row, "<img src=x onerror=") {
			t.Fatalf("the live row does not show the payload as text: %s", row)
		}
		check := func(where string) {
			t.Helper()
			if got := eval[string](b, `String(window.__sentinel)`); got != "untouched" {
				t.Fatalf("%s: the sentinel is %q: a payload ran", where, got)
			}
			if n := eval[int](b, `document.querySelectorAll('main img, main script, main svg [onload], a[href^="javascript:"]').length`); n != 0 {
				t.Fatalf("%s: %d elements came from the payload", where, n)
			}
			b.clean(where)
		}
		time.Sleep(200 * time.Millisecond) // let an injected handler run, if there were one
		check("live page")

		b.do("open the hostile event", chromedp.Click(fmt.Sprintf(`#rows tr[data-id=%q] a`, id)), chromedp.WaitVisible("#properties"))
		eval[bool](b, `(window.__sentinel = 'untouched', true)`)
		time.Sleep(200 * time.Millisecond)
		if props := b.text("#properties"); !strings.Contains(props, "<script>window.__sentinel") || !strings.Contains(props, "javascript:window") {
			t.Fatalf("the event page does not show the payload as text:\n%s", props)
		}
		if h := b.text("#headers"); !strings.Contains(h, `"><script>alert(5)</script>`) {
			t.Fatalf("the event page does not show the hostile header as text: %s", h)
		}
		check("event page")
		b.shot("event-hostile")
	})

	t.Run("a refused request appears on the rejections page", func(t *testing.T) {
		b.t = t
		status, _ := githubPost(t, base+"/collect/purchase/shop", "", `{"order": "forged"}`, nil)
		if status != http.StatusUnauthorized {
			t.Fatalf("a bad signature answered %d, want 401", status)
		}
		// The log is written a moment after the answer: reload until it shows.
		deadline := time.Now().Add(5 * time.Second)
		for {
			b.open(base+"/console/rejections", "main")
			if strings.Contains(b.text("#rejections"), "bad_signature") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no bad_signature rejection on the page: %.500s", b.text("main"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.do("open the sample", chromedp.Click("#rejections details summary"))
		if sample := b.text("#rejections details pre"); !strings.Contains(sample, `{"order": "forged"}`) {
			t.Fatalf("the kept sample: %s", sample)
		}
		b.shot("rejections")
	})

	t.Run("the overview draws events by source and refusals by reason", func(t *testing.T) {
		b.t = t
		b.open(base+"/console/", "figure.chart")
		if n := eval[int](b, `document.querySelectorAll('figure.chart')[0].querySelectorAll('rect[fill]').length`); n < 2 {
			t.Fatalf("the events chart has %d bars and legend marks", n)
		}
		if legend := b.text("figure.chart ul.legend"); !strings.Contains(legend, "shop") {
			t.Fatalf("the events legend: %s", legend)
		}
		if caption := eval[string](b, `document.querySelectorAll('figure.chart figcaption')[1].textContent`); !strings.Contains(caption, "Refused") || strings.Contains(caption, " 0 in all") {
			t.Fatalf("the refusals chart: %s", caption)
		}
		if counts := b.text("#refusal-counts"); !strings.Contains(counts, "bad_signature") {
			t.Fatalf("the refusal counts: %s", counts)
		}
		b.shot("overview")
		b.clean("overview")
	})

	t.Run("the live page keeps working after the server restarts", func(t *testing.T) {
		b.t = t
		b.open(base+"/console/live", "#rows")
		b.waitFor("the live page connects", `document.getElementById('status').textContent === 'live'`, 5*time.Second)
		s.stop()
		b.waitFor("the page notices", `document.getElementById('status').textContent !== 'live'`, 5*time.Second)
		cfg.Addr = s.main.Addr()
		r := startLive(parent, cfg) // serves the rest of the test
		b.waitFor("the page reconnects", `document.getElementById('status').textContent.startsWith('live')`, 10*time.Second)
		_, answer := githubPost(t, r.url+"/collect/after-restart/shop", secret, `{"back": true}`, nil)
		id := eventID(t, answer)
		b.waitFor("the event after the restart", fmt.Sprintf(`document.querySelector('#rows tr[data-id=%q]') !== null`, id), 2*time.Second)
		b.clean("live page after the restart")
	})

	t.Run("signing out ends the sign-in", func(t *testing.T) {
		b.t = t
		b.open(base+"/console/sources", "form.signout")
		b.do("sign out", chromedp.Click("form.signout button"), chromedp.WaitVisible("#token"))
		b.open(base+"/console/live", "#token")
	})
	t.Logf("screenshots in %s", b.dir)
}
