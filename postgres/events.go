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

var eventColumns = []string{"inserted_at", "id", "type", "source_id", "session_id", "profile_id", "properties", "context", "warnings"}

// upsertSession returns the profile of a session that is not cached: the
// proposed one when the session is new. Concurrent upserts of the same new
// session, from this node or another, wait on the unique index for the
// first to commit and then read its profile.
const upsertSession = `
	INSERT INTO sessions (id, profile_id, created_at) VALUES ($1, $2, $3)
	ON CONFLICT (id) DO UPDATE SET profile_id = sessions.profile_id
	RETURNING profile_id`

// Append stores events and their new sessions and profiles in one
// transaction: sessions with one upsert each (pipelined in one round trip),
// events with COPY. See inlet.EventStore.
func (db *DB) Append(ctx context.Context, events []*inlet.Event) error {
	if len(events) == 0 {
		return nil
	}
	var days []int64
	ids := make(map[string]bool, len(events))
	for _, e := range events {
		if d := day(e.InsertedAt); !slices.Contains(days, d) {
			days = append(days, d)
		}
		// The primary key holds the time as well: an id twice in a batch
		// is caught here.
		if ids[e.ID] {
			return inlet.Errorf(inlet.ECONFLICT, "event %s is twice in one batch", e.ID)
		}
		ids[e.ID] = true
	}
	if err := db.ensurePartitions(ctx, days...); err != nil {
		return storeError(err)
	}
	err := db.append(ctx, events)
	if isNoPartition(err) {
		// Another node dropped a partition this one believed in: learn
		// again and retry once.
		db.forgetPartitions()
		if err = db.ensurePartitions(ctx, days...); err == nil {
			err = db.append(ctx, events)
		}
	}
	return storeError(err)
}

// sessionUse is what one batch does to a session that is not cached.
type sessionUse struct {
	first    time.Time
	proposed string // the profile id of the session if it is new
	profile  string
	created  bool
}

func (db *DB) append(ctx context.Context, events []*inlet.Event) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if err := lockIdentity(ctx, tx, events); err != nil {
		return err
	}
	dups, err := dedup(ctx, tx, events)
	if err != nil {
		return err
	}
	stored := events
	if len(dups) > 0 {
		stored = make([]*inlet.Event, 0, len(events)-len(dups))
		for _, e := range events {
			if dups[e] == nil {
				stored = append(stored, e)
			}
		}
	}

	// Known sessions come from the cache; the others are upserted.
	uses := map[string]*sessionUse{}
	cached := map[string]string{}
	var ids []string
	for _, e := range stored {
		if e.SessionID == "" {
			continue
		}
		if _, ok := cached[e.SessionID]; ok {
			continue
		}
		if p, ok := db.sessions.Get(e.SessionID); ok {
			cached[e.SessionID] = p
			continue
		}
		u := uses[e.SessionID]
		if u == nil {
			u = &sessionUse{first: e.InsertedAt, proposed: inlet.NewID()}
			uses[e.SessionID] = u
			ids = append(ids, e.SessionID)
		}
		u.first = minTime(u.first, e.InsertedAt)
	}
	// One order for every node, so that two batches sharing sessions lock
	// them in the same order and cannot deadlock.
	slices.Sort(ids)

	if len(ids) > 0 {
		var b pgx.Batch
		for _, id := range ids {
			u := uses[id]
			b.Queue(upsertSession, id, u.proposed, u.first).QueryRow(func(row pgx.Row) error {
				if err := row.Scan(&u.profile); err != nil {
					return fmt.Errorf("upsert session: %w", err)
				}
				u.created = u.profile == u.proposed
				return nil
			})
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return err
		}
		var profiles [][]any
		for _, id := range ids {
			if u := uses[id]; u.created {
				profiles = append(profiles, []any{u.profile, u.first})
			}
		}
		if len(profiles) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"profiles"}, []string{"id", "created_at"}, pgx.CopyFromRows(profiles)); err != nil {
				return fmt.Errorf("insert profiles: %w", err)
			}
		}
	}

	identities, err := resolveIdentities(ctx, tx, stored, func(e *inlet.Event) (string, bool) {
		if u := uses[e.SessionID]; u != nil {
			return u.profile, u.created
		}
		return cached[e.SessionID], false
	})
	if err != nil {
		return err
	}

	rows := make([][]any, len(stored))
	for i, e := range stored {
		ctxJSON, err := json.Marshal(&e.Context)
		if err != nil {
			return err
		}
		profile := e.ProfileID
		if u := uses[e.SessionID]; u != nil {
			profile = u.profile
		} else if p, ok := cached[e.SessionID]; ok {
			profile = p
		}
		profile = identities.ProfileOf(e, profile)
		props := e.Properties
		if len(props) == 0 {
			props = json.RawMessage("{}")
		}
		rows[i] = []any{e.InsertedAt, e.ID, e.Type, e.SourceID, nullString(e.SessionID), nullString(profile), props, ctxJSON, warningsArg(e.Warnings)}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	// Only a committed batch tells its events about their sessions and
	// duplicates.
	for _, e := range stored {
		e.DuplicateOf = ""
		if u := uses[e.SessionID]; u != nil {
			e.ProfileID, e.NewSession = u.profile, u.created
		} else if p, ok := cached[e.SessionID]; ok {
			e.ProfileID, e.NewSession = p, false
		}
		e.ProfileID = identities.ProfileOf(e, e.ProfileID)
	}
	for id, u := range uses {
		db.sessions.Put(id, identities.Survivor(u.profile))
	}
	if identities != nil {
		for _, id := range identities.MovedSessions {
			db.sessions.Forget(id)
		}
	}
	for e, d := range dups {
		e.DuplicateOf, e.NewSession = d.of, false
		if d.original != nil {
			e.ProfileID, e.SessionID = d.original.ProfileID, d.original.SessionID
		} else {
			e.ProfileID, e.SessionID = d.profile, d.session
		}
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
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
	if f.SourceID != "" {
		add("source_id = ?", f.SourceID)
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.ProfileID != "" { // with the profiles merged into it
		family, err := db.profileFamily(ctx, f.ProfileID)
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
		add("(inserted_at, id) < (?, ?)", at, id)
	}
	query := selectEvent
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY inserted_at DESC, id DESC LIMIT " + strconv.Itoa(limit+1)

	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, storeError(err)
	}
	items, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, storeError(err)
	}
	page := &inlet.EventPage{Items: items}
	if page.Items == nil {
		page.Items = []*inlet.Event{}
	}
	if len(items) > limit {
		page.Items = items[:limit]
		last := items[limit-1]
		next := EncodeCursor(last.InsertedAt, last.ID)
		page.Next = &next
	}
	return page, nil
}

func scanEvent(row pgx.CollectableRow) (*inlet.Event, error) {
	var (
		e                     inlet.Event
		session, profile      *string
		properties, reqCtxRaw []byte
		warnings              []byte
	)
	if err := row.Scan(&e.InsertedAt, &e.ID, &e.Type, &e.SourceID, &session, &profile, &properties, &reqCtxRaw, &warnings); err != nil {
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
