package inlet

import (
	"context"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Rejection is a collect request that was refused for what it is or says
// (a 4xx answer), kept so that an operator can see why a sender's webhooks
// fail. Secret headers are never kept, and at most MaxRejectionBody bytes
// of the body.
type Rejection struct {
	ID         int64             `json:"id"`
	At         time.Time         `json:"at"`
	SourceID   string            `json:"source_id"`
	Reason     string            `json:"reason"`
	Status     int               `json:"status"`
	Message    string            `json:"message"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Query      string            `json:"query"`
	RemoteAddr string            `json:"remote_addr"`
	Headers    map[string]string `json:"headers"`
	// Body is the start of the body as received; BodyTruncated tells that
	// there was more.
	Body          []byte `json:"-"`
	BodyTruncated bool   `json:"body_truncated"`
}

// MaxRejectionBody is how much of a rejected request's body is kept.
const MaxRejectionBody = 4 << 10

// MarshalJSON writes the body as text when it is UTF-8 and as base64 (with
// "body_encoding": "base64") otherwise, and times in the API's format.
func (r *Rejection) MarshalJSON() ([]byte, error) {
	type plain Rejection
	out := struct {
		*plain
		At           string `json:"at"`
		Body         any    `json:"body"`
		BodyEncoding string `json:"body_encoding,omitempty"`
	}{plain: (*plain)(r), At: FormatTime(r.At)}
	if len(r.Body) == 0 {
		out.Body = ""
	} else if utf8.Valid(r.Body) {
		out.Body = string(r.Body)
	} else {
		out.Body, out.BodyEncoding = r.Body, "base64" // []byte marshals as base64
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Rejection) UnmarshalJSON(b []byte) error {
	type plain Rejection
	var in struct {
		*plain
		At           string `json:"at"`
		Body         string `json:"body"`
		BodyEncoding string `json:"body_encoding"`
	}
	in.plain = (*plain)(r)
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	var err error
	if r.At, err = time.Parse(time.RFC3339Nano, in.At); err != nil {
		return err
	}
	r.Body = []byte(in.Body)
	if in.BodyEncoding == "base64" {
		return json.Unmarshal([]byte(`"`+in.Body+`"`), &r.Body)
	}
	return nil
}

// Size is what the rejection counts against RejectionBounds.MaxBytes.
func (r *Rejection) Size() int64 {
	n := 128 + len(r.SourceID) + len(r.Reason) + len(r.Message) + len(r.Method) + len(r.Path) + len(r.Query) + len(r.RemoteAddr) + len(r.Body)
	for k, v := range r.Headers {
		n += len(k) + len(v) + 6
	}
	return int64(n)
}

// RejectionBounds bound the rejected-request log; beyond either, the oldest
// rejections are dropped.
type RejectionBounds struct {
	MaxCount int
	MaxBytes int64
}

// Default bounds of the rejected-request log.
const (
	DefaultRejectionMaxCount = 10000
	DefaultRejectionMaxBytes = 64 << 20
)

// RejectionFilter selects rejections. Zero fields do not filter.
type RejectionFilter struct {
	SourceID string
	Reason   string
	BeforeID int64 // only rejections with a lower id: the next page after the last id seen
	Limit    int   // 1 to MaxRejectionLimit; 0 means DefaultRejectionLimit
}

// Limits of a rejection listing.
const (
	DefaultRejectionLimit = 50
	MaxRejectionLimit     = 1000
)

// PageLimit returns the number of rejections a page holds: Limit within
// its bounds, DefaultRejectionLimit when unset.
func (f *RejectionFilter) PageLimit() int {
	return pageLimit(f.Limit, DefaultRejectionLimit, MaxRejectionLimit)
}

// RejectionStore keeps the rejected-request log.
type RejectionStore interface {
	// AppendRejections stores rejections (setting their ID) in one
	// transaction, then drops the oldest rejections until the log is
	// within bounds. Returns EUNAVAILABLE when the store cannot write.
	AppendRejections(ctx context.Context, rs []*Rejection, bounds RejectionBounds) error

	// ListRejections returns rejections matching f, newest first.
	ListRejections(ctx context.Context, f RejectionFilter) ([]*Rejection, error)
}
