-- Fleet work: jobs and their per-host results, policy revisions, sealed
-- secrets and drift reports. Times are TEXT in journal.TimeFormat (UTC,
-- microseconds), '' for none. BYTEA is PostgreSQL's binary type; SQLite,
-- which takes any type name, stores the bytes given to it as a BLOB.

-- One unit of fleet work fanned out to hosts (CreateJob).
CREATE TABLE jobs (
	id         TEXT   PRIMARY KEY,
	kind       TEXT   NOT NULL,
	actor      TEXT   NOT NULL,
	selector   TEXT   NOT NULL,
	spec       TEXT   NOT NULL, -- JSON, opaque to the store
	timeout_ms BIGINT NOT NULL,
	batch      TEXT   NOT NULL,
	created_at TEXT   NOT NULL,
	deadline   TEXT   NOT NULL,
	ended_at   TEXT   NOT NULL, -- '' while the job runs
	result     TEXT   NOT NULL, -- '' while the job runs
	summary    TEXT   NOT NULL
);

CREATE INDEX jobs_created ON jobs (created_at, id);
CREATE INDEX jobs_open ON jobs (created_at, id) WHERE ended_at = '';

-- What each targeted host returned; one pending row per host from
-- CreateJob on. A row leaves pending or unreachable once only (SetResults).
CREATE TABLE job_results (
	job_id     TEXT   NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	host_id    TEXT   NOT NULL,
	status     TEXT   NOT NULL CHECK (status IN ('pending', 'ok', 'changed', 'failed', 'timeout', 'unreachable')),
	exit_code  BIGINT NOT NULL,
	output     TEXT   NOT NULL,
	detail     TEXT   NOT NULL, -- JSON, opaque to the store
	started_at TEXT   NOT NULL,
	ended_at   TEXT   NOT NULL,
	PRIMARY KEY (job_id, host_id)
);

-- Pushed policies, numbered from 1 in push order; hash identifies the
-- content, so pushing it again adds nothing.
CREATE TABLE policies (
	seq        BIGINT PRIMARY KEY,
	hash       TEXT   NOT NULL UNIQUE,
	git_commit TEXT   NOT NULL,
	actor      TEXT   NOT NULL,
	created_at TEXT   NOT NULL,
	archive    BYTEA  NOT NULL -- tar.gz
);

-- The last seq given to a policy; PutPolicy locks this row, as
-- AppendJournal locks journal_head.
CREATE TABLE policy_head (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT  NOT NULL
);

INSERT INTO policy_head (id, seq) VALUES (1, 0);

-- Vars whose values are sealed (package secret), per selector.
CREATE TABLE secrets (
	name       TEXT  NOT NULL,
	selector   TEXT  NOT NULL,
	sealed     BYTEA NOT NULL,
	updated_by TEXT  NOT NULL,
	updated_at TEXT  NOT NULL,
	PRIMARY KEY (name, selector)
);

-- Convergences that repaired something nobody asked for. id is chosen by
-- the agent, so a retried report is stored once.
CREATE TABLE drifts (
	id           TEXT PRIMARY KEY,
	host_id      TEXT NOT NULL,
	at           TEXT NOT NULL,
	revision     TEXT NOT NULL,
	triggered_by TEXT NOT NULL, -- watch or interval
	result       TEXT NOT NULL,
	changes      TEXT NOT NULL  -- JSON, opaque to the store
);

CREATE INDEX drifts_at ON drifts (at, id);
CREATE INDEX drifts_host ON drifts (host_id, at, id);
