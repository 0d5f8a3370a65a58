package http_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"inlet"
	inlethttp "inlet/http"
)

func TestReadLog(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s.adminOK("POST", "/api/v1/sources", `{"id":"shop","name":"Shop"}`, 201, nil)
	s.adminOK("POST", "/api/v1/sources", `{"id":"crm","name":"CRM"}`, 201, nil)
	collect := func(typ, source string) string {
		t.Helper()
		resp := s.do("POST", "/collect/"+typ+"/"+source, strings.NewReader(`{}`), "Content-Type", "application/json")
		var answer struct{ Events []string }
		if err := json.Unmarshal(resp.Body, &answer); err != nil || resp.Status != 200 {
			t.Fatalf("collect: %d %s", resp.Status, resp.Body)
		}
		return answer.Events[0]
	}
	read := func(query string) inlethttp.LogPage {
		t.Helper()
		var page inlethttp.LogPage
		s.adminOK("GET", "/api/v1/log?"+query, "", 200, &page)
		return page
	}
	ids := func(p inlethttp.LogPage) []string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it.Event.ID)
		}
		return out
	}

	head := read("after=now")
	if len(head.Items) != 0 || head.Next == "" {
		t.Fatalf("the log's head: %+v, want no event and a cursor", head)
	}
	a, b, c, d := collect("invoice.paid", "shop"), collect("order", "crm"), collect("invoice.sent", "shop"), collect("order", "shop")

	t.Run("events come once, in commit order, a page at a time", func(t *testing.T) {
		var got []string
		after := head.Next
		for range 10 {
			p := read("limit=2&after=" + url.QueryEscape(after))
			got = append(got, ids(p)...)
			if len(p.Items) == 0 {
				break
			}
			if p.Items[len(p.Items)-1].Cursor != p.Next {
				t.Errorf("a full page's next %q is not its last item's cursor %q", p.Next, p.Items[len(p.Items)-1].Cursor)
			}
			after = p.Next
		}
		if want := []string{a, b, c, d}; !slices.Equal(got, want) {
			t.Errorf("the log after the head = %v, want %v", got, want)
		}
	})
	t.Run("a filter leaves events out and next moves past them", func(t *testing.T) {
		p := read("source=shop&type=invoice.*&after=" + url.QueryEscape(head.Next))
		if want := []string{a, c}; !slices.Equal(ids(p), want) {
			t.Errorf("invoices of shop = %v, want %v", ids(p), want)
		}
		if again := read("source=shop&type=invoice.*&after=" + url.QueryEscape(p.Next)); len(again.Items) != 0 {
			t.Errorf("after next: %v, want nothing", ids(again))
		}
		if rest := read("after=" + url.QueryEscape(p.Next)); len(rest.Items) != 0 {
			t.Errorf("after next, unfiltered: %v; want nothing, next being past the events left out (%s)", ids(rest), d)
		}
	})
	t.Run("a read that waits answers when an event comes", func(t *testing.T) {
		end := read("after=now")
		done := make(chan inlethttp.LogPage)
		go func() {
			var page inlethttp.LogPage
			resp := doRequest(t, s.URL, "GET", "/api/v1/log?wait=10s&after="+url.QueryEscape(end.Next), nil, "Authorization", "Bearer "+testToken)
			json.Unmarshal(resp.Body, &page)
			done <- page
		}()
		time.Sleep(100 * time.Millisecond)
		e := collect("late", "crm")
		select {
		case p := <-done:
			if !slices.Equal(ids(p), []string{e}) {
				t.Errorf("the waiting read got %v, want [%s]", ids(p), e)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the waiting read did not answer when an event came")
		}
	})
	t.Run("a cursor that is not one is a 400", func(t *testing.T) {
		for _, q := range []string{"after=bm9wZQ", "after=%25%25", "limit=0", "limit=1001", "wait=26s", "wait=soon"} {
			if resp := s.admin("GET", "/api/v1/log?"+q, ""); resp.Status != 400 {
				t.Errorf("%s: %d, want 400", q, resp.Status)
			}
		}
	})
	t.Run("cursors round-trip", func(t *testing.T) {
		for _, p := range []inlet.LogPosition{{}, {Seq: 7}, {Tx: 123456789, Seq: 42}} {
			got, err := inlethttp.DecodeLogCursor(inlethttp.EncodeLogCursor(p))
			if err != nil || got != p {
				t.Errorf("%v: %v, %v", p, got, err)
			}
		}
	})
}
