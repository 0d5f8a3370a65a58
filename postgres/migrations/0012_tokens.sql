-- API tokens: only the SHA-256 of each secret is kept; a revoked token
-- stays listed.
CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	scope        TEXT NOT NULL,
	sources      TEXT NOT NULL DEFAULT '[]', -- a JSON array of source ids; empty: every source
	hash         BYTEA NOT NULL UNIQUE,
	created_at   TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ,
	last_used_at TIMESTAMPTZ,
	revoked_at   TIMESTAMPTZ
);
