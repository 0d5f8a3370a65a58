// Package sample holds realistic requests of the senders Inlet has presets
// for, modelled on the shapes the senders document: the body of each event
// type and the headers the sender sets, with fresh ids and times on each
// build so that a sample is never taken for a duplicate. inlet trigger
// signs and sends them.
package sample

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"inlet"
)

//go:embed fixtures
var fixtures embed.FS

// Entry is one sample: a sender (a preset's name) and its name, the event
// type it is stored as, or that type, '+' and a variant
// (form_response+nps_low).
type Entry struct {
	Sender string `json:"sender"`
	Type   string `json:"type"`
}

// EventType returns the type the sample is stored as.
func (e Entry) EventType() string { return EventType(e.Type) }

// EventType returns the event type of a sample's name: the name without
// its variant.
func EventType(name string) string {
	t, _, _ := strings.Cut(name, "+")
	return t
}

// senderSamples returns a sender's samples by name, from
// fixtures/<sender>.json.
func senderSamples(sender string) map[string]json.RawMessage {
	raw, err := fixtures.ReadFile("fixtures/" + sender + ".json")
	if err != nil {
		return nil
	}
	var samples map[string]json.RawMessage
	if err := json.Unmarshal(raw, &samples); err != nil {
		panic(fmt.Sprintf("sample: fixtures/%s.json: %v", sender, err)) // a build defect, caught by the tests
	}
	return samples
}

// List returns every sample, by sender then type.
func List() []Entry {
	var out []Entry
	files, _ := fs.ReadDir(fixtures, "fixtures")
	for _, f := range files {
		sender := strings.TrimSuffix(f.Name(), ".json")
		for name := range senderSamples(sender) {
			out = append(out, Entry{Sender: sender, Type: name})
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Sender, b.Sender); c != 0 {
			return c
		}
		return strings.Compare(a.Type, b.Type)
	})
	return out
}

// Types returns the event types of a sender's samples.
func Types(sender string) []string {
	var out []string
	for _, e := range List() {
		if e.Sender == sender {
			out = append(out, e.Type)
		}
	}
	return out
}

// Request is a sample request, unsigned.
type Request struct {
	Header http.Header
	Body   []byte
}

// Build returns a sample of a sender's event type at now, with fresh ids,
// and with the sets (path=value, value as JSON or else a string) applied
// to its body. Returns ENOTFOUND for an unknown sender or type, EINVALID
// for a set that cannot apply.
func Build(sender, typ string, sets []string, now time.Time) (*Request, error) {
	raw, ok := senderSamples(sender)[typ]
	if !ok {
		if len(Types(sender)) == 0 {
			return nil, inlet.Errorf(inlet.ENOTFOUND, "no samples of the sender %q; inlet trigger --list shows them", sender)
		}
		return nil, inlet.Errorf(inlet.ENOTFOUND, "no sample of %s's %q; it has %s", sender, typ, strings.Join(Types(sender), ", "))
	}
	s, ok := senders[sender]
	if !ok {
		s = senderHeaders{contentType: "application/json"}
	}
	fill := newFiller(now)
	body := fill.replace(raw)
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("sample %s/%s: %w", sender, typ, err)
	}
	// A batch (SendGrid) is an array of objects: each takes the sets.
	objects, _ := doc.([]any)
	if m, ok := doc.(map[string]any); ok {
		objects = []any{m}
	}
	for _, set := range sets {
		for _, o := range objects {
			m, ok := o.(map[string]any)
			if !ok {
				continue
			}
			if err := apply(m, set); err != nil {
				return nil, err
			}
		}
	}
	r := &Request{Header: http.Header{}}
	r.Header.Set("Content-Type", s.contentType)
	if props, ok := doc.(map[string]any); ok && s.contentType == "application/x-www-form-urlencoded" {
		form := url.Values{}
		for k, v := range props {
			form.Set(k, fmt.Sprint(v))
		}
		r.Body = []byte(form.Encode())
	} else {
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	if s.header != nil {
		s.header(r.Header, EventType(typ), fill)
	}
	return r, nil
}

// apply sets path=value in props, making the objects on the way.
func apply(props map[string]any, set string) error {
	p, v, ok := strings.Cut(set, "=")
	if !ok || p == "" {
		return inlet.Errorf(inlet.EINVALID, "--set %q: want path=value, such as data.object.amount_paid=5000", set)
	}
	var value any
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	if dec.Decode(&value) != nil || dec.More() {
		value = v
	}
	parts := strings.Split(p, ".")
	m := props
	for i, part := range parts[:len(parts)-1] {
		switch next := m[part].(type) {
		case map[string]any:
			m = next
		case nil:
			n := map[string]any{}
			m[part] = n
			m = n
		default:
			return inlet.Errorf(inlet.EINVALID, "--set %q: %s is not an object", set, strings.Join(parts[:i+1], "."))
		}
	}
	m[parts[len(parts)-1]] = value
	return nil
}

// filler makes the fresh values of a sample's placeholders.
type filler struct {
	now  time.Time
	uuid string
	id   string
	hex  string
	num  string // a number of 12 digits
}

func newFiller(now time.Time) *filler {
	return &filler{now: now, uuid: inlet.NewID(), id: randomString(14, "abcdefghijklmnopqrstuvwxyz0123456789"), hex: randomString(40, "0123456789abcdef"), num: randomString(1, "123456789") + randomString(11, "0123456789")}
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

// replace fills the placeholders: a whole string "{{now}}" or "{{num}}"
// becomes a number, any other the text.
func (f *filler) replace(raw []byte) []byte {
	num, now := f.num, strconv.FormatInt(f.now.Unix(), 10)
	r := strings.NewReplacer(
		`"{{now}}"`, now, `"{{num}}"`, num,
		"{{now}}", now, "{{num}}", num,
		"{{now_iso}}", f.now.UTC().Format(time.RFC3339),
		"{{now_rfc1123}}", f.now.UTC().Format(time.RFC1123Z),
		"{{uuid}}", f.uuid, "{{id}}", f.id, "{{ID}}", strings.ToUpper(f.id),
		"{{hex40}}", f.hex, "{{hex32}}", f.hex[:32],
	)
	return []byte(r.Replace(string(raw)))
}

// senderHeaders is what a sender sets beside the body: its content type
// and headers.
type senderHeaders struct {
	contentType string
	header      func(h http.Header, typ string, f *filler)
}

var senders = map[string]senderHeaders{
	inlet.PresetGitHub: {"application/json", func(h http.Header, typ string, f *filler) {
		event, _, _ := strings.Cut(typ, ".")
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", f.uuid)
		h.Set("X-GitHub-Hook-ID", "4711")
		h.Set("User-Agent", "GitHub-Hookshot/7a2b3c4")
	}},
	inlet.PresetStripe: {"application/json; charset=utf-8", func(h http.Header, _ string, _ *filler) {
		h.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	}},
	inlet.PresetShopify: {"application/json", func(h http.Header, typ string, f *filler) {
		h.Set("X-Shopify-Topic", strings.Replace(typ, ".", "/", 1))
		h.Set("X-Shopify-Shop-Domain", "ada-shop.myshopify.com")
		h.Set("X-Shopify-API-Version", "2025-01")
		h.Set("X-Shopify-Webhook-Id", f.uuid)
		h.Set("X-Shopify-Event-Id", hex.EncodeToString([]byte(f.id))[:24])
		h.Set("X-Shopify-Triggered-At", f.now.UTC().Format(time.RFC3339Nano))
	}},
	inlet.PresetStandardWebhooks: {"application/json", func(h http.Header, _ string, f *filler) {
		h.Set("Webhook-Id", "msg_"+f.id)
	}},
	inlet.PresetSlack: {"application/json", func(h http.Header, _ string, _ *filler) {
		h.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	}},
	inlet.PresetTwilio: {"application/x-www-form-urlencoded", func(h http.Header, _ string, f *filler) {
		h.Set("I-Twilio-Idempotency-Token", f.uuid)
		h.Set("User-Agent", "TwilioProxy/1.1")
	}},
	"gitlab": {"application/json", func(h http.Header, typ string, f *filler) {
		kind, _, _ := strings.Cut(typ, ".")
		h.Set("X-Gitlab-Event", gitlabEvents[kind])
		h.Set("X-Gitlab-Event-Uuid", f.uuid)
		h.Set("Idempotency-Key", f.uuid)
		h.Set("X-Gitlab-Instance", "https://gitlab.com")
		h.Set("User-Agent", "GitLab/17.6.0")
	}},
	"bitbucket": {"application/json", func(h http.Header, typ string, f *filler) {
		h.Set("X-Event-Key", typ)
		h.Set("X-Request-Uuid", f.uuid)
		h.Set("X-Hook-Uuid", "a0a1a2a3-0000-4000-8000-000000000003")
		h.Set("User-Agent", "Bitbucket-Webhooks/2.0")
	}},
	"jira": {"application/json", func(h http.Header, _ string, f *filler) {
		h.Set("X-Atlassian-Webhook-Identifier", f.num)
		h.Set("User-Agent", "Atlassian Webhook HTTP Client")
	}},
	"linear": {"application/json; charset=utf-8", func(h http.Header, typ string, f *filler) {
		kind, _, _ := strings.Cut(typ, ".")
		h.Set("Linear-Delivery", f.uuid)
		h.Set("Linear-Event", strings.ToUpper(kind[:1])+kind[1:])
		h.Set("User-Agent", "Linear-Webhook")
	}},
	"woocommerce": {"application/json", func(h http.Header, typ string, f *filler) {
		resource, event, _ := strings.Cut(typ, ".")
		h.Set("X-Wc-Webhook-Topic", typ)
		h.Set("X-Wc-Webhook-Resource", resource)
		h.Set("X-Wc-Webhook-Event", event)
		h.Set("X-Wc-Webhook-Id", "12")
		h.Set("X-Wc-Webhook-Delivery-Id", f.uuid)
		h.Set("X-Wc-Webhook-Source", "https://shop.example.com/")
		h.Set("User-Agent", "WooCommerce/9.4.2 Hookshot (WordPress/6.7)")
	}},
	"zendesk": {"application/json", func(h http.Header, _ string, f *filler) {
		h.Set("X-Zendesk-Webhook-Id", "01GKHNAGG7SAMPLE")
		h.Set("X-Zendesk-Webhook-Invocation-Id", f.uuid)
		h.Set("User-Agent", "Zendesk Webhook")
	}},
	"twitch": {"application/json", func(h http.Header, typ string, f *filler) {
		h.Set("Twitch-Eventsub-Message-Id", f.uuid)
		h.Set("Twitch-Eventsub-Message-Type", "notification")
		h.Set("Twitch-Eventsub-Subscription-Type", typ)
		h.Set("Twitch-Eventsub-Subscription-Version", "1")
		h.Set("Twitch-Eventsub-Message-Retry", "0")
	}},
	"clerk":  {"application/json", svixHeaders},
	"resend": {"application/json", svixHeaders},
	"svix":   {"application/json", svixHeaders},
	"meta": {"application/json", func(h http.Header, _ string, _ *filler) {
		h.Set("User-Agent", "facebookexternalua")
	}},
	"discord": {"application/json", func(h http.Header, _ string, _ *filler) {
		h.Set("User-Agent", "Discord-Webhook/1.0 (+https://discord.com)")
	}},
	"sendgrid": {"application/json", func(h http.Header, _ string, _ *filler) {
		h.Set("User-Agent", "SendGrid Event API")
	}},
	"okta": {"application/json", func(h http.Header, _ string, _ *filler) {
		h.Set("User-Agent", "Okta Event Hooks")
	}},
}

// gitlabEvents are the X-Gitlab-Event values of object kinds.
var gitlabEvents = map[string]string{
	"push": "Push Hook", "merge_request": "Merge Request Hook", "issue": "Issue Hook", "pipeline": "Pipeline Hook", "note": "Note Hook",
}

func svixHeaders(h http.Header, _ string, f *filler) {
	h.Set("Svix-Id", "msg_"+f.id)
}
