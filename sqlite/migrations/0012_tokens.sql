-- API tokens: only the SHA-256 of each secret is kept. Times are Unix
-- nanoseconds; a revoked token stays listed.
CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	scope        TEXT NOT NULL,
	sources      TEXT NOT NULL DEFAULT '[]', -- a JSON array of source ids; empty: every source
	hash         BLOB NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	last_used_at INTEGER,
	revoked_at   INTEGER
);
