package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/journal"
)

// ErrNotFound is returned, wrapped, by methods that look up a row that is
// not there; callers use errors.Is.
var ErrNotFound = errors.New("not found")

// UpsertHost stores h, replacing the host with the same ID. Times are
// stored in UTC, truncated to the microsecond; empty Labels and Facts are
// read back as nil.
func (db *DB) UpsertHost(ctx context.Context, h host.Host) error {
	if err := validateHost(h); err != nil {
		return fmt.Errorf("store host %s: %w", h.ID, err)
	}
	labels, err := encodeMap(h.Labels)
	if err != nil {
		return fmt.Errorf("store host %s: labels: %w", h.ID, err)
	}
	facts, err := encodeMap(h.Facts)
	if err != nil {
		return fmt.Errorf("store host %s: facts: %w", h.ID, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store host %s: %w", h.ID, err)
	}
	defer tx.Rollback()
	const q = `INSERT INTO hosts (id, hostname, labels, facts, status, enrolled_at, last_seen, last_result)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, labels = excluded.labels, facts = excluded.facts,
	status = excluded.status, enrolled_at = excluded.enrolled_at, last_seen = excluded.last_seen, last_result = excluded.last_result`
	_, err = tx.ExecContext(ctx, db.dialect.rebind(q),
		h.ID, h.Hostname, labels, facts, string(h.Status), formatTime(h.EnrolledAt), formatTime(h.LastSeen), h.LastResult)
	if err != nil {
		return fmt.Errorf("store host %s: %w", h.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store host %s: %w", h.ID, err)
	}
	return nil
}

// Host returns the host with id, or an error wrapping ErrNotFound.
func (db *DB) Host(ctx context.Context, id string) (host.Host, error) {
	hs, err := db.readHosts(ctx, selectHosts+" WHERE id = ?", id)
	if err != nil {
		return host.Host{}, fmt.Errorf("read host %s: %w", id, err)
	}
	if len(hs) == 0 {
		return host.Host{}, fmt.Errorf("host %s: %w", id, ErrNotFound)
	}
	return hs[0], nil
}

// Hosts returns every host, sorted by ID.
func (db *DB) Hosts(ctx context.Context) ([]host.Host, error) {
	hs, err := db.readHosts(ctx, selectHosts+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read hosts: %w", err)
	}
	return hs, nil
}

// SetHostStatus sets the Status of the host with id, or returns an error
// wrapping ErrNotFound.
func (db *DB) SetHostStatus(ctx context.Context, id string, status host.Status) error {
	if !status.Valid() {
		return fmt.Errorf("set status of host %s: status %q: want pending, accepted or revoked", id, status)
	}
	const q = `UPDATE hosts SET status = ? WHERE id = ?`
	if err := db.updateHost(ctx, q, id, string(status), id); err != nil {
		return fmt.Errorf("set status of host %s: %w", id, err)
	}
	return nil
}

// SetLabels replaces the Labels of the host with id, or returns an error
// wrapping ErrNotFound.
func (db *DB) SetLabels(ctx context.Context, id string, labels map[string]string) error {
	if err := host.ValidateLabels(labels); err != nil {
		return fmt.Errorf("set labels of host %s: %w", id, err)
	}
	enc, err := encodeMap(labels)
	if err != nil {
		return fmt.Errorf("set labels of host %s: %w", id, err)
	}
	const q = `UPDATE hosts SET labels = ? WHERE id = ?`
	if err := db.updateHost(ctx, q, id, enc, id); err != nil {
		return fmt.Errorf("set labels of host %s: %w", id, err)
	}
	return nil
}

// TouchHost records a heartbeat of the host with id at seen: its LastSeen
// becomes seen, unless it is already later (heartbeats may arrive out of
// order). It is a single UPDATE. A host that is not there gives an error
// wrapping ErrNotFound.
func (db *DB) TouchHost(ctx context.Context, id string, seen time.Time) error {
	s := formatTime(seen)
	const q = `UPDATE hosts SET last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END WHERE id = ?`
	if err := db.updateHost(ctx, q, id, s, s, id); err != nil {
		return fmt.Errorf("touch host %s: %w", id, err)
	}
	return nil
}

// TouchHosts records many heartbeats at once, in one transaction: for each
// host id in seen, as TouchHost does, LastSeen becomes seen[id] unless it is
// already later. Ids of hosts that are not there are ignored.
func (db *DB) TouchHosts(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	// In id order, so that concurrent calls on PostgreSQL lock rows in
	// the same order.
	ids := slices.Sorted(maps.Keys(seen))
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("touch %d hosts: %w", len(seen), err)
	}
	defer tx.Rollback()
	for chunk := range slices.Chunk(ids, hostRowsPerInsert) {
		q := `UPDATE hosts SET last_seen = v.column2 FROM (VALUES ` + rowList("(?, ?)", len(chunk)) + `) AS v
WHERE hosts.id = v.column1 AND hosts.last_seen < v.column2`
		args := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			args = append(args, id, formatTime(seen[id]))
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), args...); err != nil {
			return fmt.Errorf("touch %d hosts: %w", len(seen), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("touch %d hosts: %w", len(seen), err)
	}
	return nil
}

// SetFacts replaces the Hostname and Facts of the host with id, as its
// agent reports them, or returns an error wrapping ErrNotFound.
func (db *DB) SetFacts(ctx context.Context, id, hostname string, facts map[string]string) error {
	enc, err := encodeMap(facts)
	if err != nil {
		return fmt.Errorf("set facts of host %s: %w", id, err)
	}
	const q = `UPDATE hosts SET hostname = ?, facts = ? WHERE id = ?`
	if err := db.updateHost(ctx, q, id, hostname, enc, id); err != nil {
		return fmt.Errorf("set facts of host %s: %w", id, err)
	}
	return nil
}

// SetLastResult sets the LastResult of the host with id, or returns an
// error wrapping ErrNotFound.
func (db *DB) SetLastResult(ctx context.Context, id, result string) error {
	const q = `UPDATE hosts SET last_result = ? WHERE id = ?`
	if err := db.updateHost(ctx, q, id, result, id); err != nil {
		return fmt.Errorf("set last result of host %s: %w", id, err)
	}
	return nil
}

// updateHost runs q, a single UPDATE of the host with id, as a transaction
// of its own, and returns ErrNotFound when it changed no row.
func (db *DB) updateHost(ctx context.Context, q, id string, args ...any) error {
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// validateHost checks what the store relies on.
func validateHost(h host.Host) error {
	if h.ID == "" {
		return errors.New("host has no id")
	}
	if !h.Status.Valid() {
		return fmt.Errorf("status %q: want pending, accepted or revoked", h.Status)
	}
	return host.ValidateLabels(h.Labels)
}

// selectHosts is the start of every query of hosts; scanHost reads its
// columns.
const selectHosts = `SELECT id, hostname, labels, facts, status, enrolled_at, last_seen, last_result FROM hosts`

// readHosts runs q, a query starting with selectHosts, in its own read
// transaction.
func (db *DB) readHosts(ctx context.Context, q string, args ...any) ([]host.Host, error) {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []host.Host
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

// scanHost reads the columns of selectHosts.
func scanHost(rows *sql.Rows) (host.Host, error) {
	var h host.Host
	var labels, facts, status, enrolled, seen string
	if err := rows.Scan(&h.ID, &h.Hostname, &labels, &facts, &status, &enrolled, &seen, &h.LastResult); err != nil {
		return host.Host{}, err
	}
	h.Status = host.Status(status)
	var err error
	if h.Labels, err = decodeMap(labels); err != nil {
		return host.Host{}, fmt.Errorf("host %s: labels: %w", h.ID, err)
	}
	if h.Facts, err = decodeMap(facts); err != nil {
		return host.Host{}, fmt.Errorf("host %s: facts: %w", h.ID, err)
	}
	if h.EnrolledAt, err = parseTime(enrolled); err != nil {
		return host.Host{}, fmt.Errorf("host %s: enrolled_at: %w", h.ID, err)
	}
	if h.LastSeen, err = parseTime(seen); err != nil {
		return host.Host{}, fmt.Errorf("host %s: last_seen: %w", h.ID, err)
	}
	return h, nil
}

// formatTime returns t as stored: journal.FormatTime, or "" for the zero
// time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return journal.FormatTime(t)
}

// parseTime reads what formatTime wrote.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(journal.TimeFormat, s)
}

// encodeMap returns m as a JSON object, "{}" when empty.
func encodeMap(m map[string]string) (string, error) {
	if m == nil {
		m = map[string]string{}
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// decodeMap reads what encodeMap wrote, giving nil for an empty object.
func decodeMap(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}
