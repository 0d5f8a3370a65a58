package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"inlet"
)

// Append stores a batch of events and their new sessions and profiles in
// one transaction (see inlet.Append). See inlet.EventStore.
func (db *DB) Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	out, err := inlet.Append(ctx, db, db.sessions, intakes)
	return out, storeError(err)
}

var _ inlet.AppendStore = (*DB)(nil)

// appendTx is inlet.AppendTx on the write transaction: the one write
// connection serialises batches, so that what each step reads stays true
// until the commit.
type appendTx struct {
	db *DB
	tx *sql.Tx
}

var _ inlet.AppendTx = appendTx{}

// BeginAppend begins a batch on the write connection. See
// inlet.AppendStore.
func (db *DB) BeginAppend(ctx context.Context, _ []inlet.Intake) (inlet.AppendTx, int64, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, err
	}
	// An erasure runs on the same writer and clears the cache itself.
	return appendTx{db, tx}, db.sessions.Epoch(), nil
}

func (t appendTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t appendTx) Rollback(context.Context) error { return t.tx.Rollback() }

// UpsertSessions upserts sessions in one multi-row statement per chunk;
// RETURNING tells each session's profile.
func (t appendTx) UpsertSessions(ctx context.Context, claims []inlet.SessionClaim) ([]string, error) {
	index := make(map[string]int, len(claims))
	profiles := make([]string, len(claims))
	args := make([]any, 0, 3*chunkRows)
	for done := 0; done < len(claims); {
		n := chunkSize(len(claims) - done)
		args = args[:0]
		for i, c := range claims[done : done+n] {
			index[c.ID] = done + i
			args = append(args, c.ID, c.Profile, c.At.UnixNano())
		}
		rows, err := t.tx.StmtContext(ctx, t.db.upsertSessions[n]).QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("upsert sessions: %w", err)
		}
		for rows.Next() {
			var id, profileID string
			if err := rows.Scan(&id, &profileID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("upsert sessions: %w", err)
			}
			profiles[index[id]] = profileID
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("upsert sessions: %w", err)
		}
		done += n
	}
	return profiles, nil
}

// InsertProfiles inserts profiles in one multi-row statement per chunk.
func (t appendTx) InsertProfiles(ctx context.Context, claims []inlet.SessionClaim) error {
	args := make([]any, 0, 2*min(len(claims), chunkRows))
	for len(claims) > 0 {
		n := chunkSize(len(claims))
		args = args[:0]
		for _, c := range claims[:n] {
			args = append(args, c.Profile, c.At.UnixNano())
		}
		if _, err := t.tx.StmtContext(ctx, t.db.insertProfiles[n]).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert profiles: %w", err)
		}
		claims = claims[n:]
	}
	return nil
}

// InsertEvents inserts events in one multi-row statement per chunk, with
// the seqs this store gives out itself (see DB.nextSeq).
func (t appendTx) InsertEvents(ctx context.Context, b *inlet.AppendBatch) error {
	args := make([]any, 0, 10*chunkRows)
	seq := t.db.takeSeqs(len(b.Events))
	for k := 0; k < len(b.Events); {
		n := chunkSize(len(b.Events) - k)
		args = args[:0]
		for end := k + n; k < end; k++ {
			ctxJSON, err := b.ContextJSON(k)
			if err != nil {
				return err
			}
			args = appendEventArgs(append(args, seq), b.Events[k], ctxJSON)
			seq++
		}
		if _, err := t.tx.StmtContext(ctx, t.db.insertEventsN[n]).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
	}
	return nil
}

// appendEventArgs appends the columns of an event, its context encoded
// as ctxJSON.
func appendEventArgs(args []any, e *inlet.Event, ctxJSON []byte) []any {
	return append(args, e.ID, e.Type, e.InsertedAt.UnixNano(), e.SourceID,
		nullString(e.SessionID), nullString(e.ProfileID), string(e.Properties), string(ctxJSON), warningsArg(e.Warnings))
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const selectEvent = `SELECT seq, id, type, inserted_at, source_id, session_id, profile_id, properties, context, warnings FROM events`

// FindEvent returns one event. See inlet.EventStore.
func (db *DB) FindEvent(ctx context.Context, id string) (*inlet.Event, error) {
	rows, err := db.read.QueryContext(ctx, selectEvent+` WHERE id = ?`, id)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, storeError(err)
		}
		return nil, inlet.Errorf(inlet.ENOTFOUND, "event %q not found", id)
	}
	e, _, err := scanEvent(rows)
	return e, err
}

// ListEvents returns a page of events, newest first. See inlet.EventStore.
//
// A newest-first listing with a time range is ordered by insertion time
// (then seq), the order of the events_time index, so that a range of a
// store of millions is read in order rather than sorted; its cursors hold
// both. Every other listing follows seq, the commit order.
func (db *DB) ListEvents(ctx context.Context, f inlet.EventFilter) (*inlet.EventPage, error) {
	limit := f.PageLimit()
	byTime := !f.Oldest && (!f.Since.IsZero() || !f.Until.IsZero())
	var where []string
	var args []any
	add := func(cond string, arg ...any) {
		where = append(where, cond)
		args = append(args, arg...)
	}
	if f.EventID != "" {
		add("id = ?", f.EventID)
	}
	for _, c := range []struct{ column, value string }{{"source_id", f.SourceID}, {"type", f.Type}} {
		if c.value == "" || c.column == "type" && f.TypePattern() {
			continue
		}
		cond := c.column + " = ?"
		if byTime {
			// Of a source or type with many events, the time range is
			// the better index: a unary + keeps SQLite from choosing the
			// column's, whose events it would sort. One with few is
			// found on its index, and its events sorted.
			many, err := db.manyEvents(ctx, c.column, c.value)
			if err != nil {
				return nil, err
			}
			if many {
				cond = "+" + cond
			}
		}
		add(cond, c.value)
	}
	if f.ProfileID != "" { // with the profiles merged into it
		root, aliases, err := db.profileRoot(ctx, f.ProfileID)
		if err != nil {
			return nil, err
		}
		if aliases {
			add("profile_id IN "+familySQL, root, root)
		} else { // the index gives the order: no sort
			add("profile_id = ?", root)
		}
	}
	if f.SessionID != "" {
		add("session_id = ?", f.SessionID)
	}
	sinceArg := -1 // where Since is in args
	if !f.Since.IsZero() {
		sinceArg = len(args)
		add("inserted_at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("inserted_at < ?", f.Until.UnixNano())
	}
	if f.Cursor != "" {
		at, seq, err := decodeListCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		switch {
		case f.Oldest:
			add("seq > ?", seq)
		case byTime && at != 0:
			add("(inserted_at, seq) < (?, ?)", at, seq)
		default:
			add("seq < ?", seq)
		}
	}
	order := " ORDER BY seq DESC"
	if f.Oldest {
		order = " ORDER BY seq"
	} else if byTime {
		order = " ORDER BY inserted_at DESC, seq DESC"
	}
	var window *inlet.SearchWindow
	var boundAt, bound int64 // the last event of the window, when it is reached
	if f.Searches() {
		// The window: the f.SearchWindow() events the indexed filters
		// select, found on the index alone; the search reads only them.
		window = &inlet.SearchWindow{Events: f.SearchWindow()}
		q := `SELECT inserted_at, seq FROM events` + whereSQL(where) + order + ` LIMIT 1 OFFSET ?`
		err := db.read.QueryRowContext(ctx, q, append(slices.Clone(args), f.SearchWindow()-1)...).Scan(&boundAt, &bound)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, storeError(err)
		case f.Oldest:
			add("seq <= ?", bound)
		case byTime:
			// The index's range starts at the window's last event: SQLite
			// takes one lower bound of a column for it, so the window's
			// replaces Since, which it is at or after.
			if sinceArg >= 0 {
				args[sinceArg] = boundAt
			} else {
				add("inserted_at >= ?", boundAt)
			}
			add("(inserted_at, seq) >= (?, ?)", boundAt, bound)
		default:
			add("seq >= ?", bound)
		}
		if f.TypePattern() {
			add(`type LIKE ? ESCAPE '\'`, inlet.LikePattern(f.Type))
		}
		if p := f.Property; p != nil {
			add("CAST(json_extract(properties, ?) AS TEXT) = ?", jsonPath(p.Path), p.Value)
		}
	}
	query := selectEvent + whereSQL(where) + order + " LIMIT ?"
	args = append(args, limit+1)

	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	cursor := func(at, seq int64) *string {
		c := EncodeCursor(seq)
		if byTime {
			c = encodeTimeCursor(at, seq)
		}
		return &c
	}
	page := &inlet.EventPage{Items: make([]*inlet.Event, 0, min(limit, 64)), Window: window}
	var lastSeq int64
	for rows.Next() {
		if len(page.Items) == limit {
			page.Next = cursor(page.Items[limit-1].InsertedAt.UnixNano(), lastSeq)
			break
		}
		e, seq, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, e)
		lastSeq = seq
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	if page.Next == nil && bound != 0 { // the window ends the page: go on below it
		page.Next, window.Reached = cursor(boundAt, bound), true
	}
	return page, nil
}

// manyEventsAt is where a source or a type has many events: sorting that
// many is slower than reading a time range in order.
const manyEventsAt = 20_000

// manyEvents reports whether at least manyEventsAt events have value in
// column (source_id or type), counted on its index up to there.
func (db *DB) manyEvents(ctx context.Context, column, value string) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM events WHERE `+column+` = ? LIMIT ?)`, value, manyEventsAt).Scan(&n)
	if err != nil {
		return false, storeError(err)
	}
	return n >= manyEventsAt, nil
}

func whereSQL(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// jsonPath is the SQLite JSON path of a property's keys.
func jsonPath(keys []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		b.WriteString(`."` + k + `"`)
	}
	return b.String()
}

func scanEvent(rows *sql.Rows) (*inlet.Event, int64, error) {
	var (
		e                     inlet.Event
		seq, at               int64
		session, profile      sql.NullString
		properties, reqCtxRaw []byte
		warnings              sql.NullString
	)
	if err := rows.Scan(&seq, &e.ID, &e.Type, &at, &e.SourceID, &session, &profile, &properties, &reqCtxRaw, &warnings); err != nil {
		return nil, 0, storeError(err)
	}
	e.InsertedAt = time.Unix(0, at).UTC()
	e.SessionID, e.ProfileID = session.String, profile.String
	e.Properties = json.RawMessage(properties)
	if err := json.Unmarshal(reqCtxRaw, &e.Context); err != nil {
		return nil, 0, fmt.Errorf("event %s: context: %w", e.ID, err)
	}
	if warnings.Valid {
		if err := json.Unmarshal([]byte(warnings.String), &e.Warnings); err != nil {
			return nil, 0, fmt.Errorf("event %s: warnings: %w", e.ID, err)
		}
	}
	return &e, seq, nil
}

// EncodeCursor makes an opaque cursor from a position in the event order.
func EncodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("e" + strconv.FormatInt(seq, 10)))
}

// encodeTimeCursor makes a cursor of a listing in time order: an
// insertion time (Unix nanoseconds) and a seq.
func encodeTimeCursor(at, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("t" + strconv.FormatInt(at, 10) + "." + strconv.FormatInt(seq, 10)))
}

// decodeListCursor reads a cursor of ListEvents: either kind, with at 0 for
// one of EncodeCursor. Returns EINVALID.
func decodeListCursor(cursor string) (at, seq int64, err error) {
	if b, derr := base64.RawURLEncoding.DecodeString(cursor); derr == nil && len(b) > 1 && b[0] == 't' {
		a, sq, ok := strings.Cut(string(b[1:]), ".")
		at, err1 := strconv.ParseInt(a, 10, 64)
		seq, err2 := strconv.ParseInt(sq, 10, 64)
		if ok && err1 == nil && err2 == nil && seq > 0 && at != 0 {
			return at, seq, nil
		}
		return 0, 0, inlet.Reasonf(inlet.EINVALID, "bad_cursor", "cursor is not one this server gave out")
	}
	seq, err = DecodeCursor(cursor)
	return 0, seq, err
}

// DecodeCursor reads a cursor made by EncodeCursor. Returns EINVALID.
func DecodeCursor(cursor string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil && len(b) > 1 && b[0] == 'e' {
		var seq int64
		if seq, err = strconv.ParseInt(string(b[1:]), 10, 64); err == nil && seq > 0 {
			return seq, nil
		}
	}
	return 0, inlet.Reasonf(inlet.EINVALID, "bad_cursor", "cursor is not one this server gave out")
}
