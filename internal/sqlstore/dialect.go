package sqlstore

import (
	"strconv"
	"strings"
)

// dialect holds everything that differs between SQLite and PostgreSQL.
// Queries are written with "?" placeholders and go through rebind.
type dialect struct {
	name   string // "sqlite" or "postgres"; also the suffix of dialect-only migrations
	driver string // the database/sql driver name

	// forUpdate ends a SELECT that locks the rows it reads until the
	// transaction ends. SQLite has no row locks: its write transactions
	// begin IMMEDIATE, holding the database's write lock from the start.
	forUpdate string

	// migrateLock, when not empty, is run first in the migration
	// transaction so that processes migrating at once take turns.
	migrateLock string

	// numbered says whether placeholders are $1, $2, … instead of ?.
	numbered bool
}

var (
	sqliteDialect = &dialect{
		name:   "sqlite",
		driver: "sqlite",
	}
	postgresDialect = &dialect{
		name:      "postgres",
		driver:    "pgx",
		forUpdate: " FOR UPDATE",
		// The key is "phnx" in ASCII, an arbitrary constant; the lock is
		// released when the transaction ends.
		migrateLock: "SELECT pg_advisory_xact_lock(1886940792)",
		numbered:    true,
	}
)

// rebind rewrites the ? placeholders of query for d. Queries in this
// package never hold a ? anywhere else (in a string literal or an
// operator).
func (d *dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
