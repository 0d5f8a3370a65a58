package verify_test

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/verify"
)

// FuzzParseStripeSignature checks that any Stripe-Signature header parses
// without panicking into at most MaxSignatures signatures that survive a
// round trip, and that no fuzzed header passes verification.
func FuzzParseStripeSignature(f *testing.F) {
	f.Add("t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39")
	f.Add("t=1,v1=00,v1=ff")
	f.Add("v1=00")
	f.Add("t=-1,v1=00")
	f.Add("t=99999999999999999999,v1=00")
	f.Add(" t = 1 , v1 = 0a ")
	f.Add(",,,=,=t,t=")
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := verify.ParseStripeSignature(header)
		if err != nil {
			if inlet.ErrorReason(err) != verify.ReasonBadSignature {
				t.Fatalf("error reason %q, want bad_signature", inlet.ErrorReason(err))
			}
		} else {
			if len(sig.V1) == 0 || len(sig.V1) > verify.MaxSignatures || sig.Timestamp < 0 {
				t.Fatalf("parsed %d signatures and t=%d", len(sig.V1), sig.Timestamp)
			}
			rebuilt := "t=" + strconv.FormatInt(sig.Timestamp, 10)
			for _, s := range sig.V1 {
				rebuilt += ",v1=" + hex.EncodeToString(s)
			}
			again, err := verify.ParseStripeSignature(rebuilt)
			if err != nil || again.Timestamp != sig.Timestamp || len(again.V1) != len(sig.V1) {
				t.Fatalf("round trip of %q: %+v, %v", rebuilt, again, err)
			}
		}
		h := http.Header{}
		h.Set("Stripe-Signature", header)
		err = verify.Verify(&inlet.VerifyConfig{Type: "stripe", Secret: "fuzz"}, verify.Request{Header: h, Body: []byte(header), Now: time.Unix(1492774577, 0)})
		if inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
			t.Fatalf("a fuzzed header got %v, want EUNAUTHORIZED", err)
		}
	})
}

// FuzzParseWebhookSignature does the same for the Standard Webhooks
// webhook-signature header.
func FuzzParseWebhookSignature(f *testing.F) {
	f.Add("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	f.Add("v1,Ym9ndXM= v1a,c2lnbmVk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	f.Add("v2,AAAA")
	f.Add("v1,")
	f.Add("v1,====")
	f.Add("  \t v1,AA==\n")
	f.Fuzz(func(t *testing.T, header string) {
		sigs, err := verify.ParseWebhookSignature(header)
		if err != nil {
			if inlet.ErrorReason(err) != verify.ReasonBadSignature {
				t.Fatalf("error reason %q, want bad_signature", inlet.ErrorReason(err))
			}
		} else {
			if len(sigs) == 0 || len(sigs) > verify.MaxSignatures {
				t.Fatalf("parsed %d signatures", len(sigs))
			}
			parts := make([]string, len(sigs))
			for i, s := range sigs {
				parts[i] = "v1," + base64.StdEncoding.EncodeToString(s)
			}
			again, err := verify.ParseWebhookSignature(strings.Join(parts, " "))
			if err != nil || len(again) != len(sigs) {
				t.Fatalf("round trip: %d signatures, %v", len(again), err)
			}
		}
		h := http.Header{}
		h.Set("webhook-id", "msg_fuzz")
		h.Set("webhook-timestamp", "1614265330")
		h.Set("webhook-signature", header)
		err = verify.Verify(&inlet.VerifyConfig{Type: "standard-webhooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, verify.Request{Header: h, Body: []byte(header), Now: time.Unix(1614265330, 0)})
		if inlet.ErrorCode(err) != inlet.EUNAUTHORIZED {
			t.Fatalf("a fuzzed header got %v, want EUNAUTHORIZED", err)
		}
	})
}
