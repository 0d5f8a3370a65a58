package inlet_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"inlet"
)

// secretSources are sources with every kind of secret a verifier holds.
func secretSources() []*inlet.Source {
	return []*inlet.Source{
		{ID: "gh", Name: "GitHub", Type: inlet.SourceTypeWebhook, Config: inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyGitHub, Secret: "gh-secret-1"}}},
		{ID: "sw", Name: "Svix", Type: inlet.SourceTypeWebhook, Config: inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyStandardWebhooks, Secret: "whsec_c3ctc2VjcmV0LTI="}}},
		{ID: "basic", Name: "Basic", Type: inlet.SourceTypeWebhook, Config: inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyBasic, Username: "u", Password: "basic-password-3"}}},
		{ID: "key", Name: "Key", Type: inlet.SourceTypeWebhook, Config: inlet.SourceConfig{Verify: &inlet.VerifyConfig{Type: inlet.VerifyAPIKey, Secret: "api-key-4", In: "query"}, MaxBodyBytes: 1024}},
	}
}

var secrets = []string{"gh-secret-1", "c3ctc2VjcmV0LTI=", "basic-password-3", "api-key-4"}

func TestSourceJSONMasksSecrets(t *testing.T) {
	for _, src := range secretSources() {
		// Every way a source or part of it might be encoded: an answer, a
		// config on its own, a verifier on its own, a log line.
		var log strings.Builder
		for _, h := range []slog.Handler{slog.NewJSONHandler(&log, nil), slog.NewTextHandler(&log, nil)} {
			slog.New(h).Info("source", "source", src, "config", src.Config, "verify", src.Config.Verify, "verify value", *src.Config.Verify)
		}
		encodings := map[string]func() ([]byte, error){
			"*Source":       func() ([]byte, error) { return json.Marshal(src) },
			"Source":        func() ([]byte, error) { return json.Marshal(*src) },
			"SourceConfig":  func() ([]byte, error) { return json.Marshal(src.Config) },
			"*SourceConfig": func() ([]byte, error) { return json.Marshal(&src.Config) },
			"*VerifyConfig": func() ([]byte, error) { return json.Marshal(src.Config.Verify) },
			"a list":        func() ([]byte, error) { return json.Marshal(map[string]any{"items": []*inlet.Source{src}}) },
			"a log line":    func() ([]byte, error) { return []byte(log.String()), nil },
			"fmt": func() ([]byte, error) {
				var b strings.Builder
				for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
					for _, v := range []any{src, *src, src.Config, src.Config.Verify, *src.Config.Verify} {
						fmt.Fprintf(&b, verb+"\n", v)
					}
				}
				return []byte(b.String()), nil
			},
		}
		for name, enc := range encodings {
			b, err := enc()
			if err != nil {
				t.Fatalf("%s of %s: %v", name, src.ID, err)
			}
			for _, secret := range secrets {
				if strings.Contains(string(b), secret) {
					t.Errorf("%s of source %s reveals a secret: %s", name, src.ID, b)
				}
			}
			if !strings.Contains(string(b), inlet.MaskedSecret) {
				t.Errorf("%s of source %s shows no masked secret: %s", name, src.ID, b)
			}
		}
	}
	t.Run("a standard-webhooks secret keeps its prefix", func(t *testing.T) {
		b, _ := json.Marshal(secretSources()[1].Config)
		if !strings.Contains(string(b), `"secret":"whsec_****"`) {
			t.Errorf("config %s", b)
		}
	})
	t.Run("encoding does not change the source", func(t *testing.T) {
		src := secretSources()[0]
		json.Marshal(src)
		if src.Config.Verify.Secret != "gh-secret-1" {
			t.Errorf("the secret became %q", src.Config.Verify.Secret)
		}
	})
}

func TestSourceConfigSecretJSONKeepsSecrets(t *testing.T) {
	for _, src := range secretSources() {
		b, err := src.Config.SecretJSON()
		if err != nil {
			t.Fatalf("SecretJSON of %s: %v", src.ID, err)
		}
		var back inlet.SourceConfig
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("reading SecretJSON of %s: %v", src.ID, err)
		}
		if *back.Verify != *src.Config.Verify || back.MaxBodyBytes != src.Config.MaxBodyBytes {
			t.Errorf("source %s: stored %s, read back %+v, want %+v", src.ID, b, back.Verify, src.Config.Verify)
		}
		if strings.Contains(string(b), inlet.MaskedSecret) {
			t.Errorf("source %s: the storage encoding holds a mask: %s", src.ID, b)
		}
	}
	t.Run("a config without a verifier", func(t *testing.T) {
		c := inlet.SourceConfig{MaxBodyBytes: 10, SecretHeaders: []string{"X-Token"}}
		b, err := c.SecretJSON()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "verify") || !strings.Contains(string(b), `"max_body_bytes":10`) || !strings.Contains(string(b), "X-Token") {
			t.Errorf("SecretJSON = %s", b)
		}
	})
}
