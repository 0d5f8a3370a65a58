package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"inlet"
)

// Client speaks to a running server's admin API.
type Client struct {
	URL   string // for example http://127.0.0.1:8686
	Token string
	HTTP  *http.Client
}

// NewClient returns a client of the server at baseURL.
func NewClient(baseURL, token string) *Client {
	return &Client{URL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// CreateSourceRequest is the body of POST /api/v1/sources.
type CreateSourceRequest = createSourceRequest

// CreateSource registers a source.
func (c *Client) CreateSource(ctx context.Context, req CreateSourceRequest) (*inlet.Source, error) {
	config, err := configWithSecrets(req.Config)
	if err != nil {
		return nil, err
	}
	wire := struct {
		createSourceRequest
		Config json.RawMessage `json:"config"`
	}{req, config}
	var src inlet.Source
	return &src, c.do(ctx, http.MethodPost, "/api/v1/sources", wire, &src)
}

// configWithSecrets encodes a config to send, with its secrets: a config's
// own JSON masks them.
func configWithSecrets(c *inlet.SourceConfig) (json.RawMessage, error) {
	if c == nil {
		return json.RawMessage("null"), nil
	}
	return c.SecretJSON()
}

// ListSources lists every source.
func (c *Client) ListSources(ctx context.Context) ([]*inlet.Source, error) {
	var out struct {
		Items []*inlet.Source `json:"items"`
	}
	return out.Items, c.do(ctx, http.MethodGet, "/api/v1/sources", nil, &out)
}

// FindSource returns one source.
func (c *Client) FindSource(ctx context.Context, id string) (*inlet.Source, error) {
	var src inlet.Source
	return &src, c.do(ctx, http.MethodGet, "/api/v1/sources/"+url.PathEscape(id), nil, &src)
}

// UpdateSource changes a source.
func (c *Client) UpdateSource(ctx context.Context, id string, upd inlet.SourceUpdate) (*inlet.Source, error) {
	config, err := configWithSecrets(upd.Config)
	if err != nil {
		return nil, err
	}
	wire := struct {
		inlet.SourceUpdate
		Config json.RawMessage `json:"config"`
	}{upd, config}
	var src inlet.Source
	return &src, c.do(ctx, http.MethodPatch, "/api/v1/sources/"+url.PathEscape(id), wire, &src)
}

// DeleteSource removes a source.
func (c *Client) DeleteSource(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/sources/"+url.PathEscape(id), nil, nil)
}

// ListEvents returns a page of events.
func (c *Client) ListEvents(ctx context.Context, f inlet.EventFilter) (*inlet.EventPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"source": f.SourceID, "type": f.Type, "profile": f.ProfileID, "session": f.SessionID, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var page inlet.EventPage
	return &page, c.do(ctx, http.MethodGet, "/api/v1/events?"+q.Encode(), nil, &page)
}

// FindEvent returns one event.
func (c *Client) FindEvent(ctx context.Context, id string) (*inlet.Event, error) {
	var e inlet.Event
	return &e, c.do(ctx, http.MethodGet, "/api/v1/events/"+url.PathEscape(id), nil, &e)
}

// FindProfile returns one profile.
func (c *Client) FindProfile(ctx context.Context, id string) (*inlet.Profile, error) {
	var p inlet.Profile
	return &p, c.do(ctx, http.MethodGet, "/api/v1/profiles/"+url.PathEscape(id), nil, &p)
}

// FindSession returns one session.
func (c *Client) FindSession(ctx context.Context, id string) (*inlet.Session, error) {
	var s inlet.Session
	return &s, c.do(ctx, http.MethodGet, "/api/v1/sessions/"+url.PathEscape(id), nil, &s)
}

// do sends a request and decodes a 2xx answer into out; other answers
// become an *inlet.Error with the server's code and message.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return unreachable(c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			return inlet.Errorf(codeOf(resp.StatusCode), "server answered %s", resp.Status)
		}
		return &inlet.Error{Code: codeOf(resp.StatusCode), Reason: eb.Error.Code, Message: eb.Error.Message}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// ReasonUnreachable is the reason of the error a client call returns when
// no server answers at its URL: nothing listens there, or the host is unknown.
const ReasonUnreachable = "unreachable"

// unreachable is the error of a request that got no answer: one whose
// connection could not be made has the reason ReasonUnreachable and names
// only the cause (connection refused), not Go's whole dial error.
func unreachable(base string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		cause := op.Err
		var sys *os.SyscallError
		if errors.As(cause, &sys) {
			cause = sys.Err
		}
		return inlet.Reasonf(inlet.EUNAVAILABLE, ReasonUnreachable, "no server answers at %s (%s)", base, cause)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return inlet.Reasonf(inlet.EUNAVAILABLE, ReasonUnreachable, "no server answers at %s (%s)", base, dns.Err)
	}
	return inlet.Errorf(inlet.EUNAVAILABLE, "cannot reach the server at %s: %s", base, err)
}

// codeOf maps a status code back to an error code.
func codeOf(status int) string {
	for code, s := range codes {
		if s == status && code != inlet.EINTERNAL {
			return code
		}
	}
	return inlet.EINTERNAL
}
