package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is an API user. Each has a token, of which the store keeps only the
// SHA-256 (the caller hashes it), and acts under its Name.
type User struct {
	Name      string
	Admin     bool
	CreatedBy string
	CreatedAt time.Time // stored in UTC, truncated to the microsecond
}

// CreateUser stores the new user u with the hash of its token, tokenHash
// (64 hexadecimal digits). A user of the same name gives an error wrapping
// ErrConflict.
func (db *DB) CreateUser(ctx context.Context, u User, tokenHash string) error {
	switch {
	case u.Name == "":
		return errors.New("create user: user has no name")
	case len(tokenHash) != 64:
		return fmt.Errorf("create user %s: token hash: want the 64 hexadecimal digits of a SHA-256", u.Name)
	}
	const q = `INSERT INTO users (name, admin, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name) DO NOTHING`
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(q), u.Name, u.Admin, tokenHash, u.CreatedBy, formatTime(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("user %s exists: %w", u.Name, ErrConflict)
	}
	return nil
}

// UserByTokenHash returns the user whose token has the SHA-256 tokenHash,
// or an error wrapping ErrNotFound, which does not repeat the hash.
func (db *DB) UserByTokenHash(ctx context.Context, tokenHash string) (User, error) {
	u, err := queryOne(ctx, db, selectUsers+" WHERE token_hash = ?", scanUser, tokenHash)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user of token: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("read user of token: %w", err)
	}
	return u, nil
}

// Users returns every user, by name.
func (db *DB) Users(ctx context.Context) ([]User, error) {
	us, err := queryAll(ctx, db, selectUsers+" ORDER BY name", scanUser)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return us, nil
}

// DeleteUser removes the user name, and with it its token, or returns an
// error wrapping ErrNotFound.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(`DELETE FROM users WHERE name = ?`), name)
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	return nil
}

// selectUsers is the start of every query of users; scanUser reads its
// columns.
const selectUsers = `SELECT name, admin, created_by, created_at FROM users`

func scanUser(row scanner) (User, error) {
	var u User
	var created string
	if err := row.Scan(&u.Name, &u.Admin, &u.CreatedBy, &created); err != nil {
		return User{}, err
	}
	var err error
	if u.CreatedAt, err = parseTime(created); err != nil {
		return User{}, fmt.Errorf("user %s: created_at: %w", u.Name, err)
	}
	return u, nil
}
