package inlet

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"inlet/jsonpath"
)

// Limits of a source's mapping.
const (
	MaxIdentifierKinds  = 16  // entries of identify_by
	MaxTraits           = 64  // entries of traits
	MaxIdentifierLength = 512 // bytes of a normalised identifier value
	MaxSplitEvents      = 1000
)

// Mapping is the part of a source's configuration that reads an event's
// type, session, profile, identifiers and traits from its properties, each
// by a dotted path (see package jsonpath). The zero Mapping reads nothing,
// and events are then shaped by the URL alone.
type Mapping struct {
	// ProfileIDPath and SessionIDPath name the value that becomes the
	// event's profile id and session id; a profile named so is created on
	// first sight. Without the value, the URL's rules apply and the event
	// records a warning.
	ProfileIDPath string `json:"profile_id_path,omitempty"`
	SessionIDPath string `json:"session_id_path,omitempty"`
	// EventTypePath names the event type, normalised as the URL's, which
	// is the fallback.
	EventTypePath string `json:"event_type_path,omitempty"`
	// EventTypeHeader names a request header holding the event type ('/'
	// becomes '.'), tried before EventTypePath.
	EventTypeHeader string `json:"event_type_header,omitempty"`
	// GenerateProfile gives an event with neither session nor profile a
	// new profile of its own.
	GenerateProfile bool `json:"generate_profile,omitempty"`
	// SplitArray makes a JSON array body one event per element, stored
	// together or not at all.
	SplitArray bool `json:"split_array,omitempty"`
	// IdentifyBy maps identifier kinds (such as email) to paths: an event
	// carrying an identifier belongs to the profile that owns it.
	IdentifyBy map[string]string `json:"identify_by,omitempty"`
	// Traits maps profile trait names to paths; each event writes them to
	// its profile, the latest write winning.
	Traits map[string]string `json:"traits,omitempty"`
}

// Maps reports whether the mapping reads anything from the payload, that
// is whether collecting needs more than the URL.
func (m *Mapping) Maps() bool {
	return m.ProfileIDPath != "" || m.SessionIDPath != "" || m.EventTypePath != "" || m.EventTypeHeader != "" || m.GenerateProfile ||
		m.SplitArray || len(m.IdentifyBy) > 0 || len(m.Traits) > 0
}

// Validate returns an EINVALID error naming the first field that is wrong.
func (m *Mapping) Validate() error {
	for _, f := range []struct{ name, path string }{
		{"profile_id_path", m.ProfileIDPath}, {"session_id_path", m.SessionIDPath}, {"event_type_path", m.EventTypePath},
	} {
		if f.path == "" {
			continue
		}
		if _, err := jsonpath.Parse(f.path); err != nil {
			return Errorf(EINVALID, "config.%s: %s", f.name, err)
		}
	}
	if m.EventTypeHeader != "" && !validHeaderName(m.EventTypeHeader) {
		return Errorf(EINVALID, "config.event_type_header must be a header name, for example X-Event-Type")
	}
	if len(m.IdentifyBy) > MaxIdentifierKinds {
		return Errorf(EINVALID, "config.identify_by has more than %d identifiers", MaxIdentifierKinds)
	}
	for _, kind := range sortedKeys(m.IdentifyBy) {
		if !validName(kind, false) {
			return Errorf(EINVALID, "config.identify_by: identifier name %q must be 1 to 64 characters from a-z, 0-9 and '_'", kind)
		}
		if _, err := jsonpath.Parse(m.IdentifyBy[kind]); err != nil {
			return Errorf(EINVALID, "config.identify_by.%s: %s", kind, err)
		}
	}
	if len(m.Traits) > MaxTraits {
		return Errorf(EINVALID, "config.traits has more than %d traits", MaxTraits)
	}
	for _, name := range sortedKeys(m.Traits) {
		if !validName(name, true) {
			return Errorf(EINVALID, "config.traits: trait name %q must be 1 to 64 characters from A-Z, a-z, 0-9, '_', '-' and '.'", name)
		}
		if _, err := jsonpath.Parse(m.Traits[name]); err != nil {
			return Errorf(EINVALID, "config.traits.%s: %s", name, err)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validName reports whether s is an identifier kind (a-z, 0-9, '_') or,
// with wide, a trait name (also A-Z, '-' and '.').
func validName(s string, wide bool) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			continue
		} else if wide && (c >= 'A' && c <= 'Z' || c == '-' || c == '.') {
			continue
		}
		return false
	}
	return true
}

// Identifier is a named identity of a profile, such as an email address.
// Each identifier belongs to at most one profile.
type Identifier struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Trait is a profile attribute written by an event.
type Trait struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// Identity is what an event says about who sent it, beyond its session.
// EventStore.Append resolves it in the event's transaction.
type Identity struct {
	// Profile is a profile id named by the payload, created on first sight.
	Profile string
	// NewProfile asks for a new profile when the event has none otherwise.
	NewProfile bool
	// Identifiers link the event to the profiles that own them.
	Identifiers []Identifier
	// Traits are written to the event's profile.
	Traits []Trait
}

// IdentityTx is what identity resolution needs from a store, inside the
// transaction that appends the events. Stores must serialise identity
// resolution (one writer, or a lock taken before any of these calls), so
// that what one call reads stays true until the commit.
type IdentityTx interface {
	// EnsureProfile creates the profile id unless it exists.
	EnsureProfile(ctx context.Context, id string, at time.Time) error
	// ProfileInfo returns when a profile was created and the profile it
	// was merged into ("" for a survivor); exists is false for an unknown id.
	ProfileInfo(ctx context.Context, id string) (createdAt time.Time, mergedInto string, exists bool, err error)
	// IdentifierOwner returns the profile that owns an identifier, or "".
	IdentifierOwner(ctx context.Context, id Identifier) (string, error)
	// ClaimIdentifier records profile as the owner of an unowned identifier.
	ClaimIdentifier(ctx context.Context, id Identifier, profile string, at time.Time) error
	// Merge makes alias an alias of survivor: the profiles merged into
	// alias are merged into survivor; alias's identifiers and sessions move
	// to survivor; its traits too, where newer than survivor's. It returns
	// the ids of the sessions that moved.
	Merge(ctx context.Context, alias, survivor string) (sessions []string, err error)
	// DropProfile deletes a profile that was created in this transaction
	// and merged away before anyone could see it.
	DropProfile(ctx context.Context, id string) error
	// SetTraits writes traits to profile as of at, each unless the profile
	// has a newer value.
	SetTraits(ctx context.Context, profile string, traits []Trait, at time.Time) error
}

// IdentityResult is the outcome of ResolveIdentities.
type IdentityResult struct {
	// Profiles is the final profile of each event (by its index) that had
	// an Identity.
	Profiles map[int]string
	// Survivors maps every profile merged away during the batch to its
	// survivor, so that other events of the batch follow it.
	Survivors map[string]string
	// MovedSessions are sessions whose profile changed: caches must
	// forget them once the transaction commits.
	MovedSessions []string
	// Merged counts, by event index, the profiles each event merged into
	// its profile.
	Merged map[int]int
}

// Survivor returns the profile that p resolves to after the batch.
func (r *IdentityResult) Survivor(p string) string {
	if r == nil {
		return p
	}
	if s, ok := r.Survivors[p]; ok {
		return s
	}
	return p
}

// ResolveIdentities links each event with an Identity (identities[i] is
// that of events[i], or nil), in order, to its profile, merging profiles
// that the event shows to be one person: the oldest survives (ties go to
// the profile named by the payload, then identifier owners, then the
// session's). sessionProfile returns the profile of an event's session as
// the batch resolved it, or "", and whether the batch created it with the
// session. A profile created by the batch (with a session, or for an
// identifier) that is merged away in the same batch is dropped rather than
// kept as an alias: no answer ever named it.
func ResolveIdentities(ctx context.Context, tx IdentityTx, events []*Event, identities []*Identity, sessionProfile func(i int) (profile string, created bool)) (*IdentityResult, error) {
	r := &resolver{
		ctx: ctx, tx: tx,
		result: &IdentityResult{Profiles: make(map[int]string), Survivors: make(map[string]string), Merged: make(map[int]int)},
		known:  make(map[string]*profileInfo),
		fresh:  make(map[string]bool),
	}
	for i, e := range events {
		if identities[i] == nil {
			continue
		}
		sp, created := sessionProfile(i)
		if err := r.resolve(i, e, identities[i], sp, created); err != nil {
			return nil, err
		}
	}
	return r.result, nil
}

// resolver is the state of one ResolveIdentities call.
type resolver struct {
	ctx    context.Context
	tx     IdentityTx
	result *IdentityResult
	known  map[string]*profileInfo // profiles read or made in this batch
	fresh  map[string]bool         // profiles made by this batch
}

type profileInfo struct {
	created    time.Time
	mergedInto string
}

// resolve links the i-th event to its profile: it gathers the candidate
// profiles, makes one when there is none, merges the others into the
// oldest, and records the event's identifiers and traits there.
func (r *resolver) resolve(i int, e *Event, id *Identity, sessionProfile string, sessionCreated bool) error {
	candidates, unowned, err := r.candidates(e, id, sessionProfile, sessionCreated)
	if err != nil {
		return err
	}
	if len(candidates) == 0 {
		if len(id.Identifiers) == 0 && !id.NewProfile {
			return nil // nothing to link to: traits need a profile
		}
		p := NewID()
		r.fresh[p] = true
		if err := r.tx.EnsureProfile(r.ctx, p, e.InsertedAt); err != nil {
			return err
		}
		r.known[p] = &profileInfo{created: e.InsertedAt}
		candidates = append(candidates, p)
	}
	survivor, err := r.merge(candidates)
	if err != nil {
		return err
	}
	if n := len(candidates) - 1; n > 0 {
		r.result.Merged[i] = n
	}
	for _, ident := range unowned {
		if err := r.tx.ClaimIdentifier(r.ctx, ident, survivor, e.InsertedAt); err != nil {
			return err
		}
	}
	if len(id.Traits) > 0 {
		if err := r.tx.SetTraits(r.ctx, survivor, id.Traits, e.InsertedAt); err != nil {
			return err
		}
	}
	r.result.Profiles[i] = survivor
	return nil
}

// candidates returns the surviving profiles an event points at, in order
// of precedence (named, identifier owners, the session's, the event's
// own), and the identifiers nobody owns yet.
func (r *resolver) candidates(e *Event, id *Identity, sessionProfile string, sessionCreated bool) ([]string, []Identifier, error) {
	var candidates []string
	add := func(p string) error {
		if p == "" {
			return nil
		}
		c, err := r.canon(p)
		if err == nil && !slices.Contains(candidates, c) {
			candidates = append(candidates, c)
		}
		return err
	}
	if id.Profile != "" {
		if err := r.tx.EnsureProfile(r.ctx, id.Profile, e.InsertedAt); err != nil {
			return nil, nil, err
		}
		if err := add(id.Profile); err != nil {
			return nil, nil, err
		}
	}
	unowned := make([]Identifier, 0, len(id.Identifiers))
	for _, ident := range id.Identifiers {
		owner, err := r.tx.IdentifierOwner(r.ctx, ident)
		if err != nil {
			return nil, nil, err
		}
		if owner == "" {
			unowned = append(unowned, ident)
		} else if err := add(owner); err != nil {
			return nil, nil, err
		}
	}
	if sessionCreated && sessionProfile != "" {
		r.fresh[sessionProfile] = true
	}
	if err := add(sessionProfile); err != nil {
		return nil, nil, err
	}
	if len(candidates) == 0 && e.ProfileID != "" && e.SessionID == "" {
		// A profile id the event came with (from a store user, not a
		// mapping): it exists from now on, like a named one.
		if err := r.tx.EnsureProfile(r.ctx, e.ProfileID, e.InsertedAt); err != nil {
			return nil, nil, err
		}
		if err := add(e.ProfileID); err != nil {
			return nil, nil, err
		}
	}
	return candidates, unowned, nil
}

// merge makes the oldest candidate the survivor and merges the others into
// it, dropping those the batch made.
func (r *resolver) merge(candidates []string) (string, error) {
	survivor := candidates[0]
	for _, c := range candidates[1:] {
		if r.known[c].created.Before(r.known[survivor].created) {
			survivor = c
		}
	}
	for _, c := range candidates {
		if c == survivor {
			continue
		}
		moved, err := r.tx.Merge(r.ctx, c, survivor)
		if err != nil {
			return "", err
		}
		r.result.MovedSessions = append(r.result.MovedSessions, moved...)
		if r.fresh[c] {
			if err := r.tx.DropProfile(r.ctx, c); err != nil {
				return "", err
			}
		}
		for alias, s := range r.result.Survivors {
			if s == c {
				r.result.Survivors[alias] = survivor
			}
		}
		r.result.Survivors[c] = survivor
		r.known[c].mergedInto = survivor
	}
	return survivor, nil
}

// info returns what is known of a profile, reading it once.
func (r *resolver) info(p string) (*profileInfo, error) {
	if in := r.known[p]; in != nil {
		return in, nil
	}
	created, into, exists, err := r.tx.ProfileInfo(r.ctx, p)
	if err != nil {
		return nil, err
	}
	if !exists {
		// An id on an event with no profile row (from before identity
		// resolution): it counts as new.
		created = time.Unix(1<<62, 0)
	}
	in := &profileInfo{created: created, mergedInto: into}
	r.known[p] = in
	return in, nil
}

// canon returns the survivor a profile resolves to, through this batch's
// merges and the stored ones.
func (r *resolver) canon(p string) (string, error) {
	for range 64 { // merges are flattened; the bound only guards a loop
		if s, ok := r.result.Survivors[p]; ok {
			p = s
			continue
		}
		in, err := r.info(p)
		if err != nil {
			return "", err
		}
		if in.mergedInto == "" || in.mergedInto == p {
			return p, nil
		}
		p = in.mergedInto
	}
	return p, nil
}

// ProfileStore finds profiles by their identities.
type ProfileStore interface {
	// FindProfileByIdentifier returns the profile that owns an identifier
	// (its value normalised as when collected), as FindProfile does.
	// Returns ENOTFOUND.
	FindProfileByIdentifier(ctx context.Context, id Identifier) (*Profile, error)
}

// ProfileOf returns the final profile of the i-th event, whose profile was
// p before identity resolution: its resolved profile, or p's survivor. A
// nil result (a batch without identities) leaves p.
func (r *IdentityResult) ProfileOf(i int, p string) string {
	if r == nil {
		return p
	}
	if q, ok := r.Profiles[i]; ok {
		return r.Survivor(q) // a later event of the batch may have merged it
	}
	return r.Survivor(p)
}
