-- The hosts of the fleet (package host). Times are TEXT in
-- journal.TimeFormat (UTC, microseconds), '' for none; labels and facts are
-- JSON objects of strings.
CREATE TABLE hosts (
	id          TEXT PRIMARY KEY,
	hostname    TEXT NOT NULL,
	labels      TEXT NOT NULL,
	facts       TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked')),
	enrolled_at TEXT NOT NULL,
	last_seen   TEXT NOT NULL, -- moved by every heartbeat (TouchHost)
	last_result TEXT NOT NULL
);

CREATE INDEX hosts_status ON hosts (status);

-- The join tokens agents enrol with. hash is the SHA-256 of the secret,
-- which is never stored; expires_at is '' for never, max_uses 0 for no
-- limit.
CREATE TABLE join_tokens (
	id         TEXT   PRIMARY KEY,
	hash       TEXT   NOT NULL,
	labels     TEXT   NOT NULL,
	max_uses   BIGINT NOT NULL CHECK (max_uses >= 0),
	uses       BIGINT NOT NULL CHECK (uses >= 0),
	expires_at TEXT   NOT NULL,
	created_by TEXT   NOT NULL,
	created_at TEXT   NOT NULL
);
