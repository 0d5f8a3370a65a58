package verify_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"testing"
	"time"

	"inlet"
	"inlet/verify"
)

// mac computes an HMAC the way a sender's documentation describes it,
// independently of the package under test.
func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func hexMAC(h func() hash.Hash, key, msg string) string {
	return hex.EncodeToString(mac(h, []byte(key), msg))
}

func b64MAC(h func() hash.Hash, key, msg string) string {
	return base64.StdEncoding.EncodeToString(mac(h, []byte(key), msg))
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// verifyCase is one request against one verifier; reason "" means it passes.
type verifyCase struct {
	name   string
	header http.Header
	query  string
	body   string
	now    time.Time
	reason string
}

func runCases(t *testing.T, cfg *inlet.VerifyConfig, cases []verifyCase) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config %+v does not validate: %v", cfg, err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := c.now
			if now.IsZero() {
				now = time.Now()
			}
			err := verify.Verify(cfg, verify.Request{Header: c.header, RawQuery: c.query, Body: []byte(c.body), Now: now})
			if c.reason == "" {
				if err != nil {
					t.Fatalf("want the request to pass, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %s, the request passed", c.reason)
			}
			if code := inlet.ErrorCode(err); code != inlet.EUNAUTHORIZED {
				t.Errorf("code = %s, want %s", code, inlet.EUNAUTHORIZED)
			}
			if got := inlet.ErrorReason(err); got != c.reason {
				t.Errorf("reason = %s, want %s (%v)", got, c.reason, err)
			}
		})
	}
}

func TestGitHub(t *testing.T) {
	// The example GitHub's "Validating webhook deliveries" page publishes.
	docSecret, docBody := "It's a Secret to Everybody", "Hello, World!"
	const docSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := "sha256=" + hexMAC(sha256.New, docSecret, docBody); got != docSignature {
		t.Fatalf("the test's own HMAC %s differs from GitHub's published example", got)
	}
	runCases(t, &inlet.VerifyConfig{Type: "github", Secret: docSecret}, []verifyCase{
		{name: "the documented example passes", header: headers("X-Hub-Signature-256", docSignature), body: docBody},
	})

	secret := "gh-secret"
	body := `{"action":"opened","number":1}` + "\n"
	good := "sha256=" + hexMAC(sha256.New, secret, body)
	runCases(t, &inlet.VerifyConfig{Type: "github", Secret: secret}, []verifyCase{
		{name: "a signed body passes", header: headers("X-Hub-Signature-256", good), body: body},
		{name: "the body with its trailing newline removed fails", header: headers("X-Hub-Signature-256", good), body: body[:len(body)-1], reason: "bad_signature"},
		{name: "a body with one byte changed fails", header: headers("X-Hub-Signature-256", good), body: `{"action":"closed","number":1}` + "\n", reason: "bad_signature"},
		{name: "a signature with another secret fails", header: headers("X-Hub-Signature-256", "sha256="+hexMAC(sha256.New, "other", body)), body: body, reason: "bad_signature"},
		{name: "the legacy SHA-1 header alone is not enough", header: headers("X-Hub-Signature", "sha1="+hexMAC(sha1.New, secret, body)), body: body, reason: "missing_signature"},
		{name: "a signature without the sha256= prefix fails", header: headers("X-Hub-Signature-256", good[len("sha256="):]), body: body, reason: "bad_signature"},
		{name: "a signature that is not hex fails", header: headers("X-Hub-Signature-256", "sha256=zz"), body: body, reason: "bad_signature"},
		{name: "a request without the header fails", header: headers(), body: body, reason: "missing_signature"},
	})
}

func TestStripe(t *testing.T) {
	secret := "whsec_test_stripe"
	body := `{"id":"evt_1","object":"event"}`
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	// Stripe signs "<t>.<raw body>" with HMAC-SHA256, hex in v1.
	v1 := hexMAC(sha256.New, secret, ts+"."+body)
	old := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	oldV1 := hexMAC(sha256.New, secret, old+"."+body)
	cases := []verifyCase{
		{name: "a signed body passes", header: headers("Stripe-Signature", "t="+ts+",v1="+v1), body: body, now: now},
		{name: "several v1 signatures pass when one matches, and v0 is ignored", header: headers("Stripe-Signature", "t="+ts+",v1="+hexMAC(sha256.New, "rolled", ts+"."+body)+",v1="+v1+",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"), body: body, now: now},
		{name: "a timestamp 4 minutes old passes", header: headers("Stripe-Signature", "t="+ts+",v1="+v1), body: body, now: now.Add(4 * time.Minute)},
		{name: "a timestamp 6 minutes old fails", header: headers("Stripe-Signature", "t="+old+",v1="+oldV1), body: body, now: now, reason: "timestamp_out_of_tolerance"},
		{name: "a timestamp 6 minutes ahead fails", header: headers("Stripe-Signature", "t="+ts+",v1="+v1), body: body, now: now.Add(-6 * time.Minute), reason: "timestamp_out_of_tolerance"},
		{name: "a signature made for another timestamp fails", header: headers("Stripe-Signature", "t="+old+",v1="+v1), body: body, now: now, reason: "bad_signature"},
		{name: "a changed body fails", header: headers("Stripe-Signature", "t="+ts+",v1="+v1), body: body + " ", now: now, reason: "bad_signature"},
		{name: "a header without t fails", header: headers("Stripe-Signature", "v1="+v1), body: body, now: now, reason: "bad_signature"},
		{name: "a header with only v0 fails", header: headers("Stripe-Signature", "t="+ts+",v0="+v1), body: body, now: now, reason: "bad_signature"},
		{name: "a request without the header fails", header: headers(), body: body, now: now, reason: "missing_signature"},
	}
	runCases(t, &inlet.VerifyConfig{Type: "stripe", Secret: secret}, cases)

	runCases(t, &inlet.VerifyConfig{Type: "stripe", Secret: secret, Tolerance: "10m"}, []verifyCase{
		{name: "a 6-minute-old timestamp passes a 10-minute tolerance", header: headers("Stripe-Signature", "t="+old+",v1="+oldV1), body: body, now: now},
	})
}

func TestParseStripeSignature(t *testing.T) {
	// The header Stripe's documentation shows.
	sig, err := verify.ParseStripeSignature("t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39")
	if err != nil {
		t.Fatal(err)
	}
	if sig.Timestamp != 1492774577 || len(sig.V1) != 1 || hex.EncodeToString(sig.V1[0]) != "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd" {
		t.Errorf("parsed %d %x", sig.Timestamp, sig.V1)
	}
	many := "t=1"
	for i := 0; i < 100; i++ {
		many += ",v1=00"
	}
	if sig, err := verify.ParseStripeSignature(many); err != nil || len(sig.V1) != verify.MaxSignatures {
		t.Errorf("100 signatures: got %d, %v; want the first %d", len(sig.V1), err, verify.MaxSignatures)
	}
}

func TestShopify(t *testing.T) {
	secret := "shpss_secret"
	body := `{"id":820982911946154508,"email":"jon@example.com"}`
	good := b64MAC(sha256.New, secret, body)
	runCases(t, &inlet.VerifyConfig{Type: "shopify", Secret: secret}, []verifyCase{
		{name: "a signed body passes", header: headers("X-Shopify-Hmac-Sha256", good), body: body},
		{name: "the hex form of the right HMAC fails", header: headers("X-Shopify-Hmac-Sha256", hexMAC(sha256.New, secret, body)), body: body, reason: "bad_signature"},
		{name: "a changed body fails", header: headers("X-Shopify-Hmac-Sha256", good), body: body[1:], reason: "bad_signature"},
		{name: "a request without the header fails", header: headers(), body: body, reason: "missing_signature"},
	})
}

func TestStandardWebhooks(t *testing.T) {
	// The example of the Standard Webhooks reference libraries.
	const (
		docSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		docID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		docTimestamp = "1614265330"
		docBody      = `{"test": 2432232314}`
		docSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	key, _ := base64.StdEncoding.DecodeString(docSecret[len("whsec_"):])
	if got := "v1," + base64.StdEncoding.EncodeToString(mac(sha256.New, key, docID+"."+docTimestamp+"."+docBody)); got != docSignature {
		t.Fatalf("the test's own HMAC %s differs from the published example", got)
	}
	docNow := time.Unix(1614265330, 0)
	signed := func(id, ts, body string) string {
		return "v1," + base64.StdEncoding.EncodeToString(mac(sha256.New, key, id+"."+ts+"."+body))
	}
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := `{"type":"invoice.paid"}`
	good := signed("msg_1", ts, body)
	runCases(t, &inlet.VerifyConfig{Type: "standard-webhooks", Secret: docSecret}, []verifyCase{
		{name: "the documented example passes", header: headers("webhook-id", docID, "webhook-timestamp", docTimestamp, "webhook-signature", docSignature), body: docBody, now: docNow},
		{name: "a signed body passes", header: headers("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", good), body: body, now: now},
		{name: "several signatures pass when one matches", header: headers("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", "v1,Ym9ndXM= v1a,c2lnbmVk "+good), body: body, now: now},
		{name: "Svix-named headers pass", header: headers("svix-id", "msg_1", "svix-timestamp", ts, "svix-signature", good), body: body, now: now},
		{name: "a signature for another message id fails", header: headers("webhook-id", "msg_2", "webhook-timestamp", ts, "webhook-signature", good), body: body, now: now, reason: "bad_signature"},
		{name: "a changed body fails", header: headers("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", good), body: body + "\n", now: now, reason: "bad_signature"},
		{name: "an old timestamp fails", header: headers("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", good), body: body, now: now.Add(5*time.Minute + time.Second), reason: "timestamp_out_of_tolerance"},
		{name: "a timestamp that is not a number fails", header: headers("webhook-id", "msg_1", "webhook-timestamp", "yesterday", "webhook-signature", good), body: body, now: now, reason: "bad_signature"},
		{name: "a request without webhook-id fails", header: headers("webhook-timestamp", ts, "webhook-signature", good), body: body, now: now, reason: "missing_signature"},
		{name: "a request without webhook-signature fails", header: headers("webhook-id", "msg_1", "webhook-timestamp", ts), body: body, now: now, reason: "missing_signature"},
		{name: "a signature without its version fails", header: headers("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", good[3:]), body: body, now: now, reason: "bad_signature"},
	})
}

func TestHMAC(t *testing.T) {
	secret, body := "generic", "a=1&b=2"
	for _, alg := range []struct {
		name string
		h    func() hash.Hash
	}{{"sha1", sha1.New}, {"sha256", sha256.New}, {"sha512", sha512.New}} {
		for _, enc := range []string{"hex", "base64"} {
			t.Run(alg.name+" in "+enc, func(t *testing.T) {
				sig := hexMAC(alg.h, secret, body)
				if enc == "base64" {
					sig = b64MAC(alg.h, secret, body)
				}
				cfg := &inlet.VerifyConfig{Type: "hmac", Secret: secret, Header: "X-Signature", Algorithm: alg.name, Encoding: enc, Prefix: alg.name + "="}
				other := sha256.New
				if alg.name == "sha256" {
					other = sha512.New
				}
				wrongAlg := hexMAC(other, secret, body)
				if enc == "base64" {
					wrongAlg = b64MAC(other, secret, body)
				}
				runCases(t, cfg, []verifyCase{
					{name: "a signed body passes", header: headers("X-Signature", alg.name+"="+sig), body: body},
					{name: "the signature without its prefix fails", header: headers("X-Signature", sig), body: body, reason: "bad_signature"},
					{name: "a signature by another algorithm fails", header: headers("X-Signature", alg.name+"="+wrongAlg), body: body, reason: "bad_signature"},
					{name: "a changed body fails", header: headers("X-Signature", alg.name+"="+sig), body: body + "&c=3", reason: "bad_signature"},
					{name: "a request without the header fails", header: headers("X-Other", sig), body: body, reason: "missing_signature"},
				})
			})
		}
	}
	t.Run("defaults are sha256 and hex without prefix", func(t *testing.T) {
		runCases(t, &inlet.VerifyConfig{Type: "hmac", Secret: secret, Header: "X-Sig"}, []verifyCase{
			{name: "a signed body passes", header: headers("X-Sig", hexMAC(sha256.New, secret, body)), body: body},
		})
	})
}

func TestBasic(t *testing.T) {
	cfg := &inlet.VerifyConfig{Type: "basic", Username: "sender", Password: "p4ss:word"}
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	runCases(t, cfg, []verifyCase{
		{name: "the right credentials pass", header: headers("Authorization", basic("sender", "p4ss:word"))},
		{name: "a lower-case scheme passes", header: headers("Authorization", "basic "+basic("sender", "p4ss:word")[6:])},
		{name: "a wrong password fails", header: headers("Authorization", basic("sender", "p4ss:wore")), reason: "bad_credentials"},
		{name: "a wrong user fails", header: headers("Authorization", basic("other", "p4ss:word")), reason: "bad_credentials"},
		{name: "credentials that are not base64 fail", header: headers("Authorization", "Basic !!!"), reason: "bad_credentials"},
		{name: "a bearer token fails", header: headers("Authorization", "Bearer p4ss:word"), reason: "missing_credentials"},
		{name: "a request without credentials fails", header: headers(), reason: "missing_credentials"},
	})
}

func TestAPIKey(t *testing.T) {
	runCases(t, &inlet.VerifyConfig{Type: "api-key", Secret: "k3y"}, []verifyCase{
		{name: "the key in the default header passes", header: headers("X-Api-Key", "k3y")},
		{name: "a wrong key fails", header: headers("X-Api-Key", "k3y "), reason: "bad_credentials"},
		{name: "the key in the query fails when the header is configured", query: "api_key=k3y", header: headers(), reason: "missing_credentials"},
	})
	runCases(t, &inlet.VerifyConfig{Type: "api-key", Secret: "k3y", In: "header", Key: "X-Token"}, []verifyCase{
		{name: "the key in the named header passes", header: headers("X-Token", "k3y")},
		{name: "the key in another header fails", header: headers("X-Api-Key", "k3y"), reason: "missing_credentials"},
	})
	runCases(t, &inlet.VerifyConfig{Type: "api-key", Secret: "k3y", In: "query", Key: "token"}, []verifyCase{
		{name: "the key in the named query parameter passes", query: "a=1&token=k3y", header: headers()},
		{name: "a wrong key in the query fails", query: "token=k3", header: headers(), reason: "bad_credentials"},
		{name: "a query without the key fails", query: "a=1", header: headers(), reason: "missing_credentials"},
	})
}

func TestUnknownTypeFailsClosed(t *testing.T) {
	err := verify.Verify(&inlet.VerifyConfig{Type: "none"}, verify.Request{Header: headers(), Now: time.Now()})
	if inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
		t.Fatalf("unknown verifier type: got %v, want EUNAUTHORIZED", err)
	}
}

func ExampleVerify() {
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write(body)
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	err := verify.Verify(&inlet.VerifyConfig{Type: "github", Secret: "s3cret"}, verify.Request{Header: h, Body: body, Now: time.Now()})
	fmt.Println(err)
	// Output: <nil>
}
