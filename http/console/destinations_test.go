package console

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"inlet"
)

func TestFailureRate(t *testing.T) {
	rate := func(r float64) *inlet.DeliveryState { return &inlet.DeliveryState{FailureRate1h: &r} }
	for _, tt := range []struct {
		name string
		st   *inlet.DeliveryState
		want string
	}{
		{"no attempt shows a dash, not 0%", &inlet.DeliveryState{}, "-"},
		{"no failure is 0%", rate(0), "0%"},
		{"a few failures among many are not hidden as 0%", rate(0.001), "<1%"},
		{"a rate is a whole percent", rate(0.375), "38%"},
		{"a few successes among many are not hidden as 100%", rate(0.998), ">99%"},
		{"every attempt failed is 100%", rate(1), "100%"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := failureRate(tt.st); got != tt.want {
				t.Fatalf("failureRate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDestinationForm(t *testing.T) {
	old := &inlet.Destination{ID: "crm", Name: "CRM", Type: inlet.DestinationWebhook, Enabled: true,
		Filter: inlet.DestinationFilter{Types: []string{"order.*"}}, Retry: inlet.RetryPolicy{Backoff: []string{"1s", "5s"}, MaxAge: "1h"},
		Config: json.RawMessage(`{"url":"http://127.0.0.1:9/hook","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`)}

	t.Run("the form shows the config with its secret masked and lists as text", func(t *testing.T) {
		f := newDestinationForm(old)
		if strings.Contains(f.Config, "MfKQ9r8") || !strings.Contains(f.Config, "****") {
			t.Fatalf("the form's config shows the secret: %s", f.Config)
		}
		if f.Types != "order.*" || f.Backoff != "1s, 5s" || f.MaxAge != "1h" || !f.Enabled {
			t.Fatalf("form = %+v", f)
		}
	})

	t.Run("a form sent back as shown keeps the secret and splits the lists", func(t *testing.T) {
		f := newDestinationForm(old)
		f.Sources, f.Types = " shop, ,app ", ""
		u, err := f.update(old)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(u.Config), "MfKQ9r8") {
			t.Fatalf("the secret sent back masked was not kept: %s", u.Config)
		}
		if !slices.Equal(u.Filter.Sources, []string{"shop", "app"}) || u.Filter.Types != nil || !slices.Equal(u.Retry.Backoff, []string{"1s", "5s"}) {
			t.Fatalf("update = %+v", u)
		}
	})

	t.Run("a config that is not a JSON object is refused as invalid", func(t *testing.T) {
		for _, text := range []string{`{"url": `, `null`, `[1]`} {
			f := newDestinationForm(old)
			f.Config = text
			_, err := f.update(old)
			if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessage(err), "the configuration") || strings.Contains(inlet.ErrorMessage(err), "Go value") {
				t.Errorf("config %s: %v, want %s saying what is wrong with the configuration", text, err, inlet.EINVALID)
			}
		}
	})
}
