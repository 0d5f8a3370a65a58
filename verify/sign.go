package verify

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"inlet"
)

// Signature is what signing adds to a request: headers to set, and, for an
// API key sent in the query, a query parameter.
type Signature struct {
	Header     http.Header
	QueryName  string
	QueryValue string
}

// Sign signs r as the sender a verifier stands for signs its requests, so
// that Verify(cfg, r) with the headers set passes: the signature of r.Body
// (and of r.URL for twilio) with cfg's secret, at r.Now for the schemes
// that sign a timestamp. Standard Webhooks keeps r's webhook-id (or
// svix-id) and makes one up without it. It returns an EINVALID error for a
// verifier that cannot sign (an unknown type, a twilio body that is not a
// form, a standard-webhooks secret that is not whsec_<base64>).
func Sign(cfg *inlet.VerifyConfig, r Request) (Signature, error) {
	h := http.Header{}
	sig := Signature{Header: h}
	ts := strconv.FormatInt(r.Now.Unix(), 10)
	switch cfg.Type {
	case inlet.VerifyGitHub, inlet.VerifyMeta:
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(sign(sha256.New, cfg.Secret, r.Body)))
	case inlet.VerifyPaddle:
		h.Set("Paddle-Signature", "ts="+ts+";h1="+hex.EncodeToString(sign(sha256.New, cfg.Secret, []byte(ts+":"), r.Body)))
	case inlet.VerifyCalendly:
		h.Set("Calendly-Webhook-Signature", "t="+ts+",v1="+hex.EncodeToString(sign(sha256.New, cfg.Secret, []byte(ts+"."), r.Body)))
	case inlet.VerifyRecurly:
		ms := strconv.FormatInt(r.Now.UnixMilli(), 10)
		h.Set("Recurly-Signature", ms+","+hex.EncodeToString(sign(sha256.New, cfg.Secret, []byte(ms+"."), r.Body)))
	case inlet.VerifyZoom:
		h.Set("X-Zm-Request-Timestamp", ts)
		h.Set("X-Zm-Signature", "v0="+hex.EncodeToString(sign(sha256.New, cfg.Secret, []byte("v0:"+ts+":"), r.Body)))
	case inlet.VerifyZendesk:
		at := r.Now.UTC().Format(time.RFC3339)
		h.Set("X-Zendesk-Webhook-Signature-Timestamp", at)
		h.Set("X-Zendesk-Webhook-Signature", base64.StdEncoding.EncodeToString(sign(sha256.New, cfg.Secret, []byte(at), r.Body)))
	case inlet.VerifyTwitch:
		id := r.Header.Get("Twitch-Eventsub-Message-Id")
		if id == "" {
			id = inlet.NewID()
		}
		h.Set("Twitch-Eventsub-Message-Id", id)
		at := r.Now.UTC().Format(time.RFC3339Nano)
		h.Set("Twitch-Eventsub-Message-Timestamp", at)
		h.Set("Twitch-Eventsub-Message-Signature", "sha256="+hex.EncodeToString(sign(sha256.New, cfg.Secret, []byte(id+at), r.Body)))
	case inlet.VerifySquare:
		h.Set("X-Square-Hmacsha256-Signature", base64.StdEncoding.EncodeToString(sign(sha256.New, cfg.Secret, []byte(r.URL), r.Body)))
	case inlet.VerifyDiscord:
		h.Set("X-Signature-Timestamp", ts)
		h.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(DiscordPrivateKey(cfg.Secret), append([]byte(ts), r.Body...))))
	case inlet.VerifySendGrid:
		digest := sha256.Sum256(append([]byte(ts), r.Body...))
		der, err := ecdsa.SignASN1(rand.Reader, SendGridPrivateKey(cfg.Secret), digest[:])
		if err != nil {
			return sig, err
		}
		h.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
		h.Set("X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(der))
	case inlet.VerifyMailgun, inlet.VerifyGraph, inlet.VerifyAdyen:
		// The signature is in the body: see SignBody.
	case inlet.VerifyShopify:
		h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(sign(sha256.New, cfg.Secret, r.Body)))
	case inlet.VerifyHMAC:
		mac := sign(hashFunc(cfg.Algorithm), cfg.Secret, r.Body)
		value := hex.EncodeToString(mac)
		if cfg.Encoding == "base64" {
			value = base64.StdEncoding.EncodeToString(mac)
		}
		h.Set(cfg.Header, cfg.Prefix+value)
	case inlet.VerifyStripe:
		h.Set("Stripe-Signature", "t="+ts+",v1="+hex.EncodeToString(sign(sha256.New, cfg.Secret, []byte(ts+"."), r.Body)))
	case inlet.VerifyStandardWebhooks:
		return signStandardWebhooks(cfg.Secret, r, ts)
	case inlet.VerifySlack:
		h.Set("X-Slack-Request-Timestamp", ts)
		h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(sign(sha256.New, cfg.Secret, []byte("v0:"+ts+":"), r.Body)))
	case inlet.VerifyTwilio:
		u, err := url.Parse(r.URL)
		if err != nil || u.Host == "" {
			return sig, inlet.Errorf(inlet.EINVALID, "twilio signs the full URL; %q is not one", r.URL)
		}
		var fields []byte
		if u.Query().Get("bodySHA256") == "" {
			form, err := url.ParseQuery(string(r.Body))
			if err != nil {
				return sig, inlet.Errorf(inlet.EINVALID, "twilio signs a form body, and this one is not: %s", err)
			}
			fields = twilioFields(form)
		}
		h.Set("X-Twilio-Signature", base64.StdEncoding.EncodeToString(sign(sha1.New, cfg.Secret, []byte(u.String()), fields)))
	case inlet.VerifyBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)))
	case inlet.VerifyAPIKey:
		if cfg.In == "query" {
			sig.QueryName, sig.QueryValue = cfg.KeyName(), cfg.Secret
		} else {
			h.Set(cfg.KeyName(), cfg.Secret)
		}
	default:
		return sig, inlet.Errorf(inlet.EINVALID, "cannot sign for the verifier type %q", cfg.Type)
	}
	return sig, nil
}

// DiscordPrivateKey returns the Ed25519 key a Discord request is signed
// with for secret: the key itself as hex (a 32-byte seed or a 64-byte
// private key), or else one derived from the text, such as a development
// secret. DiscordPublicKey returns its public key, what a Discord source
// and the application verify with.
func DiscordPrivateKey(secret string) ed25519.PrivateKey {
	if b, err := hex.DecodeString(secret); err == nil {
		switch len(b) {
		case ed25519.SeedSize:
			return ed25519.NewKeyFromSeed(b)
		case ed25519.PrivateKeySize:
			return ed25519.PrivateKey(b)
		}
	}
	seed := sha256.Sum256([]byte(secret))
	return ed25519.NewKeyFromSeed(seed[:])
}

// DiscordPublicKey returns the hex public key of DiscordPrivateKey(secret).
func DiscordPublicKey(secret string) string {
	return hex.EncodeToString(DiscordPrivateKey(secret).Public().(ed25519.PublicKey))
}

// SendGridPrivateKey returns the ECDSA P-256 key a SendGrid request is
// signed with for secret: a base64 PKCS #8 private key, or else one
// derived from the text, such as a development secret. SendGridPublicKey
// returns its public key as SendGrid shows it (base64 PKIX), what a
// SendGrid source and the application verify with.
func SendGridPrivateKey(secret string) *ecdsa.PrivateKey {
	if der, err := base64.StdEncoding.DecodeString(secret); err == nil {
		if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
			if ec, ok := k.(*ecdsa.PrivateKey); ok {
				return ec
			}
		}
	}
	for i := byte(0); ; i++ {
		d := sha256.Sum256(append([]byte(secret), i))
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:]); err == nil {
			return k
		}
	}
}

// SendGridPublicKey returns the base64 PKIX public key of
// SendGridPrivateKey(secret).
func SendGridPublicKey(secret string) string {
	der, _ := x509.MarshalPKIXPublicKey(&SendGridPrivateKey(secret).PublicKey)
	return base64.StdEncoding.EncodeToString(der)
}

// SignBody returns body signed for a verifier that reads its signature
// from the body (mailgun's signature object, adyen's hmacSignature of each
// item, microsoft-graph's clientState), and body itself for the others. The body must be a JSON
// object (mailgun) or a Graph notification list.
func SignBody(cfg *inlet.VerifyConfig, body []byte, now time.Time) ([]byte, error) {
	var doc map[string]any
	switch cfg.Type {
	case inlet.VerifyMailgun:
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, inlet.Errorf(inlet.EINVALID, "mailgun signs a JSON object body: %s", err)
		}
		ts := strconv.FormatInt(now.Unix(), 10)
		token := hex.EncodeToString(sign(sha256.New, ts, []byte(inlet.NewID())))[:50]
		doc["signature"] = map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(sign(sha256.New, cfg.Secret, []byte(ts), []byte(token)))}
	case inlet.VerifyGraph:
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, inlet.Errorf(inlet.EINVALID, "a Microsoft Graph body is a JSON object: %s", err)
		}
		values, _ := doc["value"].([]any)
		for _, v := range values {
			if n, ok := v.(map[string]any); ok {
				n["clientState"] = cfg.Secret
			}
		}
	case inlet.VerifyAdyen:
		return signAdyen(cfg.Secret, body)
	default:
		return body, nil
	}
	return json.Marshal(doc)
}

func signStandardWebhooks(secret string, r Request, ts string) (Signature, error) {
	key, err := base64.StdEncoding.DecodeString(trimWhsec(secret))
	if err != nil {
		return Signature{}, inlet.Errorf(inlet.EINVALID, "a standard-webhooks secret is whsec_<base64>")
	}
	prefix := "Webhook-"
	if r.Header.Get("Webhook-Id") == "" && r.Header.Get("Svix-Id") != "" {
		prefix = "Svix-"
	}
	id := webhookHeader(r.Header, "Id")
	if id == "" {
		id = "msg_" + inlet.NewID()
	}
	h := http.Header{}
	h.Set(prefix+"Id", id)
	h.Set(prefix+"Timestamp", ts)
	h.Set(prefix+"Signature", "v1,"+base64.StdEncoding.EncodeToString(signKey(sha256.New, key, []byte(id+"."+ts+"."), r.Body)))
	return Signature{Header: h}, nil
}

func trimWhsec(secret string) string {
	if len(secret) > 6 && secret[:6] == "whsec_" {
		return secret[6:]
	}
	return secret
}
