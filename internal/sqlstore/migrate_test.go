package sqlstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

// TestOpenTwice opens the same database twice: the second Open applies
// nothing and keeps the data.
func TestOpenTwice(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	first, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, first, journal.Entry{Actor: "alice", Action: "apply"})
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	t.Cleanup(func() { second.Close() })
	checkContiguous(t, second, 1)
	// A migration applied twice would have failed above (CREATE TABLE) or
	// reset the head; the head still being at seq 1 shows it did not.
	if e := appendAll(t, second, journal.Entry{Actor: "alice", Action: "apply"})[0]; e.Seq != 2 {
		t.Errorf("Seq after reopening = %d, want 2", e.Seq)
	}
}

// TestOpenConcurrently opens a fresh database from several handles at
// once: they take turns to migrate, and exactly one does.
func TestOpenConcurrently(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	dbs := make([]*sqlstore.DB, 4)
	var g errgroup.Group
	for i := range dbs {
		g.Go(func() error {
			db, err := sqlstore.Open(t.Context(), dsn)
			dbs[i] = db
			return err
		})
	}
	err := g.Wait()
	for _, db := range dbs {
		if db != nil {
			t.Cleanup(func() { db.Close() })
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, dbs[0], journal.Entry{Actor: "alice", Action: "apply"})
	checkContiguous(t, dbs[3], 1)
}

// TestOpenNewerSchema refuses a database migrated by a newer phenix.
func TestOpenNewerSchema(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	db, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ExecRaw(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', '')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlstore.Open(t.Context(), dsn)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded on a schema from the future")
	}
	if !strings.Contains(err.Error(), "schema is at version 9999, newer than this phenix knows") {
		t.Errorf("Open error = %v", err)
	}
}

// TestOpenOddPath opens an SQLite file whose name holds characters with a
// meaning in URIs.
func TestOpenOddPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odd name?#%&.db")
	db, err := sqlstore.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	appendAll(t, db, journal.Entry{Actor: "alice", Action: "apply"})
	if _, err := os.Stat(path); err != nil {
		entries, _ := os.ReadDir(dir)
		t.Errorf("%v; the directory holds %v", err, entries)
	}
}
