package jsonpath_test

import (
	"testing"

	"inlet/jsonpath"
)

const payload = `{
	"type": "customer.created",
	"data": {"object": {"customer": "cus_123", "email": " Ann@Example.COM ", "amount": 1250, "rate": 1.50, "big": 1e3,
		"meta": {"a": 1}, "tags": ["x"], "none": null, "vip": true, "blank": "  "}},
	"items": [{"sku": "A-1"}, {"sku": 42}],
	"a.b": "dotted"
}`

func TestLookup(t *testing.T) {
	doc, err := jsonpath.Decode([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		id         string
		found      bool // the path leads to a value
		isID       bool // and the value is an id
	}{
		{"a top-level string is found", "type", "customer.created", true, true},
		{"a nested object member is found", "data.object.customer", "cus_123", true, true},
		{"a string is trimmed", "data.object.email", "Ann@Example.COM", true, true},
		{"an array element is found by index", "items.0.sku", "A-1", true, true},
		{"an integer becomes its decimal text", "items.1.sku", "42", true, true},
		{"a number with a fraction becomes its shortest decimal text", "data.object.rate", "1.5", true, true},
		{"a number with an exponent becomes plain decimal text", "data.object.big", "1000", true, true},
		{"a whole number stays as written", "data.object.amount", "1250", true, true},
		{"an object is not an id", "data.object.meta", "", true, false},
		{"an array is not an id", "data.object.tags", "", true, false},
		{"null is not an id", "data.object.none", "", true, false},
		{"a boolean is not an id", "data.object.vip", "", true, false},
		{"a blank string is not an id", "data.object.blank", "", true, false},
		{"a missing member is not found", "data.object.nothing", "", false, false},
		{"a path through a string is not found", "type.x", "", false, false},
		{"an index past the end is not found", "items.2.sku", "", false, false},
		{"a negative index is not found", "items.-1.sku", "", false, false},
		{"a name on an array is not found", "items.first", "", false, false},
		{"a member name with a dot cannot be reached", "a.b", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := jsonpath.Parse(tt.path)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.path, err)
			}
			v, found := p.Lookup(doc)
			if found != tt.found {
				t.Fatalf("Lookup(%q) found = %v, want %v", tt.path, found, tt.found)
			}
			id, isID := jsonpath.ID(v)
			if isID != tt.isID || id != tt.id {
				t.Fatalf("ID(Lookup(%q)) = %q, %v; want %q, %v", tt.path, id, isID, tt.id, tt.isID)
			}
		})
	}
}

func TestParseRejectsBadPaths(t *testing.T) {
	long := make([]byte, jsonpath.MaxLength+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, p := range []string{"", ".", "a.", ".a", "a..b", string(long)} {
		if _, err := jsonpath.Parse(p); err == nil {
			t.Errorf("Parse(%q) accepted a bad path", p)
		}
	}
	if p, err := jsonpath.Parse("data.object.customer"); err != nil || p.String() != "data.object.customer" || len(p) != 3 {
		t.Errorf("Parse(data.object.customer) = %v, %v", p, err)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ kind, value, want string }{
		{"email", "  Ann@Example.COM\n", "ann@example.com"},
		{"billing_email", "Bob@X.io", "bob@x.io"},
		{"phone", " +44 20 7946 0000 ", "+44 20 7946 0000"},
		{"customer", "Cus_ABC", "Cus_ABC"},
	}
	for _, tt := range tests {
		if got := jsonpath.Normalize(tt.kind, tt.value); got != tt.want {
			t.Errorf("Normalize(%q, %q) = %q, want %q", tt.kind, tt.value, got, tt.want)
		}
	}
}
