-- The journal: the append-only record of every action (package journal).
-- Rows are inserted by AppendJournal and never updated or deleted.
CREATE TABLE journal (
	seq       BIGINT PRIMARY KEY, -- 1, 2, 3, … without gaps
	at        TEXT   NOT NULL,    -- Time in UTC as journal.TimeFormat
	actor     TEXT   NOT NULL,
	action    TEXT   NOT NULL,
	selector  TEXT   NOT NULL,
	hosts     TEXT   NOT NULL,    -- JSON array of strings
	params    TEXT   NOT NULL,    -- JSON object of strings, secrets masked
	result    TEXT   NOT NULL,
	summary   TEXT   NOT NULL,
	prev_hash TEXT   NOT NULL,
	hash      TEXT   NOT NULL
);

CREATE INDEX journal_actor ON journal (actor, seq);
CREATE INDEX journal_at ON journal (at);

-- Which entries reached which host, for the Host filter.
CREATE TABLE journal_host (
	host TEXT   NOT NULL,
	seq  BIGINT NOT NULL REFERENCES journal (seq) ON DELETE CASCADE,
	PRIMARY KEY (host, seq)
);

CREATE INDEX journal_host_seq ON journal_host (seq);

-- The last entry appended; AppendJournal locks this row.
CREATE TABLE journal_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT  NOT NULL,
	hash TEXT    NOT NULL
);

INSERT INTO journal_head (id, seq, hash) VALUES (1, 0, '');
