package collect_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"inlet"
	"inlet/collect"
)

// sha256 of "abc", from FIPS 180-2 appendix B.1.
const sha256ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

// sha256 of the empty string, from the same standard.
const sha256Empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestParse(t *testing.T) {
	form, formType := multipartBody(t, func(w *multipart.Writer) {
		w.WriteField("name", "Ada")
		w.WriteField("tag", "a")
		w.WriteField("tag", "b")
		w.WriteField("empty", "")
		part, _ := w.CreateFormFile("upload", "notes.txt") // application/octet-stream
		part.Write([]byte("abc"))
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="photo"; filename="me.png"`)
		h.Set("Content-Type", "image/png")
		part, _ = w.CreatePart(h)
		part.Write([]byte("abc"))
	})
	twoFiles, twoFilesType := multipartBody(t, func(w *multipart.Writer) {
		part, _ := w.CreateFormFile("att", "a.txt")
		part.Write([]byte("abc"))
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="att"; filename="empty.bin"`)
		part, _ = w.CreatePart(h) // no Content-Type header
		_ = part
	})
	binaryField := "--B\r\nContent-Disposition: form-data; name=\"bin\"\r\n\r\n\xff\xfe\x00\r\n--B--\r\n"

	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		want        string
	}{
		// The query string.
		{name: "no query and no body give an empty object", want: `{}`},
		{name: "a key given once is a string", query: "a=1&b=two", want: `{"a":"1","b":"two"}`},
		{name: "a repeated key is a list in order", query: "b=3&a=x&b=1&b=2", want: `{"a":"x","b":["3","1","2"]}`},
		{name: "an empty value is kept as an empty string", query: "a=&b", want: `{"a":"","b":""}`},
		{name: "a repeated empty value is kept in the list", query: "a=&a=1&a=", want: `{"a":["","1",""]}`},
		{name: "escapes and plus signs are decoded", query: "n%C3%A4me=J%C3%BCrgen+M%26M", want: `{"näme":"Jürgen M&M"}`},
		{name: "a GET with a query and an empty body keeps the query", query: "utm_source=mail", contentType: "application/json", want: `{"utm_source":"mail"}`},

		// JSON bodies.
		{name: "a JSON object is the properties", contentType: "application/json", body: `{"a":1,"b":{"c":[true,null,"x"]}}`, want: `{"a":1,"b":{"c":[true,null,"x"]}}`},
		{name: "a charset parameter is accepted", contentType: "application/json; charset=utf-8", body: `{"a":1}`, want: `{"a":1}`},
		{name: "the media type is case-insensitive", contentType: "Application/JSON; Charset=UTF-8", body: `{"a":1}`, want: `{"a":1}`},
		{name: "a +json type is JSON", contentType: "application/vnd.api+json", body: `{"data":{"id":"1"}}`, want: `{"data":{"id":"1"}}`},
		{name: "a +json type in upper case with a charset is JSON", contentType: "APPLICATION/CLOUDEVENTS+JSON; charset=UTF-8", body: `{"specversion":"1.0"}`, want: `{"specversion":"1.0"}`},
		{name: "whitespace around a JSON object is allowed", contentType: "application/json", body: " \r\n\t{\"a\":1}\n", want: `{"a":1}`},
		{name: "a JSON array becomes items", contentType: "application/json", body: `[1,"two",{"three":3}]`, want: `{"items":[1,"two",{"three":3}]}`},
		{name: "an empty JSON array becomes empty items", contentType: "application/json", body: `[]`, want: `{"items":[]}`},
		{name: "a JSON string becomes value", contentType: "application/json", body: `"hello"`, want: `{"value":"hello"}`},
		{name: "a JSON number becomes value", contentType: "application/json", body: `-12.5e3`, want: `{"value":-12.5e3}`},
		{name: "JSON true becomes value", contentType: "application/json", body: `true`, want: `{"value":true}`},
		{name: "JSON false becomes value", contentType: "application/json", body: `false`, want: `{"value":false}`},
		{name: "JSON null becomes value null", contentType: "application/json", body: `null`, want: `{"value":null}`},
		{name: "a number too big for a float64 is kept digit for digit", contentType: "application/json", body: `{"n":123456789012345678901234567890}`, want: `{"n":123456789012345678901234567890}`},
		{name: "an object nested exactly MaxDepth deep is accepted", contentType: "application/json", body: nestedObjects(collect.MaxDepth), want: nestedObjects(collect.MaxDepth)},
		{name: "an object with exactly MaxProperties members is accepted", contentType: "application/json", body: objectWithMembers(collect.MaxProperties), want: objectWithMembers(collect.MaxProperties)},

		// Merging the body over the query.
		{name: "body keys win over query keys", query: "a=query&b=query&b=again", contentType: "application/json", body: `{"a":"body","c":3}`, want: `{"a":"body","b":["query","again"],"c":3}`},
		{name: "an array body is merged over the query as items", query: "items=query&x=1", contentType: "application/json", body: `[1]`, want: `{"items":[1],"x":"1"}`},
		{name: "a scalar body is merged over the query as value", query: "value=query", contentType: "application/json", body: `null`, want: `{"value":null}`},
		{name: "form keys win over query keys", query: "a=query", contentType: "application/x-www-form-urlencoded", body: "a=form", want: `{"a":"form"}`},
		{name: "raw text is merged beside the query", query: "a=1", contentType: "text/plain", body: "hi", want: `{"a":"1","raw":"hi"}`},

		// Forms.
		{name: "a form body follows the query rules", contentType: "application/x-www-form-urlencoded", body: "a=1&b=2&b=3&c=&d=x+y%21", want: `{"a":"1","b":["2","3"],"c":"","d":"x y!"}`},
		{name: "a form content type with a charset is a form", contentType: "Application/X-WWW-Form-Urlencoded; charset=UTF-8", body: "a=1", want: `{"a":"1"}`},
		{name: "multipart fields, repeated fields and file parts are recorded", contentType: formType, body: form, want: `{
			"name": "Ada", "tag": ["a", "b"], "empty": "",
			"upload": {"name": "upload", "filename": "notes.txt", "content_type": "application/octet-stream", "size": 3, "sha256": "` + sha256ABC + `"},
			"photo": {"name": "photo", "filename": "me.png", "content_type": "image/png", "size": 3, "sha256": "` + sha256ABC + `"}}`},
		{name: "repeated file parts become a list and a part without a content type records an empty one", contentType: twoFilesType, body: twoFiles, want: `{"att": [
			{"name": "att", "filename": "a.txt", "content_type": "application/octet-stream", "size": 3, "sha256": "` + sha256ABC + `"},
			{"name": "att", "filename": "empty.bin", "content_type": "", "size": 0, "sha256": "` + sha256Empty + `"}]}`},
		{name: "a multipart field that is not UTF-8 is kept as base64", contentType: "multipart/form-data; boundary=B", body: binaryField, want: `{"bin":{"raw_base64":"//4A"}}`},

		// No content type.
		{name: "a JSON object without a content type is JSON", body: `{"a":[1,2]}`, want: `{"a":[1,2]}`},
		{name: "a JSON array without a content type is items", body: `[1,2]`, want: `{"items":[1,2]}`},
		{name: "a JSON number without a content type is value", body: ` 42 `, want: `{"value":42}`},
		{name: "text without a content type is raw", body: "hello world", want: `{"raw":"hello world"}`},
		{name: "broken JSON without a content type is raw, not an error", body: `{"a":`, want: `{"raw":"{\"a\":"}`},
		{name: "binary without a content type is raw_base64", body: "\x00\xff\x10", want: `{"raw_base64":"AP8Q"}`},

		// Other content types.
		{name: "plain text is raw", contentType: "text/plain; charset=utf-8", body: "line one\nline two", want: `{"raw":"line one\nline two"}`},
		{name: "JSON sent as text/plain is raw, not parsed", contentType: "text/plain", body: `{"a":1}`, want: `{"raw":"{\"a\":1}"}`},
		{name: "XML is raw", contentType: "application/xml", body: "<a>1</a>", want: `{"raw":"<a>1</a>"}`},
		{name: "text with a NUL byte is valid UTF-8 and stays raw", contentType: "text/plain", body: "a\x00b", want: `{"raw":"a\u0000b"}`},
		{name: "binary bytes are raw_base64", contentType: "application/octet-stream", body: "\x89PNG\r\n\x1a\n", want: `{"raw_base64":"iVBORw0KGgo="}`},
		{name: "invalid UTF-8 under a text type is raw_base64", contentType: "text/plain", body: "caf\xe9", want: `{"raw_base64":"Y2Fm6Q=="}`},
		{name: "an unparsable content type keeps the body raw", contentType: "this is not a media type/", body: "x", want: `{"raw":"x"}`},
		{name: "a JSON type with a broken parameter is still JSON", contentType: "application/json; charset", body: `{"a":1}`, want: `{"a":1}`},
		{name: "a form type with a broken parameter is still a form", contentType: `application/x-www-form-urlencoded; charset="utf-8`, body: "a=1", want: `{"a":"1"}`},

		// Empty bodies.
		{name: "an empty JSON body is an empty property set", contentType: "application/json", want: `{}`},
		{name: "an empty form body is an empty property set", contentType: "application/x-www-form-urlencoded", want: `{}`},
		{name: "an empty multipart body is an empty property set", contentType: "multipart/form-data; boundary=B", want: `{}`},
		{name: "an empty text body is an empty property set", contentType: "text/plain", want: `{}`},
		{name: "a JSON body of only whitespace is an empty property set", contentType: "application/json", body: " \r\n\t", want: `{}`},
		{name: "a text body of a no-break space is kept", contentType: "text/plain", body: "\u00a0", want: `{"raw":"\u00a0"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect.Parse(tt.query, tt.contentType, []byte(tt.body))
			if err != nil {
				t.Fatalf("Parse(%q, %q, %.60q) failed: %v", tt.query, tt.contentType, tt.body, err)
			}
			assertSameJSON(t, got, tt.want)
		})
	}
}

func TestParseRejects(t *testing.T) {
	const secret = "s3cr3t-payload"
	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		reason      string
		message     string // a part the message must contain
	}{
		{name: "invalid JSON names the byte where parsing failed", contentType: "application/json", body: `{"a": 1,}`, reason: "bad_json", message: "at byte 8"},
		{name: "truncated JSON names the end of the body", contentType: "application/json", body: `{"a": [1, 2`, reason: "bad_json", message: "at byte 11"},
		{name: "JSON with trailing data is rejected", contentType: "application/json", body: `{"a":1} {"b":2}`, reason: "bad_json", message: "at byte 8"},
		{name: "a +json type with invalid JSON is rejected", contentType: "application/problem+json", body: `{'a':1}`, reason: "bad_json", message: "at byte 1"},
		{name: "JSON with invalid UTF-8 in a string is rejected", contentType: "application/json; charset=utf-8", body: "{\"a\":\"caf\xe9\"}", reason: "bad_json", message: "at byte 9"},
		{name: "JSON with a raw control character in a string is rejected", contentType: "application/json", body: "[\"a\tb\"]", reason: "bad_json", message: "at byte 3"},
		{name: "a JSON body of a vertical tab is not whitespace", contentType: "application/json", body: "\v", reason: "bad_json", message: "at byte 0"},
		{name: "the error message does not echo the payload", contentType: "application/json", body: `{"token": "` + secret + `" oops}`, reason: "bad_json", message: "invalid JSON"},
		{name: "objects nested deeper than MaxDepth are rejected", contentType: "application/json", body: nestedObjects(collect.MaxDepth + 1), reason: "too_deep", message: fmt.Sprint(collect.MaxDepth)},
		{name: "arrays nested deeper than MaxDepth are rejected", contentType: "application/json", body: strings.Repeat("[", collect.MaxDepth+1) + strings.Repeat("]", collect.MaxDepth+1), reason: "too_deep", message: fmt.Sprint(collect.MaxDepth)},
		{name: "an object with more than MaxProperties members is rejected", contentType: "application/json", body: objectWithMembers(collect.MaxProperties + 1), reason: "too_many_properties", message: fmt.Sprint(collect.MaxProperties)},
		{name: "more than MaxProperties query parameters are rejected", query: queryWithKeys(collect.MaxProperties + 1), reason: "too_many_properties", message: fmt.Sprint(collect.MaxProperties)},
		{name: "query and body together over MaxProperties are rejected", query: "extra=1", contentType: "application/json", body: objectWithMembers(collect.MaxProperties), reason: "too_many_properties", message: fmt.Sprint(collect.MaxProperties)},
		{name: "more than MaxProperties form fields are rejected", contentType: "application/x-www-form-urlencoded", body: queryWithKeys(collect.MaxProperties + 1), reason: "too_many_properties", message: fmt.Sprint(collect.MaxProperties)},
		{name: "a bad escape in the query is rejected", query: "a=%zz", reason: "bad_query", message: "query"},
		{name: "a truncated escape in the query is rejected", query: "a=1&b=%4", reason: "bad_query", message: "query"},
		{name: "a semicolon separator in the query is rejected", query: "a=1;b=2", reason: "bad_query", message: "semicolon"},
		{name: "a bad escape in a form body is rejected", contentType: "application/x-www-form-urlencoded", body: "a=%g0", reason: "bad_form", message: "form"},
		{name: "multipart without a boundary is rejected", contentType: "multipart/form-data", body: "--x\r\n\r\n", reason: "bad_multipart", message: "boundary"},
		{name: "invalid JSON under a JSON type with a broken parameter is rejected", contentType: "application/json; charset", body: `{"a":`, reason: "bad_json", message: "at byte 5"},
		{name: "multipart with a broken boundary parameter is rejected", contentType: `multipart/form-data; boundary="B`, body: "--B--\r\n", reason: "bad_multipart", message: "boundary"},
		{name: "a multipart body without its boundary is rejected", contentType: "multipart/form-data; boundary=B", body: "just some text", reason: "bad_multipart", message: "multipart"},
		{name: "a truncated multipart body is rejected", contentType: "multipart/form-data; boundary=B", body: "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", reason: "bad_multipart", message: `"a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect.Parse(tt.query, tt.contentType, []byte(tt.body))
			if err == nil {
				t.Fatalf("Parse(%q, %q, %.60q) = %s, want an error with reason %s", tt.query, tt.contentType, tt.body, got, tt.reason)
			}
			if code := inlet.ErrorCode(err); code != inlet.EINVALID {
				t.Errorf("code = %q, want %q (err: %v)", code, inlet.EINVALID, err)
			}
			if reason := inlet.ErrorReason(err); reason != tt.reason {
				t.Errorf("reason = %q, want %q (err: %v)", reason, tt.reason, err)
			}
			msg := inlet.ErrorMessage(err)
			if !strings.Contains(msg, tt.message) {
				t.Errorf("message %q does not contain %q", msg, tt.message)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("message %q echoes the payload", msg)
			}
		})
	}
}

// assertSameJSON fails unless got is a JSON object equal to want, compared
// as values (key order and spacing do not matter, numbers keep their digits).
func assertSameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	if !json.Valid(got) {
		t.Fatalf("output is not valid JSON: %s", got)
	}
	if b := bytes.TrimLeft(got, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		t.Fatalf("output is not a JSON object: %s", got)
	}
	g, w := decodeJSON(t, got), decodeJSON(t, []byte(want))
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", abbreviate(got), abbreviate([]byte(want)))
	}
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", abbreviate(b), err)
	}
	return v
}

func abbreviate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func multipartBody(t *testing.T, fill func(w *multipart.Writer)) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fill(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

// nestedObjects returns depth objects nested in one another.
func nestedObjects(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
}

func objectWithMembers(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

func queryWithKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d=%d", i, i)
	}
	return strings.Join(keys, "&")
}

// FuzzParse checks that no query, content type and body makes Parse panic,
// that every success is a JSON object, and that every failure is a client
// error.
func FuzzParse(f *testing.F) {
	f.Add("a=1&b=2&b=3&c=", "", []byte(nil))
	f.Add("a=q", "application/json", []byte(`{"a":"body","n":[1,-0,1e5,null]}`))
	f.Add("", "application/json; charset=utf-8", []byte(`[1,"two"]`))
	f.Add("", "application/vnd.api+json", []byte(`"x"`))
	f.Add("x=%zz", "application/json", []byte(`{"a":1,}`))
	f.Add("", "application/x-www-form-urlencoded", []byte("a=1&a=2&b=%41"))
	f.Add("", "multipart/form-data; boundary=B", []byte("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nabc\r\n--B--\r\n"))
	f.Add("", "multipart/form-data", []byte("--B\r\n"))
	f.Add("", "", []byte(`{"a":{"b":[true]}}`))
	f.Add("", "", []byte("\x00\xff"))
	f.Add("", "text/plain", []byte("héllo"))
	f.Add("a;b", "image/png", []byte("\x89PNG"))
	f.Add("", "application/json", []byte(strings.Repeat("[", 70)))
	f.Fuzz(func(t *testing.T, query, contentType string, body []byte) {
		got, err := collect.Parse(query, contentType, body)
		if err != nil {
			if code := inlet.ErrorCode(err); code != inlet.EINVALID {
				t.Fatalf("Parse(%q, %q, %q) = %v: code %q, want %q", query, contentType, body, err, code, inlet.EINVALID)
			}
			return
		}
		var props map[string]json.RawMessage
		if !json.Valid(got) || json.Unmarshal(got, &props) != nil || props == nil {
			t.Fatalf("Parse(%q, %q, %q) = %q, not a JSON object", query, contentType, body, got)
		} else if !utf8.Valid(got) {
			t.Fatalf("Parse(%q, %q, %q) = %q, not UTF-8", query, contentType, body, got)
		}
	})
}
