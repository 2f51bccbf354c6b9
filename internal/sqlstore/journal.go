package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/journal"
)

// readOnly are the options of every read transaction: one snapshot for the
// whole method.
var readOnly = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}

// AppendJournal appends e to the journal and returns it as stored. It sets
// e's Seq to the last entry's plus one, its PrevHash to the last entry's
// Hash, its Time to now (UTC, to the microsecond; a Time set by the caller
// is replaced) and its Hash, and stores empty Hosts and Params as nil.
// Concurrent appends, from goroutines or processes, are serialised: Seq has
// no gap and the chain no fork.
//
// Params must already be masked (journal.Mask): an entry is never changed
// once appended, and there is no method to change or remove one.
func (db *DB) AppendJournal(ctx context.Context, e journal.Entry) (journal.Entry, error) {
	if err := e.Validate(); err != nil {
		return journal.Entry{}, fmt.Errorf("append to journal: %w", err)
	}
	if len(e.Hosts) == 0 {
		e.Hosts = nil
	}
	if len(e.Params) == 0 {
		e.Params = nil
	}
	hosts, params, err := encodeLists(e)
	if err != nil {
		return journal.Entry{}, fmt.Errorf("append %s to journal: %w", e.Action, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return journal.Entry{}, fmt.Errorf("append %s to journal: %w", e.Action, err)
	}
	defer tx.Rollback()
	head, err := db.journalHead(ctx, tx, true)
	if err != nil {
		return journal.Entry{}, fmt.Errorf("append %s to journal: %w", e.Action, err)
	}
	e.Seq = head.Seq + 1
	e.PrevHash = head.Hash
	e.Time = db.now().UTC().Truncate(time.Microsecond)
	e.Hash = e.ComputeHash()
	if err := db.insertEntry(ctx, tx, e, hosts, params); err != nil {
		return journal.Entry{}, fmt.Errorf("append %s to journal: seq %d: %w", e.Action, e.Seq, err)
	}
	const moveHead = `UPDATE journal_head SET seq = ?, hash = ? WHERE id = 1`
	if _, err := tx.ExecContext(ctx, db.dialect.rebind(moveHead), e.Seq, e.Hash); err != nil {
		return journal.Entry{}, fmt.Errorf("append %s to journal: seq %d: move head: %w", e.Action, e.Seq, err)
	}
	if err := tx.Commit(); err != nil {
		return journal.Entry{}, fmt.Errorf("append %s to journal: seq %d: %w", e.Action, e.Seq, err)
	}
	return e, nil
}

// Journal returns the entries f selects, oldest first. With f.Limit, they
// are the f.Limit newest of them, still oldest first.
func (db *DB) Journal(ctx context.Context, f journal.Filter) ([]journal.Entry, error) {
	var where []string
	var args []any
	if f.Host != "" {
		where = append(where, "seq IN (SELECT seq FROM journal_host WHERE host = ?)")
		args = append(args, f.Host)
	}
	if f.Actor != "" {
		where = append(where, "actor = ?")
		args = append(args, f.Actor)
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, journal.FormatTime(ceilMicrosecond(f.Since)))
	}
	q := selectEntries
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit > 0 {
		q += " ORDER BY seq DESC LIMIT ?"
		args = append(args, f.Limit)
	} else {
		q += " ORDER BY seq"
	}
	es, err := db.readEntries(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	if f.Limit > 0 {
		slices.Reverse(es)
	}
	return es, nil
}

// JournalAll returns the whole journal, oldest first, for journal.Verify.
func (db *DB) JournalAll(ctx context.Context) ([]journal.Entry, error) {
	es, err := db.readEntries(ctx, selectEntries+" ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return es, nil
}

// VerifyJournal reads the whole journal and its head in one snapshot and
// checks them with journal.VerifyHead. A broken chain is reported as a
// *journal.ChainError (use errors.As).
func (db *DB) VerifyJournal(ctx context.Context) error {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return fmt.Errorf("verify journal: %w", err)
	}
	defer tx.Rollback()
	es, err := db.queryEntries(ctx, tx, selectEntries+" ORDER BY seq")
	if err != nil {
		return fmt.Errorf("verify journal: %w", err)
	}
	head, err := db.journalHead(ctx, tx, false)
	if err != nil {
		return fmt.Errorf("verify journal: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("verify journal: %w", err)
	}
	if err := journal.VerifyHead(es, head); err != nil {
		return fmt.Errorf("verify journal: %w", err)
	}
	return nil
}

// journalHead reads the head of the journal, locking it until tx ends when
// lock is set.
func (db *DB) journalHead(ctx context.Context, tx *sql.Tx, lock bool) (journal.Head, error) {
	q := `SELECT seq, hash FROM journal_head WHERE id = 1`
	if lock {
		q += db.dialect.forUpdate
	}
	var h journal.Head
	if err := tx.QueryRowContext(ctx, q).Scan(&h.Seq, &h.Hash); err != nil {
		return journal.Head{}, fmt.Errorf("read head: %w", err)
	}
	return h, nil
}

// hostRowsPerInsert bounds the hosts of one statement (the rows of an
// INSERT into journal_host or job_results, of a VALUES list, the ids of an
// IN list), to stay below the placeholder limits of both databases.
const hostRowsPerInsert = 500

// insertEntry inserts e, whose Hosts and Params are encoded as hosts and
// params, and indexes its hosts.
func (db *DB) insertEntry(ctx context.Context, tx *sql.Tx, e journal.Entry, hosts, params string) error {
	const q = `INSERT INTO journal (seq, at, actor, action, selector, hosts, params, result, summary, prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := tx.ExecContext(ctx, db.dialect.rebind(q),
		e.Seq, journal.FormatTime(e.Time), e.Actor, e.Action, e.Selector, hosts, params, e.Result, e.Summary, e.PrevHash, e.Hash)
	if err != nil {
		return err
	}
	distinct := slices.Clone(e.Hosts)
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)
	for chunk := range slices.Chunk(distinct, hostRowsPerInsert) {
		q := "INSERT INTO journal_host (host, seq) VALUES " + strings.Repeat("(?, ?), ", len(chunk)-1) + "(?, ?)"
		args := make([]any, 0, 2*len(chunk))
		for _, h := range chunk {
			args = append(args, h, e.Seq)
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), args...); err != nil {
			return fmt.Errorf("index hosts: %w", err)
		}
	}
	return nil
}

// selectEntries is the start of every query of journal entries; scanEntry
// reads its columns.
const selectEntries = `SELECT seq, at, actor, action, selector, hosts, params, result, summary, prev_hash, hash FROM journal`

// readEntries runs a query of entries in its own read transaction.
func (db *DB) readEntries(ctx context.Context, q string, args ...any) ([]journal.Entry, error) {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	es, err := db.queryEntries(ctx, tx, q, args...)
	if err != nil {
		return nil, err
	}
	return es, tx.Commit()
}

// queryEntries runs q, a query starting with selectEntries, in tx.
func (db *DB) queryEntries(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]journal.Entry, error) {
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []journal.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanEntry reads the columns of selectEntries.
func scanEntry(rows *sql.Rows) (journal.Entry, error) {
	var e journal.Entry
	var at, hosts, params string
	err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Selector, &hosts, &params, &e.Result, &e.Summary, &e.PrevHash, &e.Hash)
	if err != nil {
		return journal.Entry{}, err
	}
	if e.Time, err = time.Parse(journal.TimeFormat, at); err != nil {
		return journal.Entry{}, fmt.Errorf("seq %d: time: %w", e.Seq, err)
	}
	if err := json.Unmarshal([]byte(hosts), &e.Hosts); err != nil {
		return journal.Entry{}, fmt.Errorf("seq %d: hosts: %w", e.Seq, err)
	}
	if err := json.Unmarshal([]byte(params), &e.Params); err != nil {
		return journal.Entry{}, fmt.Errorf("seq %d: params: %w", e.Seq, err)
	}
	if len(e.Hosts) == 0 {
		e.Hosts = nil
	}
	if len(e.Params) == 0 {
		e.Params = nil
	}
	return e, nil
}

// encodeLists returns e's Hosts and Params as JSON text: "[]" and "{}"
// when empty.
func encodeLists(e journal.Entry) (hosts, params string, err error) {
	h, p := e.Hosts, e.Params
	if h == nil {
		h = []string{}
	}
	if p == nil {
		p = map[string]string{}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", "", fmt.Errorf("hosts: %w", err)
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return "", "", fmt.Errorf("params: %w", err)
	}
	return string(hb), string(pb), nil
}

// ceilMicrosecond rounds t up to the microsecond, the precision of stored
// times: an entry is at or after t exactly when it is at or after the
// result.
func ceilMicrosecond(t time.Time) time.Time {
	c := t.Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}
