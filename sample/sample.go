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
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"inlet"
)

//go:embed fixtures
var fixtures embed.FS

// Entry is one sample: a sender (a preset's name) and an event type.
type Entry struct {
	Sender string `json:"sender"`
	Type   string `json:"type"`
}

// List returns every sample, by sender then type.
func List() []Entry {
	var out []Entry
	fs.WalkDir(fixtures, "fixtures", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return nil
		}
		out = append(out, Entry{Sender: path.Base(path.Dir(p)), Type: strings.TrimSuffix(path.Base(p), ".json")})
		return nil
	})
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
	raw, err := fixtures.ReadFile("fixtures/" + sender + "/" + typ + ".json")
	if err != nil || strings.ContainsAny(sender+typ, "/\\") {
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
	var props map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&props); err != nil {
		return nil, fmt.Errorf("sample %s/%s: %w", sender, typ, err)
	}
	for _, set := range sets {
		if err := apply(props, set); err != nil {
			return nil, err
		}
	}
	r := &Request{Header: http.Header{}}
	r.Header.Set("Content-Type", s.contentType)
	if s.contentType == "application/x-www-form-urlencoded" {
		form := url.Values{}
		for k, v := range props {
			form.Set(k, fmt.Sprint(v))
		}
		r.Body = []byte(form.Encode())
	} else if r.Body, err = json.Marshal(props); err != nil {
		return nil, err
	}
	if s.header != nil {
		s.header(r.Header, typ, fill)
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
}

func newFiller(now time.Time) *filler {
	return &filler{now: now, uuid: inlet.NewID(), id: randomString(14, "abcdefghijklmnopqrstuvwxyz0123456789"), hex: randomString(40, "0123456789abcdef")}
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
	num := strconv.FormatInt(f.now.UnixNano()/1000%1e12, 10)
	now := strconv.FormatInt(f.now.Unix(), 10)
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
}
