package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"inlet"
)

// The schemes of senders that sign a timestamp, an id or the URL with the
// body, each as the sender documents it.

// timestamped is a signature over a signed timestamp: the header that
// holds it, the candidate signatures, and the payload that was signed.
type timestamped struct {
	header string
	unix   int64 // seconds
	sigs   [][]byte
	signed [][]byte
}

// check verifies t against an HMAC-SHA256 keyed with secret, then the
// timestamp's tolerance.
func (t timestamped) check(secret string, now time.Time, tolerance time.Duration) error {
	if !anyEqual(t.sigs, sign(sha256.New, secret, t.signed...)) {
		return mismatch(t.header)
	}
	return checkTimestamp(t.header, t.unix, now, tolerance)
}

// parseItems reads "k=v" items separated by sep: the timestamp under
// tsKey, and the hex signatures under sigKey.
func parseItems(header, value, sep, tsKey, sigKey string) (ts string, sigs [][]byte, err error) {
	for item := range strings.SplitSeq(value, sep) {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		switch {
		case !ok:
		case k == tsKey:
			ts = v
		case k == sigKey && len(sigs) < MaxSignatures:
			if b, err := hex.DecodeString(v); err == nil && len(b) > 0 {
				sigs = append(sigs, b)
			}
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return "", nil, malformed(header, "it has no %s=<unix time>", tsKey)
	} else if len(sigs) == 0 {
		return "", nil, malformed(header, "it has no %s=<hex signature>", sigKey)
	}
	return ts, sigs, nil
}

// verifyPaddle checks Paddle-Signature: "ts=<unix>;h1=<hex HMAC-SHA256 of
// ts:body>", several h1 allowed during a secret's rotation.
func verifyPaddle(r Request, secret string, tolerance time.Duration) error {
	return verifyItems(r, secret, tolerance, "Paddle-Signature", ";", "ts", "h1", ":")
}

// verifyCalendly checks Calendly-Webhook-Signature: "t=<unix>,v1=<hex
// HMAC-SHA256 of t.body>".
func verifyCalendly(r Request, secret string, tolerance time.Duration) error {
	return verifyItems(r, secret, tolerance, "Calendly-Webhook-Signature", ",", "t", "v1", ".")
}

// verifyItems checks a header of key=value items, separated by sep, that
// holds a Unix time under tsKey and signatures under sigKey, each a hex
// HMAC-SHA256 of the time, join and the body.
func verifyItems(r Request, secret string, tolerance time.Duration, header, sep, tsKey, sigKey, join string) error {
	value := strings.TrimSpace(r.Header.Get(header))
	if value == "" {
		return missing(header)
	}
	ts, sigs, err := parseItems(header, value, sep, tsKey, sigKey)
	if err != nil {
		return err
	}
	unix, _ := strconv.ParseInt(ts, 10, 64)
	return timestamped{header, unix, sigs, [][]byte{[]byte(ts + join), r.Body}}.check(secret, r.Now, tolerance)
}

// verifyRecurly checks Recurly-Signature: "<unix ms>,<hex HMAC-SHA256 of
// ms.body>[,<another>]", one signature a key during a rotation.
func verifyRecurly(r Request, secret string, tolerance time.Duration) error {
	const header = "Recurly-Signature"
	value := strings.TrimSpace(r.Header.Get(header))
	if value == "" {
		return missing(header)
	}
	parts := strings.Split(value, ",")
	ms, err := strconv.ParseInt(strings.TrimSpace(parts[0]), 10, 64)
	if err != nil {
		return malformed(header, "it does not start with a Unix time in milliseconds")
	}
	var sigs [][]byte
	for _, p := range parts[1:] {
		if b, err := hex.DecodeString(strings.TrimSpace(p)); err == nil && len(b) > 0 && len(sigs) < MaxSignatures {
			sigs = append(sigs, b)
		}
	}
	if len(sigs) == 0 {
		return malformed(header, "it has no hex signature after the time")
	}
	return timestamped{header, ms / 1000, sigs, [][]byte{[]byte(strings.TrimSpace(parts[0]) + "."), r.Body}}.check(secret, r.Now, tolerance)
}

// headerPair returns a signature header and a timestamp header, or the
// error of the first missing.
func headerPair(r Request, sigHeader, tsHeader string) (sig, ts string, err error) {
	sig, ts = strings.TrimSpace(r.Header.Get(sigHeader)), strings.TrimSpace(r.Header.Get(tsHeader))
	switch {
	case sig == "":
		return "", "", missing(sigHeader)
	case ts == "":
		return "", "", missing(tsHeader)
	}
	return sig, ts, nil
}

// verifyZoom checks x-zm-signature: "v0=<hex HMAC-SHA256 of
// v0:<x-zm-request-timestamp>:body>", keyed with the secret token.
func verifyZoom(r Request, secret string, tolerance time.Duration) error {
	return verifyV0(r, "X-Zm-Signature", "X-Zm-Request-Timestamp", secret, tolerance)
}

// verifyZendesk checks X-Zendesk-Webhook-Signature: the base64
// HMAC-SHA256 of X-Zendesk-Webhook-Signature-Timestamp (RFC 3339) and the
// body, without a separator.
func verifyZendesk(r Request, secret string, tolerance time.Duration) error {
	const header, tsHeader = "X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"
	value, ts, err := headerPair(r, header, tsHeader)
	if err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return malformed(tsHeader, "it is not an RFC 3339 time")
	}
	got, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return malformed(header, "the signature is not base64")
	}
	return timestamped{header, at.Unix(), [][]byte{got}, [][]byte{[]byte(ts), r.Body}}.check(secret, r.Now, tolerance)
}

// verifyTwitch checks Twitch-Eventsub-Message-Signature: "sha256=<hex
// HMAC-SHA256 of message id, timestamp (RFC 3339) and body>".
func verifyTwitch(r Request, secret string, tolerance time.Duration) error {
	const header, tsHeader, idHeader = "Twitch-Eventsub-Message-Signature", "Twitch-Eventsub-Message-Timestamp", "Twitch-Eventsub-Message-Id"
	value, ts, err := headerPair(r, header, tsHeader)
	if err != nil {
		return err
	}
	id := r.Header.Get(idHeader)
	if id == "" {
		return missing(idHeader)
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return malformed(tsHeader, "it is not an RFC 3339 time")
	}
	got, err := signature(header, value, "sha256=", "hex")
	if err != nil {
		return err
	}
	return timestamped{header, at.Unix(), [][]byte{got}, [][]byte{[]byte(id + ts), r.Body}}.check(secret, r.Now, tolerance)
}

// verifySquare checks x-square-hmacsha256-signature: the base64
// HMAC-SHA256 of the notification URL followed by the body, keyed with the
// subscription's signature key.
func verifySquare(r Request, secret string) error {
	const header = "X-Square-Hmacsha256-Signature"
	value := strings.TrimSpace(r.Header.Get(header))
	if value == "" {
		return missing(header)
	}
	got, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return malformed(header, "the signature is not base64")
	}
	if r.URL == "" {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the collector does not know its public URL, which Square signs; set --public-url (INLET_PUBLIC_URL)")
	}
	if !hmac.Equal(got, sign(sha256.New, secret, []byte(r.URL), r.Body)) {
		return mismatch(header)
	}
	return nil
}

// verifyDiscord checks X-Signature-Ed25519: the hex Ed25519 signature of
// X-Signature-Timestamp followed by the body, under the application's
// public key (the secret, in hex).
func verifyDiscord(r Request, publicKey string, tolerance time.Duration) error {
	const header, tsHeader = "X-Signature-Ed25519", "X-Signature-Timestamp"
	value, ts, err := headerPair(r, header, tsHeader)
	if err != nil {
		return err
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return malformed(tsHeader, "it is not a Unix time")
	}
	key, err := hex.DecodeString(publicKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the source's secret is not a hex Ed25519 public key; fix the source configuration")
	}
	sig, err := hex.DecodeString(value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return malformed(header, "the signature is not %d hex bytes", ed25519.SignatureSize)
	}
	msg := append([]byte(ts), r.Body...)
	if !ed25519.Verify(key, msg, sig) {
		return mismatch(header)
	}
	return checkTimestamp(tsHeader, unix, r.Now, tolerance)
}

// mailgunSignature is the signature object of a Mailgun webhook's body.
type mailgunSignature struct {
	Timestamp string `json:"timestamp"`
	Token     string `json:"token"`
	Signature string `json:"signature"`
}

// verifyMailgun checks the signature object of the JSON body: the hex
// HMAC-SHA256 of timestamp followed by token, keyed with the webhook
// signing key.
func verifyMailgun(r Request, secret string, tolerance time.Duration) error {
	const where = "body's signature"
	var body struct {
		Signature *mailgunSignature `json:"signature"`
	}
	if json.Unmarshal(r.Body, &body) != nil || body.Signature == nil || body.Signature.Signature == "" {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonMissingSignature, "the body has no signature object; this source only takes signed requests")
	}
	s := body.Signature
	unix, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil {
		return malformed(where, "signature.timestamp is not a Unix time")
	}
	got, err := hex.DecodeString(s.Signature)
	if err != nil {
		return malformed(where, "signature.signature is not hex")
	}
	return timestamped{where, unix, [][]byte{got}, [][]byte{[]byte(s.Timestamp), []byte(s.Token)}}.check(secret, r.Now, tolerance)
}

// verifyGraph checks that every change notification of a Microsoft Graph
// body carries the subscription's clientState, the secret.
func verifyGraph(r Request, clientState string) error {
	var body struct {
		Value []struct {
			ClientState *string `json:"clientState"`
		} `json:"value"`
	}
	noState := inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonMissingSignature, "a notification has no clientState; this source only takes notifications with its secret")
	if json.Unmarshal(r.Body, &body) != nil || len(body.Value) == 0 {
		return noState
	}
	found := 1
	for _, v := range body.Value {
		if v.ClientState == nil {
			return noState
		}
		found &= equalSecret(*v.ClientState, clientState)
	}
	if found != 1 {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the clientState of a notification is not the source's secret")
	}
	return nil
}

// twitchTolerance is the source's tolerance, or Twitch's own ten minutes,
// past which it tells receivers to refuse a message.
func twitchTolerance(cfg *inlet.VerifyConfig) time.Duration {
	if cfg.Tolerance == "" {
		return 10 * time.Minute
	}
	return cfg.TolerancePeriod()
}

// verifySendGrid checks X-Twilio-Email-Event-Webhook-Signature: the base64
// ASN.1 ECDSA P-256 signature of the SHA-256 of
// X-Twilio-Email-Event-Webhook-Timestamp followed by the body, under the
// verification key SendGrid shows (the secret: a base64 public key).
func verifySendGrid(r Request, publicKey string, tolerance time.Duration) error {
	const header, tsHeader = "X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"
	value, ts, err := headerPair(r, header, tsHeader)
	if err != nil {
		return err
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return malformed(tsHeader, "it is not a Unix time")
	}
	key, err := sendGridPublicKey(publicKey)
	if err != nil {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the source's secret is not SendGrid's verification key; fix the source configuration")
	}
	sig, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return malformed(header, "the signature is not base64")
	}
	digest := sha256.Sum256(append([]byte(ts), r.Body...))
	if !ecdsa.VerifyASN1(key, digest[:], sig) {
		return mismatch(header)
	}
	return checkTimestamp(tsHeader, unix, r.Now, tolerance)
}

func sendGridPublicKey(s string) (*ecdsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("not an ECDSA key")
	}
	return ec, nil
}

// adyenItem is the part of an Adyen notification item that is signed.
type adyenItem struct {
	PSPReference        string `json:"pspReference"`
	OriginalReference   string `json:"originalReference"`
	MerchantAccountCode string `json:"merchantAccountCode"`
	MerchantReference   string `json:"merchantReference"`
	EventCode           string `json:"eventCode"`
	Success             string `json:"success"`
	Amount              struct {
		Value    json.Number `json:"value"`
		Currency string      `json:"currency"`
	} `json:"amount"`
	AdditionalData map[string]any `json:"additionalData"`
}

// adyenPayload is what Adyen signs of an item: its fields joined by ':'.
func (it adyenItem) payload() string {
	return strings.Join([]string{it.PSPReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		it.Amount.Value.String(), it.Amount.Currency, it.EventCode, it.Success}, ":")
}

type adyenBody struct {
	NotificationItems []struct {
		Item adyenItem `json:"NotificationRequestItem"`
	} `json:"notificationItems"`
}

// verifyAdyen checks every notification item's
// additionalData.hmacSignature: the base64 HMAC-SHA256, keyed with the hex
// HMAC key, of pspReference, originalReference, merchantAccountCode,
// merchantReference, amount value and currency, eventCode and success,
// joined by ':'.
func verifyAdyen(r Request, hexKey string) error {
	const where = "additionalData.hmacSignature"
	key, err := hex.DecodeString(hexKey)
	if err != nil {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the source's secret is not Adyen's hex HMAC key; fix the source configuration")
	}
	var body adyenBody
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if dec.Decode(&body) != nil || len(body.NotificationItems) == 0 {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonMissingSignature, "the body has no notificationItems; this source only takes signed Adyen notifications")
	}
	found := 1
	for _, n := range body.NotificationItems {
		sig, _ := n.Item.AdditionalData["hmacSignature"].(string)
		if sig == "" {
			return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonMissingSignature, "a notification item has no %s; turn HMAC signing on for the webhook", where)
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return malformed(where, "the signature is not base64")
		}
		found &= subtle.ConstantTimeCompare(got, signKey(sha256.New, key, []byte(n.Item.payload())))
	}
	if found != 1 {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the %s of a notification item does not match it; check the HMAC key", where)
	}
	return nil
}

// signAdyen sets the hmacSignature of every notification item of body.
func signAdyen(hexKey string, body []byte) ([]byte, error) {
	key, err := hex.DecodeString(hexKey)
	if err != nil {
		key = []byte(hexKey) // a development secret that is not hex
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, inlet.Errorf(inlet.EINVALID, "an Adyen body is a JSON object: %s", err)
	}
	var typed adyenBody
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&typed); err != nil {
		return nil, inlet.Errorf(inlet.EINVALID, "an Adyen body has notificationItems: %s", err)
	}
	items, _ := doc["notificationItems"].([]any)
	for i, raw := range items {
		wrapper, _ := raw.(map[string]any)
		item, _ := wrapper["NotificationRequestItem"].(map[string]any)
		if item == nil || i >= len(typed.NotificationItems) {
			continue
		}
		extra, _ := item["additionalData"].(map[string]any)
		if extra == nil {
			extra = map[string]any{}
			item["additionalData"] = extra
		}
		extra["hmacSignature"] = base64.StdEncoding.EncodeToString(signKey(sha256.New, key, []byte(typed.NotificationItems[i].Item.payload())))
	}
	return json.Marshal(doc)
}
