// Package sqlstore keeps the state of the phenix server in an SQL database:
// SQLite by default, PostgreSQL when one server is outgrown. It uses
// database/sql with hand-written SQL, no ORM; SQLite comes from
// modernc.org/sqlite (pure Go, no cgo) and PostgreSQL from pgx's stdlib
// driver.
//
// # Opening
//
// Open takes a DSN, "sqlite:<path>" or "postgres://…" ("postgresql://"
// works too, with any parameter pgx understands), creates or upgrades the
// schema and returns a *DB. Each exported method of DB is one transaction:
// it begins, calls helpers that take the *sql.Tx, and commits.
//
// # SQLite
//
// The database file is opened in WAL mode, with foreign keys on and a busy
// timeout (busyTimeout) so that a writer waits for another one instead of
// failing with SQLITE_BUSY. SQLite allows one writer at a time, and this
// package keeps to that discipline rather than discovering it through busy
// errors:
//
//   - writes go through a pool of exactly one connection, so writers in the
//     same process queue in database/sql, in Go, without polling;
//   - every write transaction starts with BEGIN IMMEDIATE, taking the write
//     lock at once, so that two processes on the same file serialise at
//     BEGIN (waiting up to busyTimeout) instead of failing at their first
//     write, and a read-then-write transaction such as AppendJournal cannot
//     read a head that another writer is about to change;
//   - reads go through a second pool of read-only (query_only) connections,
//     which WAL lets run beside the writer, each in a read transaction that
//     sees one snapshot.
//
// SQLite does not queue waiting processes: a process that writes without
// pause can hold another off for busyTimeout, which then fails with
// SQLITE_BUSY. Journal appends are short and rare enough for this not to
// matter; a server that outgrows it moves to PostgreSQL.
//
// # PostgreSQL
//
// One pool serves reads and writes. Writes run at READ COMMITTED, reads in
// READ ONLY REPEATABLE READ transactions so that a method reading twice sees
// one snapshot.
//
// # Dialects
//
// SQL is written once, with "?" placeholders, in the subset both databases
// share (TEXT, BIGINT, INTEGER, BOOLEAN, which SQLite stores as 0 or 1,
// BYTEA, which SQLite takes as a name for BLOB storage; ON CONFLICT, UPDATE … FROM a VALUES list, whose columns
// both name column1, column2, …, and RETURNING). What differs — the driver, the DSN, "$1"
// placeholders, row locks and the migration lock — is in dialect.go and
// nowhere else.
//
// # Migrations
//
// The schema is built by numbered SQL files embedded from migrations/:
// NNNN_name.sql for both databases, or NNNN_name.sqlite.sql and
// NNNN_name.postgres.sql when a step must differ. Open applies the files
// missing from the schema_migrations table, in order, in one transaction,
// holding a lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL)
// so that servers starting together do not race; opening an up-to-date
// database changes nothing. A database whose schema is newer than the
// binary is refused. A migration never changes: a fix is a new file.
//
// # Journal
//
// The journal (see package journal) is append-only: DB has AppendJournal
// and ways to read and verify it, and no method to update or delete an
// entry. Three tables hold it:
//
//   - journal, one row per entry; Time is TEXT in journal.TimeFormat (UTC,
//     microseconds, fixed width, so text order is time order and both
//     databases give back exactly what was hashed), Hosts and Params are
//     JSON text;
//   - journal_host, an index of (host, seq) for the Host filter, which
//     follows journal rows (ON DELETE CASCADE);
//   - journal_head, one row holding the Seq and Hash of the last entry
//     appended.
//
// AppendJournal locks the head row (SELECT … FOR UPDATE on PostgreSQL,
// BEGIN IMMEDIATE on SQLite), numbers and chains the entry from it, inserts
// it and moves the head, in one transaction. Locking one row rather than
// the whole table (LOCK TABLE journal IN EXCLUSIVE MODE) serialises
// appenders only, never readers; it needs no privilege on the journal table
// beyond INSERT and SELECT, so a database role can make the journal
// append-only for the server itself; and the head remembers the end of the
// chain even if rows are deleted behind the store's back: the next entry
// then links to the missing one, and VerifyJournal, which compares the
// chain with the head, reports entries removed from the end, which a hash
// chain alone cannot show.
//
// # Jobs and results
//
// A job (CreateJob) is one row of jobs and one row of job_results for each
// host it targets, created pending in the same transaction; Job and Jobs
// give the targeted hosts back from those rows. Results arrive from agents
// at least once, so SetResults is idempotent: it stores a result only in a
// row still pending or unreachable, in one UPDATE whose WHERE says so, and
// reports which results it stored. A retried delivery finds the row final
// and changes nothing, and two deliveries racing for the same row cannot
// both count: the second waits for the first's row lock (PostgreSQL) or
// write lock (SQLite) and then no longer matches. MarkUnreachable moves the
// rows still pending at the deadline to unreachable, which a late result
// may still replace. SetResults sends up to 500 results per statement
// (UPDATE … FROM VALUES … RETURNING), in one transaction, so 10,000
// results are a few round trips; TouchHosts batches heartbeats the same
// way. Output and Detail are made valid UTF-8 without NUL before they are
// stored, as PostgreSQL's TEXT requires.
//
// # Policy revisions
//
// Each pushed policy is a row of policies: its content hash (unique), git
// commit, actor, time and tar.gz archive (BYTEA). PutPolicy numbers
// revisions from 1 without gaps, locking the policy_head row as
// AppendJournal locks journal_head; pushing a hash again returns the
// stored revision and adds none.
//
// # Secrets
//
// A secret var is stored per (name, selector) as the bytes package secret
// sealed, with the name bound in as additional data; the store never sees
// a key or a plaintext.
//
// # Drift
//
// A drift is a convergence on a host that repaired something nobody asked
// for, reported by the agent under an ID of its choosing: AddDrift inserts
// it with ON CONFLICT DO NOTHING, so a retried report is stored once.
//
// # Releases
//
// A version of an app is a row of versions naming its artifact by SHA-256
// (the file itself is kept by package artifact). PutVersion inserts it with
// ON CONFLICT DO NOTHING: the same content again returns the stored row, other
// content is an error wrapping ErrConflict. Approve does the same for
// approvals: the first one stands.
//
// A deployment (deliver, deploy or rollback) is a row of deployments, and
// while it runs it holds the row of locks keyed by its app and environment.
// CreateDeployment takes the lock with one INSERT … ON CONFLICT DO UPDATE …
// WHERE the old lock has expired, RETURNING a row only when it took it, so
// two servers starting deployments at once cannot both win: PostgreSQL makes
// the second insert wait for the first transaction, SQLite serialises
// writers. The refused one gets a *LockedError naming the holder.
// UpdateDeployment stores progress and renews the lock; EndDeployment ends
// the deployment, removes its lock (only if it still holds it: an expired
// lock may have been taken over) and updates env_states, what each
// environment runs, in one transaction. The env_states upsert sets only the
// columns it changes, with previous taking the old current in the same
// statement, so a scheduled check recorded at the same time (SetEnvCheck)
// is never undone.
//
// # Users
//
// An API user is a row of users with the SHA-256 of its token (unique); the
// token itself is never stored.
package sqlstore
