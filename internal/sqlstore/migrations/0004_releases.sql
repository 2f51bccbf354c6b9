-- Releases: the versions of apps, their deployments on environments, the
-- locks running deployments hold, what each environment runs, approvals,
-- and the API users. Times are TEXT in journal.TimeFormat (UTC,
-- microseconds), '' for none, so text order is time order. BOOLEAN is 0
-- or 1 in SQLite.

-- Immutable uploaded artifacts, one per (app, version); the artifact itself
-- is a file named by sha256 outside the database (package artifact).
CREATE TABLE versions (
	app        TEXT   NOT NULL,
	version    TEXT   NOT NULL,
	sha256     TEXT   NOT NULL,
	size       BIGINT NOT NULL CHECK (size >= 0),
	format     TEXT   NOT NULL, -- tar, tar.gz, zip
	note       TEXT   NOT NULL,
	actor      TEXT   NOT NULL,
	created_at TEXT   NOT NULL,
	PRIMARY KEY (app, version)
);

CREATE INDEX versions_created ON versions (app, created_at, version);
CREATE INDEX versions_sha256 ON versions (sha256);

-- Each deliver, deploy or rollback of an app on an environment.
CREATE TABLE deployments (
	id         TEXT PRIMARY KEY,
	app        TEXT NOT NULL,
	env        TEXT NOT NULL,
	kind       TEXT NOT NULL, -- deliver, deploy, rollback
	version    TEXT NOT NULL,
	previous   TEXT NOT NULL, -- the environment's version before, '' for none
	actor      TEXT NOT NULL,
	override   TEXT NOT NULL, -- the reason given to skip the lifecycle, '' for none
	state      TEXT NOT NULL CHECK (state IN ('running', 'ok', 'failed')),
	summary    TEXT NOT NULL,
	hosts      TEXT NOT NULL, -- JSON array of host ids
	detail     TEXT NOT NULL, -- JSON, opaque to the store (the steps)
	created_at TEXT NOT NULL,
	ended_at   TEXT NOT NULL  -- '' while it runs
);

CREATE INDEX deployments_app ON deployments (app, created_at, id);
CREATE INDEX deployments_env ON deployments (app, env, created_at, id);
CREATE INDEX deployments_version ON deployments (app, version, env);
CREATE INDEX deployments_open ON deployments (created_at, id) WHERE state = 'running';

-- The lock a running deployment holds on (app, env). A lock whose expires
-- has passed may be taken over (CreateDeployment); the deployment renews
-- it while it runs (UpdateDeployment).
CREATE TABLE locks (
	app        TEXT NOT NULL,
	env        TEXT NOT NULL,
	deployment TEXT NOT NULL,
	actor      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	since      TEXT NOT NULL,
	expires    TEXT NOT NULL,
	PRIMARY KEY (app, env)
);

-- What each environment of an app runs, and its latest scheduled check.
-- The *_version columns hold versions, '' for none.
CREATE TABLE env_states (
	app             TEXT    NOT NULL,
	env             TEXT    NOT NULL,
	current_version   TEXT    NOT NULL,
	previous_version  TEXT    NOT NULL,
	delivered_version TEXT    NOT NULL,
	last_deployment   TEXT    NOT NULL,
	checked_at        TEXT    NOT NULL, -- '' when never checked
	check_ok          BOOLEAN NOT NULL,
	check_summary     TEXT    NOT NULL,
	PRIMARY KEY (app, env)
);

-- Versions approved for environments that require an approval; the first
-- approval stands.
CREATE TABLE approvals (
	app        TEXT NOT NULL,
	env        TEXT NOT NULL,
	version    TEXT NOT NULL,
	actor      TEXT NOT NULL,
	note       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (app, env, version)
);

-- API users. token_hash is the SHA-256 of the user's token, which is never
-- stored.
CREATE TABLE users (
	name       TEXT    PRIMARY KEY,
	admin      BOOLEAN NOT NULL,
	token_hash TEXT    NOT NULL UNIQUE,
	created_by TEXT    NOT NULL,
	created_at TEXT    NOT NULL
);
