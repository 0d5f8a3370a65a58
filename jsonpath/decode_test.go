package jsonpath

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"inlet/jsonlimit/corpus"
)

// FuzzDecode holds Decode and DecodeFloats to encoding/json on every value
// it reads, and to refusing what encoding/json refuses.
func FuzzDecode(f *testing.F) {
	for _, in := range corpus.Inputs() {
		f.Add(in)
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
