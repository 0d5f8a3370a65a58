package inlet_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"inlet"
)

func TestFilterMatch(t *testing.T) {
	f := inlet.DestinationFilter{Sources: []string{"shop"}, Types: []string{"invoice.*", "refund"}}
	for _, c := range []struct {
		source, typ string
		want        bool
	}{
		{"shop", "invoice.paid", true},
		{"shop", "invoice.", true},
		{"shop", "invoice", false},
		{"shop", "refund", true},
		{"shop", "refunds", false},
		{"crm", "invoice.paid", false},
	} {
		if got := f.Match(c.source, c.typ); got != c.want {
			t.Errorf("Match(%s, %s) = %v, want %v", c.source, c.typ, got, c.want)
		}
	}
	var all inlet.DestinationFilter
	if !all.Match("any", "thing") {
		t.Error("an empty filter does not match everything")
	}
}

func TestRetryScheduleStepsThenDies(t *testing.T) {
	p := inlet.RetryPolicy{Backoff: []string{"1s", "10s"}, MaxAge: "30s"}
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := first
	var waits []time.Duration
	for attempts := 1; ; attempts++ {
		next, dead := p.Next(attempts, first, now)
		if dead {
			break
		}
		waits = append(waits, next.Sub(now))
		now = next
		if attempts > 10 {
			t.Fatal("never dead")
		}
	}
	if len(waits) != 3 {
		t.Fatalf("waits %v; want 1s, 10s, 10s (each with up to 20%% jitter) then dead past 30s", waits)
	}
	for i, base := range []time.Duration{time.Second, 10 * time.Second, 10 * time.Second} {
		if waits[i] < base || waits[i] > base+base/5 {
			t.Errorf("wait %d = %v; want %v plus at most a fifth", i, waits[i], base)
		}
	}
	def := inlet.RetryPolicy{}.WithDefaults()
	if strings.Join(def.Backoff, ",") != "5s,30s,2m,10m,1h" || def.MaxAge != "24h" {
		t.Fatalf("defaults %+v", def)
	}
}

func TestDestinationSecretsAreWriteOnly(t *testing.T) {
	d := &inlet.Destination{ID: "d", Name: "d", Type: "webhook",
		Config: json.RawMessage(`{"url":"http://x","secret":"whsec_abc","headers":{"Authorization":"Bearer t"}}`)}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "whsec_abc") || strings.Contains(string(b), "Bearer t") || !strings.Contains(string(b), `"secret":"whsec_****"`) {
		t.Fatalf("JSON of a destination shows its secrets: %s", b)
	}
	var shown struct {
		Config json.RawMessage `json:"config"`
	}
	json.Unmarshal(b, &shown)
	kept := inlet.KeepSecrets(shown.Config, d.Config)
	var cfg struct {
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
	}
	json.Unmarshal(kept, &cfg)
	if cfg.Secret != "whsec_abc" || cfg.Headers["Authorization"] != "Bearer t" {
		t.Fatalf("KeepSecrets of the masked config = %s; want the stored secrets back", kept)
	}
	if got := inlet.KeepSecrets(json.RawMessage("null"), d.Config); string(got) != "null" {
		t.Fatalf("KeepSecrets(null) = %s", got)
	}
}

func TestAPasswordInAConnectionURLIsMaskedAndKept(t *testing.T) {
	stored := json.RawMessage(`{"url":"amqp://inlet:s3cret@mq.example.com:5672/prod","exchange":"events"}`)
	d := &inlet.Destination{Config: stored}
	b, _ := json.Marshal(d)
	if strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), `amqp://inlet:****@mq.example.com:5672/prod`) {
		t.Fatalf("the JSON of a destination shows %s; want the URL's password masked", b)
	}
	sentBack := json.RawMessage(`{"url":"amqp://inlet:****@mq.example.com:5672/prod","exchange":"other"}`)
	if got := string(inlet.KeepSecrets(sentBack, stored)); !strings.Contains(got, "amqp://inlet:s3cret@mq.example.com:5672/prod") || !strings.Contains(got, `"other"`) {
		t.Fatalf("KeepSecrets = %s; want the stored password back and the new exchange", got)
	}
	changed := json.RawMessage(`{"url":"amqp://inlet:new@mq.example.com:5672/prod"}`)
	if got := string(inlet.KeepSecrets(changed, stored)); !strings.Contains(got, "inlet:new@") {
		t.Fatalf("KeepSecrets = %s; want the new password", got)
	}
	for _, plain := range []string{`{"url":"redis://127.0.0.1:6379/0"}`, `{"url":"https://hooks.example.com/x?token=1"}`} {
		b, _ := json.Marshal(&inlet.Destination{Config: json.RawMessage(plain)})
		var out struct{ Config map[string]string }
		json.Unmarshal(b, &out)
		var in map[string]string
		json.Unmarshal([]byte(plain), &in)
		if out.Config["url"] != in["url"] {
			t.Fatalf("a URL without a password became %s", out.Config["url"])
		}
	}
}
