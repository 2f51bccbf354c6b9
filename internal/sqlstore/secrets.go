package sqlstore

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// Secret is a var whose value is stored encrypted (sealed by package secret).
type Secret struct {
	Name      string    // var name, [A-Za-z_][A-Za-z0-9_]*
	Selector  string    // the hosts that receive it ("*" for all)
	Sealed    []byte    // the value, sealed with Name as additional data
	UpdatedBy string    // who stored it last
	UpdatedAt time.Time // when it was stored last
}

// secretName is the form of a Secret's Name.
var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// PutSecret stores s, replacing the secret with the same Name and
// Selector. UpdatedAt is stored in UTC, truncated to the microsecond.
func (db *DB) PutSecret(ctx context.Context, s Secret) error {
	switch {
	case !secretName.MatchString(s.Name):
		return fmt.Errorf("store secret %q: name: want a letter or _ then letters, digits or _", s.Name)
	case s.Selector == "":
		return fmt.Errorf("store secret %s: no selector (\"*\" selects every host)", s.Name)
	case len(s.Sealed) == 0:
		return fmt.Errorf("store secret %s for %s: no sealed value", s.Name, s.Selector)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store secret %s for %s: %w", s.Name, s.Selector, err)
	}
	defer tx.Rollback()
	const q = `INSERT INTO secrets (name, selector, sealed, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name, selector) DO UPDATE SET sealed = excluded.sealed, updated_by = excluded.updated_by, updated_at = excluded.updated_at`
	if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), s.Name, s.Selector, s.Sealed, s.UpdatedBy, formatTime(s.UpdatedAt)); err != nil {
		return fmt.Errorf("store secret %s for %s: %w", s.Name, s.Selector, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store secret %s for %s: %w", s.Name, s.Selector, err)
	}
	return nil
}

// Secrets returns every secret, sorted by Name, then Selector.
func (db *DB) Secrets(ctx context.Context) ([]Secret, error) {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	defer tx.Rollback()
	const q = `SELECT name, selector, sealed, updated_by, updated_at FROM secrets ORDER BY name, selector`
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	defer rows.Close()
	var out []Secret
	for rows.Next() {
		var s Secret
		var updated string
		if err := rows.Scan(&s.Name, &s.Selector, &s.Sealed, &s.UpdatedBy, &updated); err != nil {
			return nil, fmt.Errorf("read secrets: %w", err)
		}
		if s.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, fmt.Errorf("read secrets: %s for %s: updated_at: %w", s.Name, s.Selector, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	return out, nil
}

// DeleteSecret removes the secret name for selector, or returns an error
// wrapping ErrNotFound.
func (db *DB) DeleteSecret(ctx context.Context, name, selector string) error {
	const q = `DELETE FROM secrets WHERE name = ? AND selector = ?`
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(q), name, selector)
	if err != nil {
		return fmt.Errorf("delete secret %s for %s: %w", name, selector, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete secret %s for %s: %w", name, selector, err)
	}
	if n == 0 {
		return fmt.Errorf("secret %s for %s: %w", name, selector, ErrNotFound)
	}
	return nil
}
