package main

import (
	"encoding/json"
	"strings"
	"testing"

	"inlet"
	"inlet/sample"
	"inlet/verify"
)

// presetCredentials returns, for the nth of two secrets, the flags that
// create a source of preset with it and the secret trigger signs with
// (Discord's source holds the public key, trigger the private one; a
// Basic preset takes a password).
func presetCredentials(preset string, n int) (create []string, secret string) {
	secret = []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_bm90IHRoZSBzYW1lIHNlY3JldA=="}[n]
	p, _ := inlet.LookupPreset(preset)
	switch p.Verify {
	case inlet.VerifyDiscord:
		secret = strings.Repeat([]string{"1f", "2e"}[n], 32)
		return []string{"--secret", verify.DiscordPublicKey(secret)}, secret
	case inlet.VerifySendGrid:
		return []string{"--secret", verify.SendGridPublicKey(secret)}, secret
	case inlet.VerifyAdyen:
		secret = strings.Repeat([]string{"4478", "c0ff"}[n], 16)
	case inlet.VerifyBasic:
		return []string{"--config", `{"verify":{"username":"hooks","password":"` + secret + `"}}`}, secret
	}
	return []string{"--secret", secret}, secret
}

// latestEvent returns the newest event of a source.
func latestEvent(t *testing.T, conn []string, source string) inlet.Event {
	t.Helper()
	var page inlet.EventPage
	decodeOutput(t, mustRunInlet(t, append([]string{"events", "list", "--source", source, "--limit", "1", "--json"}, conn...)...), &page)
	if len(page.Items) != 1 {
		t.Fatalf("source %s has no event", source)
	}
	return *page.Items[0]
}

func TestTrigger(t *testing.T) {
	isolateCLIEnv(t)
	s := startLive(t, liveConfig(t))
	conn := []string{"--server", s.url, "--admin-token", s.token}
	byPreset := map[string][]string{}
	for _, e := range sample.List() {
		byPreset[e.Sender] = append(byPreset[e.Sender], e.Type)
	}
	if n := len(inlet.PresetNames()); n < 30 {
		t.Errorf("%d presets, want at least 30", n)
	}
	for _, preset := range inlet.PresetNames() {
		t.Run(preset+" has at least five samples, each accepted by a source of its preset with its type", func(t *testing.T) {
			types := byPreset[preset]
			if len(types) < 5 {
				t.Fatalf("%s has %d samples (%v), want at least 5", preset, len(types), types)
			}
			id := "t-" + preset
			create, secret := presetCredentials(preset, 0)
			mustRunInlet(t, append(append([]string{"sources", "create", "--name", preset, "--id", id, "--preset", preset}, create...), conn...)...)
			for _, typ := range types {
				out := mustRunInlet(t, append([]string{"trigger", preset, typ, "--source", id, "--secret", secret}, conn...)...)
				if !strings.HasPrefix(out, "sent "+preset+" "+typ+" to "+id+": 2") {
					t.Errorf("trigger %s %s printed %q; want that it was sent and answered 2xx", preset, typ, out)
				}
				if e := latestEvent(t, conn, id); e.Type != sample.EventType(typ) {
					t.Errorf("the sample %s %s was stored with the type %q, want %q", preset, typ, e.Type, sample.EventType(typ))
				}
			}
		})
		t.Run(preset+" samples are refused by a source with another secret", func(t *testing.T) {
			id := "wrong-" + preset
			create, _ := presetCredentials(preset, 1)
			_, secret := presetCredentials(preset, 0)
			mustRunInlet(t, append(append([]string{"sources", "create", "--name", preset, "--id", id, "--preset", preset}, create...), conn...)...)
			_, stderr, err := runInlet(t, append([]string{"trigger", preset, byPreset[preset][0], "--source", id, "--secret", secret}, conn...)...)
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
