package verify_test

// The senders' own Go libraries accept what verify.Sign signs, and what
// they accept verify.Verify accepts.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/PaddleHQ/paddle-go-sdk/v4"
	"github.com/bwmarrin/discordgo"

	"inlet"
	"inlet/verify"
)

func TestPaddleLibrary(t *testing.T) {
	const secret = "pdl_ntfset_01gkpjp8bkh3d1j6myx2vv2t4q_6yqyTqwl7R5dB1XwBqaHwvFh2b4cE1TM"
	body := []byte(`{"event_id":"evt_01h8bzakzx3hm2fmen703n5q45","event_type":"transaction.completed","data":{"id":"txn_1"}}`)
	cfg := &inlet.VerifyConfig{Type: "paddle", Secret: secret}
	sig, err := verify.Sign(cfg, verify.Request{Body: body, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	paddleAccepts := func(secret string, h http.Header, body []byte) bool {
		req, _ := http.NewRequest("POST", "https://example.com/collect/paddle/p", bytes.NewReader(body))
		req.Header = h
		ok, err := paddle.NewWebhookVerifier(secret, paddle.VerifierWithTimestampTolerance(5*time.Minute)).Verify(req)
		return ok && err == nil
	}
	if !paddleAccepts(secret, sig.Header, body) {
		t.Errorf("paddle-go-sdk refuses what Sign signs: %v", sig.Header)
	}
	if paddleAccepts("another", sig.Header, body) {
		t.Errorf("paddle-go-sdk accepts it under another secret")
	}
	agree(t, "Sign's Paddle signature", nil, verify.Verify(cfg, verify.Request{Header: sig.Header, Body: body, Now: time.Now()}), true)
}

func TestDiscordLibrary(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":1,"id":"1","application_id":"2","token":"t","version":1}`)
	sig, err := verify.Sign(&inlet.VerifyConfig{Type: "discord", Secret: hex.EncodeToString(priv.Seed())}, verify.Request{Body: body, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	discordAccepts := func(key ed25519.PublicKey, h http.Header, body []byte) bool {
		req, _ := http.NewRequest("POST", "https://example.com/collect/discord/d", bytes.NewReader(body))
		req.Header = h
		return discordgo.VerifyInteraction(req, key)
	}
	if !discordAccepts(pub, sig.Header, body) {
		t.Errorf("discordgo refuses what Sign signs")
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if discordAccepts(other, sig.Header, body) {
		t.Errorf("discordgo accepts it under another key")
	}
	cfg := &inlet.VerifyConfig{Type: "discord", Secret: hex.EncodeToString(pub)}
	agree(t, "Sign's Discord signature", nil, verify.Verify(cfg, verify.Request{Header: sig.Header, Body: body, Now: time.Now()}), true)
	tampered := append([]byte(nil), body...)
	tampered[9] = '2'
	if discordAccepts(pub, sig.Header, tampered) || verify.Verify(cfg, verify.Request{Header: sig.Header, Body: tampered, Now: time.Now()}) == nil {
		t.Errorf("a tampered body passes")
	}
}
