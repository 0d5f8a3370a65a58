package http

import (
	"net/http"
	"strings"
)

// senderURL returns the URL of r as its sender called it, which some
// senders sign (twilio): the public URL, when set, before the request's
// path and query; otherwise the connection's scheme and the Host header.
func senderURL(public string, r *http.Request) string {
	if public != "" {
		return strings.TrimRight(public, "/") + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}
