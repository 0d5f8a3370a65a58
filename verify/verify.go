// Package verify checks that a webhook request comes from the sender a
// source names: an HMAC signature over the exact raw body (GitHub, Stripe,
// Shopify, Standard Webhooks, Slack, or a generic HMAC header), with a
// signed timestamp or id (Paddle, Calendly, Recurly, Zoom, Zendesk,
// Twitch), over the URL (Twilio, Square), an Ed25519 signature (Discord) or
// an ECDSA one (SendGrid), a
// signature or secret in the body (Mailgun, Adyen, Microsoft Graph), HTTP Basic
// credentials, or an API key. Every comparison is constant-time. Sign signs
// a request as each of these senders does.
package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"inlet"
)

// Reason codes of a failed verification, answered as the error code.
const (
	ReasonMissingSignature   = "missing_signature"          // the signature header is absent or empty
	ReasonBadSignature       = "bad_signature"              // the signature is malformed or does not match
	ReasonTimestampTolerance = "timestamp_out_of_tolerance" // the signed timestamp is too far from now
	ReasonMissingCredentials = "missing_credentials"        // no Basic credentials or API key
	ReasonBadCredentials     = "bad_credentials"            // wrong Basic credentials or API key
)

// MaxSignatures bounds how many signatures of one header are tried, so that
// a long header cannot make a request cost many HMACs.
const MaxSignatures = 8

// Request is what a verifier sees of an HTTP request.
type Request struct {
	Header   http.Header
	RawQuery string
	Body     []byte // the exact bytes received
	Now      time.Time
	// URL is the full URL of the request as the sender saw it, with its
	// query string (twilio signs it); behind a proxy the caller builds it
	// from the collector's public URL.
	URL string
}

// Verify checks r against cfg. It returns nil when the request passes, and
// otherwise an EUNAUTHORIZED error whose reason is one of the Reason codes.
// An unknown cfg.Type fails closed.
func Verify(cfg *inlet.VerifyConfig, r Request) error {
	switch cfg.Type {
	case inlet.VerifyGitHub, inlet.VerifyMeta:
		return verifyHMACHeader(r, "X-Hub-Signature-256", "sha256=", "hex", sha256.New, cfg.Secret)
	case inlet.VerifyPaddle:
		return verifyPaddle(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyCalendly:
		return verifyCalendly(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyRecurly:
		return verifyRecurly(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyZoom:
		return verifyZoom(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyZendesk:
		return verifyZendesk(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyTwitch:
		return verifyTwitch(r, cfg.Secret, twitchTolerance(cfg))
	case inlet.VerifySquare:
		return verifySquare(r, cfg.Secret)
	case inlet.VerifyDiscord:
		return verifyDiscord(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyMailgun:
		return verifyMailgun(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyGraph:
		return verifyGraph(r, cfg.Secret)
	case inlet.VerifyAdyen:
		return verifyAdyen(r, cfg.Secret)
	case inlet.VerifySendGrid:
		return verifySendGrid(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyShopify:
		return verifyHMACHeader(r, "X-Shopify-Hmac-Sha256", "", "base64", sha256.New, cfg.Secret)
	case inlet.VerifyHMAC:
		encoding := cfg.Encoding
		if encoding == "" {
			encoding = "hex"
		}
		return verifyHMACHeader(r, cfg.Header, cfg.Prefix, encoding, hashFunc(cfg.Algorithm), cfg.Secret)
	case inlet.VerifyStripe:
		return verifyStripe(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyStandardWebhooks:
		return verifyStandardWebhooks(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifySlack:
		return verifySlack(r, cfg.Secret, cfg.TolerancePeriod())
	case inlet.VerifyTwilio:
		return verifyTwilio(r, cfg.Secret)
	case inlet.VerifyBasic:
		return verifyBasic(r, cfg.Username, cfg.Password)
	case inlet.VerifyAPIKey:
		return verifyAPIKey(r, cfg)
	}
	return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the source's verifier type %q is unknown; fix the source configuration", cfg.Type)
}

func hashFunc(algorithm string) func() hash.Hash {
	switch algorithm {
	case "sha1":
		return sha1.New
	case "sha512":
		return sha512.New
	}
	return sha256.New
}

func missing(header string) error {
	return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonMissingSignature, "the %s header is missing; this source only takes signed requests", header)
}

func mismatch(header string) error {
	return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the %s header does not match the body; check the secret, and that nothing between sender and collector re-encodes the body", header)
}

func malformed(header, format string, args ...any) error {
	return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the %s header is malformed: %s", header, fmt.Sprintf(format, args...))
}

// verifyHMACHeader checks a header holding prefix + encoding(HMAC(body)).
func verifyHMACHeader(r Request, header, prefix, encoding string, newHash func() hash.Hash, secret string) error {
	value := strings.TrimSpace(r.Header.Get(header))
	if value == "" {
		return missing(header)
	}
	got, err := signature(header, value, prefix, encoding)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, sign(newHash, secret, r.Body)) {
		return mismatch(header)
	}
	return nil
}

// signature decodes the signature value of header: prefix, then the
// signature in encoding ("hex" or "base64").
func signature(header, value, prefix, encoding string) ([]byte, error) {
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return nil, malformed(header, "it must start with %q", prefix)
	}
	got, err := decode(encoding, rest)
	if err != nil {
		return nil, malformed(header, "the signature is not %s", encoding)
	}
	return got, nil
}

func decode(encoding, s string) ([]byte, error) {
	if encoding == "base64" {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b, nil
		}
		return base64.URLEncoding.DecodeString(s)
	}
	return hex.DecodeString(s)
}

func sign(newHash func() hash.Hash, secret string, parts ...[]byte) []byte {
	return signKey(newHash, []byte(secret), parts...)
}

func signKey(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// StripeSignature is a parsed Stripe-Signature header.
type StripeSignature struct {
	Timestamp int64
	V1        [][]byte // at most MaxSignatures
}

// ParseStripeSignature parses "t=<unix>,v1=<hex>[,v1=<hex>...]"; other
// schemes (v0) and unknown items are ignored, as are v1 values that are
// not hex. It returns an error when t is missing or not a number, or when
// no v1 signature is left.
func ParseStripeSignature(header string) (StripeSignature, error) {
	var sig StripeSignature
	haveT := false
	for item := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil || t < 0 {
				return StripeSignature{}, malformed("Stripe-Signature", "t is not a Unix time")
			}
			sig.Timestamp, haveT = t, true
		case "v1":
			if len(sig.V1) >= MaxSignatures {
				continue
			}
			if b, err := hex.DecodeString(v); err == nil && len(b) > 0 {
				sig.V1 = append(sig.V1, b)
			}
		}
	}
	if !haveT {
		return StripeSignature{}, malformed("Stripe-Signature", "it has no t=<timestamp>")
	} else if len(sig.V1) == 0 {
		return StripeSignature{}, malformed("Stripe-Signature", "it has no v1=<signature>")
	}
	return sig, nil
}

func verifyStripe(r Request, secret string, tolerance time.Duration) error {
	value := r.Header.Get("Stripe-Signature")
	if strings.TrimSpace(value) == "" {
		return missing("Stripe-Signature")
	}
	sig, err := ParseStripeSignature(value)
	if err != nil {
		return err
	}
	want := sign(sha256.New, secret, []byte(strconv.FormatInt(sig.Timestamp, 10)), []byte("."), r.Body)
	if !anyEqual(sig.V1, want) {
		return mismatch("Stripe-Signature")
	}
	return checkTimestamp("Stripe-Signature", sig.Timestamp, r.Now, tolerance)
}

// anyEqual compares want with every candidate, without stopping early.
func anyEqual(candidates [][]byte, want []byte) bool {
	found := 0
	for _, c := range candidates {
		found |= subtle.ConstantTimeCompare(c, want)
	}
	return found == 1
}

func checkTimestamp(header string, unix int64, now time.Time, tolerance time.Duration) error {
	age := now.Unix() - unix
	limit := int64(tolerance / time.Second)
	if age > limit || -age > limit {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonTimestampTolerance,
			"the timestamp signed in %s is %ds from the collector's clock, more than the tolerance of %s; a replayed request or a wrong clock", header, age, tolerance)
	}
	return nil
}

// ParseWebhookSignature parses a Standard Webhooks signature header: a
// space-separated list of "<version>,<base64>". It returns the v1
// signatures (at most MaxSignatures); others, such as the asymmetric v1a,
// and undecodable ones are ignored. It returns an error when no v1
// signature is left.
func ParseWebhookSignature(header string) ([][]byte, error) {
	var sigs [][]byte
	for item := range strings.FieldsSeq(header) {
		version, value, ok := strings.Cut(item, ",")
		if !ok || version != "v1" || len(sigs) >= MaxSignatures {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(value); err == nil && len(b) > 0 {
			sigs = append(sigs, b)
		}
	}
	if len(sigs) == 0 {
		return nil, malformed("webhook-signature", "it has no v1,<base64 signature>")
	}
	return sigs, nil
}

// webhookHeader returns the Standard Webhooks header or its Svix-named twin.
func webhookHeader(h http.Header, name string) string {
	if v := h.Get("Webhook-" + name); v != "" {
		return v
	}
	return h.Get("Svix-" + name)
}

func verifyStandardWebhooks(r Request, secret string, tolerance time.Duration) error {
	id, ts, sigHeader := webhookHeader(r.Header, "Id"), webhookHeader(r.Header, "Timestamp"), webhookHeader(r.Header, "Signature")
	switch {
	case sigHeader == "":
		return missing("webhook-signature")
	case id == "":
		return missing("webhook-id")
	case ts == "":
		return missing("webhook-timestamp")
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return malformed("webhook-timestamp", "it is not a Unix time")
	}
	sigs, err := ParseWebhookSignature(sigHeader)
	if err != nil {
		return err
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the source's secret is not whsec_<base64>; fix the source configuration")
	}
	want := signKey(sha256.New, key, []byte(id), []byte("."), []byte(ts), []byte("."), r.Body)
	if !anyEqual(sigs, want) {
		return mismatch("webhook-signature")
	}
	return checkTimestamp("webhook-timestamp", unix, r.Now, tolerance)
}

// verifySlack checks X-Slack-Signature: "v0=" and the hex HMAC-SHA256 of
// "v0:<X-Slack-Request-Timestamp>:<body>".
func verifySlack(r Request, secret string, tolerance time.Duration) error {
	return verifyV0(r, "X-Slack-Signature", "X-Slack-Request-Timestamp", secret, tolerance)
}

// verifyV0 checks the scheme Slack and Zoom share: header holds "v0=" and
// the hex HMAC-SHA256 of "v0:<timestamp>:<body>", the timestamp a Unix
// time in tsHeader.
func verifyV0(r Request, header, tsHeader, secret string, tolerance time.Duration) error {
	value, ts, err := headerPair(r, header, tsHeader)
	if err != nil {
		return err
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return malformed(tsHeader, "it is not a Unix time")
	}
	got, err := signature(header, value, "v0=", "hex")
	if err != nil {
		return err
	}
	if !hmac.Equal(got, sign(sha256.New, secret, []byte("v0:"+ts+":"), r.Body)) {
		return mismatch(header)
	}
	return checkTimestamp(tsHeader, unix, r.Now, tolerance)
}

// verifyTwilio checks X-Twilio-Signature: the base64 HMAC-SHA1, keyed with
// the account's auth token, of the full URL followed by every form field of
// the body sorted by name, each name then value with no separator. A body
// that is not a form (JSON) is signed through the URL alone, whose
// bodySHA256 query parameter is then the hex SHA-256 of the body. Twilio
// signs URLs with and without the default port inconsistently, so both pass.
func verifyTwilio(r Request, authToken string) error {
	const header = "X-Twilio-Signature"
	value := strings.TrimSpace(r.Header.Get(header))
	if value == "" {
		return missing(header)
	}
	got, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return malformed(header, "the signature is not base64")
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the collector does not know its public URL, which Twilio signs; set --public-url (INLET_PUBLIC_URL)")
	}
	var fields []byte
	if bodySum := u.Query().Get("bodySHA256"); bodySum != "" {
		sum := sha256.Sum256(r.Body)
		if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(bodySum))) != 1 {
			return mismatch(header)
		}
	} else {
		form, err := url.ParseQuery(string(r.Body))
		if err != nil {
			return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadSignature, "the body is not a form, which %s signs: %s", header, err)
		}
		fields = twilioFields(form)
	}
	found := 0
	for _, candidate := range twilioURLs(u) {
		found |= subtle.ConstantTimeCompare(got, sign(sha1.New, authToken, []byte(candidate), fields))
	}
	if found != 1 {
		return mismatch(header)
	}
	return nil
}

// twilioFields concatenates the form fields sorted by name (byte order, as
// Twilio's documentation says), each name followed by its value; a name
// given several times contributes each of its values in order.
func twilioFields(form url.Values) []byte {
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	slices.Sort(names)
	var b []byte
	for _, name := range names {
		for _, v := range form[name] {
			b = append(b, name...)
			b = append(b, v...)
		}
	}
	return b
}

// twilioURLs returns the URL as given and with its default port added or
// removed.
func twilioURLs(u *url.URL) []string {
	urls := []string{u.String()}
	other := *u
	defaultPort := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	switch port := u.Port(); {
	case port == "" && defaultPort != "":
		other.Host = u.Host + ":" + defaultPort
	case port != "" && port == defaultPort:
		other.Host = u.Hostname()
	default:
		return urls
	}
	return append(urls, other.String())
}

// equalSecret compares two secrets in constant time, also in their length.
func equalSecret(got, want string) int {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:])
}

func verifyBasic(r Request, username, password string) error {
	auth := r.Header.Get("Authorization")
	const prefix = "basic "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonMissingCredentials, "send HTTP Basic credentials in the Authorization header")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[len(prefix):]))
	if err != nil {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadCredentials, "the Basic credentials are not base64")
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	if equalSecret(user, username)&equalSecret(pass, password) != 1 {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadCredentials, "the Basic credentials are wrong")
	}
	return nil
}

func verifyAPIKey(r Request, cfg *inlet.VerifyConfig) error {
	name := cfg.KeyName()
	var got string
	where := "header " + name
	if cfg.In == "query" {
		where = "query parameter " + name
		q, _ := url.ParseQuery(r.RawQuery) // a malformed query still yields its good pairs
		got = q.Get(name)
	} else {
		got = r.Header.Get(name)
	}
	if got == "" {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonMissingCredentials, "send the source's API key in the %s", where)
	}
	if equalSecret(got, cfg.Secret) != 1 {
		return inlet.Reasonf(inlet.EUNAUTHORIZED, ReasonBadCredentials, "the API key in the %s is wrong", where)
	}
	return nil
}
