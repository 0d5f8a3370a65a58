package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"inlet"
)

// catalogTests are the tests of the schema catalog (inlet.CatalogStore).
var catalogTests = []test{
	{"a first merge stores the entry as merged", testCatalogFirstMerge},
	{"merges add up, and a late path is stored as drift", testCatalogMergesAddUp},
	{"entries are listed by source and type, and filtered", testCatalogList},
	{"an unknown entry is not found", testCatalogNotFound},
	{"concurrent merges of one entry lose nothing", testCatalogConcurrent},
}

// catalogDelta returns a delta of n events of source and type, each with
// the given paths as strings, seen from at on.
func catalogDelta(source, typ string, n int64, at time.Time, paths ...string) *inlet.CatalogDelta {
	d := &inlet.CatalogDelta{SourceID: source, Type: typ, Count: n, FirstSeen: at, LastSeen: at.Add(time.Duration(n-1) * time.Millisecond), Paths: map[string]*inlet.PathDelta{}}
	for _, p := range paths {
		d.Paths[p] = &inlet.PathDelta{Types: map[string]int64{"string": n}, Count: n, FirstSeen: at}
	}
	return d
}

func mustMerge(t *testing.T, s inlet.Store, deltas ...*inlet.CatalogDelta) {
	t.Helper()
	if err := s.MergeCatalog(context.Background(), deltas); err != nil {
		t.Fatalf("MergeCatalog: %v", err)
	}
}

func mustFindCatalog(t *testing.T, s inlet.Store, source, typ string) *inlet.CatalogEntry {
	t.Helper()
	e, err := s.FindCatalog(context.Background(), source, typ)
	if err != nil {
		t.Fatalf("FindCatalog(%s, %s): %v", source, typ, err)
	}
	return e
}

// sameEntry compares entries through their API form, which holds every
// field at the API's precision.
func sameEntry(t *testing.T, got, want *inlet.CatalogEntry) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("entry\n got %s\nwant %s", g, w)
	}
}

func testCatalogFirstMerge(t *testing.T, s inlet.Store) {
	c := newClock()
	d := catalogDelta("gh", "push", 3, c.next(), "ref", "commits[].id")
	mustMerge(t, s, d)
	sameEntry(t, mustFindCatalog(t, s, "gh", "push"), inlet.MergeCatalog(nil, d))
}

func testCatalogMergesAddUp(t *testing.T, s inlet.Store) {
	c := newClock()
	first := catalogDelta("gh", "push", inlet.DriftAfterEvents, c.next(), "ref")
	mustMerge(t, s, first)
	late := c.next()
	second := catalogDelta("gh", "push", 2, late, "ref", "pusher.name")
	mustMerge(t, s, second)
	got := mustFindCatalog(t, s, "gh", "push")
	sameEntry(t, got, inlet.MergeCatalog(inlet.MergeCatalog(nil, first), second))
	if got.Count != inlet.DriftAfterEvents+2 || !got.DriftSince.Equal(late) {
		t.Errorf("count %d, drift since %v; want %d, %v", got.Count, got.DriftSince, inlet.DriftAfterEvents+2, late)
	}
	if !reflect.DeepEqual(got.Paths[1].Types, map[string]int64{"string": inlet.DriftAfterEvents + 2}) || got.Paths[1].Path != "ref" {
		t.Errorf("ref: %+v", got.Paths[1])
	}
}

func testCatalogList(t *testing.T, s inlet.Store) {
	c := newClock()
	mustMerge(t, s, catalogDelta("b", "y", 1, c.next()), catalogDelta("a", "z", 1, c.next(), "k"), catalogDelta("a", "x", 1, c.next()))
	list := func(f inlet.CatalogFilter) string {
		entries, err := s.ListCatalog(context.Background(), f)
		if err != nil {
			t.Fatalf("ListCatalog(%+v): %v", f, err)
		}
		out := ""
		for _, e := range entries {
			out += e.SourceID + "/" + e.Type + " "
		}
		return out
	}
	for _, c := range []struct {
		f    inlet.CatalogFilter
		want string
	}{
		{inlet.CatalogFilter{}, "a/x a/z b/y "},
		{inlet.CatalogFilter{SourceID: "a"}, "a/x a/z "},
		{inlet.CatalogFilter{SourceID: "a", Type: "z"}, "a/z "},
		{inlet.CatalogFilter{SourceID: "c"}, ""},
	} {
		if got := list(c.f); got != c.want {
			t.Errorf("ListCatalog(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
	entries, _ := s.ListCatalog(context.Background(), inlet.CatalogFilter{SourceID: "a", Type: "z"})
	if len(entries) != 1 || len(entries[0].Paths) != 1 || entries[0].Paths[0].Path != "k" {
		t.Errorf("a listed entry lacks its paths: %+v", entries)
	}
	if entries, err := s.ListCatalog(context.Background(), inlet.CatalogFilter{SourceID: "none"}); err != nil || entries == nil {
		t.Errorf("an empty listing: %v, %v (want an empty list)", entries, err)
	}
}

func testCatalogNotFound(t *testing.T, s inlet.Store) {
	_, err := s.FindCatalog(context.Background(), "gh", "push")
	if inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Errorf("got %v, want %s", err, inlet.ENOTFOUND)
	}
}

func testCatalogConcurrent(t *testing.T, s inlet.Store) {
	c := newClock()
	const writers, merges = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*merges)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range merges {
				errs <- s.MergeCatalog(context.Background(), []*inlet.CatalogDelta{
					catalogDelta("gh", "push", 1, c.next(), "ref", fmt.Sprintf("w%d", w)),
					catalogDelta("gh", fmt.Sprintf("t%d", m), 1, c.next()),
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("MergeCatalog: %v", err)
		}
	}
	e := mustFindCatalog(t, s, "gh", "push")
	if e.Count != writers*merges || len(e.Paths) != writers+1 {
		t.Errorf("count %d with %d paths; want %d with %d", e.Count, len(e.Paths), writers*merges, writers+1)
	}
	if ref := e.Paths[0]; ref.Path != "ref" || ref.Count != writers*merges {
		t.Errorf("ref: %+v", ref)
	}
}
