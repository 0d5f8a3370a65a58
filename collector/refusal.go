package collector

import "inlet"

// Refusal is a request refused for what it is or says: its sender gets a
// 4xx and should not send it again as it is, and the transport records it
// in the rejected-request log. Err carries the code and reason.
type Refusal struct {
	Err error
	// Unproven is set for a request that proves no source (it names none
	// that is enabled, or fails the source's verification): a stranger
	// can send those at will, so the transport bounds how many it answers
	// in full.
	Unproven bool
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// RetryError is an error that tells the sender when to retry.
type RetryError struct {
	Err     error
	Seconds int
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter is the number of seconds to wait, at least 1.
func (e *RetryError) RetryAfter() int { return max(1, e.Seconds) }

// TooLarge is the refusal of a body over limit bytes, the source's limit.
func TooLarge(limit int64) error {
	return inlet.Reasonf(inlet.ETOOLARGE, "too_large", "the body is larger than this source's limit of %d bytes", limit)
}
