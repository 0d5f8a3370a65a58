-- A merged profile points at its survivor; chains are flattened when they
-- form, so merged_into is always a survivor.
ALTER TABLE profiles ADD COLUMN merged_into TEXT;
CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;

-- Each identifier (such as an email) belongs to one profile, a survivor.
CREATE TABLE identifiers (
	kind       TEXT NOT NULL,
	value      TEXT NOT NULL,
	profile_id TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE INDEX identifiers_profile ON identifiers (profile_id);

-- Profile traits: value is JSON text; the latest written_at wins.
CREATE TABLE traits (
	profile_id TEXT NOT NULL,
	name       TEXT NOT NULL,
	value      TEXT NOT NULL,
	written_at INTEGER NOT NULL,
	PRIMARY KEY (profile_id, name)
) WITHOUT ROWID;

-- Where a source's mapping fell back to the URL's rules: a JSON list of
-- messages, or NULL.
ALTER TABLE events ADD COLUMN warnings TEXT;
