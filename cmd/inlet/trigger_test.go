package main

import (
	"encoding/json"
	"strings"
	"testing"

	"inlet"
	"inlet/sample"
)

// presetSecret is a signing secret each preset takes (Standard Webhooks
// wants whsec_ and base64).
func presetSecret(n int) string {
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_bm90IHRoZSBzYW1lIHNlY3JldA=="}
	return secrets[n]
}

func TestTrigger(t *testing.T) {
	isolateCLIEnv(t)
	s := startLive(t, liveConfig(t))
	conn := []string{"--server", s.url, "--admin-token", s.token}
	byPreset := map[string][]string{}
	for _, e := range sample.List() {
		byPreset[e.Sender] = append(byPreset[e.Sender], e.Type)
	}
	for _, preset := range inlet.PresetNames() {
		t.Run(preset+" has at least five samples, each accepted by a source of its preset with its type", func(t *testing.T) {
			types := byPreset[preset]
			if len(types) < 5 {
				t.Fatalf("%s has %d samples (%v), want at least 5", preset, len(types), types)
			}
			id := "t-" + preset
			mustRunInlet(t, append([]string{"sources", "create", "--name", preset, "--id", id, "--preset", preset, "--secret", presetSecret(0)}, conn...)...)
			for _, typ := range types {
				out := mustRunInlet(t, append([]string{"trigger", preset, typ, "--source", id, "--secret", presetSecret(0), "--json"}, conn...)...)
				var answer struct {
					Events    []string `json:"events"`
					Duplicate bool     `json:"duplicate"`
				}
				if err := json.Unmarshal([]byte(out), &answer); err != nil || len(answer.Events) != 1 || answer.Duplicate {
					t.Fatalf("trigger %s %s answered %q (%v); want one new event", preset, typ, out, err)
				}
				var e inlet.Event
				decodeOutput(t, mustRunInlet(t, append([]string{"events", "get", answer.Events[0], "--json"}, conn...)...), &e)
				if e.Type != typ {
					t.Errorf("the sample %s %s was stored with the type %q", preset, typ, e.Type)
				}
			}
			// Sent again, a sample has fresh ids: not a duplicate.
			out := mustRunInlet(t, append([]string{"trigger", preset, types[0], "--source", id, "--secret", presetSecret(0), "--json"}, conn...)...)
			if strings.Contains(out, `"duplicate":true`) {
				t.Errorf("a second sample of %s %s is a duplicate: %s", preset, types[0], out)
			}
		})
		t.Run(preset+" samples are refused by a source with another secret", func(t *testing.T) {
			id := "wrong-" + preset
			mustRunInlet(t, append([]string{"sources", "create", "--name", preset, "--id", id, "--preset", preset, "--secret", presetSecret(1)}, conn...)...)
			_, stderr, err := runInlet(t, append([]string{"trigger", preset, byPreset[preset][0], "--source", id, "--secret", presetSecret(0)}, conn...)...)
			if err == nil || !strings.Contains(stderr, "401") {
				t.Errorf("trigger with the wrong secret: %v %s; want the collector's 401", err, stderr)
			}
		})
	}

	t.Run("--set changes a field of the body", func(t *testing.T) {
		mustRunInlet(t, append([]string{"sources", "create", "--name", "s", "--id", "set-stripe", "--preset", "stripe", "--secret", "whsec_x"}, conn...)...)
		out := mustRunInlet(t, append([]string{"trigger", "stripe", "invoice.paid", "--source", "set-stripe", "--secret", "whsec_x", "--json",
			"--set", "data.object.amount_paid=5000", "--set", "data.object.customer_email=grace@example.com"}, conn...)...)
		var answer struct{ Events []string }
		json.Unmarshal([]byte(out), &answer)
		var e inlet.Event
		decodeOutput(t, mustRunInlet(t, append([]string{"events", "get", answer.Events[0], "--json"}, conn...)...), &e)
		var props struct {
			Data struct {
				Object struct {
					AmountPaid    json.Number `json:"amount_paid"`
					CustomerEmail string      `json:"customer_email"`
				}
			}
		}
		json.Unmarshal(e.Properties, &props)
		if o := props.Data.Object; o.AmountPaid != "5000" || o.CustomerEmail != "grace@example.com" {
			t.Errorf("properties %s; want the values --set gave", e.Properties)
		}
	})

	t.Run("--list shows every sender's samples without a server", func(t *testing.T) {
		out := mustRunInlet(t, "trigger", "--list", "--server", "127.0.0.1:1")
		for _, preset := range inlet.PresetNames() {
			if !strings.Contains(out, preset+" ") {
				t.Errorf("--list does not show %s: %s", preset, out)
			}
		}
	})

	t.Run("an unknown type names the sender's samples", func(t *testing.T) {
		_, stderr, err := runInlet(t, append([]string{"trigger", "stripe", "invoice.nope", "--source", "set-stripe", "--secret", "x"}, conn...)...)
		if err == nil || !strings.Contains(stderr, "invoice.paid") {
			t.Errorf("an unknown type: %v %s", err, stderr)
		}
	})
}
