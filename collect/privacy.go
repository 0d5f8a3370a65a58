package collect

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"inlet"
	"inlet/jsonpath"
)

// A source's privacy policy (inlet.Privacy) applies in build: query
// parameters before the properties are made of them, headers as they are
// kept, properties right after the preset read the payload as sent (so
// that the transform, validation, the mapping and every reader after see
// only what is kept), identifiers after the mapping.

// policyValue returns v after a mask or hash policy: a string's text, any
// other value's JSON text, masked or hashed.
func policyValue(f inlet.FieldPolicy, key []byte, v string) string {
	if f.Action == inlet.PolicyMask {
		return inlet.MaskValue(v, f.Keep)
	}
	return inlet.HashValue(key, v)
}

// privateQuery applies the query parameter policies to a raw query.
func privateQuery(p *inlet.Privacy, key []byte, rawQuery string) string {
	if p == nil || rawQuery == "" {
		return rawQuery
	}
	for _, f := range p.Fields {
		if f.Query == "" {
			continue
		}
		if f.Action == inlet.PolicyDrop {
			rawQuery = DropQueryParams(rawQuery, func(name string) bool { return name == f.Query })
			continue
		}
		var b strings.Builder
		for pair := range strings.SplitSeq(rawQuery, "&") {
			name, value, _ := strings.Cut(pair, "=")
			if n, err := url.QueryUnescape(name); err == nil && n == f.Query {
				v, _ := url.QueryUnescape(value)
				pair = name + "=" + url.QueryEscape(policyValue(f, key, v))
			}
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(pair)
		}
		rawQuery = b.String()
	}
	return rawQuery
}

// privateHeaders applies the header policies to the kept headers.
func privateHeaders(p *inlet.Privacy, key []byte, kept map[string]string) {
	if p == nil {
		return
	}
	if !p.KeepsUserAgent() {
		delete(kept, "User-Agent")
	}
	for _, f := range p.Fields {
		if f.Header == "" {
			continue
		}
		name := http.CanonicalHeaderKey(f.Header)
		v, ok := kept[name]
		if !ok {
			continue
		}
		if f.Action == inlet.PolicyDrop {
			delete(kept, name)
		} else {
			kept[name] = policyValue(f, key, v)
		}
	}
}

// hasPathPolicies reports whether p changes properties.
func hasPathPolicies(p *inlet.Privacy) bool {
	if p == nil {
		return false
	}
	for _, f := range p.Fields {
		if f.Path != "" {
			return true
		}
	}
	return false
}

// privateProperties applies the path policies to decoded properties and
// reports whether any field was there to change.
func privateProperties(p *inlet.Privacy, key []byte, doc any) bool {
	changed := false
	for _, f := range p.Fields {
		if f.Path == "" {
			continue
		}
		path, err := jsonpath.Parse(f.Path)
		if err != nil {
			continue // validated with the source
		}
		parent, ok := path[:len(path)-1].Lookup(doc)
		if !ok {
			continue
		}
		last := path[len(path)-1]
		switch x := parent.(type) {
		case map[string]any:
			v, ok := x[last]
			if !ok {
				continue
			}
			changed = true
			if f.Action == inlet.PolicyDrop {
				delete(x, last)
			} else {
				x[last] = policyValue(f, key, scalarText(v))
			}
		case []any:
			i, err := strconv.Atoi(last)
			if err != nil || i < 0 || i >= len(x) {
				continue
			}
			changed = true
			if f.Action == inlet.PolicyDrop {
				x[i] = nil // an array keeps its length: later indexes keep their meaning
			} else {
				x[i] = policyValue(f, key, scalarText(x[i]))
			}
		}
	}
	return changed
}

// scalarText is a value's text: a string as it is, anything else as JSON.
func scalarText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// privateIdentifiers hashes the identifiers whose kind a policy names.
func privateIdentifiers(p *inlet.Privacy, key []byte, id *inlet.Identity) {
	if p == nil || id == nil {
		return
	}
	for _, f := range p.Fields {
		if f.Identifier == "" {
			continue
		}
		for i := range id.Identifiers {
			if id.Identifiers[i].Kind == f.Identifier {
				id.Identifiers[i].Value = inlet.HashValue(key, id.Identifiers[i].Value)
			}
		}
	}
}
