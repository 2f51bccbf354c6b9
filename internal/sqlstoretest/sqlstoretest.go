package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/phenixhq/phenix/internal/sqlstore"
)

// EnvPostgres names the environment variable that holds the URL of the
// PostgreSQL database tests use instead of SQLite.
const EnvPostgres = "PHENIX_TEST_POSTGRES"

// Open returns a fresh, empty database, opened with sqlstore.Open on
// DSN(t) and closed when t ends.
func Open(t testing.TB) *sqlstore.DB {
	t.Helper()
	dsn := DSN(t)
	db, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("sqlstoretest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("sqlstoretest: %v", err)
		}
	})
	return db
}

// DSN returns the DSN of a fresh, empty database for t: an SQLite file in
// t.TempDir(), or a new PostgreSQL schema (see the package documentation),
// dropped when t ends. Tests use it to open the same database more than
// once, as a restarted or second process would; they close what they open
// before t ends, with t.Cleanup registered after calling DSN.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		return "sqlite:" + filepath.Join(t.TempDir(), "phenix.db")
	}
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		t.Fatalf("sqlstoretest: %s must be a postgres:// URL", EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("sqlstoretest: %s is not a valid URL", EnvPostgres)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("sqlstoretest: %v", err)
	}
	schema := "phenix_test_" + randomHex(t)
	// Names are made here of [a-z0-9_] only, so they need no quoting.
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("sqlstoretest: create schema in %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// t.Context() is done by now.
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("sqlstoretest: drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// randomHex returns 16 random hexadecimal digits.
func randomHex(t testing.TB) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("sqlstoretest: %v", err)
	}
	return hex.EncodeToString(b[:])
}
