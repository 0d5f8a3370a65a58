package jsonpath

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecode holds Decode and DecodeFloats to encoding/json on every value
// it reads, and to refusing what encoding/json refuses.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1,"b":[1,2.5e3,-0.5,"x",null,true,false,{}],"c":{"d":"\u00e9\n\"q\""}}`, ` {"a" : [ ] } `,
		`{"a":1,}`, `{"a"}`, `[1]`, `{"a":01}`, `{"a":"\x01"}`, `{"a":1}x`, `{"\ud800":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want any
		wantErr := json.Unmarshal(data, &want)
		got, err := DecodeFloats(data)
		if wantErr != nil {
			if err == nil {
				t.Fatalf("%q: decoded %v, encoding/json refuses it: %v", data, got, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v, encoding/json reads %v", data, err, want)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %#v, want %#v", data, got, want)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var wantNumbers any
		if err := dec.Decode(&wantNumbers); err != nil {
			t.Fatal(err)
		}
		if got, err := Decode(data); err != nil || !reflect.DeepEqual(got, wantNumbers) {
			t.Fatalf("%q: Decode gives %#v, %v; want %#v", data, got, err, wantNumbers)
		}
	})
}
