package verify_test

// Each sender's verifier is checked against the sender's own library: a
// request the library signs (or, where the library only verifies, one the
// library accepts) passes, and the same request tampered with fails both.

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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

func check(cfg *inlet.VerifyConfig, r verify.Request) error {
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	return verify.Verify(cfg, r)
}

// agree fails the test unless the library and the verifier both accept, or
// both refuse, the request.
func agree(t *testing.T, what string, libraryErr, ourErr error, wantPass bool) {
	t.Helper()
	if (libraryErr == nil) != wantPass {
		t.Errorf("%s: the sender's library says %v, the test expected pass=%v", what, libraryErr, wantPass)
	}
	if (ourErr == nil) != wantPass {
		t.Errorf("%s: verify says %v, the sender's library says %v", what, ourErr, libraryErr)
	}
}

func TestSlack(t *testing.T) {
	// The example of Slack's "Verifying requests from Slack" page.
	const (
		docSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
		docTimestamp = "1531420618"
		docBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
		docSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	)
	docNow := time.Unix(1531420618, 0)
	if got := "v0=" + hexMAC(sha256.New, docSecret, "v0:"+docTimestamp+":"+docBody); got != docSignature {
		t.Fatalf("the test's own HMAC %s differs from Slack's published example", got)
	}
	secret := "slack-signing-secret"
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := `{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}`
	good := "v0=" + hexMAC(sha256.New, secret, "v0:"+ts+":"+body)
	runCases(t, &inlet.VerifyConfig{Type: "slack", Secret: docSecret}, []verifyCase{
		{name: "the documented example passes", header: headers("X-Slack-Signature", docSignature, "X-Slack-Request-Timestamp", docTimestamp), body: docBody, now: docNow},
	})
	runCases(t, &inlet.VerifyConfig{Type: "slack", Secret: secret}, []verifyCase{
		{name: "a signed body passes", header: headers("X-Slack-Signature", good, "X-Slack-Request-Timestamp", ts), body: body, now: now},
		{name: "a changed body fails", header: headers("X-Slack-Signature", good, "X-Slack-Request-Timestamp", ts), body: body + " ", now: now, reason: "bad_signature"},
		{name: "a signature made for another timestamp fails", header: headers("X-Slack-Signature", good, "X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix()+1, 10)), body: body, now: now, reason: "bad_signature"},
		{name: "a timestamp 6 minutes old fails", header: headers("X-Slack-Signature", good, "X-Slack-Request-Timestamp", ts), body: body, now: now.Add(6 * time.Minute), reason: "timestamp_out_of_tolerance"},
		{name: "a signature without v0= fails", header: headers("X-Slack-Signature", good[3:], "X-Slack-Request-Timestamp", ts), body: body, now: now, reason: "bad_signature"},
		{name: "a timestamp that is not a number fails", header: headers("X-Slack-Signature", good, "X-Slack-Request-Timestamp", "now"), body: body, now: now, reason: "bad_signature"},
		{name: "a request without the timestamp fails", header: headers("X-Slack-Signature", good), body: body, now: now, reason: "missing_signature"},
		{name: "a request without the signature fails", header: headers("X-Slack-Request-Timestamp", ts), body: body, now: now, reason: "missing_signature"},
	})

	t.Run("slack-go's SecretsVerifier agrees", func(t *testing.T) {
		// slack-go checks against the real clock.
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		h := headers("X-Slack-Signature", "v0="+hexMAC(sha256.New, secret, "v0:"+ts+":"+body), "X-Slack-Request-Timestamp", ts)
		library := func(body string) error {
			sv, err := slack.NewSecretsVerifier(h, secret)
			if err != nil {
				return err
			}
			sv.Write([]byte(body))
			return sv.Ensure()
		}
		cfg := &inlet.VerifyConfig{Type: "slack", Secret: secret}
		agree(t, "the signed body", library(body), check(cfg, verify.Request{Header: h, Body: []byte(body)}), true)
		tampered := `{"type":"event_callback","event_id":"Ev2","event":{"type":"app_mention"}}`
		agree(t, "a tampered body", library(tampered), check(cfg, verify.Request{Header: h, Body: []byte(tampered)}), false)
		other := &inlet.VerifyConfig{Type: "slack", Secret: "another"}
		sv, err := slack.NewSecretsVerifier(h, "another")
		if err == nil {
			sv.Write([]byte(body))
			err = sv.Ensure()
		}
		agree(t, "another secret", err, check(other, verify.Request{Header: h, Body: []byte(body)}), false)
	})
}

// twilioSign signs a form the way Twilio's documentation describes it.
func twilioSign(token, fullURL string, form url.Values) string {
	msg := fullURL
	for _, k := range sortedNames(form) {
		msg += k + form.Get(k)
	}
	return b64MAC(sha1.New, token, msg)
}

func sortedNames(v url.Values) []string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func TestTwilio(t *testing.T) {
	// The example of Twilio's "Webhooks security" page.
	const (
		docToken     = "12345"
		docURL       = "https://mycompany.com/myapp.php?foo=1&bar=2"
		docSignature = "GvWf1cFY/Q7PnoempGyD5oXAezc="
	)
	docForm := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675310"}, "Digits": {"1234"}, "From": {"+14158675310"}, "To": {"+18005551212"}}
	if got := twilioSign(docToken, docURL, docForm); got != docSignature {
		t.Fatalf("the test's own signature %s differs from Twilio's published example", got)
	}
	cfg := &inlet.VerifyConfig{Type: "twilio", Secret: docToken}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	twilio := client.NewRequestValidator(docToken)
	cases := []struct {
		name, url, body, signature string
		pass                       bool
	}{
		{"the documented example passes", docURL, docForm.Encode(), docSignature, true},
		{"the same form in another order passes", docURL, "To=%2B18005551212&From=%2B14158675310&Digits=1234&Caller=%2B14158675310&CallSid=CA1234567890ABCDE", docSignature, true},
		{"the URL with its default port passes", "https://mycompany.com:443/myapp.php?foo=1&bar=2", docForm.Encode(), docSignature, true},
		{"a changed field fails", docURL, "CallSid=CA1234567890ABCDE&Caller=%2B14158675310&Digits=1235&From=%2B14158675310&To=%2B18005551212", docSignature, false},
		{"another URL fails", "https://mycompany.com/myapp.php?foo=1&bar=3", docForm.Encode(), docSignature, false},
		{"http instead of https fails", "http://mycompany.com/myapp.php?foo=1&bar=2", docForm.Encode(), docSignature, false},
		{"a signature for another token fails", docURL, docForm.Encode(), twilioSign("54321", docURL, docForm), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := headers("X-Twilio-Signature", c.signature, "Content-Type", "application/x-www-form-urlencoded")
			ours := check(cfg, verify.Request{Header: h, Body: []byte(c.body), URL: c.url})
			var library error
			if !twilio.ValidateBody(c.url, []byte(c.body), c.signature) {
				library = errInvalid
			}
			agree(t, c.name, library, ours, c.pass)
			if !c.pass && inlet.ErrorReason(ours) != "bad_signature" {
				t.Errorf("reason = %s, want bad_signature", inlet.ErrorReason(ours))
			}
		})
	}

	t.Run("a JSON body signed through bodySHA256 passes, and a changed one fails", func(t *testing.T) {
		body := `{"StatusCallbackEvent":"participant-join"}`
		sum := sha256.Sum256([]byte(body))
		u := "https://inlet.example.com/collect/call/twilio?bodySHA256=" + hex.EncodeToString(sum[:])
		sig := b64MAC(sha1.New, docToken, u)
		h := headers("X-Twilio-Signature", sig)
		agree(t, "the signed JSON body", boolErr(twilio.ValidateBody(u, []byte(body), sig)), check(cfg, verify.Request{Header: h, Body: []byte(body), URL: u}), true)
		agree(t, "a changed JSON body", boolErr(twilio.ValidateBody(u, []byte(body+" "), sig)), check(cfg, verify.Request{Header: h, Body: []byte(body + " "), URL: u}), false)
	})
	t.Run("without a known URL the request fails and says to set the public URL", func(t *testing.T) {
		err := check(cfg, verify.Request{Header: headers("X-Twilio-Signature", docSignature), Body: []byte(docForm.Encode()), URL: "/myapp.php?foo=1&bar=2"})
		if inlet.ErrorCode(err) != inlet.EUNAUTHORIZED || !strings.Contains(inlet.ErrorMessage(err), "--public-url") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a request without the header fails", func(t *testing.T) {
		err := check(cfg, verify.Request{Header: headers(), Body: []byte(docForm.Encode()), URL: docURL})
		if inlet.ErrorReason(err) != "missing_signature" {
			t.Errorf("got %v", err)
		}
	})
}

type libraryError string

func (e libraryError) Error() string { return string(e) }

const errInvalid = libraryError("the library refused the request")

func boolErr(ok bool) error {
	if ok {
		return nil
	}
	return errInvalid
}

func TestStripeLibrary(t *testing.T) {
	secret := "whsec_stripe_library"
	body := []byte(`{"id":"evt_1","object":"event","type":"invoice.paid"}`)
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: time.Now()})
	cfg := &inlet.VerifyConfig{Type: "stripe", Secret: secret}
	h := headers("Stripe-Signature", signed.Header)
	agree(t, "stripe-go's signed payload", webhook.ValidatePayload(body, signed.Header, secret), check(cfg, verify.Request{Header: h, Body: body}), true)
	tampered := []byte(`{"id":"evt_2","object":"event","type":"invoice.paid"}`)
	agree(t, "a tampered payload", webhook.ValidatePayload(tampered, signed.Header, secret), check(cfg, verify.Request{Header: h, Body: tampered}), false)
	old := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: time.Now().Add(-10 * time.Minute)})
	agree(t, "a payload signed 10 minutes ago", webhook.ValidatePayload(body, old.Header, secret), check(cfg, verify.Request{Header: headers("Stripe-Signature", old.Header), Body: body}), false)
}

func TestStandardWebhooksLibrary(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"invoice.paid","data":{"id":"in_1"}}`)
	now := time.Now()
	sig, err := wh.Sign("msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	cfg := &inlet.VerifyConfig{Type: "standard-webhooks", Secret: secret}
	agree(t, "the library's signed message", wh.Verify(body, h), check(cfg, verify.Request{Header: h, Body: body}), true)
	tampered := []byte(`{"type":"invoice.paid","data":{"id":"in_2"}}`)
	agree(t, "a tampered message", wh.Verify(tampered, h), check(cfg, verify.Request{Header: h, Body: tampered}), false)
	h2 := h.Clone()
	h2.Set("webhook-id", "msg_2")
	agree(t, "another message id", wh.Verify(body, h2), check(cfg, verify.Request{Header: h2, Body: body}), false)
}

func TestGitHubLibrary(t *testing.T) {
	secret := []byte("gh-library-secret")
	body := []byte(`{"zen":"Design for failure.","hook_id":1}`)
	sig := "sha256=" + hexMAC(sha256.New, string(secret), string(body))
	cfg := &inlet.VerifyConfig{Type: "github", Secret: string(secret)}
	h := headers("X-Hub-Signature-256", sig)
	agree(t, "a signed body", github.ValidateSignature(sig, body, secret), check(cfg, verify.Request{Header: h, Body: body}), true)
	tampered := []byte(`{"zen":"Design for success.","hook_id":1}`)
	agree(t, "a tampered body", github.ValidateSignature(sig, tampered, secret), check(cfg, verify.Request{Header: h, Body: tampered}), false)

	// A form-encoded delivery is signed over the form bytes as sent.
	form := []byte("payload=" + url.QueryEscape(string(body)))
	formSig := "sha256=" + hexMAC(sha256.New, string(secret), string(form))
	fh := headers("X-Hub-Signature-256", formSig, "Content-Type", "application/x-www-form-urlencoded")
	_, libErr := github.ValidatePayloadFromBody("application/x-www-form-urlencoded", bytes.NewReader(form), formSig, secret)
	agree(t, "a form-encoded delivery", libErr, check(cfg, verify.Request{Header: fh, Body: form}), true)
}
