-- The schema catalog: per source and event type, the events seen and the
-- shape of their properties. paths is a JSON list of inlet.CatalogPath,
-- rewritten whole at each merge; times are Unix nanoseconds, drift_since 0
-- when there is no drift.
CREATE TABLE catalog (
	source_id   TEXT NOT NULL,
	event_type  TEXT NOT NULL,
	count       INTEGER NOT NULL,
	first_seen  INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL,
	drift_since INTEGER NOT NULL,
	truncated   INTEGER NOT NULL,
	paths       TEXT NOT NULL,
	PRIMARY KEY (source_id, event_type)
) WITHOUT ROWID;
