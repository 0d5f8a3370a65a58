package verify_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-github/v72/github"
	"github.com/slack-go/slack"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v82/webhook"
	"github.com/twilio/twilio-go/client"

	"inlet"
	"inlet/verify"
)

// signed returns r with the headers of sig set.
func signed(r verify.Request, sig verify.Signature) verify.Request {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, v := range sig.Header {
		h[k] = v
	}
	r.Header = h
	if sig.QueryName != "" {
		r.RawQuery = url.Values{sig.QueryName: {sig.QueryValue}}.Encode()
	}
	return r
}

func TestSignIsVerified(t *testing.T) {
	form := []byte("CallSid=CA1&From=%2B14158675310&To=%2B18005551212")
	json := []byte(`{"type":"invoice.paid","id":"evt_1"}`)
	cases := []struct {
		cfg  inlet.VerifyConfig
		body []byte
	}{
		{inlet.VerifyConfig{Type: "github", Secret: "s3cret"}, json},
		{inlet.VerifyConfig{Type: "stripe", Secret: "whsec_test"}, json},
		{inlet.VerifyConfig{Type: "shopify", Secret: "shpss"}, json},
		{inlet.VerifyConfig{Type: "standard-webhooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, json},
		{inlet.VerifyConfig{Type: "slack", Secret: "8f742231b10e8888abcd99yyyzzz85a5"}, json},
		{inlet.VerifyConfig{Type: "twilio", Secret: "12345"}, form},
		{inlet.VerifyConfig{Type: "hmac", Secret: "k", Header: "X-Sig", Algorithm: "sha512", Encoding: "base64", Prefix: "v1="}, json},
		{inlet.VerifyConfig{Type: "basic", Username: "u", Password: "p"}, json},
		{inlet.VerifyConfig{Type: "api-key", Secret: "key", In: "query"}, json},
		{inlet.VerifyConfig{Type: "api-key", Secret: "key"}, json},
	}
	for _, tc := range cases {
		t.Run(tc.cfg.Type+" "+tc.cfg.In, func(t *testing.T) {
			r := verify.Request{Body: tc.body, URL: "https://example.com/collect/sms/tw", Now: time.Now()}
			sig, err := verify.Sign(&tc.cfg, r)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := verify.Verify(&tc.cfg, signed(r, sig)); err != nil {
				t.Errorf("a request Sign signed is refused: %v", err)
			}
			other := tc.cfg
			other.Secret, other.Password = "another-secret", "another"
			if other.Type == "standard-webhooks" {
				other.Secret = "whsec_bm90IHRoZSBzYW1lIHNlY3JldA=="
			}
			if err := verify.Verify(&other, signed(r, sig)); err == nil {
				t.Errorf("a request signed with one secret passes a source with another")
			}
		})
	}
}

// TestSignMatchesSendersLibraries checks Sign against the senders' own
// libraries: what Sign signs, the library accepts.
func TestSignMatchesSendersLibraries(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"invoice.paid"}`)
	now := time.Now()
	req := verify.Request{Body: body, Now: now}
	sign := func(cfg inlet.VerifyConfig, r verify.Request) http.Header {
		t.Helper()
		sig, err := verify.Sign(&cfg, r)
		if err != nil {
			t.Fatalf("Sign(%s): %v", cfg.Type, err)
		}
		return sig.Header
	}
	t.Run("stripe-go validates a Stripe signature", func(t *testing.T) {
		h := sign(inlet.VerifyConfig{Type: "stripe", Secret: "whsec_abc"}, req)
		if err := webhook.ValidatePayload(body, h.Get("Stripe-Signature"), "whsec_abc"); err != nil {
			t.Error(err)
		}
	})
	t.Run("go-github validates a GitHub signature", func(t *testing.T) {
		h := sign(inlet.VerifyConfig{Type: "github", Secret: "s3cret"}, req)
		if err := github.ValidateSignature(h.Get("X-Hub-Signature-256"), body, []byte("s3cret")); err != nil {
			t.Error(err)
		}
	})
	t.Run("the Standard Webhooks library verifies a signature", func(t *testing.T) {
		const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		h := sign(inlet.VerifyConfig{Type: "standard-webhooks", Secret: secret}, req)
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Error(err)
		}
	})
	t.Run("slack-go verifies a Slack signature", func(t *testing.T) {
		const secret = "8f742231b10e8888abcd99yyyzzz85a5"
		h := sign(inlet.VerifyConfig{Type: "slack", Secret: secret}, req)
		sv, err := slack.NewSecretsVerifier(h, secret)
		if err != nil {
			t.Fatal(err)
		}
		sv.Write(body)
		if err := sv.Ensure(); err != nil {
			t.Error(err)
		}
	})
	t.Run("twilio-go validates a Twilio signature", func(t *testing.T) {
		const u = "https://example.com/collect/sms/tw?x=1"
		form := url.Values{"CallSid": {"CA1"}, "Body": {"hello"}}
		h := sign(inlet.VerifyConfig{Type: "twilio", Secret: "12345"}, verify.Request{Body: []byte(form.Encode()), URL: u, Now: now})
		params := map[string]string{}
		for k := range form {
			params[k] = form.Get(k)
		}
		validator := client.NewRequestValidator("12345")
		if !validator.Validate(u, params, h.Get("X-Twilio-Signature")) {
			t.Error("twilio-go refuses the signature")
		}
	})
}
