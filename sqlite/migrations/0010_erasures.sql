-- The record of each erasure of a person: when, and how many rows of each
-- kind it removed (a JSON object of counts); never the data.
CREATE TABLE erasures (
	id     INTEGER PRIMARY KEY,
	at     INTEGER NOT NULL,
	counts TEXT NOT NULL
);
