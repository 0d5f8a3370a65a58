package collect

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/textproto"
	"net/url"

	"inlet"
)

// Reply is what a sender's handshake must be answered with, in place of
// the collector's usual answer.
type Reply struct {
	Status      int
	ContentType string // none when empty
	Body        []byte
}

func textReply(s string) *Reply {
	return &Reply{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(s)}
}

func jsonReply(v any) *Reply {
	b, _ := json.Marshal(v)
	return &Reply{Status: http.StatusOK, ContentType: "application/json", Body: b}
}

// Handshake answers a request by which a sender checks an endpoint before
// it sends events and that it does not sign (see the inlet.Handshake
// constants): Meta's subscription GET, Microsoft Graph's validationToken,
// Dropbox's challenge, the Twitter/X CRC and Okta's verification. ok is
// false for every other request, which is then verified and collected. A
// handshake is answered only; nothing is stored.
func Handshake(config *inlet.SourceConfig, method string, header map[string][]string, rawQuery string) (reply *Reply, ok bool) {
	p, found := inlet.LookupPreset(config.Preset)
	if !found || p.Handshake == "" {
		return nil, false
	}
	q, _ := url.ParseQuery(rawQuery) // a malformed query still yields its good pairs
	e := config.Effective()
	var secret, verifyToken string
	if e.Verify != nil {
		secret, verifyToken = e.Verify.Secret, e.Verify.VerifyToken
	}
	switch p.Handshake {
	case inlet.HandshakeMeta:
		if method != http.MethodGet || q.Get("hub.mode") != "subscribe" || q.Get("hub.challenge") == "" {
			return nil, false
		}
		if verifyToken == "" || !hmac.Equal([]byte(q.Get("hub.verify_token")), []byte(verifyToken)) {
			return &Reply{Status: http.StatusForbidden, ContentType: "text/plain; charset=utf-8", Body: []byte("hub.verify_token is not this source's verify_token\n")}, true
		}
		return textReply(q.Get("hub.challenge")), true
	case inlet.HandshakeGraph:
		if t, ok := q["validationToken"]; ok && len(t) == 1 {
			return textReply(t[0]), true
		}
	case inlet.HandshakeDropbox:
		if c := q.Get("challenge"); method == http.MethodGet && c != "" {
			return textReply(c), true
		}
	case inlet.HandshakeTwitterCRC:
		if t := q.Get("crc_token"); method == http.MethodGet && t != "" {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(t))
			return jsonReply(map[string]string{"response_token": "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))}), true
		}
	case inlet.HandshakeOkta:
		if c := textproto.MIMEHeader(header).Get("X-Okta-Verification-Challenge"); method == http.MethodGet && c != "" {
			return jsonReply(map[string]string{"verification": c}), true
		}
	}
	return nil, false
}

// signedHandshake returns the answer to a verified request that is a
// handshake of the preset's sender (stored as an event too), or nil.
func signedHandshake(p inlet.Preset, config *inlet.SourceConfig, header textproto.MIMEHeader, doc any) *Reply {
	str := func(path string) string {
		v, ok := lookupID(doc, path)
		if !ok {
			return ""
		}
		return v
	}
	switch p.Handshake {
	case inlet.HandshakeZoom:
		if str("event") != "endpoint.url_validation" || str("payload.plainToken") == "" {
			return nil
		}
		plain := str("payload.plainToken")
		mac := hmac.New(sha256.New, []byte(config.Verify.Secret))
		mac.Write([]byte(plain))
		return jsonReply(map[string]string{"plainToken": plain, "encryptedToken": hex.EncodeToString(mac.Sum(nil))})
	case inlet.HandshakeTwitch:
		if header.Get("Twitch-Eventsub-Message-Type") == "webhook_callback_verification" && str("challenge") != "" {
			return textReply(str("challenge"))
		}
	case inlet.HandshakeDiscord:
		if m, ok := doc.(map[string]any); ok {
			if _, isEvent := m["event"]; !isEvent && str("type") == "1" {
				return jsonReply(map[string]int{"type": 1}) // an interactions PING
			}
		}
		// Webhook events, their PING too, want an empty 204.
		return &Reply{Status: http.StatusNoContent}
	}
	return nil
}
