package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Drift is one convergence on a host that repaired something nobody asked for.
type Drift struct {
	ID       string    // chosen by the agent, unique: a retried report is stored once
	HostID   string    // the host that repaired
	Time     time.Time // when it did
	Revision string    // policy hash the host was keeping
	Trigger  string    // "watch" or "interval"
	Result   string    // changed | failed
	Changes  string    // JSON, opaque (the changed promises with their diffs)
}

// AddDrift stores d, unless a drift with its ID is already stored: stored
// says which. Time is stored in UTC, truncated to the microsecond.
func (db *DB) AddDrift(ctx context.Context, d Drift) (stored bool, err error) {
	switch {
	case d.ID == "":
		return false, errors.New("store drift: drift has no id")
	case d.HostID == "":
		return false, fmt.Errorf("store drift %s: no host", d.ID)
	case d.Time.IsZero():
		return false, fmt.Errorf("store drift %s: no time", d.ID)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store drift %s: %w", d.ID, err)
	}
	defer tx.Rollback()
	const q = `INSERT INTO drifts (id, host_id, at, revision, triggered_by, result, changes) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`
	res, err := tx.ExecContext(ctx, db.dialect.rebind(q), d.ID, d.HostID, formatTime(d.Time), d.Revision, d.Trigger, d.Result, safeText(d.Changes))
	if err != nil {
		return false, fmt.Errorf("store drift %s: %w", d.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store drift %s: %w", d.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store drift %s: %w", d.ID, err)
	}
	return n > 0, nil
}

// Drifts returns the drifts of hosts (of every host when hosts is nil) at
// or after since (from the first when since is zero), newest first (by
// Time, then ID): the limit newest, or all of them when limit <= 0.
func (db *DB) Drifts(ctx context.Context, hosts []string, since time.Time, limit int) ([]Drift, error) {
	if hosts != nil {
		if len(hosts) == 0 {
			return nil, nil
		}
		hosts = slices.Clone(hosts)
		slices.Sort(hosts)
		hosts = slices.Compact(hosts)
	}
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, fmt.Errorf("read drifts: %w", err)
	}
	defer tx.Rollback()
	var out []Drift
	if hosts == nil {
		out, err = db.queryDrifts(ctx, tx, nil, since, limit)
	}
	// Each chunk of hosts gives its limit newest; the limit newest of
	// them all are among those.
	for chunk := range slices.Chunk(hosts, hostRowsPerInsert) {
		var ds []Drift
		if ds, err = db.queryDrifts(ctx, tx, chunk, since, limit); err != nil {
			break
		}
		out = append(out, ds...)
	}
	if err != nil {
		return nil, fmt.Errorf("read drifts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("read drifts: %w", err)
	}
	if len(hosts) > hostRowsPerInsert {
		slices.SortFunc(out, func(a, b Drift) int {
			return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
		})
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
	}
	return out, nil
}

// queryDrifts runs the query of Drifts for hosts, at most a chunk of them,
// or for every host when hosts is nil.
func (db *DB) queryDrifts(ctx context.Context, tx *sql.Tx, hosts []string, since time.Time, limit int) ([]Drift, error) {
	q := `SELECT id, host_id, at, revision, triggered_by, result, changes FROM drifts WHERE at >= ?`
	args := []any{formatTime(ceilMicrosecond(since))}
	if hosts != nil {
		q += " AND host_id IN (" + placeholders(len(hosts)) + ")"
		for _, h := range hosts {
			args = append(args, h)
		}
	}
	q += " ORDER BY at DESC, id DESC"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Drift
	for rows.Next() {
		var d Drift
		var at string
		if err := rows.Scan(&d.ID, &d.HostID, &at, &d.Revision, &d.Trigger, &d.Result, &d.Changes); err != nil {
			return nil, err
		}
		if d.Time, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("drift %s: time: %w", d.ID, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
