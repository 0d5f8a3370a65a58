package deliver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"inlet"
)

func init() {
	// 64 connections to one receiver at a time.
	register(inlet.DestinationWebhook, Type{Validate: validateWebhook, Open: openWebhook, InFlight: 64})
}

// webhookConfig is the config of a webhook destination.
type webhookConfig struct {
	URL string `json:"url"`
	// Secret, whsec_<base64>, signs each request by the Standard Webhooks
	// scheme.
	Secret  string            `json:"secret,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout bounds one request, answer included; "10s" by default.
	Timeout string `json:"timeout,omitempty"`
}

// Webhook limits.
const (
	defaultWebhookTimeout = 10 * time.Second
	maxWebhookTimeout     = time.Minute
	// responseCap is how much of an answer is kept in the attempt log;
	// drainCap how much more is read so that the connection can be reused.
	responseCap = 256
	drainCap    = 64 << 10
)

// reservedHeaders are set by the transport and may not be configured.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}

func parseWebhook(config json.RawMessage) (*webhookConfig, time.Duration, []byte, error) {
	var c webhookConfig
	if err := decodeConfig(config, &c); err != nil {
		return nil, 0, nil, err
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, 0, nil, inlet.Errorf(inlet.EINVALID, "config.url must be an http:// or https:// URL")
	}
	var key []byte
	if c.Secret != "" {
		rest, ok := strings.CutPrefix(c.Secret, "whsec_")
		if key, err = base64.StdEncoding.DecodeString(rest); !ok || err != nil || len(key) < 16 {
			return nil, 0, nil, inlet.Errorf(inlet.EINVALID, "config.secret must be whsec_ followed by at least 16 bytes in base64 (the Standard Webhooks format)")
		}
	}
	for name := range c.Headers {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if name == "" || strings.ContainsAny(name, " :\r\n") {
			return nil, 0, nil, inlet.Errorf(inlet.EINVALID, "config.headers: %q is not a header name", name)
		}
		for _, r := range reservedHeaders {
			if canon == r {
				return nil, 0, nil, inlet.Errorf(inlet.EINVALID, "config.headers: %s is set by Inlet", r)
			}
		}
		if strings.ContainsAny(c.Headers[name], "\r\n") {
			return nil, 0, nil, inlet.Errorf(inlet.EINVALID, "config.headers: the value of %s holds a line break", name)
		}
	}
	timeout := defaultWebhookTimeout
	if c.Timeout != "" {
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout < 10*time.Millisecond || timeout > maxWebhookTimeout {
			return nil, 0, nil, inlet.Errorf(inlet.EINVALID, "config.timeout must be a duration such as \"10s\", from 10ms to %s", maxWebhookTimeout)
		}
	}
	return &c, timeout, key, nil
}

func validateWebhook(config json.RawMessage) error {
	_, _, _, err := parseWebhook(config)
	return err
}

// webhook POSTs events over a keep-alive client that follows no redirect.
type webhook struct {
	cfg    *webhookConfig
	key    []byte
	client *http.Client
	now    func() time.Time
}

func openWebhook(d *inlet.Destination, inFlight int) (Transport, error) {
	cfg, timeout, key, err := parseWebhook(d.Config)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = inFlight
	tr.MaxIdleConnsPerHost = inFlight
	tr.ResponseHeaderTimeout = timeout
	return &webhook{
		cfg: cfg,
		key: key,
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		now: time.Now,
	}, nil
}

// Send POSTs the event. See Transport.
func (w *webhook) Send(ctx context.Context, e *inlet.Event, body []byte) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: err}
	}
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "inlet")
	// The event id is the idempotency key of every attempt, signed or not.
	req.Header.Set("webhook-id", e.ID)
	if w.key != nil {
		ts := strconv.FormatInt(w.now().Unix(), 10)
		req.Header.Set("webhook-timestamp", ts)
		req.Header.Set("webhook-signature", "v1,"+Sign(w.key, e.ID, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return Result{Err: err}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, responseCap))
	io.Copy(io.Discard, io.LimitReader(resp.Body, drainCap))
	r := Result{Status: resp.StatusCode, Response: string(head)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode == http.StatusGone:
		r.Gone = true
		r.Err = fmt.Errorf("410 Gone: the receiver asks for nothing more; the destination is disabled")
	default:
		r.Err = fmt.Errorf("status %d", resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			r.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), w.now())
		}
	}
	return r
}

// ParseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date, as a wait from now; 0 when it is absent, unreadable or past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(inlet.MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), inlet.MaxRetryAfter)
	}
	return 0
}

// Timeout is the longest one request takes. See Transport.
func (w *webhook) Timeout() time.Duration { return w.client.Timeout }

// Close closes idle connections.
func (w *webhook) Close() error {
	w.client.CloseIdleConnections()
	return nil
}

// Sign returns the Standard Webhooks signature of a message: the base64
// HMAC-SHA256 of "id.timestamp.body" under key.
func Sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
