package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/catalog"
	"inlet/schema"
	"inlet/sqlite"
)

func paths(props string) []string {
	var got []string
	catalog.Paths(json.RawMessage(props), func(path, typ string) { got = append(got, path+":"+typ) })
	return got
}

func TestPaths(t *testing.T) {
	got := paths(`{"ref":"refs/heads/main","commits":[{"id":"a","added":["x"]},{"id":"b","added":[]}],"repository":{"id":1,"private":false,"stars":1.5e3,"topics":null}}`)
	want := []string{
		"ref:string", "commits:array", "commits[]:object", "commits[].id:string", "commits[].added:array", "commits[].added[]:string",
		"commits[]:object", "commits[].id:string", "commits[].added:array",
		"repository:object", "repository.id:integer", "repository.private:boolean", "repository.stars:number", "repository.topics:null",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	t.Run("depth is bounded", func(t *testing.T) {
		deep := strings.Repeat(`{"a":`, 20) + "1" + strings.Repeat("}", 20)
		got := paths(deep)
		if len(got) != catalog.MaxDepth || got[len(got)-1] != strings.TrimSuffix(strings.Repeat("a.", catalog.MaxDepth), ".")+":object" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("array elements are bounded", func(t *testing.T) {
		n, _ := json.Marshal(make([]int, 100))
		got := paths(`{"n":` + string(n) + `,"after":true}`)
		if len(got) != 1+catalog.MaxElements+1 || got[len(got)-1] != "after:boolean" {
			t.Errorf("%d paths, last %q", len(got), got[len(got)-1])
		}
	})
	t.Run("a body that is not an object has no paths", func(t *testing.T) {
		if got := paths(`[1,2]`); len(got) != 0 {
			t.Errorf("got %q", got)
		}
		if got := paths(`{"a":`); len(got) != 0 {
			t.Errorf("a broken object: got %q", got)
		}
	})
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func observe(acc *catalog.Accumulator, typ string, at time.Time, props string) {
	acc.Add(catalog.Observed{SourceID: "gh", Type: typ, InsertedAt: at, Properties: json.RawMessage(props)})
}

func path(e *inlet.CatalogEntry, name string) *inlet.CatalogPath {
	for i := range e.Paths {
		if e.Paths[i].Path == name {
			return &e.Paths[i]
		}
	}
	return nil
}

func TestAccumulateAndMerge(t *testing.T) {
	acc := catalog.NewAccumulator()
	for i := range inlet.DriftAfterEvents {
		observe(acc, "push", t0.Add(time.Duration(i)*time.Second), fmt.Sprintf(`{"ref":"r","commits":[{"id":"%d"},{"id":"x"}],"size":%d}`, i, i))
	}
	observe(acc, "ping", t0, `{"zen":"z"}`)
	deltas := acc.Take()
	if len(deltas) != 2 || deltas[0].Type != "ping" || deltas[1].Type != "push" || acc.Len() != 0 {
		t.Fatalf("deltas %v, left %d", deltas, acc.Len())
	}
	push := inlet.MergeCatalog(nil, deltas[1])
	if push.Count != 20 || !push.FirstSeen.Equal(t0) || !push.LastSeen.Equal(t0.Add(19*time.Second)) || !push.DriftSince.IsZero() {
		t.Errorf("entry %+v", push)
	}
	if p := path(push, "commits[].id"); p == nil || p.Count != 20 || p.Types["string"] != 20 {
		t.Errorf("commits[].id counted once per event: %+v", p)
	}

	t.Run("a path that appears late is drift from when it appeared", func(t *testing.T) {
		acc := catalog.NewAccumulator()
		late := t0.Add(time.Hour)
		observe(acc, "push", late, `{"ref":"r","size":1,"pusher":{"name":"n"}}`)
		e := inlet.MergeCatalog(push, acc.Take()[0])
		p := path(e, "pusher.name")
		if p == nil || !p.DriftSince.Equal(late) || !e.DriftSince.Equal(late) || p.Presence(e) != 1.0/21 {
			t.Errorf("path %+v, entry drift %v", p, e.DriftSince)
		}
		if path(push, "pusher") != nil {
			t.Error("MergeCatalog changed the entry it was given")
		}
	})
	t.Run("a path that changes type is drift, but not for null or a whole number", func(t *testing.T) {
		acc := catalog.NewAccumulator()
		observe(acc, "push", t0.Add(2*time.Hour), `{"ref":null,"size":2.5,"commits":[]}`)
		e := inlet.MergeCatalog(push, acc.Take()[0])
		if p := path(e, "ref"); !p.DriftSince.IsZero() || p.Types["null"] != 1 {
			t.Errorf("ref turning null: %+v", p)
		}
		if p := path(e, "size"); !p.DriftSince.IsZero() {
			t.Errorf("size turning fractional: %+v", p)
		}
		changed := t0.Add(3 * time.Hour)
		observe(acc, "push", changed, `{"ref":"r","size":"large"}`)
		e = inlet.MergeCatalog(e, acc.Take()[0])
		if p := path(e, "size"); !p.DriftSince.Equal(changed) || p.Types["string"] != 1 || p.Types["integer"] != 20 {
			t.Errorf("size turning a string: %+v", p)
		}
	})
	t.Run("paths are bounded per type", func(t *testing.T) {
		acc := catalog.NewAccumulator()
		props := map[string]int{}
		for i := range inlet.MaxCatalogPaths + 10 {
			props[fmt.Sprintf("k%04d", i)] = i
		}
		b, _ := json.Marshal(props)
		observe(acc, "wide", t0, string(b))
		e := inlet.MergeCatalog(nil, acc.Take()[0])
		if len(e.Paths) != inlet.MaxCatalogPaths || !e.Truncated {
			t.Errorf("%d paths, truncated %v", len(e.Paths), e.Truncated)
		}
	})
}

func TestInferSchema(t *testing.T) {
	events := []string{
		`{"action":"opened","number":1,"pull_request":{"id":10,"labels":[{"name":"bug"}],"merged_at":null},"sender":{"login":"octocat"}}`,
		`{"action":"closed","number":2,"pull_request":{"id":11,"labels":[],"merged_at":"2026-11-28T12:00:00Z"},"sender":{"login":"hubot"},"extra":1.5}`,
	}
	acc := catalog.NewAccumulator()
	for _, e := range events {
		observe(acc, "pull_request.opened", t0, e)
	}
	entry := inlet.MergeCatalog(nil, acc.Take()[0])
	raw := catalog.InferSchema(entry)
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(s["required"]) != "[action number pull_request sender]" {
		t.Errorf("required = %v (extra is in one event of two)", s["required"])
	}
	pr := s["properties"].(map[string]any)["pull_request"].(map[string]any)
	if fmt.Sprint(pr["properties"].(map[string]any)["merged_at"].(map[string]any)["type"]) != "[null string]" {
		t.Errorf("merged_at: %v", pr["properties"])
	}
	if fmt.Sprint(pr["properties"].(map[string]any)["labels"].(map[string]any)["items"]) != "map[properties:map[name:map[type:string]] type:object]" {
		t.Errorf("labels: %v", pr["properties"].(map[string]any)["labels"])
	}

	t.Run("the inferred schema compiles and every event it was learnt from passes it", func(t *testing.T) {
		set, err := schema.Compile(map[string]inlet.SchemaRule{"*": {Schema: raw, Mode: "reject"}})
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		for _, e := range events {
			if o := set.Validate("pull_request.opened", []byte(e)); !o.Valid() {
				t.Errorf("%s fails: %v", e, o.Failures)
			}
		}
		if o := set.Validate("pull_request.opened", []byte(`{"action":1,"number":1,"pull_request":{},"sender":{}}`)); o.Valid() {
			t.Error("an action that is a number passes")
		}
	})
}

func BenchmarkAccumulate(b *testing.B) {
	props := json.RawMessage(`{"id":"ord_1","total":1250,"customer":{"email":"someone@example.com","tags":["a","b"]},"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}],"note":"` + strings.Repeat("x", 100) + `"}`)
	acc := catalog.NewAccumulator()
	for b.Loop() {
		acc.Add(catalog.Observed{SourceID: "s", Type: "order.paid", InsertedAt: t0, Properties: props})
	}
}

func TestRecorder(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "inlet.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := catalog.NewRecorder(db, catalog.Options{Interval: time.Hour}, nil)
	for i := range 3 {
		r.Record(&inlet.Event{SourceID: "gh", Type: "push", InsertedAt: t0.Add(time.Duration(i) * time.Second), Properties: json.RawMessage(`{"ref":"r"}`)})
	}
	r.Flush()
	e, err := db.FindCatalog(context.Background(), "gh", "push")
	if err != nil || e.Count != 3 || len(e.Paths) != 1 || e.Paths[0].Count != 3 {
		t.Fatalf("after Flush: %+v, %v", e, err)
	}
	r.Record(&inlet.Event{SourceID: "gh", Type: "ping", InsertedAt: t0, Properties: json.RawMessage(`{}`)})
	r.Close()
	if _, err := db.FindCatalog(context.Background(), "gh", "ping"); err != nil {
		t.Errorf("Close did not merge what was left: %v", err)
	}
	r.Record(&inlet.Event{SourceID: "gh", Type: "late", InsertedAt: t0})
	if r.Dropped() != 0 {
		t.Errorf("a record after Close counted as dropped")
	}
}
