package http

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"inlet"
)

// The event log over HTTP: committed events in commit order after an
// opaque cursor, for readers that must see every event once and in order
// (inlet listen). Unlike the live stream, whose resume window is short, a
// cursor stays good for as long as the store keeps the events after it.

// LogCursorNow is the after value that reads from the log's head: only
// events committed from the request on.
const LogCursorNow = "now"

// MaxLogLimit bounds the events of one answer, MaxLogWait how long a read
// that finds nothing waits for an event.
const (
	MaxLogLimit = 1000
	MaxLogWait  = 25 * time.Second
)

// logPollInterval is how often a waiting read looks at the log again.
var logPollInterval = 50 * time.Millisecond

// LogItem is one event of the log with the cursor just past it.
type LogItem struct {
	Cursor string       `json:"cursor"`
	Event  *inlet.Event `json:"event"`
}

// LogPage is an answer of GET /api/v1/log: the events that pass the filter,
// and the cursor to read from next, which may be past events that did not.
type LogPage struct {
	Items []LogItem `json:"items"`
	Next  string    `json:"next"`
}

// LogQuery is what GET /api/v1/log reads.
type LogQuery struct {
	// After is a cursor from an earlier answer, LogCursorNow, or "" for
	// the start of the log.
	After  string
	Filter inlet.DestinationFilter
	Limit  int
	// Wait, when nothing passes the filter yet, is how long the server
	// waits for an event before it answers an empty page.
	Wait time.Duration
}

// EncodeLogCursor returns the opaque cursor of a log position.
func EncodeLogCursor(p inlet.LogPosition) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", p.Tx, p.Seq))
}

// DecodeLogCursor reads a cursor of EncodeLogCursor; "" is the log's start.
func DecodeLogCursor(s string) (inlet.LogPosition, error) {
	var p inlet.LogPosition
	if s == "" {
		return p, nil
	}
	bad := inlet.Reasonf(inlet.EINVALID, "bad_cursor", "after is not a cursor of this log; give one from an earlier answer's next, %q, or nothing for the start", LogCursorNow)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return p, bad
	}
	tx, seq, ok := strings.Cut(string(b), ".")
	if !ok {
		return p, bad
	}
	if p.Tx, err = strconv.ParseInt(tx, 10, 64); err != nil || p.Tx < 0 {
		return p, bad
	}
	if p.Seq, err = strconv.ParseInt(seq, 10, 64); err != nil || p.Seq < 0 {
		return p, bad
	}
	return p, nil
}

// parseLogQuery reads the query of GET /api/v1/log.
func parseLogQuery(q url.Values) (LogQuery, error) {
	lq := LogQuery{After: q.Get("after"), Limit: 100, Filter: inlet.DestinationFilter{Sources: q["source"], Types: q["type"]}}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLogLimit {
			return lq, inlet.Reasonf(inlet.EINVALID, "bad_filter", "limit must be a number from 1 to %d", MaxLogLimit)
		}
		lq.Limit = n
	}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxLogWait {
			return lq, inlet.Reasonf(inlet.EINVALID, "bad_filter", "wait must be a duration from 0s to %s, such as 20s", MaxLogWait)
		}
		lq.Wait = d
	}
	return lq, nil
}

func (s *Server) handleReadLog(w http.ResponseWriter, r *http.Request) {
	q, err := parseLogQuery(r.URL.Query())
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	var after inlet.LogPosition
	if q.After == LogCursorNow {
		after, err = s.cfg.Store.LogHead(r.Context())
	} else {
		after, err = DecodeLogCursor(q.After)
	}
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	page, err := s.readLog(r.Context(), after, q)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// readLog reads the log after a position until an event passes the filter,
// the read reaches the head and q.Wait is over, or the page is full.
// Events that do not pass the filter move the cursor past them.
func (s *Server) readLog(ctx context.Context, after inlet.LogPosition, q LogQuery) (*LogPage, error) {
	deadline := time.Now().Add(q.Wait)
	page := &LogPage{Items: []LogItem{}}
	for {
		read, err := s.cfg.Store.ReadLog(ctx, after, q.Limit)
		if err != nil {
			return nil, err
		}
		for _, le := range read.Events {
			if q.Filter.Match(le.Event.SourceID, le.Event.Type) {
				page.Items = append(page.Items, LogItem{Cursor: EncodeLogCursor(le.Pos), Event: le.Event})
			}
		}
		after = read.Head
		page.Next = EncodeLogCursor(after)
		switch {
		case len(page.Items) > 0 || len(read.Events) == q.Limit:
			// Found something, or more is there to read at once.
			if len(page.Items) > 0 || time.Now().After(deadline) {
				return page, nil
			}
			continue
		case !time.Now().Before(deadline):
			return page, nil
		}
		select {
		case <-ctx.Done():
			return page, nil
		case <-time.After(logPollInterval):
		}
	}
}

// ReadLog reads the event log after q.After (see LogQuery). The client's
// timeout must be longer than q.Wait.
func (c *Client) ReadLog(ctx context.Context, q LogQuery) (*LogPage, error) {
	v := url.Values{}
	if q.After != "" {
		v.Set("after", q.After)
	}
	for _, s := range q.Filter.Sources {
		v.Add("source", s)
	}
	for _, t := range q.Filter.Types {
		v.Add("type", t)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Wait > 0 {
		v.Set("wait", q.Wait.String())
	}
	var page LogPage
	return &page, c.do(ctx, http.MethodGet, "/api/v1/log?"+v.Encode(), nil, &page)
}
