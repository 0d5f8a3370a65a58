package main

import (
	"context"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"inlet"
)

// TestConsoleScreenshotsForDocs draws the README's pictures of the console
// from three hours of made-up traffic. It runs when INLET_DOCS_DIR names
// the directory to write them to (docs/):
//
//	INLET_DOCS_DIR=$PWD/docs go test ./cmd/inlet -run TestConsoleScreenshotsForDocs
func TestConsoleScreenshotsForDocs(t *testing.T) {
	dir := os.Getenv("INLET_DOCS_DIR")
	if dir == "" {
		t.Skip("set INLET_DOCS_DIR to draw the README's screenshots")
	}
	s := startLive(t, liveConfig(t))
	for _, id := range []string{"shop", "github", "stripe"} {
		s.createSource(map[string]any{"id": id, "name": strings.ToUpper(id[:1]) + id[1:]})
	}
	// Three hours of history, written straight to the store.
	now := time.Now().UTC()
	var events []inlet.Intake
	var rejections []*inlet.Rejection
	for m := 180; m > 0; m-- {
		at := now.Add(-time.Duration(m) * time.Minute)
		wave := 1 + math.Sin(float64(m)/20)
		for src, n := range map[string]int{"shop": int(6 * wave), "github": int(3*wave) + m%3, "stripe": 1 + m%4} {
			for i := range n {
				events = append(events, inlet.Intake{Event: inlet.Event{ID: inlet.NewID(), Type: "order", SourceID: src, InsertedAt: at.Add(time.Duration(i) * time.Second), Properties: []byte(`{}`)}})
			}
		}
		if m%7 == 0 {
			rejections = append(rejections, &inlet.Rejection{At: at, SourceID: "github", Reason: "bad_signature", Status: 401, Method: "POST", Path: "/collect/push/github", Headers: map[string]string{}})
		}
		if m%11 == 0 {
			rejections = append(rejections, &inlet.Rejection{At: at, SourceID: "shop", Reason: "bad_json", Status: 400, Method: "POST", Path: "/collect/order/shop", Headers: map[string]string{}})
		}
	}
	if _, err := s.main.store.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	if err := s.main.store.AppendRejections(context.Background(), rejections, countRejections(rejections), inlet.RejectionBounds{MaxCount: 10000, MaxBytes: 1 << 30}); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	b.dir = dir
	b.open(s.url+"/console/", "#token")
	b.do("sign in", chromedp.SendKeys("#token", s.token), chromedp.Click("form button[type=submit]"), chromedp.WaitVisible("figure.chart"))
	if legend := b.text("figure.chart ul.legend"); !strings.Contains(legend, "shop") || !strings.Contains(legend, "stripe") {
		t.Fatalf("legend %q", legend)
	}
	b.shot("console-overview")

	b.open(s.url+"/console/live", "#rows")
	b.waitFor("the live page connects", `document.getElementById('status').textContent === 'live'`, 5*time.Second)
	for i, c := range []struct{ path, body string }{
		{"/collect/purchase/shop/session-42", `{"order": "A-7", "total": 12.5, "items": ["mug", "tea"]}`},
		{"/collect/pull-request/github", `{"action": "opened", "number": 7, "repository": {"full_name": "acme/inlet"}}`},
		{"/collect/page-view/shop/session-42?page=/pricing", ``},
		{"/collect/charge.succeeded/stripe", `{"id": "ch_3P", "amount": 1250, "currency": "eur"}`},
		{"/collect/add-to-cart/shop/session-7", `{"sku": "TEA-01", "qty": 2}`},
	} {
		req, _ := http.NewRequest("POST", s.url+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("event %d: %v %v", i, resp, err)
		}
		resp.Body.Close()
		time.Sleep(150 * time.Millisecond)
	}
	b.waitFor("five rows", `document.querySelectorAll('#rows tr').length === 5`, 2*time.Second)
	b.waitFor("the rate counter", `document.getElementById('rate').textContent !== '0.0'`, 3*time.Second)
	b.shot("console-live")
	for _, n := range []string{"console-overview", "console-live"} {
		if fi, err := os.Stat(filepath.Join(dir, n+".png")); err != nil || fi.Size() > 200<<10 {
			t.Fatalf("%s: %v, %d bytes", n, err, fi.Size())
		}
	}
	t.Logf("wrote %s", dir)
}

// countRejections counts rejections by source and reason, as the log does.
func countRejections(rs []*inlet.Rejection) []inlet.RejectionCount {
	by := map[[2]string]*inlet.RejectionCount{}
	var out []inlet.RejectionCount
	for _, r := range rs {
		k := [2]string{r.SourceID, r.Reason}
		c := by[k]
		if c == nil {
			c = &inlet.RejectionCount{SourceID: r.SourceID, Reason: r.Reason, FirstAt: r.At}
			by[k] = c
		}
		c.Count++
		c.LastAt = r.At
	}
	for _, c := range by {
		out = append(out, *c)
	}
	return out
}
