package http

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"inlet"
	"inlet/collect"
)

// RejectionLogOptions bound a RejectionLog. Zero fields take the defaults shown.
type RejectionLogOptions struct {
	// QueueSize is the most rejections waiting to be written (4096); beyond
	// it, rejections are dropped and counted.
	QueueSize int
	// MaxBatch is the most rejections written in one transaction (512).
	MaxBatch int
	// Bounds bound the stored log (inlet.DefaultRejectionMaxCount and
	// inlet.DefaultRejectionMaxBytes).
	Bounds inlet.RejectionBounds
}

// RejectionLog records rejected collect requests off the request path: Record
// puts a rejection in a bounded queue and one goroutine writes the queue in
// batches. A full queue drops rejections (counted) rather than slow down or
// block collect requests, which is what a flood of bad requests would
// otherwise achieve.
type RejectionLog struct {
	store  inlet.RejectionStore
	opts   RejectionLogOptions
	logger *slog.Logger

	queue chan *inlet.Rejection
	done  chan struct{}

	mu     sync.RWMutex
	closed bool

	recorded atomic.Int64
	dropped  atomic.Int64
	failed   atomic.Int64
}

// NewRejectionLog starts a log writing to store. Close stops it.
func NewRejectionLog(store inlet.RejectionStore, opts RejectionLogOptions, logger *slog.Logger) *RejectionLog {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 4096
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.Bounds.MaxCount <= 0 {
		opts.Bounds.MaxCount = inlet.DefaultRejectionMaxCount
	}
	if opts.Bounds.MaxBytes <= 0 {
		opts.Bounds.MaxBytes = inlet.DefaultRejectionMaxBytes
	}
	l := &RejectionLog{
		store:  store,
		opts:   opts,
		logger: logger,
		queue:  make(chan *inlet.Rejection, opts.QueueSize),
		done:   make(chan struct{}),
	}
	go l.run()
	return l
}

// Record queues a rejection for writing; it never blocks. It reports
// whether the rejection was queued.
func (l *RejectionLog) Record(rj *inlet.Rejection) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return false
	}
	select {
	case l.queue <- rj:
		return true
	default:
		l.dropped.Add(1)
		return false
	}
}

func (l *RejectionLog) run() {
	defer close(l.done)
	batch := make([]*inlet.Rejection, 0, l.opts.MaxBatch)
	for {
		rj, ok := <-l.queue
		if !ok {
			return
		}
		batch = append(batch[:0], rj)
	drain:
		for len(batch) < l.opts.MaxBatch {
			select {
			case rj, ok := <-l.queue:
				if !ok {
					break drain
				}
				batch = append(batch, rj)
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := l.store.AppendRejections(ctx, batch, l.opts.Bounds)
		cancel()
		if err != nil {
			l.failed.Add(int64(len(batch)))
			l.logger.Warn("rejected-request log: write failed; rejections lost", "rejections", len(batch), "err", err)
		} else {
			l.recorded.Add(int64(len(batch)))
		}
		clear(batch)
	}
}

// RejectionStats are counters of a RejectionLog since it started.
type RejectionStats struct {
	Recorded int64 `json:"recorded"`
	Dropped  int64 `json:"dropped"` // the queue was full
	Failed   int64 `json:"failed"`  // the store could not write them
	Queued   int   `json:"queued"`
}

// Stats returns the log's counters.
func (l *RejectionLog) Stats() RejectionStats {
	return RejectionStats{Recorded: l.recorded.Load(), Dropped: l.dropped.Load(), Failed: l.failed.Load(), Queued: len(l.queue)}
}

// Close stops taking rejections, writes those queued and returns when done
// or when ctx ends.
func (l *RejectionLog) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Bounds on what a rejection keeps of the request's headers and query.
const (
	maxRejectionHeaders     = 64
	maxRejectionHeaderValue = 1024
	maxRejectionQuery       = 2048
	maxRejectionField       = 256
)

// wellKnownSecretHeaders are never kept for a rejection, whatever the source:
// a request for an unknown source may still carry a signature or key.
var wellKnownSecretHeaders = (&inlet.SourceConfig{SecretHeaders: []string{
	"X-Hub-Signature-256", "X-Hub-Signature", "Stripe-Signature", "X-Shopify-Hmac-Sha256",
	"Webhook-Signature", "Svix-Signature", "X-Api-Key", "Api-Key", "X-Auth-Token",
}})

// isWellKnownSecretParam reports whether a query parameter is named like
// one that carries a key or signature; such parameters are never kept for a
// rejection, whatever the source.
func isWellKnownSecretParam(name string) bool {
	switch strings.ToLower(name) {
	case "api_key", "apikey", "api-key", "key", "token", "access_token", "auth", "secret", "password", "signature", "sig":
		return true
	}
	return false
}

// reject answers err and, when it is a 4xx, records the request in the
// rejected-request log. source is nil when the request names no usable source.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, source *inlet.Source, body []byte, err error) {
	Error(w, r, err, s.cfg.Logger)
	status := StatusCode(inlet.ErrorCode(err))
	if s.cfg.Rejections == nil || status < 400 || status >= 500 {
		return
	}
	config := &inlet.SourceConfig{}
	if source != nil {
		config = &source.Config
	}
	rj := &inlet.Rejection{
		At:         s.now().UTC(),
		SourceID:   truncate(r.PathValue("source_id"), maxRejectionField),
		Reason:     inlet.ErrorReason(err),
		Status:     status,
		Message:    truncate(inlet.ErrorMessage(err), maxRejectionHeaderValue),
		Method:     truncate(r.Method, 16),
		Path:       truncate(r.URL.Path, maxRejectionHeaderValue),
		Query:      truncate(collect.DropQueryParams(collect.KeptQuery(r.URL.RawQuery, config), isWellKnownSecretParam), maxRejectionQuery),
		RemoteAddr: s.clientIP(r),
		Headers:    make(map[string]string, min(len(r.Header), maxRejectionHeaders)),
	}
	for name, values := range r.Header {
		if len(rj.Headers) == maxRejectionHeaders {
			break
		}
		if config.IsSecretHeader(name) || wellKnownSecretHeaders.IsSecretHeader(name) {
			continue
		}
		v := values[0]
		for _, more := range values[1:] {
			v += ", " + more
		}
		rj.Headers[truncate(name, maxRejectionField)] = truncate(v, maxRejectionHeaderValue)
	}
	if body == nil && r.Body != nil && r.ContentLength != 0 {
		// Not read yet (the request was refused before its body): read the
		// start of it, no more, for the log.
		body, _ = io.ReadAll(io.LimitReader(r.Body, inlet.MaxRejectionBody+1))
	}
	if len(body) > inlet.MaxRejectionBody {
		body, rj.BodyTruncated = body[:inlet.MaxRejectionBody], true
	} else if r.ContentLength > int64(len(body)) {
		rj.BodyTruncated = true
	}
	rj.Body = append([]byte(nil), body...)
	s.cfg.Rejections.Record(rj)
}

// truncate cuts s to at most n bytes, not inside a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// ParseRejectionFilter reads the filters of GET /api/v1/rejections.
func ParseRejectionFilter(q map[string][]string) (inlet.RejectionFilter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := inlet.RejectionFilter{SourceID: get("source"), Reason: get("reason")}
	if v := get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, inlet.Reasonf(inlet.EINVALID, "bad_filter", "before must be the id of a rejection, a positive number")
		}
		f.BeforeID = n
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > inlet.MaxRejectionLimit {
			return f, inlet.Reasonf(inlet.EINVALID, "bad_filter", "limit must be a number from 1 to %d", inlet.MaxRejectionLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func (s *Server) handleListRejections(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Rejections == nil {
		Error(w, r, inlet.Reasonf(inlet.ENOTFOUND, "no_rejection_log", "this server keeps no rejected-request log: its store does not support one"), nil)
		return
	}
	f, err := ParseRejectionFilter(r.URL.Query())
	if err != nil {
		Error(w, r, err, nil)
		return
	}
	items, err := s.cfg.Rejections.store.ListRejections(r.Context(), f)
	if err != nil {
		Error(w, r, err, s.cfg.Logger)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "stats": s.cfg.Rejections.Stats()})
}

// ListRejections returns rejected collect requests, newest first.
func (c *Client) ListRejections(ctx context.Context, f inlet.RejectionFilter) ([]*inlet.Rejection, error) {
	q := url.Values{}
	if f.SourceID != "" {
		q.Set("source", f.SourceID)
	}
	if f.Reason != "" {
		q.Set("reason", f.Reason)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.BeforeID != 0 {
		q.Set("before", strconv.FormatInt(f.BeforeID, 10))
	}
	var out struct {
		Items []*inlet.Rejection `json:"items"`
	}
	return out.Items, c.do(ctx, http.MethodGet, "/api/v1/rejections?"+q.Encode(), nil, &out)
}
