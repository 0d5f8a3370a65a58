package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"inlet"
)

// TestDestinationsTryCLI creates destinations of the new types through the
// CLI's --config, and tries one's transform on a stored event.
func TestDestinationsTryCLI(t *testing.T) {
	isolateCLIEnv(t)
	s := startLive(t, liveConfig(t))
	conn := []string{"--server", s.url, "--admin-token", s.token}
	s.admin("POST", "/api/v1/sources", map[string]any{"id": "shop", "name": "Shop"}, http.StatusCreated, nil)
	config := `{"format":"parquet","directory":"` + t.TempDir() + `","transform":{"drop":"properties.n == 0","properties":"{'total': properties.n}"}}`
	mustRunInlet(t, append([]string{"destinations", "create", "--id", "lake", "--name", "Lake", "--type", "files", "--config", config}, conn...)...)

	kept := s.collect("POST", "/collect/order.created/shop", nil, strings.NewReader(`{"n":7}`)).Events[0]
	dropped := s.collect("POST", "/collect/order.created/shop", nil, strings.NewReader(`{"n":0}`)).Events[0]

	out := mustRunInlet(t, append([]string{"destinations", "try", "lake", kept}, conn...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var e inlet.Event
	if len(lines) != 2 || lines[0] != "lake would send event "+kept+" as:" || json.Unmarshal([]byte(lines[1]), &e) != nil || string(e.Properties) != `{"total":7}` {
		t.Fatalf("destinations try printed %q; want the event with properties {\"total\":7}", out)
	}
	if out := mustRunInlet(t, append([]string{"destinations", "try", "lake", dropped}, conn...)...); out != "lake would drop event "+dropped+": its transform's drop is true\n" {
		t.Fatalf("destinations try of a dropped event printed %q", out)
	}
	var res inlet.DestinationTry
	decodeOutput(t, mustRunInlet(t, append([]string{"destinations", "try", "lake", dropped, "--json"}, conn...)...), &res)
	if res.Outcome != inlet.TryDropped || res.EventID != dropped || res.Event != nil {
		t.Fatalf("destinations try --json = %+v", res)
	}
	if _, _, err := runInlet(t, append([]string{"destinations", "try", "lake", "nope"}, conn...)...); inlet.ErrorCode(err) != inlet.ENOTFOUND {
		t.Fatalf("destinations try of no event: %v; want not found", err)
	}

	// A wrong config of a new type is a 400 naming the field.
	_, _, err := runInlet(t, append([]string{"destinations", "create", "--name", "K", "--type", "kafka", "--config", `{"brokers":["127.0.0.1:9092"],"topic":"a b"}`}, conn...)...)
	if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessageOrText(err), "config.topic") {
		t.Fatalf("a kafka destination with a bad topic: %v; want invalid, naming config.topic", err)
	}
}
