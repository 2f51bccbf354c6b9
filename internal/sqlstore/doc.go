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
// share (TEXT, BIGINT, INTEGER). What differs — the driver, the DSN, "$1"
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
package sqlstore
