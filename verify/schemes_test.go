package verify_test

// Each sender's scheme is checked against a signature computed in the test
// from the sender's documented algorithm, written out apart from the
// verifier and from verify.Sign: a request so signed passes, and one with
// another secret, a changed body or a stale timestamp fails.

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"testing"
	"time"

	"inlet"
	"inlet/verify"
)

func docMAC(h func() hash.Hash, key string, parts ...string) []byte {
	m := hmac.New(h, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// documented signs a request as a sender's documentation says, at a time.
type documented struct {
	cfg inlet.VerifyConfig
	// sign returns the headers of body signed with secret at t.
	sign func(secret, body string, t time.Time) http.Header
	// timed: the scheme signs a timestamp, which must be recent.
	timed bool
}

const docURL = "https://collector.example.com/collect/payment/sq"

func schemes() map[string]documented {
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	return map[string]documented{
		// Paddle: Paddle-Signature "ts=<unix>;h1=<hex HMAC-SHA256 of ts:body>".
		"paddle": {inlet.VerifyConfig{Type: "paddle"}, func(secret, body string, t time.Time) http.Header {
			return hdr("Paddle-Signature", "ts="+unix(t)+";h1="+hex.EncodeToString(docMAC(sha256.New, secret, unix(t)+":"+body)))
		}, true},
		// Calendly: Calendly-Webhook-Signature "t=<unix>,v1=<hex HMAC-SHA256 of t.body>".
		"calendly": {inlet.VerifyConfig{Type: "calendly"}, func(secret, body string, t time.Time) http.Header {
			return hdr("Calendly-Webhook-Signature", "t="+unix(t)+",v1="+hex.EncodeToString(docMAC(sha256.New, secret, unix(t)+"."+body)))
		}, true},
		// Recurly: recurly-signature "<unix ms>,<hex HMAC-SHA256 of ms.body>".
		"recurly": {inlet.VerifyConfig{Type: "recurly"}, func(secret, body string, t time.Time) http.Header {
			ms := strconv.FormatInt(t.UnixMilli(), 10)
			return hdr("Recurly-Signature", ms+","+hex.EncodeToString(docMAC(sha256.New, "another", ms+"."+body))+","+hex.EncodeToString(docMAC(sha256.New, secret, ms+"."+body)))
		}, true},
		// Zoom: x-zm-signature "v0=<hex HMAC-SHA256 of v0:timestamp:body>".
		"zoom": {inlet.VerifyConfig{Type: "zoom"}, func(secret, body string, t time.Time) http.Header {
			return hdr("x-zm-request-timestamp", unix(t), "x-zm-signature", "v0="+hex.EncodeToString(docMAC(sha256.New, secret, "v0:"+unix(t)+":"+body)))
		}, true},
		// Zendesk: base64 HMAC-SHA256 of timestamp + body.
		"zendesk": {inlet.VerifyConfig{Type: "zendesk"}, func(secret, body string, t time.Time) http.Header {
			ts := t.UTC().Format(time.RFC3339)
			return hdr("X-Zendesk-Webhook-Signature-Timestamp", ts, "X-Zendesk-Webhook-Signature", base64.StdEncoding.EncodeToString(docMAC(sha256.New, secret, ts+body)))
		}, true},
		// Twitch: "sha256=" + hex HMAC-SHA256 of message id + timestamp + body.
		"twitch": {inlet.VerifyConfig{Type: "twitch"}, func(secret, body string, t time.Time) http.Header {
			id, ts := "e76c6bd4-55c9-4987-8304-da1588d8988b", t.UTC().Format(time.RFC3339Nano)
			return hdr("Twitch-Eventsub-Message-Id", id, "Twitch-Eventsub-Message-Timestamp", ts,
				"Twitch-Eventsub-Message-Signature", "sha256="+hex.EncodeToString(docMAC(sha256.New, secret, id+ts+body)))
		}, true},
		// Square: base64 HMAC-SHA256 of the notification URL + body.
		"square": {inlet.VerifyConfig{Type: "square"}, func(secret, body string, _ time.Time) http.Header {
			return hdr("x-square-hmacsha256-signature", base64.StdEncoding.EncodeToString(docMAC(sha256.New, secret, docURL+body)))
		}, false},
		// Meta: as GitHub, X-Hub-Signature-256 "sha256=<hex HMAC-SHA256 of the body>" with the app secret.
		"meta": {inlet.VerifyConfig{Type: "meta"}, func(secret, body string, _ time.Time) http.Header {
			return hdr("X-Hub-Signature-256", "sha256="+hex.EncodeToString(docMAC(sha256.New, secret, body)))
		}, false},
		// Intercom: X-Hub-Signature "sha1=<hex HMAC-SHA1 of the body>" with the client secret.
		"intercom": {inlet.VerifyConfig{Type: "hmac", Header: "X-Hub-Signature", Prefix: "sha1=", Algorithm: "sha1"}, func(secret, body string, _ time.Time) http.Header {
			return hdr("X-Hub-Signature", "sha1="+hex.EncodeToString(docMAC(sha1.New, secret, body)))
		}, false},
		// Typeform: Typeform-Signature "sha256=<base64 HMAC-SHA256 of the body>".
		"typeform": {inlet.VerifyConfig{Type: "hmac", Header: "Typeform-Signature", Prefix: "sha256=", Encoding: "base64"}, func(secret, body string, _ time.Time) http.Header {
			return hdr("Typeform-Signature", "sha256="+base64.StdEncoding.EncodeToString(docMAC(sha256.New, secret, body)))
		}, false},
		// Twitter/X: x-twitter-webhooks-signature "sha256=<base64 HMAC-SHA256 of the body>" with the consumer secret.
		"twitter": {inlet.VerifyConfig{Type: "hmac", Header: "X-Twitter-Webhooks-Signature", Prefix: "sha256=", Encoding: "base64"}, func(secret, body string, _ time.Time) http.Header {
			return hdr("X-Twitter-Webhooks-Signature", "sha256="+base64.StdEncoding.EncodeToString(docMAC(sha256.New, secret, body)))
		}, false},
		// WooCommerce: X-WC-Webhook-Signature, base64 HMAC-SHA256 of the body.
		"woocommerce": {inlet.VerifyConfig{Type: "hmac", Header: "X-Wc-Webhook-Signature", Encoding: "base64"}, func(secret, body string, _ time.Time) http.Header {
			return hdr("X-WC-Webhook-Signature", base64.StdEncoding.EncodeToString(docMAC(sha256.New, secret, body)))
		}, false},
		// Linear and Dropbox: a hex HMAC-SHA256 of the body.
		"linear": {inlet.VerifyConfig{Type: "hmac", Header: "Linear-Signature"}, func(secret, body string, _ time.Time) http.Header {
			return hdr("Linear-Signature", hex.EncodeToString(docMAC(sha256.New, secret, body)))
		}, false},
		// Bitbucket and Jira: X-Hub-Signature "sha256=<hex HMAC-SHA256 of the body>".
		"bitbucket": {inlet.VerifyConfig{Type: "hmac", Header: "X-Hub-Signature", Prefix: "sha256="}, func(secret, body string, _ time.Time) http.Header {
			return hdr("X-Hub-Signature", "sha256="+hex.EncodeToString(docMAC(sha256.New, secret, body)))
		}, false},
		// GitLab: X-Gitlab-Token holds the secret token itself.
		"gitlab": {inlet.VerifyConfig{Type: "api-key", Key: "X-Gitlab-Token"}, func(secret, _ string, _ time.Time) http.Header {
			return hdr("X-Gitlab-Token", secret)
		}, false},
	}
}

func TestDocumentedSchemes(t *testing.T) {
	const body = `{"event_type":"transaction.completed","data":{"id":"txn_01"}}`
	now := time.Now()
	for name, s := range schemes() {
		t.Run(name, func(t *testing.T) {
			cfg := s.cfg
			cfg.Secret = "pdl_ntfset_01gkpjp8bkh3d1j6myx2vv2t4q_secret"
			if err := cfg.Validate(); err != nil {
				t.Fatalf("the verifier does not validate: %v", err)
			}
			req := func(h http.Header, b string) verify.Request {
				return verify.Request{Header: h, Body: []byte(b), Now: now, URL: docURL}
			}
			if err := verify.Verify(&cfg, req(s.sign(cfg.Secret, body, now), body)); err != nil {
				t.Errorf("a request signed as the sender documents is refused: %v", err)
			}
			if err := verify.Verify(&cfg, req(s.sign("another secret", body, now), body)); inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
				t.Errorf("a request signed with another secret: %v, want refused", err)
			}
			if name != "gitlab" {
				if err := verify.Verify(&cfg, req(s.sign(cfg.Secret, body, now), body+" ")); inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
					t.Errorf("a changed body: %v, want refused", err)
				}
			}
			if err := verify.Verify(&cfg, req(http.Header{}, body)); inlet.ErrorReason(err) != verify.ReasonMissingSignature && inlet.ErrorReason(err) != verify.ReasonMissingCredentials {
				t.Errorf("an unsigned request: %v, want missing_signature", err)
			}
			if s.timed {
				old := now.Add(-10 * time.Minute)
				if name == "twitch" {
					old = now.Add(-11 * time.Minute) // Twitch allows ten
				}
				if err := verify.Verify(&cfg, req(s.sign(cfg.Secret, body, old), body)); inlet.ErrorReason(err) != verify.ReasonTimestampTolerance {
					t.Errorf("a request signed long ago: %v, want timestamp_out_of_tolerance", err)
				}
			}
			// verify.Sign agrees with the documented algorithm.
			sig, err := verify.Sign(&cfg, req(s.sign(cfg.Secret, body, now), body))
			if err != nil {
				t.Fatal(err)
			}
			if err := verify.Verify(&cfg, signed(req(nil, body), sig)); err != nil {
				t.Errorf("what verify.Sign signs is refused: %v", err)
			}
		})
	}
}

func TestDiscordEd25519(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &inlet.VerifyConfig{Type: "discord", Secret: hex.EncodeToString(pub)}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := `{"version":1,"application_id":"1","type":0}`
	// Discord signs timestamp + body with Ed25519; the signature is hex.
	signAt := func(key ed25519.PrivateKey, t time.Time, b string) http.Header {
		ts := strconv.FormatInt(t.Unix(), 10)
		return hdr("X-Signature-Timestamp", ts, "X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, []byte(ts+b))))
	}
	check := func(h http.Header, b string) error {
		return verify.Verify(cfg, verify.Request{Header: h, Body: []byte(b), Now: now})
	}
	if err := check(signAt(priv, now, body), body); err != nil {
		t.Errorf("a request signed with the application's key is refused: %v", err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if err := check(signAt(other, now, body), body); inlet.ErrorReason(err) != verify.ReasonBadSignature {
		t.Errorf("a request signed with another key: %v, want bad_signature", err)
	}
	if err := check(signAt(priv, now, body), body+" "); inlet.ErrorReason(err) != verify.ReasonBadSignature {
		t.Errorf("a changed body: %v, want bad_signature", err)
	}
	if err := check(signAt(priv, now.Add(-time.Hour), body), body); inlet.ErrorReason(err) != verify.ReasonTimestampTolerance {
		t.Errorf("an old request: %v, want timestamp_out_of_tolerance", err)
	}
	// Sign with the seed as the secret gives the same public key.
	seed := priv.Seed()
	if got := verify.DiscordPublicKey(hex.EncodeToString(seed)); got != cfg.Secret {
		t.Errorf("DiscordPublicKey(seed) = %s, want %s", got, cfg.Secret)
	}
	sig, err := verify.Sign(&inlet.VerifyConfig{Type: "discord", Secret: hex.EncodeToString(seed)}, verify.Request{Body: []byte(body), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := check(sig.Header, body); err != nil {
		t.Errorf("what Sign signs with the seed is refused: %v", err)
	}
}

func TestMailgunBodySignature(t *testing.T) {
	const key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
	cfg := &inlet.VerifyConfig{Type: "mailgun", Secret: key}
	now := time.Now()
	ts, token := strconv.FormatInt(now.Unix(), 10), "3b1bd8aadbc3fb0d8e3bd0a8b87a1b08d1ae8a7f4b87a5b4"
	// Mailgun: signature.signature is the hex HMAC-SHA256 of timestamp + token.
	body := func(sig string) string {
		return `{"signature":{"timestamp":"` + ts + `","token":"` + token + `","signature":"` + sig + `"},"event-data":{"event":"delivered","id":"x"}}`
	}
	good := body(hex.EncodeToString(docMAC(sha256.New, key, ts+token)))
	if err := verify.Verify(cfg, verify.Request{Body: []byte(good), Now: now}); err != nil {
		t.Errorf("a documented signature is refused: %v", err)
	}
	bad := body(hex.EncodeToString(docMAC(sha256.New, "another", ts+token)))
	if err := verify.Verify(cfg, verify.Request{Body: []byte(bad), Now: now}); inlet.ErrorReason(err) != verify.ReasonBadSignature {
		t.Errorf("another key's signature: %v, want bad_signature", err)
	}
	if err := verify.Verify(cfg, verify.Request{Body: []byte(`{"event-data":{}}`), Now: now}); inlet.ErrorReason(err) != verify.ReasonMissingSignature {
		t.Errorf("no signature object: %v, want missing_signature", err)
	}
	signedBody, err := verify.SignBody(cfg, []byte(`{"event-data":{"event":"opened"}}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify.Verify(cfg, verify.Request{Body: signedBody, Now: now}); err != nil {
		t.Errorf("what SignBody signs is refused: %v", err)
	}
}

func TestGraphClientState(t *testing.T) {
	cfg := &inlet.VerifyConfig{Type: "microsoft-graph", Secret: "secretClientValue"}
	check := func(body string) error {
		return verify.Verify(cfg, verify.Request{Body: []byte(body), Now: time.Now()})
	}
	if err := check(`{"value":[{"changeType":"created","clientState":"secretClientValue"},{"changeType":"updated","clientState":"secretClientValue"}]}`); err != nil {
		t.Errorf("notifications with the clientState are refused: %v", err)
	}
	if err := check(`{"value":[{"changeType":"created","clientState":"secretClientValue"},{"changeType":"updated","clientState":"guess"}]}`); inlet.ErrorReason(err) != verify.ReasonBadSignature {
		t.Errorf("one notification with another clientState: %v, want bad_signature", err)
	}
	if err := check(`{"value":[{"changeType":"created"}]}`); inlet.ErrorReason(err) != verify.ReasonMissingSignature {
		t.Errorf("a notification without clientState: %v, want missing_signature", err)
	}
}

func TestSendGridECDSA(t *testing.T) {
	// SendGrid's worked example (its Go library's event webhook test): a
	// verification key, a batch of one event with the trailing CRLF SendGrid
	// sends, the timestamp and the signature.
	const (
		publicKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
		signature = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
		timestamp = "1600112502"
		payload   = `[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n"
	)
	cfg := &inlet.VerifyConfig{Type: "sendgrid", Secret: publicKey}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1600112502, 0)
	h := hdr("X-Twilio-Email-Event-Webhook-Signature", signature, "X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
	if err := verify.Verify(cfg, verify.Request{Header: h, Body: []byte(payload), Now: at}); err != nil {
		t.Errorf("SendGrid's worked example is refused: %v", err)
	}
	if err := verify.Verify(cfg, verify.Request{Header: h, Body: []byte(payload[:len(payload)-2]), Now: at}); inlet.ErrorReason(err) != verify.ReasonBadSignature {
		t.Errorf("the example without its CRLF: %v, want bad_signature", err)
	}
	if err := verify.Verify(cfg, verify.Request{Header: h, Body: []byte(payload), Now: time.Now()}); inlet.ErrorReason(err) != verify.ReasonTimestampTolerance {
		t.Errorf("the example years later: %v, want timestamp_out_of_tolerance", err)
	}
	other := &inlet.VerifyConfig{Type: "sendgrid", Secret: verify.SendGridPublicKey("another")}
	if err := verify.Verify(other, verify.Request{Header: h, Body: []byte(payload), Now: at}); inlet.ErrorReason(err) != verify.ReasonBadSignature {
		t.Errorf("another verification key: %v, want bad_signature", err)
	}
	// What Sign signs with a secret, the secret's public key verifies.
	sig, err := verify.Sign(&inlet.VerifyConfig{Type: "sendgrid", Secret: "dev"}, verify.Request{Body: []byte(payload), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	mine := &inlet.VerifyConfig{Type: "sendgrid", Secret: verify.SendGridPublicKey("dev")}
	if err := verify.Verify(mine, verify.Request{Header: sig.Header, Body: []byte(payload), Now: time.Now()}); err != nil {
		t.Errorf("what Sign signs is refused: %v", err)
	}
}

func TestAdyenHMAC(t *testing.T) {
	// Adyen's worked example of an HMAC signature for a notification item.
	const key = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
	body := func(value, sig string) string {
		return `{"live":"false","notificationItems":[{"NotificationRequestItem":{"additionalData":{"hmacSignature":"` + sig + `"},` +
			`"amount":{"currency":"EUR","value":` + value + `},"eventCode":"AUTHORISATION","merchantAccountCode":"TestMerchant",` +
			`"merchantReference":"TestPayment-1407325143704","pspReference":"7914073381342284","success":"true"}}]}`
	}
	cfg := &inlet.VerifyConfig{Type: "adyen", Secret: key}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	check := func(b string) error {
		return verify.Verify(cfg, verify.Request{Body: []byte(b), Now: time.Now()})
	}
	if err := check(body("1130", "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=")); err != nil {
		t.Errorf("Adyen's worked example is refused: %v", err)
	}
	if err := check(body("1131", "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=")); inlet.ErrorReason(err) != verify.ReasonBadSignature {
		t.Errorf("a changed amount: %v, want bad_signature", err)
	}
	if err := check(body("1130", "")); inlet.ErrorReason(err) != verify.ReasonMissingSignature {
		t.Errorf("no signature: %v, want missing_signature", err)
	}
	signedBody, err := verify.SignBody(cfg, []byte(body("990", "")), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := check(string(signedBody)); err != nil {
		t.Errorf("what SignBody signs is refused: %v", err)
	}
}
