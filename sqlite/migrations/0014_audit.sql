-- The audit log: every change made through the API, the CLI or the
-- console, written in the change's own transaction. Times are Unix
-- nanoseconds; before and after are the objects' JSON, secrets masked.
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	token_id    TEXT NOT NULL DEFAULT '', -- empty for the admin token and the server itself
	token       TEXT NOT NULL,            -- the token's name, or "inlet" for the server itself
	client      TEXT NOT NULL DEFAULT '',
	action      TEXT NOT NULL,            -- such as source.update
	object_type TEXT NOT NULL,
	object_id   TEXT NOT NULL DEFAULT '',
	before      TEXT,
	after       TEXT,
	outcome     TEXT NOT NULL,            -- ok, or the error code
	error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_object ON audit (object_type, object_id);
CREATE INDEX audit_token ON audit (token);

-- The erasure record names the token that asked for it.
ALTER TABLE erasures ADD COLUMN token TEXT NOT NULL DEFAULT '';
