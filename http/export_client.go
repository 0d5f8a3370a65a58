package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"inlet"
)

// streamClient returns a client like c's without an overall timeout: an
// export or an import lasts as long as its data.
func (c *Client) streamClient() *http.Client {
	hc := *c.HTTP
	hc.Timeout = 0
	return &hc
}

// Export writes the events of f, oldest first, as NDJSON to w and returns
// how many bytes it wrote. Limit and Cursor of f are ignored.
func (c *Client) Export(ctx context.Context, f inlet.EventFilter, w io.Writer) (int64, error) {
	q := url.Values{}
	for k, v := range map[string]string{"source": f.SourceID, "type": f.Type, "profile": f.ProfileID, "session": f.SessionID} {
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
	resp, err := c.stream(ctx, http.MethodGet, "/api/v1/events/export?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("export cut off after %d bytes: %w", n, err)
	}
	return n, nil
}

// Import sends NDJSON records (as exported) from r.
func (c *Client) Import(ctx context.Context, r io.Reader) (*ImportResult, error) {
	resp, err := c.stream(ctx, http.MethodPost, "/api/v1/events/import", r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res ImportResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, fmt.Errorf("decode the answer of an import: %w", err)
	}
	return &res, nil
}

// stream sends a request whose body or answer is streamed, and turns an
// answer that is not a 2xx into an *inlet.Error.
func (c *Client) stream(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := c.streamClient().Do(req)
	if err != nil {
		return nil, unreachable(c.URL, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			return nil, inlet.Errorf(codeOf(resp.StatusCode), "server answered %s", resp.Status)
		}
		return nil, &inlet.Error{Code: codeOf(resp.StatusCode), Reason: eb.Error.Code, Message: eb.Error.Message}
	}
	return resp, nil
}
