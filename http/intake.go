package http

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"inlet"
	"inlet/jsonpath"
	"inlet/verify"
)

// The intake checks of a collect request beside parsing: the source's
// verifier, rate limit and idempotency key.

// verifyRequest runs the source's verifier, if any, over the exact body.
func (s *Server) verifyRequest(w http.ResponseWriter, r *http.Request, source *inlet.Source, body []byte) error {
	v := source.Config.Verify
	if v == nil {
		return nil
	}
	err := verify.Verify(v, verify.Request{Header: r.Header, RawQuery: r.URL.RawQuery, Body: body, Now: s.now()})
	if err != nil && v.Type == inlet.VerifyBasic {
		w.Header().Set("WWW-Authenticate", `Basic realm="inlet", charset="UTF-8"`)
	}
	return err
}

// rateLimit takes a token from the source's bucket, when it has a limit.
func (s *Server) rateLimit(source *inlet.Source) error {
	rl := source.Config.RateLimit
	if rl == nil {
		return nil
	}
	ok, wait := s.limiter.Allow(source.ID, rl.PerSecond, rl.BurstSize())
	if ok {
		return nil
	}
	return &retryError{
		err:     inlet.Reasonf(inlet.ERATELIMITED, "rate_limited", "source %s is over its rate limit of %g requests per second (burst %d); retry later", source.ID, rl.PerSecond, rl.BurstSize()),
		seconds: int(math.Ceil(wait.Seconds())),
	}
}

// retryError is an error that tells the sender when to retry.
type retryError struct {
	err     error
	seconds int
}

func (e *retryError) Error() string   { return e.err.Error() }
func (e *retryError) Unwrap() error   { return e.err }
func (e *retryError) RetryAfter() int { return max(1, e.seconds) }

// keptQuery returns the raw query without the parameter that carries the
// source's API key, so that the key is neither a property nor stored.
func keptQuery(rawQuery string, config *inlet.SourceConfig) string {
	name := config.SecretQueryParam()
	if name == "" {
		return rawQuery
	}
	return dropQueryParams(rawQuery, func(k string) bool { return k == name })
}

// dropQueryParams returns the raw query without the parameters whose
// (unescaped) names drop reports, keeping the rest byte for byte.
func dropQueryParams(rawQuery string, drop func(name string) bool) string {
	if rawQuery == "" {
		return rawQuery
	}
	var b strings.Builder
	for pair := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil && drop(k) || drop(key) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	return b.String()
}

// maxDedupKey is the longest key stored as it is; longer keys are stored as
// their SHA-256, so a sender cannot make the key table hold large values.
const maxDedupKey = 200

// dedupKey returns the request's idempotency key by the source's dedup
// config, and when it expires; "" when the source has none or the request
// does not carry it (such a request is stored without deduplication).
func dedupKey(r *http.Request, config *inlet.SourceConfig, props json.RawMessage, now time.Time) (string, time.Time) {
	d := config.Dedup
	if d == nil {
		return "", time.Time{}
	}
	var key string
	if d.Header != "" {
		key = strings.TrimSpace(r.Header.Get(d.Header))
	} else {
		key = propertyAt(props, d.Path)
	}
	if key == "" {
		return "", time.Time{}
	}
	if len(key) > maxDedupKey {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return key, now.Add(d.WindowPeriod())
}

// propertyAt returns the id at a property path (see jsonpath: object
// members and array indexes; a string trimmed, a number as decimal text),
// or "" when there is none.
func propertyAt(props json.RawMessage, path string) string {
	p, err := jsonpath.Parse(path)
	if err != nil {
		return ""
	}
	v, err := jsonpath.Decode(props)
	if err != nil {
		return ""
	}
	if v, ok := p.Lookup(v); ok {
		if id, ok := jsonpath.ID(v); ok {
			return id
		}
	}
	return ""
}
