package inlet

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The audit log records every change made through the API, the CLI or the
// console: who (a token and the client's address), what (an action on an
// object, before and after, secrets masked) and how it ended. A store
// writes the record of a change in the change's own transaction, so that
// no change goes unrecorded and no record outlives a change rolled back;
// a change that fails is recorded with its error, in a transaction of its
// own.

// ServerActor names the actor of the changes the server makes on its own
// (a destination disabled by its delivery worker).
const ServerActor = "inlet"

// AdminTokenName is the name of the admin token of the data directory
// (or --admin-token), which is not in the token store.
const AdminTokenName = "admin"

// AuditOK is the outcome of a change that was made; a refused or failed
// one has its error code instead.
const AuditOK = "ok"

// Object types of the audit log.
const (
	AuditSource      = "source"
	AuditDestination = "destination"
	AuditToken       = "token"
	AuditProfile     = "profile"
	AuditSuppression = "suppression"
	AuditEvents      = "events"
	AuditSecrets     = "secrets"
)

// AuditObjectTypes are the object types of the audit log, in the order a
// filter offers them.
var AuditObjectTypes = []string{AuditSource, AuditDestination, AuditToken, AuditProfile, AuditSuppression, AuditEvents, AuditSecrets}

// Actor is who makes a change: the token (its ID is empty for the admin
// token) and the client's address. It travels in the request's context.
type Actor struct {
	TokenID string
	Token   string
	Client  string

	recorded atomic.Bool // a store recorded the change of the request
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of ctx: the server itself (ServerActor) when
// ctx carries none.
func ActorFrom(ctx context.Context) *Actor {
	if a, ok := ctx.Value(actorKey{}).(*Actor); ok && a != nil {
		return a
	}
	return &Actor{Token: ServerActor}
}

// Recorded reports whether a store recorded a change made on behalf of
// a, so that the transport records a refused request only once.
func (a *Actor) Recorded() bool { return a.recorded.Load() }

// AuditRecord is one entry of the audit log.
type AuditRecord struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	TokenID    string          `json:"token_id,omitempty"`
	Token      string          `json:"token"`
	Client     string          `json:"client,omitempty"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	// Outcome is AuditOK or the error code of a refused or failed change,
	// whose message is Error.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// MarshalJSON writes the time in the API's format.
func (r *AuditRecord) MarshalJSON() ([]byte, error) {
	type plain AuditRecord
	return json.Marshal(struct {
		*plain
		At string `json:"at"`
	}{(*plain)(r), FormatTime(r.At)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *AuditRecord) UnmarshalJSON(b []byte) error {
	type plain AuditRecord
	v := struct {
		*plain
		At time.Time `json:"at"`
	}{plain: (*plain)(r)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.At = v.At
	return nil
}

// NewAuditRecord returns the record of a change by the actor of ctx that
// ended with err (nil: made), with the objects before and after as the
// API shows them (secrets masked).
func NewAuditRecord(ctx context.Context, at time.Time, action, objectType, objectID string, before, after any, err error) *AuditRecord {
	a := ActorFrom(ctx)
	r := &AuditRecord{At: at.UTC(), TokenID: a.TokenID, Token: a.Token, Client: a.Client, Action: action,
		ObjectType: objectType, ObjectID: objectID, Before: auditJSON(before), After: auditJSON(after), Outcome: AuditOK}
	if err != nil {
		r.Outcome, r.Error = ErrorCode(err), ErrorMessage(err)
	}
	return r
}

// auditJSON encodes an object by its default JSON, which masks secrets.
func auditJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if b, ok := v.(json.RawMessage); ok {
		return b
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return nil
	}
	return b
}

// Bounds of a page of the audit log.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditFilter selects records of the audit log; empty fields select all.
// Token matches a token's name or ID.
type AuditFilter struct {
	Token, ObjectType, ObjectID, Action, Outcome string
	Since, Until                                 time.Time // Since inclusive, Until exclusive
	// Limit bounds the page (DefaultAuditLimit when 0); Cursor is a
	// page's Next.
	Limit  int
	Cursor string
}

// Check validates f, fills its default limit and returns the ID its
// cursor starts below (0: from the newest). Returns EINVALID.
func (f *AuditFilter) Check() (before int64, err error) {
	if f.Limit == 0 {
		f.Limit = DefaultAuditLimit
	}
	if f.Limit < 1 || f.Limit > MaxAuditLimit {
		return 0, Reasonf(EINVALID, "bad_filter", "limit must be a number from 1 to %d", MaxAuditLimit)
	}
	if f.Cursor != "" {
		n, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || n < 1 {
			return 0, Reasonf(EINVALID, "bad_cursor", "the cursor %q is not one a page of the audit log gave", f.Cursor)
		}
		return n, nil
	}
	return 0, nil
}

// AuditPage is a page of the audit log, newest first; Next, when set,
// is the cursor of the next (older) page.
type AuditPage struct {
	Records []*AuditRecord `json:"records"`
	Next    string         `json:"next,omitempty"`
}

// Equalities returns the columns of the audit log that f selects by equal
// values, with those values; Token (a name or an id) and the times are
// the stores' to compare.
func (f *AuditFilter) Equalities() (columns, values []string) {
	for _, c := range [][2]string{{"object_type", f.ObjectType}, {"object_id", f.ObjectID}, {"action", f.Action}, {"outcome", f.Outcome}} {
		if c[1] != "" {
			columns, values = append(columns, c[0]), append(values, c[1])
		}
	}
	return columns, values
}

// ParseTimeRange reads the since and until parameters of a query, RFC
// 3339 times, which get returns ("" when absent). Returns EINVALID.
func ParseTimeRange(get func(name string) string, since, until *time.Time) error {
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", since}, {"until", until}} {
		if v := get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Reasonf(EINVALID, "bad_filter", "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", p.name)
			}
			*p.to = t
		}
	}
	return nil
}

// ParseAuditFilter reads a filter from the parameters of a query (token,
// object_type, object_id, action, outcome, since, until, limit, cursor),
// which get returns ("" when absent). Returns EINVALID.
func ParseAuditFilter(get func(name string) string) (AuditFilter, error) {
	f := AuditFilter{Token: get("token"), ObjectType: get("object_type"), ObjectID: get("object_id"),
		Action: get("action"), Outcome: get("outcome"), Cursor: get("cursor")}
	for _, v := range []struct{ name, value string }{{"token", f.Token}, {"object_id", f.ObjectID}, {"action", f.Action}, {"outcome", f.Outcome}} {
		if err := CheckValue("bad_filter", v.name, v.value, 0); err != nil {
			return f, err // the same answer on every store
		}
	}
	if f.ObjectType != "" && !slices.Contains(AuditObjectTypes, f.ObjectType) {
		return f, Reasonf(EINVALID, "bad_filter", "object_type %q is unknown; use one of %s", f.ObjectType, strings.Join(AuditObjectTypes, ", "))
	}
	if err := ParseTimeRange(get, &f.Since, &f.Until); err != nil {
		return f, err
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxAuditLimit {
			return f, Reasonf(EINVALID, "bad_filter", "limit must be a number from 1 to %d", MaxAuditLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// NewAuditPage returns the page of records read for f, of which there is
// one more than f.Limit when an older page follows.
func NewAuditPage(records []*AuditRecord, f AuditFilter) *AuditPage {
	p := &AuditPage{Records: records}
	if p.Records == nil {
		p.Records = []*AuditRecord{}
	}
	if len(p.Records) > f.Limit {
		p.Records = p.Records[:f.Limit]
		p.Next = strconv.FormatInt(p.Records[f.Limit-1].ID, 10)
	}
	return p
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// RecordAudit stores a record on its own: a change refused before it
	// reached the store. Returns EUNAVAILABLE.
	RecordAudit(ctx context.Context, r *AuditRecord) error
	// ListAudit returns the records f selects, newest first. Returns
	// EINVALID.
	ListAudit(ctx context.Context, f AuditFilter) (*AuditPage, error)
	// DeleteAuditBefore deletes the records older than t and returns how
	// many.
	DeleteAuditBefore(ctx context.Context, t time.Time) (int, error)
}

// AuditTx is what the audit log needs of a store's transaction.
type AuditTx interface {
	// AuditObject returns the object of a type and ID as the API shows
	// it, or nil when there is none (or the type has no object to show).
	AuditObject(ctx context.Context, objectType, id string) (any, error)
	// InsertAudit stores r.
	InsertAudit(ctx context.Context, r *AuditRecord) error
}

// AuditChange is a change a store method is making: it travels in the
// method's context to the store's write path, which writes its record in
// the change's transaction (WriteAudit).
type AuditChange struct {
	Action, ObjectType, ObjectID string
	// Detail, when set, is what the change asks for (a retry's event ids)
	// and stands as its after; otherwise the object is read before and
	// after the change.
	Detail any

	at      time.Time
	before  any
	written bool
}

type auditKey struct{}

// TrackAudit is how a store method records its change c, made at now, whose
// error is *err: it sets *ctx to carry c, which the store's write path
// writes in the change's transaction (WriteAudit). read returns the object
// as it is before the change. The function it returns, deferred, records a
// failure (or a change its write path did not record) with record, in a
// transaction of its own:
//
//	defer db.audit(&ctx, "source.update", inlet.AuditSource, id, nil, &err)()
func TrackAudit(ctx *context.Context, c *AuditChange, now time.Time, err *error,
	read func(ctx context.Context, objectType, id string) (any, error),
	record func(ctx context.Context, r *AuditRecord) error) func() {
	c.at = now
	if c.Detail == nil && !strings.HasSuffix(c.Action, ".create") {
		c.before, _ = read(*ctx, c.ObjectType, c.ObjectID) // a failed read leaves before empty; the change says why
	}
	ActorFrom(*ctx).recorded.Store(true)
	*ctx = context.WithValue(*ctx, auditKey{}, c)
	return func() {
		r := endAudit(*ctx, c, *err)
		if r == nil {
			return
		}
		if rerr := record(context.WithoutCancel(*ctx), r); rerr != nil && *err == nil {
			*err = rerr
		}
	}
}

// WriteAudit writes the record of the change ctx carries, if any and not
// yet written, in tx: the last step of a store's transaction before its
// commit.
func WriteAudit(ctx context.Context, tx AuditTx) error {
	c, _ := ctx.Value(auditKey{}).(*AuditChange)
	if c == nil || c.written {
		return nil
	}
	after := c.Detail
	if after == nil {
		obj, err := tx.AuditObject(ctx, c.ObjectType, c.ObjectID)
		if err != nil {
			return err
		}
		after = obj
	}
	if err := tx.InsertAudit(ctx, NewAuditRecord(ctx, c.at, c.Action, c.ObjectType, c.ObjectID, c.before, after, nil)); err != nil {
		return err
	}
	c.written = true
	return nil
}

// endAudit returns the record of c to write in a transaction of its own
// once its method returned err: the failure, or a change whose write path
// wrote no record; nil when there is nothing more to write.
func endAudit(ctx context.Context, c *AuditChange, err error) *AuditRecord {
	if err == nil && c.written {
		return nil
	}
	c.written = true // the record of the end is the last
	return NewAuditRecord(ctx, c.at, c.Action, c.ObjectType, c.ObjectID, c.before, c.Detail, err)
}

// DeliveriesDetail is the detail of a retry or discard of deliveries: the
// events named, or the status of the rows.
func DeliveriesDetail(eventIDs []string, status string) any {
	return struct {
		EventIDs []string `json:"event_ids,omitempty"`
		Status   string   `json:"status,omitempty"`
	}{eventIDs, status}
}

// ImportDetail is the detail of an import: how many events it brings.
func ImportDetail(events []*Event) any {
	return struct {
		Events int `json:"events"`
	}{len(events)}
}

// SuppressDetail is the detail of a suppression: how many identifiers it
// suppresses (keyed hashes, never shown).
func SuppressDetail(hashes []string) any {
	return struct {
		Identifiers int `json:"identifiers"`
	}{len(hashes)}
}

// AuditPending reports whether ctx carries a change whose record is not
// written yet: a store's write path then writes it in its transaction.
func AuditPending(ctx context.Context) bool {
	c, _ := ctx.Value(auditKey{}).(*AuditChange)
	return c != nil && !c.written
}
