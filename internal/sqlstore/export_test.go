package sqlstore

import (
	"context"
	"time"
)

// ExecRaw runs query, with ? placeholders, outside the methods of DB: tests
// use it to tamper with the journal as someone with access to the database
// could.
func (db *DB) ExecRaw(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, db.dialect.rebind(query), args...)
	return err
}

// SetClock replaces the clock of journal entries. Call it before the first
// append.
func (db *DB) SetClock(now func() time.Time) { db.now = now }
