package collector

import (
	"net/http"

	"inlet"
	"inlet/collect"
)

// Request is a collect request as the transport received it, its body
// read.
type Request struct {
	// Method is GET or POST.
	Method string
	// EventType and SessionID are the URL's, as sent; SessionID is "" for
	// a request without a session.
	EventType string
	SessionID string
	Header    http.Header
	RawQuery  string
	// URL is the request's full URL as the sender called it, with its
	// query string, for signatures over the URL (twilio).
	URL  string
	Body []byte
	// IP is the client address, as the transport trusts it.
	IP string
	// DryRun asks what collecting the request would do, spending and
	// storing nothing (see Collector.Collect).
	DryRun bool
}

// Result is what became of a collect request: the events stored, or a
// handshake to answer in their place.
type Result struct {
	// Handshake, when set, is the answer a sender's check of the endpoint
	// wants; nothing was built or stored.
	Handshake *collect.Reply
	// Verification is how the request fared against its source's verify
	// configuration.
	Verification Verification
	// Intakes are the events stored (or, in a dry run, that would be), in
	// order; none when the source's transform or the suppressions dropped
	// every one.
	Intakes []inlet.Intake
	// Appended is what the store made of each intake (Appended[i] of
	// Intakes[i]); nil in a dry run and when nothing was stored.
	Appended []inlet.Appended
	// Dropped counts the events dropped by the source's transform and, but
	// in a dry run, by the suppressions.
	Dropped int
	// Challenge, when set, is the challenge of a Slack url_verification
	// request, which the answer must carry (the request is stored too).
	Challenge string
	// Reply, when set, is the answer another sender's handshake wants; the
	// request is stored as well.
	Reply *collect.Reply
}

// Verification is how a request fared against its source's verify
// configuration.
type Verification struct {
	// Checked is false when the source verifies nothing.
	Checked bool
	// Err is the failure, an EUNAUTHORIZED error whose reason is one of
	// package verify's; nil when the request passed.
	Err error
}
