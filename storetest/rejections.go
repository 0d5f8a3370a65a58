package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"inlet"
)

// rejectionTests are the tests of the rejection log.
var rejectionTests = []test{
	{"rejections are listed newest first with everything kept", testRejectionsList},
	{"rejections are filtered by source and reason", testRejectionsFilter},
	{"the rejection log is bounded by count, oldest dropped first", testRejectionsCount},
	{"the rejection log is bounded by bytes, oldest dropped first", testRejectionsBytes},
	{"rejection counts add up by source and reason", testRejectionCounts},
	{"rejection counts are written without samples, and samples without counts", testRejectionCountsApart},
	{"a rejection log that cannot be written is unavailable", testRejectionsUnavailable},
}

var bigBounds = inlet.RejectionBounds{MaxCount: 1000, MaxBytes: 1 << 30}

func newRejection(at time.Time, source, reason string) *inlet.Rejection {
	return &inlet.Rejection{
		At: at, SourceID: source, Reason: reason, Status: 401, Message: "the signature does not match",
		Method: "POST", Path: "/collect/order.paid/" + source, Query: "a=1", RemoteAddr: "203.0.113.9",
		Headers: map[string]string{"Content-Type": "application/json", "X-Request-Id": "r1"},
		Body:    []byte(`{"order":1}`),
	}
}

func appendRejections(t *testing.T, s inlet.RejectionStore, bounds inlet.RejectionBounds, rejections ...*inlet.Rejection) {
	t.Helper()
	if err := s.AppendRejections(context.Background(), rejections, nil, bounds); err != nil {
		t.Fatalf("AppendRejections(%d): %v", len(rejections), err)
	}
}

func listRejections(t *testing.T, s inlet.RejectionStore, f inlet.RejectionFilter) []*inlet.Rejection {
	t.Helper()
	out, err := s.ListRejections(context.Background(), f)
	if err != nil {
		t.Fatalf("ListRejections: %v", err)
	}
	return out
}

func testRejectionsList(t *testing.T, s inlet.Store) {
	if got := listRejections(t, s, inlet.RejectionFilter{}); len(got) != 0 {
		t.Fatalf("a new store lists %d rejections", len(got))
	}
	c := newClock()
	a := newRejection(c.next(), "src", "bad_signature")
	b := newRejection(c.next(), "src", "bad_json")
	b.Body, b.BodyTruncated = []byte{0xff, 0x00, 'x', 0xc3}, true
	appendRejections(t, s, bigBounds, a, b)
	if a.ID == 0 || b.ID <= a.ID {
		t.Fatalf("ids %d then %d; want increasing ids set by the store", a.ID, b.ID)
	}
	got := listRejections(t, s, inlet.RejectionFilter{})
	if len(got) != 2 || got[0].ID != b.ID || got[1].ID != a.ID {
		t.Fatalf("listed %d rejections, want b then a", len(got))
	}
	g := got[0]
	if !g.At.Equal(b.At) || g.SourceID != b.SourceID || g.Reason != b.Reason || g.Status != b.Status || g.Message != b.Message ||
		g.Method != b.Method || g.Path != b.Path || g.Query != b.Query || g.RemoteAddr != b.RemoteAddr || !g.BodyTruncated {
		t.Errorf("stored %+v, want %+v", g, b)
	}
	if !bytes.Equal(g.Body, b.Body) {
		t.Errorf("body %x, want the bytes as received %x", g.Body, b.Body)
	}
	if fmt.Sprint(g.Headers) != fmt.Sprint(b.Headers) {
		t.Errorf("headers %v, want %v", g.Headers, b.Headers)
	}
	if got := listRejections(t, s, inlet.RejectionFilter{Limit: 1}); len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("limit 1 listed %d rejections, want the newest", len(got))
	}
	if got := listRejections(t, s, inlet.RejectionFilter{BeforeID: b.ID}); len(got) != 1 || got[0].ID != a.ID {
		t.Errorf("the page before %d listed %d rejections, want only %d", b.ID, len(got), a.ID)
	}
}

func testRejectionsFilter(t *testing.T, s inlet.Store) {
	c := newClock()
	appendRejections(t, s, bigBounds,
		newRejection(c.next(), "a", "bad_signature"),
		newRejection(c.next(), "b", "bad_signature"),
		newRejection(c.next(), "a", "bad_json"),
		newRejection(c.next(), "a", "bad_signature"))
	for _, tt := range []struct {
		f    inlet.RejectionFilter
		want int
	}{
		{inlet.RejectionFilter{SourceID: "a"}, 3},
		{inlet.RejectionFilter{Reason: "bad_signature"}, 3},
		{inlet.RejectionFilter{SourceID: "a", Reason: "bad_signature"}, 2},
		{inlet.RejectionFilter{SourceID: "c"}, 0},
	} {
		got := listRejections(t, s, tt.f)
		if len(got) != tt.want {
			t.Errorf("filter %+v: %d rejections, want %d", tt.f, len(got), tt.want)
		}
		for _, r := range got {
			if tt.f.SourceID != "" && r.SourceID != tt.f.SourceID || tt.f.Reason != "" && r.Reason != tt.f.Reason {
				t.Errorf("filter %+v listed %s/%s", tt.f, r.SourceID, r.Reason)
			}
		}
	}
}

func testRejectionsCount(t *testing.T, s inlet.Store) {
	c := newClock()
	bounds := inlet.RejectionBounds{MaxCount: 10, MaxBytes: 1 << 30}
	var all []*inlet.Rejection
	for i := 0; i < 25; i++ {
		r := newRejection(c.next(), "src", "bad_json")
		appendRejections(t, s, bounds, r)
		all = append(all, r)
	}
	got := listRejections(t, s, inlet.RejectionFilter{Limit: 100})
	if len(got) == 0 || len(got) > bounds.MaxCount {
		t.Fatalf("%d rejections kept, want 1 to %d", len(got), bounds.MaxCount)
	}
	for i, r := range got { // the newest, in order, with none missing
		if want := all[len(all)-1-i]; r.ID != want.ID {
			t.Fatalf("rejection %d kept is %d, want %d: the newest must stay", i, r.ID, want.ID)
		}
	}
}

func testRejectionsBytes(t *testing.T, s inlet.Store) {
	c := newClock()
	var all []*inlet.Rejection
	for i := 0; i < 20; i++ {
		r := newRejection(c.next(), "src", "too_large")
		r.Body = bytes.Repeat([]byte{'x'}, inlet.MaxRejectionBody)
		all = append(all, r)
	}
	bounds := inlet.RejectionBounds{MaxCount: 1000, MaxBytes: 5 * all[0].Size()}
	appendRejections(t, s, bounds, all[:10]...)
	appendRejections(t, s, bounds, all[10:]...)
	got := listRejections(t, s, inlet.RejectionFilter{Limit: 100})
	var size int64
	for _, r := range got {
		size += r.Size()
	}
	if len(got) == 0 || size > bounds.MaxBytes {
		t.Fatalf("%d rejections of %d bytes kept, want 1 or more and at most %d bytes", len(got), size, bounds.MaxBytes)
	}
	if got[0].ID != all[len(all)-1].ID {
		t.Errorf("the newest rejection was dropped")
	}
}

func countRejections(t *testing.T, rs inlet.RejectionStore, f inlet.RejectionFilter) []inlet.RejectionCount {
	t.Helper()
	out, err := rs.CountRejections(context.Background(), f)
	if err != nil {
		t.Fatalf("CountRejections: %v", err)
	}
	return out
}

func testRejectionCounts(t *testing.T, s inlet.Store) {
	var rs inlet.RejectionStore = s
	if got := countRejections(t, rs, inlet.RejectionFilter{}); got == nil || len(got) != 0 {
		t.Fatalf("a new store counts %v, want an empty list", got)
	}
	c := newClock()
	t1, t2, t3 := c.next(), c.next(), c.next()
	add := func(counts ...inlet.RejectionCount) {
		t.Helper()
		if err := rs.AppendRejections(context.Background(), nil, counts, bigBounds); err != nil {
			t.Fatalf("AppendRejections(counts): %v", err)
		}
	}
	add(inlet.RejectionCount{SourceID: "a", Reason: "bad_signature", Count: 5, FirstAt: t2, LastAt: t2},
		inlet.RejectionCount{SourceID: inlet.UnknownSourceBucket, Reason: "unknown_source", Count: 1000, FirstAt: t1, LastAt: t2})
	// A second flush, or another node's, adds to the same rows and widens
	// their span.
	add(inlet.RejectionCount{SourceID: "a", Reason: "bad_signature", Count: 7, FirstAt: t1, LastAt: t3},
		inlet.RejectionCount{SourceID: "a", Reason: "bad_json", Count: 1, FirstAt: t3, LastAt: t3})
	got := countRejections(t, rs, inlet.RejectionFilter{})
	want := []inlet.RejectionCount{
		{SourceID: inlet.UnknownSourceBucket, Reason: "unknown_source", Count: 1000, FirstAt: t1, LastAt: t2},
		{SourceID: "a", Reason: "bad_json", Count: 1, FirstAt: t3, LastAt: t3},
		{SourceID: "a", Reason: "bad_signature", Count: 12, FirstAt: t1, LastAt: t3},
	}
	if len(got) != len(want) {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.SourceID != w.SourceID || g.Reason != w.Reason || g.Count != w.Count || !g.FirstAt.Equal(w.FirstAt) || !g.LastAt.Equal(w.LastAt) {
			t.Errorf("count %d is %+v, want %+v", i, g, w)
		}
	}
	if got := countRejections(t, rs, inlet.RejectionFilter{SourceID: "a", Reason: "bad_json"}); len(got) != 1 || got[0].Count != 1 {
		t.Errorf("counts of a/bad_json: %+v", got)
	}
	if got := countRejections(t, rs, inlet.RejectionFilter{SourceID: inlet.UnknownSourceBucket}); len(got) != 1 || got[0].Count != 1000 {
		t.Errorf("counts of the unknown-source bucket: %+v", got)
	}
	if got := countRejections(t, rs, inlet.RejectionFilter{Reason: "too_large"}); len(got) != 0 {
		t.Errorf("counts of a reason never seen: %+v", got)
	}
}

func testRejectionCountsApart(t *testing.T, s inlet.Store) {
	var rs inlet.RejectionStore = s
	c := newClock()
	r := newRejection(c.next(), "src", "bad_json")
	appendRejections(t, rs, bigBounds, r)
	if got := countRejections(t, rs, inlet.RejectionFilter{}); len(got) != 0 {
		t.Errorf("a sample alone made counts %+v: counts are the log's to give", got)
	}
	at := c.next()
	if err := rs.AppendRejections(context.Background(), nil, []inlet.RejectionCount{{SourceID: "src", Reason: "bad_json", Count: 3, FirstAt: at, LastAt: at}}, bigBounds); err != nil {
		t.Fatal(err)
	}
	if got := listRejections(t, rs, inlet.RejectionFilter{}); len(got) != 1 {
		t.Errorf("counts alone changed the samples: %d listed, want 1", len(got))
	}
	if err := rs.AppendRejections(context.Background(), nil, nil, bigBounds); err != nil {
		t.Errorf("appending nothing: %v", err)
	}
}

func testRejectionsUnavailable(t *testing.T, s inlet.Store) {
	var rs inlet.RejectionStore = s
	c := newClock()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	at := c.next()
	err := rs.AppendRejections(context.Background(), []*inlet.Rejection{newRejection(at, "src", "bad_json")},
		[]inlet.RejectionCount{{SourceID: "src", Reason: "bad_json", Count: 1, FirstAt: at, LastAt: at}}, bigBounds)
	if code := inlet.ErrorCode(err); code != inlet.EUNAVAILABLE {
		t.Errorf("AppendRejections on a closed store: code %q (%v), want %q", code, err, inlet.EUNAVAILABLE)
	}
	if _, err := rs.CountRejections(context.Background(), inlet.RejectionFilter{}); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
		t.Errorf("CountRejections on a closed store: code %q (%v), want %q", inlet.ErrorCode(err), err, inlet.EUNAVAILABLE)
	}
	if _, err := rs.ListRejections(context.Background(), inlet.RejectionFilter{}); inlet.ErrorCode(err) != inlet.EUNAVAILABLE {
		t.Errorf("ListRejections on a closed store: code %q (%v), want %q", inlet.ErrorCode(err), err, inlet.EUNAVAILABLE)
	}
}
