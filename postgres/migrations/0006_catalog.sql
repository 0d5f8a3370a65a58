-- The schema catalog: per source and event type, the events seen and the
-- shape of their properties. paths is a JSON list of inlet.CatalogPath,
-- rewritten whole at each merge.
CREATE TABLE catalog (
	source_id   text COLLATE "C" NOT NULL,
	event_type  text COLLATE "C" NOT NULL,
	count       bigint NOT NULL,
	first_seen  timestamptz NOT NULL,
	last_seen   timestamptz NOT NULL,
	drift_since timestamptz,
	truncated   boolean NOT NULL,
	paths       jsonb NOT NULL,
	PRIMARY KEY (source_id, event_type)
);
