// Package jsonpath reads values out of event properties by dotted paths,
// such as data.object.customer or items.0.sku, and turns them into ids and
// identifiers.
package jsonpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxLength is the longest path accepted.
const MaxLength = 256

// Path is a parsed dotted path: object member names, or array indexes
// written as decimal numbers.
type Path []string

// Parse reads a path: names joined by '.', none empty, at most MaxLength
// characters in all.
func Parse(s string) (Path, error) {
	if s == "" {
		return nil, errors.New("path is empty")
	} else if len(s) > MaxLength {
		return nil, fmt.Errorf("path is longer than %d characters", MaxLength)
	}
	p := Path(strings.Split(s, "."))
	for _, seg := range p {
		if seg == "" {
			return nil, fmt.Errorf("path %q has an empty name; join names with a single '.', for example data.object.customer", s)
		}
	}
	return p, nil
}

// String returns the path as it was written.
func (p Path) String() string { return strings.Join(p, ".") }

// Lookup returns the value at p in v, a value from Decode, and whether
// there is one. A segment of digits indexes an array; any segment names an
// object member.
func (p Path) Lookup(v any) (any, bool) {
	for _, seg := range p {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) || seg[0] == '+' {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// ID returns a value as id text: a string trimmed of surrounding space, a
// number as its decimal text. Anything else (an object, an array, a
// boolean, null) or an empty string is not an id.
func ID(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		return s, s != ""
	case json.Number:
		return decimal(string(x)), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// decimal returns a JSON number in plain decimal notation: integers as
// written, others (fractions, exponents) in their shortest decimal form.
func decimal(n string) string {
	if strings.ContainsAny(n, ".eE") {
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	return n
}

// Normalize returns an identifier value in its one form for comparison:
// trimmed, and lower-cased for an email (a kind named "email" or ending in
// "_email").
func Normalize(kind, value string) string {
	value = strings.TrimSpace(value)
	if kind == "email" || strings.HasSuffix(kind, "_email") {
		value = strings.ToLower(value)
	}
	return value
}
