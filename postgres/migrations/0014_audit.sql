-- The audit log: every change made through the API, the CLI or the
-- console, written in the change's own transaction; before and after are
-- the objects' JSON as the API shows them, secrets masked.
CREATE TABLE audit (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          TIMESTAMPTZ NOT NULL,
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
