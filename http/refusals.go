package http

import (
	"math"
	"net/http"

	"inlet"
	"inlet/collector"
	"inlet/ratelimit"
)

// RefusalBudget bounds the refusals of requests that prove no source: for
// an unknown or disabled source, a method collect does not take, or a
// failed verification. Such requests spend no source's rate limit (a
// stranger who knows a source's id must not be able to use up its real
// sender's budget); they spend this budget instead, per client address and
// over all addresses. Over it, collect answers 429 at once and the
// rejected-request log only counts the request. Zero fields take the
// defaults shown.
type RefusalBudget struct {
	// PerAddress is the refusals per second answered in full to one client
	// address (20, with a burst of twice that).
	PerAddress float64
	// Global is the same over all addresses (200, burst twice that).
	Global float64
	// MaxAddresses bounds the table of addresses (10000); past it, new
	// addresses share one budget.
	MaxAddresses int
}

func (b *RefusalBudget) defaults() {
	if b.PerAddress <= 0 {
		b.PerAddress = 20
	}
	if b.Global <= 0 {
		b.Global = 200
	}
	if b.MaxAddresses <= 0 {
		b.MaxAddresses = 10000
	}
}

// refusalLimiter holds the budgets of a RefusalBudget.
type refusalLimiter struct {
	budget  RefusalBudget
	byAddr  *ratelimit.Limiter
	overall *ratelimit.Limiter
}

func newRefusalLimiter(b RefusalBudget) *refusalLimiter {
	b.defaults()
	return &refusalLimiter{budget: b, byAddr: ratelimit.NewBounded(nil, b.MaxAddresses), overall: ratelimit.New(nil)}
}

// allow takes a token for a refusal to addr, from its bucket and the
// global one; when either is empty it says how long until one is back.
func (l *refusalLimiter) allow(addr string) (bool, int) {
	burst := func(rate float64) int { return int(math.Max(1, 2*rate)) }
	if ok, wait := l.byAddr.Allow(addr, l.budget.PerAddress, burst(l.budget.PerAddress)); !ok {
		return false, int(math.Ceil(wait.Seconds()))
	}
	if ok, wait := l.overall.Allow("", l.budget.Global, burst(l.budget.Global)); !ok {
		return false, int(math.Ceil(wait.Seconds()))
	}
	return true, 0
}

// refuseUnproven answers a request that proves no source (source is nil
// when it names none): within the refusal budget, as reject does; over it,
// with a bare 429 that is only counted in the rejected-request log, so that
// a flood of such requests costs little and takes nothing from verified
// senders.
func (s *Server) refuseUnproven(w http.ResponseWriter, r *http.Request, source *inlet.Source, body []byte, err error) {
	ok, wait := s.refusals.allow(s.clientIP(r))
	if ok {
		s.reject(w, r, source, body, err)
		return
	}
	Error(w, r, &collector.RetryError{
		Err:     inlet.Reasonf(inlet.ERATELIMITED, "too_many_refusals", "too many refused requests from this address; fix the requests (%s) before retrying", inlet.ErrorReason(err)),
		Seconds: wait,
	}, nil)
	if s.cfg.Rejections != nil {
		bucket := inlet.UnknownSourceBucket
		if source != nil {
			bucket = source.ID
		}
		s.cfg.Rejections.CountOnly(bucket, inlet.ErrorReason(err))
	}
}
