package catalog

import (
	"encoding/json"
	"slices"
	"strings"

	"inlet"
)

// node is one level of the inferred schema.
type node struct {
	types    map[string]int64
	count    int64
	inArray  bool
	children map[string]*node
	items    *node
}

func (n *node) child(key string, inArray bool) *node {
	if n.children == nil {
		n.children = map[string]*node{}
	}
	c := n.children[key]
	if c == nil {
		c = &node{inArray: inArray}
		n.children[key] = c
	}
	return c
}

// InferSchema returns a JSON Schema (2020-12) of the properties an entry
// has seen: each path's types, and as required the members every event
// had, ready to paste into config.schemas as a starting point.
func InferSchema(e *inlet.CatalogEntry) json.RawMessage {
	root := &node{types: map[string]int64{"object": e.Count}, count: e.Count}
	for _, p := range e.Paths {
		n, inArray := root, false
		for _, tok := range tokens(p.Path) {
			if tok == "[]" {
				if n.items == nil {
					n.items = &node{inArray: true}
				}
				n, inArray = n.items, true
				continue
			}
			n = n.child(tok, inArray)
		}
		n.types, n.count = p.Types, p.Count
	}
	s := root.schema()
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = e.SourceID + " " + e.Type
	b, _ := json.Marshal(s)
	return b
}

// tokens splits "a.b[].c" into a, b, [], c.
func tokens(path string) []string {
	var out []string
	for part := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(part, "[]")
		if name != "" {
			out = append(out, name)
		}
		if part != name {
			out = append(out, "[]")
			for ; strings.HasPrefix(rest, "[]"); rest = rest[2:] {
				out = append(out, "[]")
			}
		}
	}
	return out
}

func (n *node) schema() map[string]any {
	s := map[string]any{}
	var types []string
	for t := range n.types {
		types = append(types, t)
	}
	if slices.Contains(types, "number") {
		types = slices.DeleteFunc(types, func(t string) bool { return t == "integer" })
	}
	slices.Sort(types)
	switch len(types) {
	case 0:
	case 1:
		s["type"] = types[0]
	default:
		s["type"] = types
	}
	if len(n.children) > 0 {
		props := map[string]any{}
		var required []string
		for k, c := range n.children {
			props[k] = c.schema()
			if !c.inArray && c.count == n.count && n.count > 0 {
				required = append(required, k)
			}
		}
		s["properties"] = props
		if len(required) > 0 {
			slices.Sort(required)
			s["required"] = required
		}
	}
	if n.items != nil {
		s["items"] = n.items.schema()
	}
	return s
}
