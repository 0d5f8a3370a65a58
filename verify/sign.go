package verify

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"

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
	case inlet.VerifyGitHub:
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(sign(sha256.New, cfg.Secret, r.Body)))
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
