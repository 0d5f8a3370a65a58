package catalog_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"inlet/catalog"
	"inlet/jsonlimit/corpus"
)

// referencePaths is Paths written over encoding/json's decoder, the
// reference the byte scanner is held to.
func referencePaths(props []byte) map[string]bool {
	dec := json.NewDecoder(bytes.NewReader(props))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]bool{}
	var walk func(path string, v any, depth int)
	walk = func(path string, v any, depth int) {
		switch x := v.(type) {
		case map[string]any:
			out[path+":object"] = true
			if depth < catalog.MaxDepth {
				for k, m := range x {
					walk(path+"."+k, m, depth+1)
				}
			}
		case []any:
			out[path+":array"] = true
			if depth < catalog.MaxDepth {
				for i, m := range x {
					if i < catalog.MaxElements {
						walk(path+"[]", m, depth+1)
					}
				}
			}
		case string:
			out[path+":string"] = true
		case json.Number:
			if strings.ContainsAny(string(x), ".eE") {
				out[path+":number"] = true
			} else {
				out[path+":integer"] = true
			}
		case bool:
			out[path+":boolean"] = true
		case nil:
			out[path+":null"] = true
		}
	}
	for k, m := range root {
		walk(k, m, 1)
	}
	return out
}

func FuzzPaths(f *testing.F) {
	for _, in := range corpus.Inputs() {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, props []byte) {
		got := map[string]bool{}
		n := 0
		catalog.Paths(props, func(path, typ string) { got[path+":"+typ] = true; n++ })
		want := referencePaths(props)
		if want == nil || n >= 1024 {
			return // not an object, or past the path bound: only "no panic" holds
		}
		for k := range want {
			if !got[k] {
				t.Fatalf("%s: the scanner misses %s (got %v)", props, k, got)
			}
		}
		if len(got) > len(want) && !bytes.Contains(props, []byte(`"`)) {
			t.Fatalf("%s: the scanner reports %v, more than %v", props, got, want)
		}
	})
}
