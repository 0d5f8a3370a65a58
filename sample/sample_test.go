package sample_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/collect"
	"inlet/sample"
	"inlet/verify"
)

// presetSource returns a source of preset whose secret is secret, and the
// secret its requests are signed with.
func presetSource(preset, secret string) (*inlet.Source, string) {
	p, _ := inlet.LookupPreset(preset)
	v := &inlet.VerifyConfig{Secret: secret}
	signWith := secret
	switch p.Verify {
	case inlet.VerifyDiscord:
		v.Secret = verify.DiscordPublicKey(secret)
	case inlet.VerifySendGrid:
		v.Secret = verify.SendGridPublicKey(secret)
	case inlet.VerifyBasic:
		v = &inlet.VerifyConfig{Username: "hooks", Password: secret}
	}
	return &inlet.Source{ID: "src", Name: preset, Type: inlet.SourceTypeWebhook, Enabled: true, Config: inlet.SourceConfig{Preset: preset, Verify: v}}, signWith
}

// secretFor returns the nth of two secrets a preset takes.
func secretFor(preset string, n int) string {
	if p, _ := inlet.LookupPreset(preset); p.Verify == inlet.VerifyAdyen {
		return []string{"44782def547aaa06c910c43932b1eb0c", "c0ffee00c0ffee00c0ffee00c0ffee00"}[n]
	}
	return []string{"whsec_czNjcmV0LW9uZQ==", "whsec_czNjcmV0LXR3bw=="}[n]
}

// TestEverySampleTakesItsPresetsPath signs every sample as its sender
// does, then checks that a source of its preset verifies it, refuses it
// under another secret, and stores it with the sample's type and, where
// the preset names one, an idempotency key that a retry repeats.
func TestEverySampleTakesItsPresetsPath(t *testing.T) {
	const u = "https://collector.example.com/collect/x/src"
	now := time.Now()
	for _, e := range sample.List() {
		t.Run(e.Sender+" "+e.Type, func(t *testing.T) {
			src, secret := presetSource(e.Sender, secretFor(e.Sender, 0))
			if err := src.Validate(); err != nil {
				t.Fatalf("a source of the preset is invalid: %v", err)
			}
			cfg := src.Config.Effective()
			v := *cfg.Verify
			v.Secret, v.Password = secret, secret
			signedSample := func() (http.Header, []byte) {
				t.Helper()
				req, err := sample.Build(e.Sender, e.Type, nil, now)
				if err != nil {
					t.Fatal(err)
				}
				body, err := verify.SignBody(&v, req.Body, now)
				if err != nil {
					t.Fatal(err)
				}
				sig, err := verify.Sign(&v, verify.Request{Header: req.Header, Body: body, URL: u, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				h := req.Header.Clone()
				for k, vals := range sig.Header {
					h[k] = vals
				}
				return h, body
			}
			h, body := signedSample()
			if err := verify.Verify(cfg.Verify, verify.Request{Header: h, Body: body, URL: u, Now: now}); err != nil {
				t.Fatalf("the signed sample is refused by a source of its preset: %v", err)
			}
			other, _ := presetSource(e.Sender, secretFor(e.Sender, 1))
			otherCfg := other.Config.Effective()
			if err := verify.Verify(otherCfg.Verify, verify.Request{Header: h, Body: body, URL: u, Now: now}); inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
				t.Errorf("a source with another secret: %v, want refused", err)
			}
			build := func(h http.Header, body []byte) inlet.Intake {
				t.Helper()
				built, err := collect.Build(src, collect.Request{Method: http.MethodPost, EventType: e.EventType(), Header: h, Body: body, Now: now})
				if err != nil || len(built.Intakes) != 1 {
					t.Fatalf("Build: %v, %d events", err, len(built.Intakes))
				}
				return built.Intakes[0]
			}
			in := build(h, body)
			if in.Event.Type != e.EventType() {
				t.Errorf("type %q, want %q", in.Event.Type, e.EventType())
			}
			if len(in.Event.Warnings) > 0 {
				t.Errorf("warnings %v", in.Event.Warnings)
			}
			p, _ := inlet.LookupPreset(e.Sender)
			hasDedup := len(p.DedupHeaders) > 0 || p.DedupPath != ""
			if (in.DedupKey != "") != hasDedup {
				t.Errorf("dedup key %q; the preset names one: %v", in.DedupKey, hasDedup)
			}
			if again := build(h, body); again.DedupKey != in.DedupKey {
				t.Errorf("a retry has the dedup key %q, the first %q", again.DedupKey, in.DedupKey)
			}
			if next := build(signedSample()); hasDedup && next.DedupKey == in.DedupKey {
				t.Errorf("two samples have the dedup key %q; a second trigger would be a duplicate", in.DedupKey)
			}
		})
	}
}

func TestSetChangesTheBody(t *testing.T) {
	req, err := sample.Build("stripe", "invoice.paid", []string{"data.object.amount_paid=5000", "data.object.note=hello", "livemode=true"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"amount_paid":5000`, `"note":"hello"`, `"livemode":true`} {
		if !strings.Contains(string(req.Body), want) {
			t.Errorf("body %s lacks %s", req.Body, want)
		}
	}
	if _, err := sample.Build("stripe", "invoice.paid", []string{"type.x=1"}, time.Now()); inlet.ErrorCode(err) != inlet.EINVALID {
		t.Errorf("setting under a string: %v, want EINVALID", err)
	}
}
