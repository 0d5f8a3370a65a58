package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"inlet"
)

// upsertSession returns the profile of a session that is not cached: the
// proposed one when the session is new. Concurrent upserts of the same new
// session, from this node or another, wait on the unique index for the
// first to commit and then read its profile.
const upsertSession = `
	INSERT INTO sessions (id, profile_id, created_at) VALUES ($1, $2, $3)
	ON CONFLICT (id) DO UPDATE SET profile_id = sessions.profile_id
	RETURNING profile_id`

// Append stores a batch of events and their new sessions and profiles in
// one transaction (see inlet.Append): sessions are upserted in one round
// trip, events inserted in another. See inlet.EventStore.
func (db *DB) Append(ctx context.Context, intakes []inlet.Intake) ([]inlet.Appended, error) {
	out, err := inlet.Append(ctx, db, db.sessions, intakes)
	if isNoPartition(err) {
		// Another node dropped a partition this one believed in: learn
		// again and retry once.
		db.forgetPartitions()
		out, err = inlet.Append(ctx, db, db.sessions, intakes)
	}
	return out, storeError(err)
}

var _ inlet.AppendStore = (*DB)(nil)

// appendTx is inlet.AppendTx on a transaction of the pool. Batches run
// beside each other, on this node and others: row locks and advisory
// locks order them.
type appendTx struct{ tx pgx.Tx }

var _ inlet.AppendTx = appendTx{}

// BeginAppend makes sure the partitions of the batch's days exist, then
// begins its transaction and takes its locks. See inlet.AppendStore.
func (db *DB) BeginAppend(ctx context.Context, intakes []inlet.Intake) (inlet.AppendTx, int64, error) {
	var days []int64
	for i := range intakes {
		if d := day(intakes[i].Event.InsertedAt); !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	if err := db.ensurePartitions(ctx, days...); err != nil {
		return nil, 0, err
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	epoch, err := db.lockAppend(ctx, tx, intakes)
	if err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return nil, 0, err
	}
	return appendTx{tx}, epoch, nil
}

// lockAppend takes the locks of a batch (see lockIdentity) and returns the
// session cache's epoch: a batch that links events to sessions cannot run
// beside an erasure, and sees every erasure before it uses the cache.
func (db *DB) lockAppend(ctx context.Context, tx pgx.Tx, intakes []inlet.Intake) (int64, error) {
	if err := lockIdentity(ctx, tx, intakes); err != nil {
		return 0, err
	}
	for i := range intakes {
		if intakes[i].Event.SessionID != "" {
			return db.observeErasures(ctx, tx)
		}
	}
	return db.sessions.Epoch(), nil
}

func (t appendTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t appendTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

// UpsertSessions upserts each session (see upsertSession), pipelined in one
// round trip, in the order of their ids on every node, so that two batches
// sharing sessions lock them in the same order and cannot deadlock.
func (t appendTx) UpsertSessions(ctx context.Context, claims []inlet.SessionClaim) ([]string, error) {
	order := make([]int, len(claims))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(claims[a].ID, claims[b].ID) })
	profiles := make([]string, len(claims))
	var batch pgx.Batch
	for _, i := range order {
		c := &claims[i]
		batch.Queue(upsertSession, c.ID, c.Profile, c.At).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&profiles[i]); err != nil {
				return fmt.Errorf("upsert session: %w", err)
			}
			return nil
		})
	}
	if err := t.tx.SendBatch(ctx, &batch).Close(); err != nil {
		return nil, err
	}
	return profiles, nil
}

// InsertProfiles copies the new profiles in.
func (t appendTx) InsertProfiles(ctx context.Context, claims []inlet.SessionClaim) error {
	rows := make([][]any, len(claims))
	for i, c := range claims {
		rows[i] = []any{c.Profile, c.At}
	}
	if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{"profiles"}, []string{"id", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("insert profiles: %w", err)
	}
	return nil
}

// InsertEvents writes the batch's events in one statement over arrays.
func (t appendTx) InsertEvents(ctx context.Context, b *inlet.AppendBatch) error {
	tx := t.tx
	n := len(b.Events)
	if n == 0 {
		return nil
	}
	var (
		times                     = make([]time.Time, n)
		ids, types, sources       = make([]string, n), make([]string, n), make([]string, n)
		sessions, profiles        = make([]*string, n), make([]*string, n)
		props, contexts, warnings = make([]string, n), make([]string, n), make([]*string, n)
	)
	for i, e := range b.Events {
		ctxJSON, err := b.ContextJSON(i)
		if err != nil {
			return err
		}
		times[i], ids[i], types[i], sources[i] = e.InsertedAt, e.ID, e.Type, e.SourceID
		sessions[i], profiles[i] = nullable(e.SessionID), nullable(e.ProfileID)
		props[i], contexts[i] = string(e.Properties), string(ctxJSON)
		if len(e.Properties) == 0 {
			props[i] = "{}"
		}
		if len(e.Warnings) > 0 {
			w, _ := json.Marshal(e.Warnings)
			ws := string(w)
			warnings[i] = &ws
		}
	}
	// log_tx and log_seq take their defaults: the events' place in the
	// log that delivery reads.
	if _, err := tx.Exec(ctx, `INSERT INTO events (inserted_at, id, type, source_id, session_id, profile_id, properties, context, warnings)
		SELECT t, i, ty, s, se, pr, p::json, c::json, w::json
		FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
			AS u(t, i, ty, s, se, pr, p, c, w)`, times, ids, types, sources, sessions, profiles, props, contexts, warnings); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}

// nullable is nullString for the elements of an array parameter.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const selectEvent = `SELECT inserted_at, id, type, source_id, session_id, profile_id, properties, context, warnings FROM events`

// FindEvent returns one event. See inlet.EventStore.
func (db *DB) FindEvent(ctx context.Context, id string) (*inlet.Event, error) {
	rows, err := db.pool.Query(ctx, selectEvent+` WHERE id = $1 LIMIT 1`, id)
	if err != nil {
		return nil, storeError(err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, inlet.Errorf(inlet.ENOTFOUND, "event %q not found", id)
	}
	return e, storeError(err)
}

// ListEvents returns a page of events, newest first: by insertion time,
// then id. See inlet.EventStore.
func (db *DB) ListEvents(ctx context.Context, f inlet.EventFilter) (*inlet.EventPage, error) {
	limit := f.PageLimit()
	var where []string
	var args []any
	add := func(cond string, values ...any) {
		for range values {
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)+1), 1)
			args = append(args, values[0])
			values = values[1:]
		}
		where = append(where, cond)
	}
	if f.EventID != "" {
		add("id = ?", f.EventID)
	}
	if f.SourceID != "" {
		add("source_id = ?", f.SourceID)
	}
	if f.Type != "" && !f.TypePattern() {
		add("type = ?", f.Type)
	}
	if f.ProfileID != "" { // with the profiles merged into it
		family, err := profileFamily(ctx, db.pool, f.ProfileID)
		if err != nil {
			return nil, err
		}
		if len(family) == 1 { // the index gives the order: no sort
			add("profile_id = ?", family[0])
		} else {
			add("profile_id = ANY(?)", family)
		}
	}
	if f.SessionID != "" {
		add("session_id = ?", f.SessionID)
	}
	if !f.Since.IsZero() {
		add("inserted_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		add("inserted_at < ?", f.Until)
	}
	if f.Cursor != "" {
		at, id, err := DecodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		if f.Oldest {
			add("(inserted_at, id) > (?, ?)", at, id)
		} else {
			add("(inserted_at, id) < (?, ?)", at, id)
		}
	}
	order := " ORDER BY inserted_at DESC, id DESC"
	if f.Oldest {
		order = " ORDER BY inserted_at, id"
	}
	var window *inlet.SearchWindow
	var boundAt time.Time // the last event of the window, when it is reached
	var boundID string
	if f.Searches() {
		// The window: the f.SearchWindow() events the indexed filters
		// select, found on an index alone; the search reads only them.
		window = &inlet.SearchWindow{Events: f.SearchWindow()}
		q := `SELECT inserted_at, id FROM events` + whereSQL(where) + order + ` OFFSET ` + strconv.Itoa(f.SearchWindow()-1) + ` LIMIT 1`
		err := db.pool.QueryRow(ctx, q, args...).Scan(&boundAt, &boundID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, storeError(err)
		case f.Oldest:
			add("(inserted_at, id) <= (?, ?)", boundAt, boundID)
		default:
			add("(inserted_at, id) >= (?, ?)", boundAt, boundID)
		}
	}
	query := selectEvent + whereSQL(where) + order
	if f.Searches() {
		// The search filters the window's events, read in order from the
		// subquery, which no index of a type or a property can replace:
		// an index scan of every event of a type pattern, in a store of
		// millions, is what the window is there to avoid.
		base := len(where)
		if f.TypePattern() {
			add(`type LIKE ? ESCAPE '\'`, inlet.LikePattern(f.Type))
		}
		if p := f.Property; p != nil {
			add("properties #>> ? = ?", p.Path, p.Value)
		}
		query = `SELECT * FROM (` + query + ` LIMIT ` + strconv.Itoa(f.SearchWindow()) + `) w` + whereSQL(where[base:]) + order
	}
	query += " LIMIT " + strconv.Itoa(limit+1)

	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	items, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, storeError(err)
	}
	page := &inlet.EventPage{Items: items, Window: window}
	if page.Items == nil {
		page.Items = []*inlet.Event{}
	}
	if len(items) > limit {
		page.Items = items[:limit]
		last := items[limit-1]
		next := EncodeCursor(last.InsertedAt, last.ID)
		page.Next = &next
	} else if boundID != "" { // the window ends the page: go on below it
		next := EncodeCursor(boundAt, boundID)
		page.Next, window.Reached = &next, true
	}
	return page, nil
}

func scanEvent(row pgx.CollectableRow) (*inlet.Event, error) {
	return scanEventWith(row)
}

// scanEventWith reads an event whose columns follow those of first.
func scanEventWith(row pgx.CollectableRow, first ...any) (*inlet.Event, error) {
	var (
		e                     inlet.Event
		session, profile      *string
		properties, reqCtxRaw []byte
		warnings              []byte
	)
	if err := row.Scan(append(first, &e.InsertedAt, &e.ID, &e.Type, &e.SourceID, &session, &profile, &properties, &reqCtxRaw, &warnings)...); err != nil {
		return nil, err
	}
	e.InsertedAt = e.InsertedAt.UTC()
	if session != nil {
		e.SessionID = *session
	}
	if profile != nil {
		e.ProfileID = *profile
	}
	e.Properties = json.RawMessage(properties)
	if err := json.Unmarshal(reqCtxRaw, &e.Context); err != nil {
		return nil, fmt.Errorf("event %s: context: %w", e.ID, err)
	}
	if warnings != nil {
		if err := json.Unmarshal(warnings, &e.Warnings); err != nil {
			return nil, fmt.Errorf("event %s: warnings: %w", e.ID, err)
		}
	}
	return &e, nil
}

// EncodeCursor makes an opaque cursor from the position of the last event
// of a page.
func EncodeCursor(insertedAt time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("p" + strconv.FormatInt(insertedAt.UnixMicro(), 10) + "." + id))
}

// DecodeCursor reads a cursor made by EncodeCursor. Returns EINVALID.
func DecodeCursor(cursor string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil && len(b) > 1 && b[0] == 'p' {
		micros, id, ok := strings.Cut(string(b[1:]), ".")
		if us, err := strconv.ParseInt(micros, 10, 64); ok && err == nil && inlet.ValidID(id) {
			return time.UnixMicro(us).UTC(), id, nil
		}
	}
	return time.Time{}, "", inlet.Reasonf(inlet.EINVALID, "bad_cursor", "cursor is not one this server gave out")
}

func whereSQL(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}
