package collect_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"inlet"
	"inlet/collect"
)

// Build encodes each event's request context in the handler
// (Intake.ContextJSON), and the stores write it as given: it must be
// exactly the encoding of Event.Context, for a plain event and for the
// events of a split array alike.
func TestBuildEncodesTheRequestContext(t *testing.T) {
	for _, c := range []struct {
		name   string
		config string
		body   string
		events int
	}{
		{"plain", `{}`, `{"a":1}`, 1},
		{"a secret header and a mapping", `{"secret_headers":["X-Token"],"event_type_path":"kind"}`, `{"kind":"Order Paid","a":"\u0000<>&"}`, 1},
		{"split array", `{"split_array":true}`, `[{"a":1},{"a":2},{"a":3}]`, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var config inlet.SourceConfig
			if err := json.Unmarshal([]byte(c.config), &config); err != nil {
				t.Fatal(err)
			}
			if err := config.Validate(); err != nil {
				t.Fatal(err)
			}
			src := &inlet.Source{ID: "shop", Name: "Shop", Enabled: true, Config: config}
			built, err := collect.Build(src, collect.Request{
				Method: "POST", EventType: "purchase", Body: []byte(c.body), RawQuery: "utm=<x>&page=2",
				Header: map[string][]string{"Content-Type": {"application/json"}, "X-Shop": {"café \"1\""}, "X-Token": {"secret"}, "User-Agent": {"test/1"}},
				IP:     "192.0.2.7", Now: time.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(built.Intakes) != c.events {
				t.Fatalf("%d events, want %d", len(built.Intakes), c.events)
			}
			for i, in := range built.Intakes {
				want, err := json.Marshal(&in.Event.Context)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(in.ContextJSON, want) {
					t.Errorf("event %d: ContextJSON %s, want the encoding of its context %s", i, in.ContextJSON, want)
				}
			}
		})
	}
}
