-- A merged profile points at its survivor; chains are flattened when they
-- form, so merged_into is always a survivor.
ALTER TABLE profiles ADD COLUMN merged_into text COLLATE "C";
CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;

-- Each identifier (such as an email) belongs to one profile, a survivor.
CREATE TABLE identifiers (
	kind       text COLLATE "C" NOT NULL,
	value      text COLLATE "C" NOT NULL,
	profile_id text COLLATE "C" NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (kind, value)
);
CREATE INDEX identifiers_profile ON identifiers (profile_id);

-- Profile traits, their JSON text kept as written; the latest written_at
-- wins.
CREATE TABLE traits (
	profile_id text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	value      json NOT NULL,
	written_at timestamptz NOT NULL,
	PRIMARY KEY (profile_id, name)
);

-- Where a source's mapping fell back to the URL's rules, or NULL.
ALTER TABLE events ADD COLUMN warnings json;
