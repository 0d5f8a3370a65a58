package collect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"inlet"
	"inlet/jsonlimit/corpus"
)

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name  string
		input string
		valid bool
		at    int // for invalid input, the byte the message names
	}{
		// Numbers.
		{name: "zero", input: `0`, valid: true},
		{name: "negative zero", input: `-0`, valid: true},
		{name: "negative zero with a fraction", input: `-0.0`, valid: true},
		{name: "an exponent", input: `1e5`, valid: true},
		{name: "an upper-case exponent with a sign", input: `1E+5`, valid: true},
		{name: "a negative exponent", input: `2.5e-3`, valid: true},
		{name: "an exponent of zeros", input: `1e00`, valid: true},
		{name: "a long number", input: `123456789012345678901234567890.123456789e999`, valid: true},
		{name: "a leading zero", input: `01`, at: 1},
		{name: "a leading zero in an array", input: `[00]`, at: 2},
		{name: "a trailing dot", input: `1.`, at: 2},
		{name: "a leading dot", input: `.5`, at: 0},
		{name: "a plus sign", input: `+1`, at: 0},
		{name: "a lone minus", input: `-`, at: 1},
		{name: "a minus before a dot", input: `-.5`, at: 1},
		{name: "an exponent without digits", input: `1e`, at: 2},
		{name: "an exponent with only a sign", input: `1e+`, at: 3},
		{name: "a hexadecimal number", input: `0x10`, at: 1},
		{name: "infinity", input: `Infinity`, at: 0},
		{name: "NaN", input: `NaN`, at: 0},

		// Literals.
		{name: "true", input: `true`, valid: true},
		{name: "false", input: `false`, valid: true},
		{name: "null", input: `null`, valid: true},
		{name: "a truncated literal", input: `tru`, at: 0},
		{name: "a capitalised literal", input: `True`, at: 0},
		{name: "a literal followed by letters", input: `nullx`, at: 4},

		// Strings and escapes.
		{name: "an empty string", input: `""`, valid: true},
		{name: "every simple escape", input: `"\" \\ \/ \b \f \n \r \t"`, valid: true},
		{name: "a unicode escape", input: `"\u00e9\u00E9"`, valid: true},
		{name: "a lone surrogate escape", input: `"\ud800"`, valid: true},
		{name: "a surrogate pair escape", input: `"\ud83d\ude00"`, valid: true},
		{name: "a short unicode escape", input: `"\u12"`, at: 5},
		{name: "a unicode escape with a non-hex digit", input: `"\u12g4"`, at: 5},
		{name: "an upper-case U escape", input: `"\U0041"`, at: 2},
		{name: "an unknown escape", input: `"\a"`, at: 2},
		{name: "an escaped single quote", input: `"\'"`, at: 2},
		{name: "a backslash at the end", input: `"\`, at: 2},
		{name: "an unterminated string", input: `"abc`, at: 4},
		{name: "a raw tab in a string", input: "\"a\tb\"", at: 2},
		{name: "a raw newline in a string", input: "\"a\nb\"", at: 2},
		{name: "a raw NUL in a string", input: "\"\x00\"", at: 1},
		{name: "DEL is allowed in a string", input: "\"\x7f\"", valid: true},
		{name: "multi-byte UTF-8 in a string", input: `"héllo, 世界, 😀"`, valid: true},
		{name: "an encoded replacement character", input: "\"\xef\xbf\xbd\"", valid: true},
		{name: "a U+2028 line separator", input: "\"\u2028\"", valid: true},
		{name: "a single-quoted string", input: `'a'`, at: 0},

		// Invalid UTF-8, which json.Valid lets through but the checker must not.
		{name: "a lone continuation byte in a string", input: "\"\x80\"", at: 1},
		{name: "a truncated two-byte sequence in a string", input: "\"\xc3\"", at: 1},
		{name: "an overlong encoding in a string", input: "\"\xc0\xaf\"", at: 1},
		{name: "an encoded surrogate in a string", input: "\"\xed\xa0\x80\"", at: 1},
		{name: "a byte over F4 in a string", input: "\"\xf5\x80\x80\x80\"", at: 1},
		{name: "a Latin-1 byte in a key", input: "{\"caf\xe9\":1}", at: 5},
		{name: "a byte-order mark before the value", input: "\xef\xbb\xbf{}", at: 0},

		// Objects and arrays.
		{name: "an empty object", input: `{}`, valid: true},
		{name: "an empty array", input: `[]`, valid: true},
		{name: "nested containers", input: `{"a":[{"b":[]},{}],"c":{"d":null}}`, valid: true},
		{name: "a duplicate key", input: `{"a":1,"a":2}`, valid: true},
		{name: "an empty key", input: `{"":1}`, valid: true},
		{name: "a trailing comma in an object", input: `{"a":1,}`, at: 7},
		{name: "a trailing comma in an array", input: `[1,]`, at: 3},
		{name: "a leading comma in an array", input: `[,1]`, at: 1},
		{name: "a missing colon", input: `{"a" 1}`, at: 5},
		{name: "a missing value", input: `{"a":}`, at: 5},
		{name: "a missing comma in an object", input: `{"a":1 "b":2}`, at: 7},
		{name: "a missing comma in an array", input: `[1 2]`, at: 3},
		{name: "an unquoted key", input: `{a:1}`, at: 1},
		{name: "a number as a key", input: `{1:1}`, at: 1},
		{name: "an unclosed object", input: `{"a":1`, at: 6},
		{name: "an unclosed array", input: `[1`, at: 2},
		{name: "a bracket closing a brace", input: `{"a":1]`, at: 6},
		{name: "a brace closing a bracket", input: `[1}`, at: 2},
		{name: "a lone closing brace", input: `}`, at: 0},

		// Whitespace and trailing data.
		{name: "JSON whitespace around a value", input: " \t\r\n{ \"a\" : [ 1 , 2 ] }\n\t ", valid: true},
		{name: "an empty body", input: ``, at: 0},
		{name: "only whitespace", input: " \n", at: 2},
		{name: "a vertical tab is not whitespace", input: "\v1", at: 0},
		{name: "a form feed is not whitespace", input: "1\f", at: 1},
		{name: "a no-break space is not whitespace", input: "\u00a01", at: 0},
		{name: "a second value", input: `{} {}`, at: 3},
		{name: "trailing garbage", input: `1 x`, at: 2},
		{name: "a trailing NUL", input: "[]\x00", at: 2},
		{name: "a comment", input: `[1] // one`, at: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := []byte(tt.input)
			// The table is about JSON, so it must agree with the standard
			// library wherever the input is UTF-8.
			if utf8.Valid(input) && json.Valid(input) != tt.valid {
				t.Fatalf("table error: json.Valid(%q) = %v", tt.input, !tt.valid)
			}
			err := checkJSON(input)
			if tt.valid {
				if err != nil {
					t.Fatalf("checkJSON(%q) = %v, want nil", tt.input, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkJSON(%q) = nil, want an error", tt.input)
			}
			if code, reason := inlet.ErrorCode(err), inlet.ErrorReason(err); code != inlet.EINVALID || reason != "bad_json" {
				t.Errorf("code, reason = %q, %q, want %q, %q", code, reason, inlet.EINVALID, "bad_json")
			}
			if at, ok := errorOffset(err); !ok || at != tt.at {
				t.Errorf("message %q names byte %d, want byte %d", inlet.ErrorMessage(err), at, tt.at)
			}
		})
	}
}

func TestCheckJSONLimits(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		reason string // "" when accepted
	}{
		{name: "objects nested MaxDepth deep are accepted", input: strings.Repeat(`{"a":`, MaxDepth-1) + `{}` + strings.Repeat(`}`, MaxDepth-1)},
		{name: "arrays nested MaxDepth deep are accepted", input: strings.Repeat(`[`, MaxDepth) + strings.Repeat(`]`, MaxDepth)},
		{name: "mixed containers nested MaxDepth deep are accepted", input: strings.Repeat(`[{"a":`, MaxDepth/2) + `0` + strings.Repeat(`}]`, MaxDepth/2)},
		{name: "objects nested one deeper are rejected", input: strings.Repeat(`{"a":`, MaxDepth) + `{}` + strings.Repeat(`}`, MaxDepth), reason: "too_deep"},
		{name: "arrays nested one deeper are rejected", input: strings.Repeat(`[`, MaxDepth+1) + strings.Repeat(`]`, MaxDepth+1), reason: "too_deep"},
		{name: "deep nesting is rejected before the body ends", input: strings.Repeat(`[`, 100000), reason: "too_deep"},
		{name: "MaxProperties top-level members are accepted", input: members(MaxProperties)},
		{name: "one more top-level member is rejected", input: members(MaxProperties + 1), reason: "too_many_properties"},
		{name: "duplicate keys count as members", input: "{" + strings.TrimSuffix(strings.Repeat(`"a":1,`, MaxProperties+1), ",") + "}", reason: "too_many_properties"},
		{name: "members of nested objects are not limited", input: `{"a":` + members(MaxProperties+1) + `}`},
		{name: "elements of a top-level array are not limited", input: "[" + strings.TrimSuffix(strings.Repeat(`{},`, MaxProperties+1), ",") + "]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkJSON([]byte(tt.input))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("checkJSON = %v, want nil", err)
				}
				return
			}
			if code, reason := inlet.ErrorCode(err), inlet.ErrorReason(err); code != inlet.EINVALID || reason != tt.reason {
				t.Fatalf("code, reason = %q, %q, want %q, %q (err: %v)", code, reason, inlet.EINVALID, tt.reason, err)
			}
		})
	}
}

// FuzzCheckJSON compares the checker with encoding/json: on UTF-8 input
// within the limits they must agree, and any other input must be rejected
// with one of the checker's reasons.
func FuzzCheckJSON(f *testing.F) {
	for _, in := range corpus.Inputs() {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkJSON(data)
		if err != nil {
			reason := inlet.ErrorReason(err)
			if inlet.ErrorCode(err) != inlet.EINVALID || (reason != "bad_json" && reason != "too_deep" && reason != "too_many_properties") {
				t.Fatalf("checkJSON(%q) = %v: not an EINVALID with a known reason", data, err)
			}
			if reason == "bad_json" {
				if at, ok := errorOffset(err); !ok || at < 0 || at > len(data) {
					t.Fatalf("checkJSON(%q): message %q does not name a byte within the body", data, inlet.ErrorMessage(err))
				}
			}
		}

		if !utf8.Valid(data) || !json.Valid(data) {
			if err == nil {
				t.Fatalf("checkJSON(%q) = nil; utf8.Valid = %v, json.Valid = %v", data, utf8.Valid(data), json.Valid(data))
			}
			return
		}
		depth, members := jsonShape(t, data)
		switch {
		case depth <= MaxDepth && members <= MaxProperties:
			if err != nil {
				t.Fatalf("checkJSON(%q) = %v, but json.Valid accepts it (depth %d, %d members)", data, err, depth, members)
			}
		case err == nil:
			t.Fatalf("checkJSON(%q) = nil, but it is nested %d deep with %d top-level members", data, depth, members)
		case depth > MaxDepth && members > MaxProperties:
			// Either limit may be found first.
		case depth > MaxDepth && inlet.ErrorReason(err) != "too_deep",
			members > MaxProperties && inlet.ErrorReason(err) != "too_many_properties":
			t.Fatalf("checkJSON(%q) = %v, but it is nested %d deep with %d top-level members", data, err, depth, members)
		}
	})
}

// jsonShape returns how deep valid JSON nests and how many members its
// top-level object has (0 when it is not an object), counting duplicates.
func jsonShape(t *testing.T, data []byte) (depth, members int) {
	t.Helper()
	type frame struct{ object, wantKey bool }
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return depth, members
		} else if err != nil {
			t.Fatalf("decoding valid JSON %q: %v", data, err)
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			if n == 1 {
				members++
			}
			stack[n-1].wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
			depth = max(depth, len(stack))
		case json.Delim('['):
			stack = append(stack, frame{})
			depth = max(depth, len(stack))
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

var offsetPattern = regexp.MustCompile(`^invalid JSON at byte (\d+): `)

// errorOffset returns the byte offset a bad_json message names.
func errorOffset(err error) (int, bool) {
	m := offsetPattern.FindStringSubmatch(inlet.ErrorMessage(err))
	if m == nil {
		return -1, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

func members(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":[%d]`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}
