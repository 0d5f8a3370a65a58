package http

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"inlet"
	"inlet/stream"
)

// StreamItem is one message of the live stream: an event, or a control
// message (Kind "gap" or "end") whose Data says what happened.
type StreamItem struct {
	Kind  string // "event", "gap" or "end"
	Event *inlet.Event
	Data  json.RawMessage
}

// StreamEnd is the data of an "end" message.
type StreamEnd struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Stream connects to the live stream once, resuming after lastEventID when
// set, and calls fn with each message until the stream ends, ctx ends or
// fn fails. It returns the id of the last event received (lastEventID if
// none), to resume from on the next call. The stream ending is not an
// error; the server refusing it is (EUNAUTHORIZED, EINVALID, EUNAVAILABLE).
func (c *Client) Stream(ctx context.Context, f stream.Filter, lastEventID string, fn func(StreamItem) error) (string, error) {
	q := url.Values{}
	for k, v := range map[string]string{"source": f.SourceID, "type": f.Type, "session": f.SessionID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/api/v1/events/stream?"+q.Encode(), nil)
	if err != nil {
		return lastEventID, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	hc := *c.HTTP
	hc.Timeout = 0 // a stream lasts as long as it is wanted
	resp, err := hc.Do(req)
	if err != nil {
		return lastEventID, unreachable(c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			return lastEventID, inlet.Errorf(codeOf(resp.StatusCode), "server answered %s", resp.Status)
		}
		return lastEventID, &inlet.Error{Code: codeOf(resp.StatusCode), Reason: eb.Error.Code, Message: eb.Error.Message}
	}

	last := lastEventID
	br := bufio.NewReader(resp.Body)
	var id, kind string
	var data strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return last, nil
			}
			return last, nil // the connection broke: the caller reconnects
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" { // dispatch
			if data.Len() > 0 || kind != "" {
				item := StreamItem{Kind: kind, Data: json.RawMessage(data.String())}
				if item.Kind == "" {
					item.Kind = "event"
					var e inlet.Event
					if err := json.Unmarshal(item.Data, &e); err != nil {
						return last, err
					}
					item.Event = &e
					if id != "" {
						last = id
					}
				}
				if err := fn(item); err != nil {
					return last, err
				}
			}
			id, kind = "", ""
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment: heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "event":
			kind = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
}
