package http

import (
	"math"
	"net/http"

	"inlet"
	"inlet/verify"
)

// The intake checks of a collect request before its events are built: the
// source's verifier and rate limit.

// verifyRequest runs the source's verifier, if any (its preset's type
// filled in), over the exact body.
func (s *Server) verifyRequest(w http.ResponseWriter, r *http.Request, source *inlet.Source, body []byte) error {
	err := s.verify(source, verify.Request{Header: r.Header, RawQuery: r.URL.RawQuery, Body: body, URL: senderURL(s.cfg.PublicURL, r)})
	if err != nil && source.Config.Verify.Type == inlet.VerifyBasic {
		w.Header().Set("WWW-Authenticate", `Basic realm="inlet", charset="UTF-8"`)
	}
	return err
}

// verify checks a request against the source's verifier; nil when the
// source has none.
func (s *Server) verify(source *inlet.Source, req verify.Request) error {
	if source.Config.Verify == nil {
		return nil
	}
	config := source.Config.Effective()
	req.Now = s.now()
	return verify.Verify(config.Verify, req)
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
