-- The record of each erasure of a person: when, and how many rows of each
-- kind it removed (a JSON object of counts); never the data. Its highest
-- id tells every node that an erasure happened, so that it clears its
-- cache of sessions.
CREATE TABLE erasures (
	id     bigserial PRIMARY KEY,
	at     timestamptz NOT NULL,
	counts json NOT NULL
);
