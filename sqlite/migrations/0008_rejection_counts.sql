-- Counts of refused collect requests by source and reason: every refusal is
-- counted here, while the rejections table keeps only samples of them.
-- Refusals that name no known source are counted under '(unknown)'.
-- Times are Unix nanoseconds.
CREATE TABLE rejection_counts (
	source_id TEXT NOT NULL,
	reason    TEXT NOT NULL,
	count     INTEGER NOT NULL,
	first_at  INTEGER NOT NULL,
	last_at   INTEGER NOT NULL,
	PRIMARY KEY (source_id, reason)
) WITHOUT ROWID;
