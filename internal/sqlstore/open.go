package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// busyTimeout is how long an SQLite writer waits for the write lock held by
// another process before it fails.
const busyTimeout = 10 * time.Second

// sqliteReaders is the size of the pool of SQLite read connections.
const sqliteReaders = 8

// DB is the phenix database. It is safe for concurrent use by many
// goroutines, and several processes may open the same database.
type DB struct {
	write   *sql.DB // SQLite: the single writer connection; PostgreSQL: the pool
	read    *sql.DB // SQLite: read-only connections; PostgreSQL: the same pool as write
	dialect *dialect
	name    string           // the DSN for messages, without a password
	now     func() time.Time // the clock of journal entries
}

// Open opens the database named by dsn, "sqlite:<path>" or
// "postgres://…", and brings its schema up to date (see the package
// documentation). The SQLite file is created if it does not exist.
func Open(ctx context.Context, dsn string) (*DB, error) {
	d, name, writeDSN, readDSN, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db := &DB{dialect: d, name: name, now: time.Now}
	if err := db.open(ctx, writeDSN, readDSN); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", name, err)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context, writeDSN, readDSN string) error {
	var err error
	if db.write, err = sql.Open(db.dialect.driver, writeDSN); err != nil {
		return err
	}
	db.read = db.write
	if readDSN != "" {
		db.write.SetMaxOpenConns(1) // the single writer; see the package documentation
		db.write.SetMaxIdleConns(1)
		db.write.SetConnMaxLifetime(0)
	}
	if err := db.write.PingContext(ctx); err != nil {
		return err
	}
	if err := db.migrate(ctx); err != nil {
		return err
	}
	if readDSN != "" {
		if db.read, err = sql.Open(db.dialect.driver, readDSN); err != nil {
			return err
		}
		db.read.SetMaxOpenConns(sqliteReaders)
		db.read.SetMaxIdleConns(sqliteReaders)
		if err := db.read.PingContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database. Methods called after Close fail.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database %s: %w", db.name, err)
	}
	return nil
}

// parseDSN returns the dialect of dsn, a name for it in messages (without
// password), and the driver DSNs of its writer and reader pools; readDSN is
// empty when the writer pool serves reads too.
func parseDSN(dsn string) (d *dialect, name, writeDSN, readDSN string, err error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, "", "", "", errors.New(`database "sqlite:" names no file: want sqlite:<path>`)
		}
		if path == ":memory:" || strings.HasPrefix(path, "file:") {
			return nil, "", "", "", fmt.Errorf("database %q: want sqlite:<path> of a file", dsn)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, "", "", "", fmt.Errorf("database %s: %w", dsn, err)
		}
		u := url.URL{Scheme: "file", Path: abs, OmitHost: true}
		q := url.Values{}
		q.Set("_busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
		q.Set("_foreign_keys", "1")
		q.Set("_journal_mode", "WAL")
		q.Set("_txlock", "immediate") // read-only transactions still begin DEFERRED
		u.RawQuery = q.Encode()
		writeDSN = u.String()
		q.Del("_journal_mode") // set by the writer, which opens first
		q.Set("_query_only", "1")
		u.RawQuery = q.Encode()
		return sqliteDialect, "sqlite:" + abs, writeDSN, u.String(), nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			// url.Error quotes the whole DSN, password included.
			return nil, "", "", "", errors.New("database postgres://…: not a valid URL")
		}
		return postgresDialect, u.Redacted(), dsn, "", nil
	}
	if scheme, _, ok := strings.Cut(dsn, ":"); ok {
		dsn = scheme + ":…" // the rest may hold a password
	}
	return nil, "", "", "", fmt.Errorf("database %q: want sqlite:<path> or postgres://…", dsn)
}
