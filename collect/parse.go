// Package collect turns what a webhook sender sends (a query string, a
// content type and a body) into the properties of an event.
//
// The rules, which docs/collecting.md documents for senders:
//   - Query parameters: a key given once is a string, a repeated key a list
//     of strings in order, an empty value "".
//   - The body's properties are merged over the query parameters; body keys win.
//   - application/json and any +json type (any charset, any case): a JSON
//     object is the properties; an array becomes {"items": [...]}; any other
//     value (string, number, true, false, null) becomes {"value": ...}.
//   - application/x-www-form-urlencoded: the same rules as the query string.
//   - multipart/form-data: fields as the query string; a file part becomes
//     {"name", "filename", "content_type", "size", "sha256"}, never its bytes.
//   - No content type: JSON when the body parses as JSON, otherwise as below.
//   - Anything else: valid UTF-8 text as {"raw": "..."}, other bytes as
//     {"raw_base64": "..."}.
//   - An empty body, or one of only spaces, tabs and line breaks, adds nothing.
package collect

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"unicode/utf8"

	"inlet"
	"inlet/jsonlimit"
)

// Limits on the shape of properties.
const (
	MaxDepth      = jsonlimit.BodyDepth // nesting of JSON objects and arrays
	MaxProperties = 1000                // top-level keys, and fields of a form
	maxParts      = 1000                // parts of a multipart body
)

// Parse returns the properties (a JSON object) of a request with the given
// raw query string, Content-Type header and body. Errors are EINVALID with
// a reason: bad_query, bad_json, bad_form or bad_multipart.
func Parse(rawQuery, contentType string, body []byte) (json.RawMessage, error) {
	var props map[string]any
	if rawQuery != "" {
		values, err := url.ParseQuery(rawQuery)
		if err != nil {
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_query", "query string cannot be parsed: %s", err)
		}
		if len(values) > MaxProperties {
			return nil, inlet.Reasonf(inlet.EINVALID, "too_many_properties", "more than %d query parameters", MaxProperties)
		}
		props = valuesToProperties(values)
	}

	bodyProps, err := parseBody(contentType, body)
	if err != nil {
		return nil, err
	}
	if props == nil {
		if bodyProps == nil {
			return json.RawMessage("{}"), nil
		}
		return bodyProps, nil
	}
	if bodyProps != nil {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(bodyProps, &members); err != nil {
			return nil, fmt.Errorf("collect: re-reading a checked object: %w", err)
		}
		for k, v := range members {
			props[k] = v
		}
		if len(props) > MaxProperties {
			return nil, inlet.Reasonf(inlet.EINVALID, "too_many_properties", "more than %d properties", MaxProperties)
		}
	}
	return json.Marshal(props)
}

// parseBody returns the body's properties as a JSON object, or nil for an
// empty body. Only JSON's own whitespace counts as empty: other space
// characters are content, kept raw or rejected as JSON.
func parseBody(contentType string, body []byte) (json.RawMessage, error) {
	if len(bytes.Trim(body, jsonSpace)) == 0 {
		return nil, nil
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		if checkJSON(body) == nil {
			return jsonProperties(body), nil
		}
		return rawProperties(body), nil
	} else if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		// A broken parameter still names the media type; only a broken
		// media type leaves the body without a known format.
		return rawProperties(body), nil
	}

	switch {
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		if err := checkJSON(body); err != nil {
			return nil, err
		}
		return jsonProperties(body), nil
	case mediaType == "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_form", "form body cannot be parsed: %s", err)
		}
		if len(values) > MaxProperties {
			return nil, inlet.Reasonf(inlet.EINVALID, "too_many_properties", "more than %d form fields", MaxProperties)
		}
		return json.Marshal(valuesToProperties(values))
	case mediaType == "multipart/form-data":
		return parseMultipart(params["boundary"], body)
	default:
		return rawProperties(body), nil
	}
}

// jsonSpace is the whitespace JSON allows around a value.
const jsonSpace = " \t\r\n"

// jsonProperties wraps a checked JSON value that is not an object.
func jsonProperties(body []byte) json.RawMessage {
	body = bytes.Trim(body, jsonSpace)
	switch body[0] {
	case '{':
		return body
	case '[':
		return wrap("items", body)
	default:
		return wrap("value", body)
	}
}

func wrap(key string, value []byte) json.RawMessage {
	out := make([]byte, 0, len(key)+len(value)+5)
	out = append(out, `{"`...)
	out = append(out, key...)
	out = append(out, `":`...)
	out = append(out, value...)
	return append(out, '}')
}

func rawProperties(body []byte) json.RawMessage {
	if utf8.Valid(body) {
		b, _ := json.Marshal(map[string]string{"raw": string(body)})
		return b
	}
	b, _ := json.Marshal(map[string]string{"raw_base64": base64.StdEncoding.EncodeToString(body)})
	return b
}

func valuesToProperties(values url.Values) map[string]any {
	props := make(map[string]any, len(values))
	for k, vs := range values {
		if len(vs) == 1 {
			props[k] = vs[0]
		} else {
			props[k] = vs
		}
	}
	return props
}

// File is what a multipart file part is recorded as.
type File struct {
	Name        string `json:"name"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

func parseMultipart(boundary string, body []byte) (json.RawMessage, error) {
	if boundary == "" {
		return nil, inlet.Reasonf(inlet.EINVALID, "bad_multipart", "multipart/form-data needs a boundary parameter in Content-Type")
	}
	fields := make(map[string][]any)
	var order []string
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for n := 0; ; n++ {
		part, err := r.NextPart()
		// Only a bare io.EOF is the closing boundary: NextPart wraps io.EOF
		// when the body ends without one, which is a broken body.
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, inlet.Reasonf(inlet.EINVALID, "bad_multipart", "multipart body cannot be parsed: %s", err)
		} else if n >= maxParts {
			return nil, inlet.Reasonf(inlet.EINVALID, "too_many_properties", "more than %d multipart parts", maxParts)
		}
		name := part.FormName()
		var value any
		if filename := part.FileName(); filename != "" {
			h := sha256.New()
			size, err := io.Copy(h, part)
			if err != nil {
				return nil, inlet.Reasonf(inlet.EINVALID, "bad_multipart", "multipart file part %q cannot be read: %s", name, err)
			}
			value = File{Name: name, Filename: filename, ContentType: part.Header.Get("Content-Type"), Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
		} else {
			b, err := io.ReadAll(part)
			if err != nil {
				return nil, inlet.Reasonf(inlet.EINVALID, "bad_multipart", "multipart field %q cannot be read: %s", name, err)
			}
			if utf8.Valid(b) {
				value = string(b)
			} else {
				value = map[string]string{"raw_base64": base64.StdEncoding.EncodeToString(b)}
			}
		}
		if _, ok := fields[name]; !ok {
			order = append(order, name)
		}
		fields[name] = append(fields[name], value)
	}
	if len(order) > MaxProperties {
		return nil, inlet.Reasonf(inlet.EINVALID, "too_many_properties", "more than %d form fields", MaxProperties)
	}
	props := make(map[string]any, len(fields))
	for _, name := range order {
		if vs := fields[name]; len(vs) == 1 {
			props[name] = vs[0]
		} else {
			props[name] = vs
		}
	}
	return json.Marshal(props)
}
