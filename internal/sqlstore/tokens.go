package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/phenixhq/phenix/internal/host"
)

// CreateToken stores the new join token tok (see host.NewJoinToken). Times
// are stored in UTC, truncated to the microsecond; empty Labels are read
// back as nil. A token with the same ID is an error.
func (db *DB) CreateToken(ctx context.Context, tok host.JoinToken) error {
	if err := validateToken(tok); err != nil {
		return fmt.Errorf("create join token %s: %w", tok.ID, err)
	}
	labels, err := encodeMap(tok.Labels)
	if err != nil {
		return fmt.Errorf("create join token %s: labels: %w", tok.ID, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create join token %s: %w", tok.ID, err)
	}
	defer tx.Rollback()
	const q = `INSERT INTO join_tokens (id, hash, labels, max_uses, uses, expires_at, created_by, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = tx.ExecContext(ctx, db.dialect.rebind(q),
		tok.ID, tok.Hash, labels, tok.MaxUses, tok.Uses, formatTime(tok.ExpiresAt), tok.CreatedBy, formatTime(tok.CreatedAt))
	if err != nil {
		return fmt.Errorf("create join token %s: %w", tok.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create join token %s: %w", tok.ID, err)
	}
	return nil
}

// Tokens returns every join token, oldest first (by CreatedAt, then ID).
func (db *DB) Tokens(ctx context.Context) ([]host.JoinToken, error) {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, fmt.Errorf("read join tokens: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, selectTokens+" ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("read join tokens: %w", err)
	}
	defer rows.Close()
	var out []host.JoinToken
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("read join tokens: %w", err)
		}
		out = append(out, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read join tokens: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("read join tokens: %w", err)
	}
	return out, nil
}

// RedeemToken uses the join token with id once to enrol a host: in one
// transaction, it locks the token (SELECT … FOR UPDATE on PostgreSQL, BEGIN
// IMMEDIATE on SQLite), checks secret against it at now (host.JoinToken's
// Check), counts the use and returns the token as it now is. Concurrent
// redeems of a token take turns, so a token is never used more than
// MaxUses times. An unknown id gives an error wrapping host.ErrTokenInvalid,
// like a wrong secret, so that the two cannot be told apart.
func (db *DB) RedeemToken(ctx context.Context, id, secret string, now time.Time) (host.JoinToken, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return host.JoinToken{}, fmt.Errorf("redeem join token %s: %w", id, err)
	}
	defer tx.Rollback()
	row := tx.QueryRowContext(ctx, db.dialect.rebind(selectTokens+" WHERE id = ?"+db.dialect.forUpdate), id)
	tok, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return host.JoinToken{}, fmt.Errorf("redeem join token %s: %w", id, host.ErrTokenInvalid)
	}
	if err != nil {
		return host.JoinToken{}, fmt.Errorf("redeem join token %s: %w", id, err)
	}
	if err := tok.Check(secret, now); err != nil {
		return host.JoinToken{}, fmt.Errorf("redeem join token %s: %w", id, err)
	}
	const q = `UPDATE join_tokens SET uses = uses + 1 WHERE id = ?`
	if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), id); err != nil {
		return host.JoinToken{}, fmt.Errorf("redeem join token %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return host.JoinToken{}, fmt.Errorf("redeem join token %s: %w", id, err)
	}
	tok.Uses++
	return tok, nil
}

// validateToken checks what the store relies on.
func validateToken(tok host.JoinToken) error {
	switch {
	case tok.ID == "":
		return errors.New("join token has no id")
	case len(tok.Hash) != 64:
		return errors.New("hash: want the 64 hexadecimal digits of a SHA-256")
	case tok.MaxUses < 0:
		return fmt.Errorf("max uses is %d, want 0 (no limit) or more", tok.MaxUses)
	case tok.Uses < 0:
		return fmt.Errorf("uses is %d, want 0 or more", tok.Uses)
	}
	return host.ValidateLabels(tok.Labels)
}

// selectTokens is the start of every query of join tokens; scanToken reads
// its columns.
const selectTokens = `SELECT id, hash, labels, max_uses, uses, expires_at, created_by, created_at FROM join_tokens`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanToken reads the columns of selectTokens.
func scanToken(rows scanner) (host.JoinToken, error) {
	var tok host.JoinToken
	var labels, expires, created string
	if err := rows.Scan(&tok.ID, &tok.Hash, &labels, &tok.MaxUses, &tok.Uses, &expires, &tok.CreatedBy, &created); err != nil {
		return host.JoinToken{}, err
	}
	var err error
	if tok.Labels, err = decodeMap(labels); err != nil {
		return host.JoinToken{}, fmt.Errorf("join token %s: labels: %w", tok.ID, err)
	}
	if tok.ExpiresAt, err = parseTime(expires); err != nil {
		return host.JoinToken{}, fmt.Errorf("join token %s: expires_at: %w", tok.ID, err)
	}
	if tok.CreatedAt, err = parseTime(created); err != nil {
		return host.JoinToken{}, fmt.Errorf("join token %s: created_at: %w", tok.ID, err)
	}
	return tok, nil
}
