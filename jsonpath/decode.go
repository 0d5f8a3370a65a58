package jsonpath

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	"inlet/jsonlimit"
)

// Decode decodes JSON properties for Lookup, keeping numbers as
// json.Number so that their text is not changed by a float: the values
// encoding/json makes with UseNumber and an any target (map[string]any,
// []any, string, json.Number, bool, nil), and the form
// santhosh-tekuri/jsonschema validates. It does without encoding/json's
// reflection, since properties are decoded for every event that a mapping,
// transform or schema reads. Text that is not one JSON value, or that nests
// deeper than jsonlimit.DecodeDepth, is an error. It is one of three
// scanners of event JSON; package jsonlimit says why.
func Decode(raw []byte) (any, error) {
	return decode(raw, false)
}

// DecodeFloats is Decode with numbers as float64, as encoding/json decodes
// them into any: the form CEL takes.
func DecodeFloats(raw []byte) (any, error) {
	return decode(raw, true)
}

func decode(data []byte, floats bool) (any, error) {
	d := decoder{data: data, floats: floats}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.space(); d.i != len(d.data) {
		return nil, errSyntax
	}
	return v, nil
}

var errSyntax = errors.New("the properties are not valid JSON")

type decoder struct {
	data   []byte
	i      int
	floats bool // numbers as float64, not json.Number
}

func (d *decoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if depth >= jsonlimit.DecodeDepth {
		return nil, errSyntax
	}
	d.space()
	if d.i >= len(d.data) {
		return nil, errSyntax
	}
	switch c := d.data[d.i]; c {
	case '{':
		d.i++
		m := map[string]any{}
		for first := true; ; first = false {
			d.space()
			if d.i < len(d.data) && d.data[d.i] == '}' && first {
				d.i++
				return m, nil
			}
			if d.i >= len(d.data) || d.data[d.i] != '"' {
				return nil, errSyntax
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if d.space(); d.i >= len(d.data) || d.data[d.i] != ':' {
				return nil, errSyntax
			}
			d.i++
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			if d.space(); d.i < len(d.data) && d.data[d.i] == ',' {
				d.i++
				continue
			} else if d.i < len(d.data) && d.data[d.i] == '}' {
				d.i++
				return m, nil
			}
			return nil, errSyntax
		}
	case '[':
		d.i++
		a := []any{}
		for first := true; ; first = false {
			d.space()
			if d.i < len(d.data) && d.data[d.i] == ']' && first {
				d.i++
				return a, nil
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			if d.space(); d.i < len(d.data) && d.data[d.i] == ',' {
				d.i++
				continue
			} else if d.i < len(d.data) && d.data[d.i] == ']' {
				d.i++
				return a, nil
			}
			return nil, errSyntax
		}
	case '"':
		return d.str()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	start := d.i
	if !d.number() {
		return nil, errSyntax
	}
	if !d.floats {
		return json.Number(d.data[start:d.i]), nil
	}
	f, err := strconv.ParseFloat(string(d.data[start:d.i]), 64)
	if err != nil {
		return nil, errSyntax
	}
	return f, nil
}

// number reads a number as JSON's grammar has it:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *decoder) number() bool {
	digits := func() int {
		n := 0
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.data) && d.data[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.data) && d.data[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return false
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

func (d *decoder) literal(word string) error {
	if len(d.data)-d.i < len(word) || string(d.data[d.i:d.i+len(word)]) != word {
		return errSyntax
	}
	d.i += len(word)
	return nil
}

// str decodes a string at '"': its bytes when it has no escape and is
// valid UTF-8, else as encoding/json reads it.
func (d *decoder) str() (string, error) {
	start := d.i + 1
	escaped := false
	for j := start; j < len(d.data); j++ {
		switch c := d.data[j]; {
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return "", errSyntax
		case c == '"':
			d.i = j + 1
			if !escaped && utf8.Valid(d.data[start:j]) {
				return string(d.data[start:j]), nil
			}
			var s string
			if err := json.Unmarshal(d.data[start-1:j+1], &s); err != nil {
				return "", errSyntax
			}
			return s, nil
		}
	}
	return "", errSyntax
}
