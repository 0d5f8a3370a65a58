package transform

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeObject holds decodeObject to encoding/json on every object it
// reads, and to refusing what encoding/json refuses.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1,"b":[1,2.5e3,-0.5,"x",null,true,false,{}],"c":{"d":"\u00e9\n\"q\""}}`, ` {"a" : [ ] } `,
		`{"a":1,}`, `{"a"}`, `[1]`, `{"a":01}`, `{"a":"\x01"}`, `{"a":1}x`, `{"\ud800":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want any
		wantErr := json.Unmarshal(data, &want)
		got, err := decodeObject(data)
		if _, isObject := want.(map[string]any); wantErr != nil || !isObject {
			if err == nil && wantErr != nil {
				t.Fatalf("%q: decoded %v, encoding/json refuses it: %v", data, got, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v, encoding/json reads %v", data, err, want)
		}
		if !reflect.DeepEqual(any(got), want) {
			t.Fatalf("%q: got %#v, want %#v", data, got, want)
		}
	})
}
