package collect

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"inlet"
	"inlet/jsonpath"
)

// applyMapping reads the event's session, profile, identifiers and traits
// from its properties. A value that is there but unusable is
// EINVALID; one that is missing leaves the URL's rules and a warning.
func applyMapping(m *inlet.Mapping, in *inlet.Intake, doc any) error {
	e := &in.Event
	lookup := func(path string) (any, bool) {
		p, err := jsonpath.Parse(path)
		if err != nil { // validated with the source
			return nil, false
		}
		return p.Lookup(doc)
	}
	lookupID := func(path string) (string, bool) {
		v, ok := lookup(path)
		if !ok {
			return "", false
		}
		return jsonpath.ID(v)
	}
	missing := func(field, path, fallback string) {
		e.Warnings = append(e.Warnings, field+": no id at "+path+"; "+fallback)
	}

	// The event type (event_type_path, event_type_header) is read before
	// the transform, with the preset's rule: see builder.shape.
	if m.SessionIDPath != "" {
		if v, ok := lookupID(m.SessionIDPath); ok {
			if err := inlet.ValidateSessionID(v); err != nil {
				return inlet.Reasonf(inlet.EINVALID, "bad_session_id", "the session id at %s: %s", m.SessionIDPath, inlet.ErrorMessage(err))
			}
			e.SessionID = v
		} else {
			missing("session_id_path", m.SessionIDPath, "the URL's session was used")
		}
	}
	var id inlet.Identity
	if m.ProfileIDPath != "" {
		if v, ok := lookupID(m.ProfileIDPath); ok {
			if !inlet.ValidID(v) {
				return inlet.Reasonf(inlet.EINVALID, "bad_profile_id", "the profile id at %s must be 1 to %d characters from A-Z, a-z, 0-9, '-', '_', '.' and ':'", m.ProfileIDPath, inlet.MaxIDLength)
			}
			id.Profile = v
		} else {
			missing("profile_id_path", m.ProfileIDPath, "the URL's rules applied")
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(m.IdentifyBy)) {
		v, ok := lookupID(m.IdentifyBy[kind])
		if !ok {
			continue
		}
		v = jsonpath.Normalize(kind, v)
		if len(v) > inlet.MaxIdentifierLength {
			e.Warnings = append(e.Warnings, "identify_by."+kind+": the value is longer than "+strconv.Itoa(inlet.MaxIdentifierLength)+" bytes and was not used")
			continue
		}
		id.Identifiers = append(id.Identifiers, inlet.Identifier{Kind: kind, Value: v})
	}
	for _, name := range slices.Sorted(maps.Keys(m.Traits)) {
		v, ok := lookup(m.Traits[name])
		if !ok || v == nil {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		id.Traits = append(id.Traits, inlet.Trait{Name: name, Value: b})
	}
	id.NewProfile = m.GenerateProfile && e.SessionID == "" && id.Profile == ""
	if len(id.Traits) > 0 && e.SessionID == "" && id.Profile == "" && len(id.Identifiers) == 0 && !id.NewProfile {
		e.Warnings = append(e.Warnings, "traits: the event has no profile, so its traits were not written")
	}
	if id.Profile != "" || id.NewProfile || len(id.Identifiers) > 0 || len(id.Traits) > 0 {
		in.Identity = &id
	}
	return nil
}
