package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/phenixhq/phenix/internal/journal"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered step of the schema.
type migration struct {
	version int64
	name    string // the file name
	sql     string
}

// migrations returns the steps of fsys's migrations directory that apply to
// dialect, in order: NNNN_name.sql for every dialect, NNNN_name.D.sql for
// dialect D only.
func migrations(fsys fs.FS, dialect string) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, p := range names {
		name := path.Base(p)
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v < 1 || rest == "" {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql or NNNN_name.<dialect>.sql", name)
		}
		if _, only, ok := strings.Cut(rest, "."); ok {
			if only != sqliteDialect.name && only != postgresDialect.name {
				return nil, fmt.Errorf("migration %s: unknown dialect %q, want sqlite or postgres", name, only)
			}
			if only != dialect {
				continue
			}
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(out, func(m migration) bool { return m.version == v }); i >= 0 {
			return nil, fmt.Errorf("migrations %s and %s have the same number", out[i].name, name)
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return int(a.version - b.version) })
	return out, nil
}

// migrate applies the migrations missing from schema_migrations, all in one
// transaction.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations(migrationFiles, db.dialect.name)
	if err != nil {
		return err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if db.dialect.migrateLock != "" {
		if _, err := tx.ExecContext(ctx, db.dialect.migrateLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := appliedMigrations(ctx, tx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if n := len(applied); n > 0 && (len(ms) == 0 || applied[n-1] > ms[len(ms)-1].version) {
		return fmt.Errorf("migrate: the database schema is at version %d, newer than this phenix knows: upgrade phenix", applied[n-1])
	}
	for _, m := range ms {
		if _, ok := slices.BinarySearch(applied, m.version); ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		const q = `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), m.version, m.name, journal.FormatTime(db.now())); err != nil {
			return fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// appliedMigrations returns the versions in schema_migrations, in order.
func appliedMigrations(ctx context.Context, tx *sql.Tx) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
