package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PolicyRevision is one pushed policy.
type PolicyRevision struct {
	Seq       int64     // assigned by PutPolicy, from 1
	Hash      string    // content hash, unique
	Commit    string    // git commit, "" if none
	Actor     string    // who pushed it
	CreatedAt time.Time // when it was pushed
	Archive   []byte    // the policy as a tar.gz; Policies() leaves it nil
}

// PutPolicy stores p as the newest policy revision and returns it as
// stored: with the next Seq (a Seq set by the caller is ignored), its
// CreatedAt in UTC truncated to the microsecond. Pushing a Hash that is
// already stored adds nothing and returns the stored revision unchanged,
// with a nil error. Concurrent pushes take turns on the policy_head row,
// as appends do on the journal's head, so Seq has no gap.
func (db *DB) PutPolicy(ctx context.Context, p PolicyRevision) (PolicyRevision, error) {
	if p.Hash == "" {
		return PolicyRevision{}, errors.New("store policy: revision has no hash")
	}
	if p.Archive == nil {
		p.Archive = []byte{}
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return PolicyRevision{}, fmt.Errorf("store policy %s: %w", p.Hash, err)
	}
	defer tx.Rollback()
	var head int64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM policy_head WHERE id = 1`+db.dialect.forUpdate).Scan(&head); err != nil {
		return PolicyRevision{}, fmt.Errorf("store policy %s: read head: %w", p.Hash, err)
	}
	// With the head locked, no other push can be between this read and
	// the insert.
	old, err := scanPolicy(tx.QueryRowContext(ctx, db.dialect.rebind(selectPolicies+" WHERE hash = ?"), p.Hash), true)
	switch {
	case err == nil:
		if err := tx.Commit(); err != nil {
			return PolicyRevision{}, fmt.Errorf("store policy %s: %w", p.Hash, err)
		}
		return old, nil
	case !errors.Is(err, sql.ErrNoRows):
		return PolicyRevision{}, fmt.Errorf("store policy %s: %w", p.Hash, err)
	}
	p.Seq = head + 1
	p.CreatedAt = p.CreatedAt.UTC().Truncate(time.Microsecond)
	const q = `INSERT INTO policies (seq, hash, git_commit, actor, created_at, archive) VALUES (?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), p.Seq, p.Hash, p.Commit, p.Actor, formatTime(p.CreatedAt), p.Archive); err != nil {
		return PolicyRevision{}, fmt.Errorf("store policy %s: %w", p.Hash, err)
	}
	const moveHead = `UPDATE policy_head SET seq = ? WHERE id = 1`
	if _, err := tx.ExecContext(ctx, db.dialect.rebind(moveHead), p.Seq); err != nil {
		return PolicyRevision{}, fmt.Errorf("store policy %s: move head: %w", p.Hash, err)
	}
	if err := tx.Commit(); err != nil {
		return PolicyRevision{}, fmt.Errorf("store policy %s: %w", p.Hash, err)
	}
	return p, nil
}

// LatestPolicy returns the policy revision pushed last, or an error
// wrapping ErrNotFound when none was.
func (db *DB) LatestPolicy(ctx context.Context) (PolicyRevision, error) {
	p, err := db.readPolicy(ctx, selectPolicies+" ORDER BY seq DESC LIMIT 1")
	if errors.Is(err, sql.ErrNoRows) {
		return PolicyRevision{}, fmt.Errorf("latest policy: %w", ErrNotFound)
	}
	if err != nil {
		return PolicyRevision{}, fmt.Errorf("read latest policy: %w", err)
	}
	return p, nil
}

// Policy returns the policy revision with hash, or an error wrapping
// ErrNotFound.
func (db *DB) Policy(ctx context.Context, hash string) (PolicyRevision, error) {
	p, err := db.readPolicy(ctx, selectPolicies+" WHERE hash = ?", hash)
	if errors.Is(err, sql.ErrNoRows) {
		return PolicyRevision{}, fmt.Errorf("policy %s: %w", hash, ErrNotFound)
	}
	if err != nil {
		return PolicyRevision{}, fmt.Errorf("read policy %s: %w", hash, err)
	}
	return p, nil
}

// Policies returns the limit newest policy revisions, newest first, without
// their Archive; all of them when limit <= 0.
func (db *DB) Policies(ctx context.Context, limit int) ([]PolicyRevision, error) {
	q := selectPolicyList + " ORDER BY seq DESC"
	var args []any
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	defer rows.Close()
	var out []PolicyRevision
	for rows.Next() {
		p, err := scanPolicy(rows, false)
		if err != nil {
			return nil, fmt.Errorf("read policies: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	return out, nil
}

// readPolicy runs q, a query of one row starting with selectPolicies, in
// its own read transaction. No row gives sql.ErrNoRows.
func (db *DB) readPolicy(ctx context.Context, q string, args ...any) (PolicyRevision, error) {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return PolicyRevision{}, err
	}
	defer tx.Rollback()
	p, err := scanPolicy(tx.QueryRowContext(ctx, db.dialect.rebind(q), args...), true)
	if err != nil {
		return PolicyRevision{}, err
	}
	return p, tx.Commit()
}

// selectPolicies and selectPolicyList are the starts of queries of policy
// revisions, with and without the archive; scanPolicy reads their
// columns.
const (
	selectPolicies   = `SELECT seq, hash, git_commit, actor, created_at, archive FROM policies`
	selectPolicyList = `SELECT seq, hash, git_commit, actor, created_at FROM policies`
)

// scanPolicy reads the columns of selectPolicies, or of selectPolicyList
// when archive is false.
func scanPolicy(row scanner, archive bool) (PolicyRevision, error) {
	var p PolicyRevision
	var created string
	dest := []any{&p.Seq, &p.Hash, &p.Commit, &p.Actor, &created}
	if archive {
		dest = append(dest, &p.Archive)
	}
	if err := row.Scan(dest...); err != nil {
		return PolicyRevision{}, err
	}
	if archive && p.Archive == nil {
		p.Archive = []byte{}
	}
	var err error
	if p.CreatedAt, err = parseTime(created); err != nil {
		return PolicyRevision{}, fmt.Errorf("policy %s: created_at: %w", p.Hash, err)
	}
	return p, nil
}
