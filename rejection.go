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

// UnknownSourceBucket is the source id under which refusals of requests
// that name no known, enabled source are counted, whatever id they name: a
// flood of made-up ids is one bucket, not a bucket each. It cannot be a
// source's id.
const UnknownSourceBucket = "(unknown)"

// RejectionCount is how many collect requests of a source were refused for
// one reason, between FirstAt and LastAt. Every refusal is counted, also
// those of which no sample is kept.
type RejectionCount struct {
	// SourceID is the source, or UnknownSourceBucket.
	SourceID string    `json:"source_id"`
	Reason   string    `json:"reason"`
	Count    int64     `json:"count"`
	FirstAt  time.Time `json:"first_at"`
	LastAt   time.Time `json:"last_at"`
}

// MarshalJSON writes times in the API's format.
func (c RejectionCount) MarshalJSON() ([]byte, error) {
	type plain RejectionCount
	return json.Marshal(struct {
		plain
		FirstAt string `json:"first_at"`
		LastAt  string `json:"last_at"`
	}{plain(c), FormatTime(c.FirstAt), FormatTime(c.LastAt)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *RejectionCount) UnmarshalJSON(b []byte) error {
	type plain RejectionCount
	var in struct {
		*plain
		FirstAt string `json:"first_at"`
		LastAt  string `json:"last_at"`
	}
	in.plain = (*plain)(c)
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	var err error
	if c.FirstAt, err = time.Parse(time.RFC3339Nano, in.FirstAt); err != nil {
		return err
	}
	c.LastAt, err = time.Parse(time.RFC3339Nano, in.LastAt)
	return err
}

// RejectionStore keeps the rejected-request log: samples of refused
// requests, bounded, and counts of all of them.
type RejectionStore interface {
	// AppendRejections stores samples (setting their ID) and adds counts
	// to the stored ones of the same source and reason, in one
	// transaction, then drops the oldest samples until the log is within
	// bounds. It is written at low priority: a backend may commit it
	// without waiting for the disk, and must not hold up event writes for
	// longer than one short transaction. Returns EUNAVAILABLE when the
	// store cannot write.
	AppendRejections(ctx context.Context, rs []*Rejection, counts []RejectionCount, bounds RejectionBounds) error

	// ListRejections returns samples matching f, newest first.
	ListRejections(ctx context.Context, f RejectionFilter) ([]*Rejection, error)

	// CountRejections returns the counts matching f's SourceID and Reason
	// (its other fields are ignored), by source then reason.
	CountRejections(ctx context.Context, f RejectionFilter) ([]RejectionCount, error)
}
