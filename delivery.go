package inlet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Delivery reads the events table as a log. Each destination has a cursor
// (a LogPosition) under a lease held by one node at a time; the node reads
// the committed events after it, sends those the destination wants, and
// moves the cursor past what is settled in one transaction for many
// events. A delivered event leaves no row; only an event that needs state
// of its own has one: a failure waiting for its retry, a dead letter, a
// replay or a retry asked for. The rules are in package deliver and in
// this file, once; each store supplies the SQL of DeliveryStore.

// LogPosition is a place in the event log, the order in which events were
// committed. On SQLite, Seq is the event's seq and Tx is 0; on PostgreSQL,
// Tx is the inserting transaction's id and Seq a sequence value, and
// positions are read only below the oldest transaction still running, so
// that one that commits late is never skipped.
type LogPosition struct {
	Tx  int64 `json:"tx"`
	Seq int64 `json:"seq"`
}

// Compare returns -1, 0 or +1 as p is before, at or after q.
func (p LogPosition) Compare(q LogPosition) int {
	switch {
	case p.Tx < q.Tx:
		return -1
	case p.Tx > q.Tx:
		return 1
	case p.Seq < q.Seq:
		return -1
	case p.Seq > q.Seq:
		return 1
	}
	return 0
}

// LogEvent is one event of the log with its position.
type LogEvent struct {
	Pos   LogPosition
	Event *Event
}

// LogRead is what one read of the log found.
type LogRead struct {
	// Events are the events after the position read from, in log order.
	Events []LogEvent
	// Head is the position up to which the log was read: past the last of
	// Events, or further when nothing more was committed there (a cursor
	// may move to Head once Events are settled).
	Head LogPosition
}

// Cursor is a destination's place in the log.
type Cursor struct {
	// Position: every event up to it is settled for the destination.
	Position LogPosition
	// Start is the log's head when the destination was created: events
	// up to it were never for it (but for a replay).
	Start LogPosition
	// Owner holds the cursor until LeaseUntil; another node may take it
	// after.
	Owner      string
	LeaseUntil time.Time
	// Delivered counts the events delivered, from the log or a row.
	Delivered int64
	// FailingSince is when the destination began to do nothing but fail;
	// nil after a success.
	FailingSince *time.Time
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"   // due, never attempted yet
	DeliveryFailed    = "failed"    // attempted and failed; tried again at NextAttemptAt
	DeliveryDead      = "dead"      // out of attempts; waits for a retry or a discard
	DeliveryDelivered = "delivered" // the receiver acknowledged it
)

// ValidDeliveryStatus reports whether s is a delivery status.
func ValidDeliveryStatus(s string) bool {
	return s == DeliveryPending || s == DeliveryFailed || s == DeliveryDead || s == DeliveryDelivered
}

// MaxAttemptLog is how many attempts a delivery keeps, the latest.
const MaxAttemptLog = 10

// MaxRetryAfter caps how long a receiver's Retry-After defers a
// destination.
const MaxRetryAfter = time.Hour

// Delivery is the row of one event for one destination: an event that
// failed, is dead, or was replayed or retried. An event delivered at its
// first attempt from the log has none.
type Delivery struct {
	DestinationID string    `json:"destination_id"`
	EventID       string    `json:"event_id"`
	Status        string    `json:"status"`
	Attempts      int       `json:"attempts"`
	CreatedAt     time.Time `json:"created_at"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error"`
	Log           []Attempt `json:"log"`

	// Pos is the event's log position (its delivery order); Version
	// changes at every retry, replay or discard, so that an outcome of an
	// attempt begun before never overwrites what they did.
	Pos     LogPosition `json:"-"`
	Version int64       `json:"-"`
	// Event is the event to deliver, in due deliveries only; nil when the
	// event is no longer stored.
	Event *Event `json:"-"`
}

// MarshalJSON writes times in the API's format.
func (d *Delivery) MarshalJSON() ([]byte, error) {
	type plain Delivery
	return json.Marshal(struct {
		*plain
		CreatedAt     string `json:"created_at"`
		NextAttemptAt string `json:"next_attempt_at"`
	}{(*plain)(d), FormatTime(d.CreatedAt), FormatTime(d.NextAttemptAt)})
}

// Attempt is one try of a delivery.
type Attempt struct {
	At time.Time `json:"at"`
	// Status is the receiver's HTTP status, 0 when there was none.
	Status int `json:"status,omitempty"`
	// Error says why the attempt failed; empty on success.
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
	// Response is the first bytes of the receiver's answer.
	Response string `json:"response,omitempty"`
}

// Outcome is the state a delivery row takes after an attempt: every
// attempt of a row, and every attempt of an event from the log that did
// not succeed.
type Outcome struct {
	EventID       string
	InsertedAt    time.Time // the event's
	Pos           LogPosition
	Status        string // DeliveryDelivered, DeliveryFailed or DeliveryDead
	Attempts      int    // with this one
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Log           []Attempt // the delivery's log with this attempt, bounded
	// Version is the row's, as read; 0 for an event from the log, whose
	// row is new (an outcome of a row whose version changed since is
	// dropped, and so is a new row for an event that has one already).
	Version int64
	FromLog bool
}

// LastError is the error of the outcome's last attempt, "" after a
// success.
func (o *Outcome) LastError() string {
	if n := len(o.Log); n > 0 {
		return o.Log[n-1].Error
	}
	return ""
}

// Settlement is what a cursor's owner records in one transaction: the
// cursor's new position, how many events were delivered, and the rows of
// events that need one.
type Settlement struct {
	Position  LogPosition // never before the cursor's
	Delivered int
	Outcomes  []Outcome
	// Failed says whether any attempt failed, Succeeded whether any
	// succeeded: the cursor's FailingSince is cleared by a success and
	// set by a failure when it is not set.
	Failed, Succeeded bool
	// Attempts counts the attempts settled, Failures those of them that
	// failed. They are added to the minute of the settlement (see
	// AttemptMinute), from which a destination's failure rate over the
	// last hour is read on every node.
	Attempts, Failures int
}

// FailureRateWindow is the span of a destination's failure rate: the
// attempts of the last FailureRateMinutes minutes, the current one
// included.
const (
	FailureRateWindow  = time.Hour
	FailureRateMinutes = int64(FailureRateWindow / time.Minute)
)

// AttemptMinute is the minute that attempts settled at t are counted in,
// in minutes since the Unix epoch.
func AttemptMinute(t time.Time) int64 {
	return t.Unix() / 60
}

// FirstAttemptMinute is the oldest minute of the failure rate at now:
// counts of earlier minutes are no longer read, and a store may drop them.
func FirstAttemptMinute(now time.Time) int64 {
	return AttemptMinute(now) - FailureRateMinutes + 1
}

// DueFilter selects the rows a destination's owner works on next.
type DueFilter struct {
	Now time.Time
	// Released: rows whose release position is after it wait (a replay is
	// delivered behind the events that were in the log when it was made).
	Released LogPosition
	// Ordered asks for the first row that is pending or failed, due or
	// not, as an ordered destination delivers nothing behind it.
	Ordered bool
	Limit   int
}

// DeliveryFilter selects the deliveries of a destination.
type DeliveryFilter struct {
	Status string // "" for every status
	Limit  int    // 1 to MaxEventLimit; 0 means DefaultEventLimit
	Cursor string
}

// DeliveryPage is one page of deliveries, in delivery order.
type DeliveryPage struct {
	Items []*Delivery `json:"items"`
	Next  *string     `json:"next"`
}

// DeliveryState is the backlog of a destination. Pending and dead are
// counted and aged apart, so that an alert on lag does not clear itself
// when the pending events die.
type DeliveryState struct {
	// Pending counts the events never attempted yet: the rows pending and
	// the events of the log after the cursor that the destination wants
	// (counted up to MaxBacklogCount); Failed those to be tried again.
	Pending   int   `json:"pending"`
	Failed    int   `json:"failed"`
	Dead      int   `json:"dead"`
	Delivered int64 `json:"delivered"`
	// OldestPending is when the oldest event still to send (pending or
	// failed) was due first; LagSeconds its age.
	OldestPending *time.Time `json:"oldest_pending_at"`
	LagSeconds    float64    `json:"lag_seconds"`
	// OldestDead is when the oldest dead event was first due;
	// DeadAgeSeconds its age.
	OldestDead     *time.Time `json:"oldest_dead_at"`
	DeadAgeSeconds float64    `json:"dead_age_seconds"`
	// OldestUndelivered is the older of the two.
	OldestUndelivered *time.Time `json:"oldest_undelivered_at"`
	// Attempts1h counts the attempts of the last hour (see
	// FailureRateWindow), Failures1h those that failed; FailureRate1h is
	// their ratio, nil when there was no attempt.
	Attempts1h    int64    `json:"attempts_1h"`
	Failures1h    int64    `json:"failures_1h"`
	FailureRate1h *float64 `json:"failure_rate_1h"`
	// Cursor is the destination's place in the log.
	Cursor     LogPosition `json:"cursor"`
	LeaseOwner string      `json:"lease_owner,omitempty"`
}

// MaxBacklogCount bounds how many events of the log a DeliveryState
// counts: past it, Pending says "at least".
const MaxBacklogCount = 100000

// BacklogFacts are what a store reads for a DeliveryState.
type BacklogFacts struct {
	Cursor Cursor
	// Rows counts rows by status; OldestRow is the first due time of the
	// oldest row of each status.
	Rows      map[string]int
	OldestRow map[string]time.Time
	// Backlog are the events of the log after the cursor, up to
	// MaxBacklogCount of them, as (source, type, inserted) triples.
	Backlog []BacklogEvent
	// Attempts and Failures are the counts of the minutes from
	// FirstAttemptMinute(now) to AttemptMinute(now).
	Attempts, Failures int64
}

// BacklogEvent is an event of the log after a cursor.
type BacklogEvent struct {
	SourceID, Type string
	InsertedAt     time.Time
}

// State computes a destination's DeliveryState from what its store read.
func (f *BacklogFacts) State(d *Destination, now time.Time) *DeliveryState {
	st := &DeliveryState{Failed: f.Rows[DeliveryFailed], Dead: f.Rows[DeliveryDead],
		Delivered: f.Cursor.Delivered, Cursor: f.Cursor.Position,
		Attempts1h: f.Attempts, Failures1h: f.Failures}
	if f.Attempts > 0 {
		rate := float64(f.Failures) / float64(f.Attempts)
		st.FailureRate1h = &rate
	}
	if f.Cursor.LeaseUntil.After(now) {
		st.LeaseOwner = f.Cursor.Owner
	}
	st.Pending = f.Rows[DeliveryPending]
	var oldest *time.Time
	older := func(t time.Time) {
		if oldest == nil || t.Before(*oldest) {
			oldest = &t
		}
	}
	for _, s := range []string{DeliveryPending, DeliveryFailed} {
		if t, ok := f.OldestRow[s]; ok {
			older(t)
		}
	}
	for _, e := range f.Backlog {
		if d.Filter.Match(e.SourceID, e.Type) && !e.InsertedAt.Before(d.CreatedAt) {
			st.Pending++
			older(e.InsertedAt)
		}
	}
	if oldest != nil {
		t := oldest.UTC()
		st.OldestPending, st.LagSeconds = &t, max(now.Sub(t).Seconds(), 0)
		st.OldestUndelivered = st.OldestPending
	}
	if t, ok := f.OldestRow[DeliveryDead]; ok {
		t = t.UTC()
		st.OldestDead, st.DeadAgeSeconds = &t, max(now.Sub(t).Seconds(), 0)
		if st.OldestUndelivered == nil || t.Before(*st.OldestUndelivered) {
			st.OldestUndelivered = &t
		}
	}
	return st
}

// MarshalJSON writes times in the API's format, the counts first.
func (s *DeliveryState) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Pending           int         `json:"pending"`
		Failed            int         `json:"failed"`
		Dead              int         `json:"dead"`
		Delivered         int64       `json:"delivered"`
		OldestPending     *string     `json:"oldest_pending_at"`
		LagSeconds        float64     `json:"lag_seconds"`
		OldestDead        *string     `json:"oldest_dead_at"`
		DeadAgeSeconds    float64     `json:"dead_age_seconds"`
		OldestUndelivered *string     `json:"oldest_undelivered_at"`
		Attempts1h        int64       `json:"attempts_1h"`
		Failures1h        int64       `json:"failures_1h"`
		FailureRate1h     *float64    `json:"failure_rate_1h"`
		Cursor            LogPosition `json:"cursor"`
		LeaseOwner        string      `json:"lease_owner,omitempty"`
	}{s.Pending, s.Failed, s.Dead, s.Delivered, formatTimePtr(s.OldestPending), s.LagSeconds,
		formatTimePtr(s.OldestDead), s.DeadAgeSeconds, formatTimePtr(s.OldestUndelivered),
		s.Attempts1h, s.Failures1h, s.FailureRate1h, s.Cursor, s.LeaseOwner})
}

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := FormatTime(*t)
	return &s
}

// Replay selects stored events to deliver again.
type Replay struct {
	Since   time.Time // inclusive
	Until   time.Time // exclusive; zero means now
	Sources []string
	Types   []string
}

// String describes a replay for logs.
func (r Replay) String() string {
	return fmt.Sprintf("replay since=%s until=%s sources=%v types=%v", FormatTime(r.Since), FormatTime(r.Until), r.Sources, r.Types)
}

// Matches reports whether a replay of destination d takes an event of
// source and typ: it passes both the destination's filter and the
// replay's.
func (r Replay) Matches(d *Destination, source, typ string) bool {
	f := DestinationFilter{Sources: r.Sources, Types: r.Types}
	return d.Filter.Match(source, typ) && f.Match(source, typ)
}

// EventDelivery is an event's delivery to one destination, as
// GET /api/v1/events/{id}/deliveries shows it.
type EventDelivery struct {
	DestinationID   string    `json:"destination_id"`
	DestinationName string    `json:"destination_name"`
	Status          string    `json:"status"`
	Attempts        int       `json:"attempts"`
	LastError       string    `json:"last_error"`
	Log             []Attempt `json:"log"`
	NextAttemptAt   *string   `json:"next_attempt_at"`
}

// EventFacts are what a store reads for an event's deliveries.
type EventFacts struct {
	Event *Event
	// InLog is false for an imported event, which was never delivered
	// from the log; Pos is its position otherwise.
	InLog bool
	Pos   LogPosition
	// Destinations with their cursors, and the event's rows by
	// destination id.
	Destinations []*Destination
	Cursors      map[string]Cursor
	Rows         map[string]*Delivery
}

// Deliveries returns every destination the event was for, by the one rule
// of every store: a row says it all; otherwise an event of the log that
// the destination wants is delivered once its cursor is past it, pending
// before.
func (f *EventFacts) Deliveries() []*EventDelivery {
	out := []*EventDelivery{}
	for _, d := range f.Destinations {
		ed := &EventDelivery{DestinationID: d.ID, DestinationName: d.Name, Log: []Attempt{}}
		if row := f.Rows[d.ID]; row != nil {
			ed.Status, ed.Attempts, ed.LastError = row.Status, row.Attempts, row.LastError
			if row.Log != nil {
				ed.Log = row.Log
			}
			if row.Status == DeliveryPending || row.Status == DeliveryFailed {
				s := FormatTime(row.NextAttemptAt)
				ed.NextAttemptAt = &s
			}
			out = append(out, ed)
			continue
		}
		c, ok := f.Cursors[d.ID]
		if !f.InLog || !ok || f.Pos.Compare(c.Start) <= 0 || !d.Wants(f.Event) {
			continue
		}
		if f.Pos.Compare(c.Position) <= 0 {
			ed.Status, ed.Attempts = DeliveryDelivered, 1
		} else {
			ed.Status = DeliveryPending
		}
		out = append(out, ed)
	}
	return out
}

// DeliveryStore is the delivery side of a store: cursors, rows, and the
// reads of the log. See the comment at the top of this file.
type DeliveryStore interface {
	// TakeCursor gives owner a destination's cursor until now+lease (and
	// returns it) when no other owner's lease is running. Returns
	// ENOTFOUND, ECONFLICT when another owner holds it, EUNAVAILABLE.
	TakeCursor(ctx context.Context, destinationID, owner string, now time.Time, lease time.Duration) (*Cursor, error)

	// ReleaseCursor ends owner's lease at once, so that another node may
	// take the cursor without waiting for it. Returns EUNAVAILABLE.
	ReleaseCursor(ctx context.Context, destinationID, owner string) error

	// ReadLog returns up to limit committed events after a position, in
	// log order, never an event that an earlier position could still
	// commit before. Imported events are not in the log. Returns
	// EUNAVAILABLE.
	ReadLog(ctx context.Context, after LogPosition, limit int) (*LogRead, error)

	// LogHead returns the position every event committed from now on is
	// after, where a reader that wants only new events starts. Returns
	// EUNAVAILABLE.
	LogHead(ctx context.Context) (LogPosition, error)

	// DueDeliveries returns a destination's rows to attempt next, in
	// delivery order, with their events: pending or failed, released, and
	// due at f.Now (see DueFilter.Ordered). Returns EUNAVAILABLE.
	DueDeliveries(ctx context.Context, destinationID string, f DueFilter) ([]*Delivery, error)

	// Settle records s for a destination whose cursor owner holds, and
	// renews the lease until now+lease; it returns the cursor as stored.
	// Returns ECONFLICT when owner no longer holds the cursor (nothing is
	// recorded), EUNAVAILABLE.
	Settle(ctx context.Context, destinationID, owner string, s Settlement, now time.Time, lease time.Duration) (*Cursor, error)

	// DisableDestination disables a destination for reason, at now.
	// Returns ENOTFOUND.
	DisableDestination(ctx context.Context, destinationID, reason string, now time.Time) error

	// ListDeliveries returns a page of a destination's rows.
	// Returns ENOTFOUND for an unknown destination, EINVALID.
	ListDeliveries(ctx context.Context, destinationID string, f DeliveryFilter) (*DeliveryPage, error)

	// RetryDeliveries makes the named rows, or all of the given status
	// when eventIDs is empty (see CheckRetry), pending and due at now with
	// a fresh retry schedule. It returns how many it changed.
	// Returns ENOTFOUND for an unknown destination, EINVALID.
	RetryDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string, now time.Time) (int, error)

	// DiscardDeliveries deletes the named rows, or all of the given
	// status (see CheckDiscard), that are not delivered: the events are
	// given up for the destination (and free for retention). It returns
	// how many it deleted.
	// Returns ENOTFOUND for an unknown destination, EINVALID.
	DiscardDeliveries(ctx context.Context, destinationID string, eventIDs []string, status string) (int, error)

	// ReplayDeliveries makes every stored event of r that passes the
	// destination's filter (Replay.Matches) pending for it again,
	// released once the cursor has passed the log's head at now: behind
	// every event committed before. It returns how many.
	// Returns ENOTFOUND for an unknown destination, EINVALID.
	ReplayDeliveries(ctx context.Context, destinationID string, r Replay, now time.Time) (int, error)

	// DeliveryState returns a destination's backlog at now
	// (BacklogFacts.State). Returns ENOTFOUND for an unknown destination.
	DeliveryState(ctx context.Context, destinationID string, now time.Time) (*DeliveryState, error)

	// EventDeliveries returns the deliveries of one event to every
	// destination it was for (EventFacts.Deliveries). Returns ENOTFOUND.
	EventDeliveries(ctx context.Context, eventID string) ([]*EventDelivery, error)
}

// AppendAttempt returns log with a appended, keeping the latest
// MaxAttemptLog attempts.
func AppendAttempt(log []Attempt, a Attempt) []Attempt {
	log = append(log, a)
	if len(log) > MaxAttemptLog {
		log = slices.Clone(log[len(log)-MaxAttemptLog:])
	}
	return log
}

// ParseDeliveryStatus checks a status filter; "" is every status.
func ParseDeliveryStatus(s string) (string, error) {
	if s != "" && !ValidDeliveryStatus(s) {
		return "", Errorf(EINVALID, "status must be %s, %s, %s or %s", DeliveryPending, DeliveryFailed, DeliveryDead, DeliveryDelivered)
	}
	return s, nil
}

// CheckRetry checks what a retry names: event ids, or a status of rows
// that may be retried.
func CheckRetry(eventIDs []string, status string) error {
	if len(eventIDs) > 0 || status == DeliveryFailed || status == DeliveryDead || status == DeliveryDelivered {
		return nil
	}
	return Errorf(EINVALID, "name the deliveries to retry by event_ids, or by status %q, %q or %q", DeliveryFailed, DeliveryDead, DeliveryDelivered)
}

// CheckDiscard checks what a discard names: event ids, or a status of
// rows that may be discarded.
func CheckDiscard(eventIDs []string, status string) error {
	if len(eventIDs) > 0 || status == DeliveryDead || status == DeliveryFailed || status == DeliveryPending {
		return nil
	}
	return Errorf(EINVALID, "name the deliveries to discard by event_ids, or by status %q, %q or %q", DeliveryDead, DeliveryFailed, DeliveryPending)
}

// RetryAt returns when a failed attempt of a delivery is tried again, and
// whether it is dead instead: the policy's next step, deferred to the
// receiver's Retry-After when that is later (capped at MaxRetryAfter, and
// never past the policy's MaxAge: a Retry-After beyond it makes the event
// dead at the end of MaxAge, not later).
func (p *RetryPolicy) RetryAt(attempts int, first, now time.Time, retryAfter time.Duration) (next time.Time, dead bool) {
	next, dead = p.Next(attempts, first, now)
	if dead || retryAfter <= 0 {
		return next, dead
	}
	if ra := now.Add(min(retryAfter, MaxRetryAfter)); ra.After(next) {
		next = ra
	}
	maxAge, _ := time.ParseDuration(p.WithDefaults().MaxAge)
	if end := first.Add(maxAge); next.After(end) {
		next = end
		if !end.After(now) {
			dead = true
		}
	}
	return next, dead
}
