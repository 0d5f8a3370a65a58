package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"inlet"
	"inlet/verify"
)

// TestHandshakes checks that each sender's check of an endpoint is
// answered as the sender's documentation wants, over real HTTP.
func TestHandshakes(t *testing.T) {
	s := startLive(t, liveConfig(t))
	pub, priv, _ := ed25519.GenerateKey(nil)
	sources := map[string]string{
		"slack":   `{"preset":"slack","verify":{"secret":"slack-secret"}}`,
		"meta":    `{"preset":"meta","verify":{"secret":"app-secret","verify_token":"meta-token"}}`,
		"zoom":    `{"preset":"zoom","verify":{"secret":"zoom-token"}}`,
		"twitch":  `{"preset":"twitch","verify":{"secret":"twitch-secret"}}`,
		"discord": `{"preset":"discord","verify":{"secret":"` + hex.EncodeToString(pub) + `"}}`,
		"graph":   `{"preset":"microsoft-graph","verify":{"secret":"client-state"}}`,
		"dropbox": `{"preset":"dropbox","verify":{"secret":"dropbox-app-secret"}}`,
		"twitter": `{"preset":"twitter","verify":{"secret":"consumer-secret"}}`,
		"okta":    `{"preset":"okta","verify":{"secret":"Bearer okta-key"}}`,
	}
	for id, config := range sources {
		s.call(apiCall{method: "POST", path: "/api/v1/sources", header: header("Authorization", "Bearer "+s.token), body: `{"id":"` + id + `","name":"` + id + `","config":` + config + `}`, want: 201})
	}
	send := func(method, path string, h http.Header, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header, string(b)
	}
	signed := func(cfg inlet.VerifyConfig, path string, h http.Header, body string) http.Header {
		t.Helper()
		if h == nil {
			h = http.Header{}
		}
		sig, err := verify.Sign(&cfg, verify.Request{Header: h, Body: []byte(body), URL: s.url + path, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range sig.Header {
			h[k] = v
		}
		h.Set("Content-Type", "application/json")
		return h
	}
	hmacOf := func(key, msg string) []byte {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(msg))
		return m.Sum(nil)
	}

	t.Run("Slack's url_verification is answered with its challenge", func(t *testing.T) {
		body := `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
		status, _, got := send("POST", "/collect/slack/slack", signed(inlet.VerifyConfig{Type: "slack", Secret: "slack-secret"}, "", nil, body), body)
		var answer struct{ Challenge string }
		json.Unmarshal([]byte(got), &answer)
		if status != 200 || answer.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
			t.Errorf("%d %s", status, got)
		}
	})
	t.Run("Meta's subscription GET is answered with hub.challenge when the verify token matches", func(t *testing.T) {
		status, h, got := send("GET", "/collect/meta/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meta-token", nil, "")
		if status != 200 || got != "1158201444" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Errorf("%d %q %s", status, got, h.Get("Content-Type"))
		}
		if status, _, got := send("GET", "/collect/meta/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess", nil, ""); status != 403 || strings.Contains(got, "1158201444") {
			t.Errorf("a wrong verify token: %d %q, want 403 without the challenge", status, got)
		}
	})
	t.Run("Zoom's endpoint.url_validation is answered with the plainToken and its HMAC", func(t *testing.T) {
		body := `{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`
		status, _, got := send("POST", "/collect/zoom/zoom", signed(inlet.VerifyConfig{Type: "zoom", Secret: "zoom-token"}, "", nil, body), body)
		var answer struct{ PlainToken, EncryptedToken string }
		json.Unmarshal([]byte(got), &answer)
		if status != 200 || answer.PlainToken != "qgg8vlvZRS6UYooatFL8Aw" || answer.EncryptedToken != hex.EncodeToString(hmacOf("zoom-token", "qgg8vlvZRS6UYooatFL8Aw")) {
			t.Errorf("%d %s", status, got)
		}
	})
	t.Run("Twitch's webhook_callback_verification is answered with the challenge as text", func(t *testing.T) {
		body := `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387","status":"webhook_callback_verification_pending","type":"channel.follow","version":"2"}}`
		h := http.Header{}
		h.Set("Twitch-Eventsub-Message-Type", "webhook_callback_verification")
		h.Set("Twitch-Eventsub-Subscription-Type", "channel.follow")
		status, rh, got := send("POST", "/collect/twitch/twitch", signed(inlet.VerifyConfig{Type: "twitch", Secret: "twitch-secret"}, "", h, body), body)
		if status != 200 || got != "pogchamp-kappa-360noscope-vohiyo" || !strings.HasPrefix(rh.Get("Content-Type"), "text/plain") {
			t.Errorf("%d %q %s", status, got, rh.Get("Content-Type"))
		}
	})
	t.Run("Discord's PING is answered with type 1, a webhook event with 204", func(t *testing.T) {
		seed := hex.EncodeToString(priv.Seed())
		body := `{"type":1,"id":"1","application_id":"2","token":"t","version":1}`
		status, _, got := send("POST", "/collect/discord/discord", signed(inlet.VerifyConfig{Type: "discord", Secret: seed}, "", nil, body), body)
		if status != 200 || strings.TrimSpace(got) != `{"type":1}` {
			t.Errorf("PING: %d %s", status, got)
		}
		event := `{"version":1,"application_id":"2","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"2026-12-07T00:00:00Z","data":{}}}`
		if status, _, got := send("POST", "/collect/discord/discord", signed(inlet.VerifyConfig{Type: "discord", Secret: seed}, "", nil, event), event); status != 204 || got != "" {
			t.Errorf("a webhook event: %d %q, want 204 and no body", status, got)
		}
		bad := signed(inlet.VerifyConfig{Type: "discord", Secret: strings.Repeat("ab", 32)}, "", nil, body)
		if status, _, _ := send("POST", "/collect/discord/discord", bad, body); status != 401 {
			t.Errorf("a PING signed with another key: %d, want 401", status)
		}
	})
	t.Run("Microsoft Graph's validationToken is answered as text", func(t *testing.T) {
		status, h, got := send("POST", "/collect/notification/graph?validationToken=Validation%3A+Testing+client+application+reachability", header("Content-Type", "text/plain"), "")
		if status != 200 || got != "Validation: Testing client application reachability" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Errorf("%d %q", status, got)
		}
	})
	t.Run("Dropbox's challenge is echoed with nosniff", func(t *testing.T) {
		status, h, got := send("GET", "/collect/list_folder/dropbox?challenge=JGVCDzR6vMNIBfjBUmRdsQ", nil, "")
		if status != 200 || got != "JGVCDzR6vMNIBfjBUmRdsQ" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%d %q %v", status, got, h)
		}
	})
	t.Run("Twitter's CRC is answered with the HMAC of the crc_token", func(t *testing.T) {
		status, _, got := send("GET", "/collect/activity/twitter?crc_token=cmNfdG9rZW4", nil, "")
		var answer struct {
			ResponseToken string `json:"response_token"`
		}
		json.Unmarshal([]byte(got), &answer)
		if want := "sha256=" + base64.StdEncoding.EncodeToString(hmacOf("consumer-secret", "cmNfdG9rZW4")); status != 200 || answer.ResponseToken != want {
			t.Errorf("%d %s, want %s", status, got, want)
		}
	})
	t.Run("Okta's verification GET is answered with the challenge", func(t *testing.T) {
		status, _, got := send("GET", "/collect/event/okta", header("X-Okta-Verification-Challenge", "vU-Ki2WrqGEfqg0vYN9l7RW7vrEF2NYAtKJOE5fzA9E"), "")
		if status != 200 || strings.TrimSpace(got) != `{"verification":"vU-Ki2WrqGEfqg0vYN9l7RW7vrEF2NYAtKJOE5fzA9E"}` {
			t.Errorf("%d %s", status, got)
		}
	})
	t.Run("an unsigned request that is no handshake is still refused", func(t *testing.T) {
		if status, _, _ := send("POST", "/collect/x/dropbox", header("Content-Type", "application/json"), `{}`); status != 401 {
			t.Errorf("status %d, want 401", status)
		}
		if status, _, _ := send("GET", "/collect/x/meta?hub.mode=unsubscribe", nil, ""); status != 401 {
			t.Errorf("status %d, want 401", status)
		}
	})
}
