package sqlstore

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestRebind(t *testing.T) {
	for _, tt := range []struct {
		d        *dialect
		in, want string
	}{
		{sqliteDialect, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = ? AND c = ?"},
		{postgresDialect, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{postgresDialect, "SELECT 'é' FROM t", "SELECT 'é' FROM t"},
		{postgresDialect, "VALUES (?, ?), (?, ?), (?, ?), (?, ?), (?, ?), (?, ?)", "VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8), ($9, $10), ($11, $12)"},
	} {
		if got := tt.d.rebind(tt.in); got != tt.want {
			t.Errorf("%s rebind(%q) = %q, want %q", tt.d.name, tt.in, got, tt.want)
		}
	}
}

func TestParseDSN(t *testing.T) {
	for _, tt := range []struct {
		dsn                  string
		dialect              string
		name, write, read    string
		wantErr, mustNotLeak string
	}{
		{
			dsn: "sqlite:/var/lib/phenix/phenix.db", dialect: "sqlite", name: "sqlite:/var/lib/phenix/phenix.db",
			write: "file:/var/lib/phenix/phenix.db?_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_txlock=immediate",
			read:  "file:/var/lib/phenix/phenix.db?_busy_timeout=10000&_foreign_keys=1&_query_only=1&_txlock=immediate",
		},
		{
			dsn: "sqlite:/tmp/odd name?#%.db", dialect: "sqlite", name: "sqlite:/tmp/odd name?#%.db",
			write: "file:/tmp/odd%20name%3F%23%25.db?_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_txlock=immediate",
			read:  "file:/tmp/odd%20name%3F%23%25.db?_busy_timeout=10000&_foreign_keys=1&_query_only=1&_txlock=immediate",
		},
		{
			dsn: "postgres://phenix:s3cret@db:5432/phenix?sslmode=disable", dialect: "postgres",
			name: "postgres://phenix:xxxxx@db:5432/phenix?sslmode=disable", write: "postgres://phenix:s3cret@db:5432/phenix?sslmode=disable",
		},
		{dsn: "postgresql://db/phenix", dialect: "postgres", name: "postgresql://db/phenix", write: "postgresql://db/phenix"},
		{dsn: "sqlite:", wantErr: `database "sqlite:" names no file: want sqlite:<path>`},
		{dsn: "sqlite::memory:", wantErr: `database "sqlite::memory:": want sqlite:<path> of a file`},
		{dsn: "/var/lib/phenix.db", wantErr: `database "/var/lib/phenix.db": want sqlite:<path> or postgres://…`},
		{dsn: "mysql://root:s3cret@db/phenix", wantErr: `database "mysql:…": want sqlite:<path> or postgres://…`},
		{dsn: "postgres://phenix:s3cret@db:bad/phenix", wantErr: "database postgres://…: not a valid URL"},
	} {
		t.Run(tt.dsn, func(t *testing.T) {
			d, name, write, read, err := parseDSN(tt.dsn)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseDSN error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{d.name, name, write, read}
			want := []string{tt.dialect, tt.name, tt.write, tt.read}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parseDSN(%q) dialect, name, write, read (-want +got):\n%s", tt.dsn, diff)
			}
			if strings.Contains(name, "s3cret") {
				t.Errorf("name %q shows the password", name)
			}
		})
	}
}

func TestMigrations(t *testing.T) {
	files := func(names ...string) fstest.MapFS {
		m := fstest.MapFS{}
		for _, n := range names {
			m["migrations/"+n] = &fstest.MapFile{Data: []byte("-- " + n)}
		}
		return m
	}
	for _, tt := range []struct {
		name    string
		fs      fstest.MapFS
		dialect string
		want    []string
		wantErr string
	}{
		{name: "none", fs: files(), dialect: "sqlite"},
		{
			name:    "ordered by number",
			fs:      files("0010_ten.sql", "0002_two.sql", "0001_one.sql"),
			dialect: "postgres",
			want:    []string{"0001_one.sql", "0002_two.sql", "0010_ten.sql"},
		},
		{
			name:    "dialect only",
			fs:      files("0001_one.sql", "0002_two.sqlite.sql", "0002_two.postgres.sql", "0003_three.postgres.sql"),
			dialect: "sqlite",
			want:    []string{"0001_one.sql", "0002_two.sqlite.sql"},
		},
		{name: "no number", fs: files("journal.sql"), dialect: "sqlite", wantErr: "migration journal.sql: want NNNN_name.sql or NNNN_name.<dialect>.sql"},
		{name: "no name", fs: files("0001_.sql"), dialect: "sqlite", wantErr: "migration 0001_.sql: want NNNN_name.sql or NNNN_name.<dialect>.sql"},
		{name: "zero", fs: files("0000_zero.sql"), dialect: "sqlite", wantErr: "migration 0000_zero.sql: want NNNN_name.sql or NNNN_name.<dialect>.sql"},
		{name: "unknown dialect", fs: files("0001_one.mysql.sql"), dialect: "sqlite", wantErr: `migration 0001_one.mysql.sql: unknown dialect "mysql", want sqlite or postgres`},
		{name: "same number", fs: files("0001_one.sql", "0001_uno.sql"), dialect: "sqlite", wantErr: "migrations 0001_one.sql and 0001_uno.sql have the same number"},
		{name: "same number as dialect one", fs: files("0001_one.sql", "0001_one.sqlite.sql"), dialect: "sqlite", wantErr: "migrations 0001_one.sql and 0001_one.sqlite.sql have the same number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := migrations(tt.fs, tt.dialect)
			if e := errString(err); e != tt.wantErr {
				t.Fatalf("migrations error = %q, want %q", e, tt.wantErr)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.name)
				if m.sql != "-- "+m.name {
					t.Errorf("%s holds %q", m.name, m.sql)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("migrations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEmbeddedMigrations checks the files shipped in migrations/.
func TestEmbeddedMigrations(t *testing.T) {
	for _, d := range []*dialect{sqliteDialect, postgresDialect} {
		ms, err := migrations(migrationFiles, d.name)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range ms {
			if m.version != int64(i+1) {
				t.Errorf("%s: migration %s is number %d, want %d: numbers have no gap", d.name, m.name, m.version, i+1)
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
