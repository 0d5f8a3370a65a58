package http

import (
	"math"
	"net/http"

	"inlet"
	"inlet/verify"
)

// The intake checks of a collect request before its events are built: the
// source's verifier and rate limit.

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
