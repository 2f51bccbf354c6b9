package sqlstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

func TestUsers(t *testing.T) {
	db := sqlstoretest.Open(t)
	if us, err := db.Users(t.Context()); err != nil || len(us) != 0 {
		t.Errorf("Users of a new database = %v, %v; want none", us, err)
	}
	alice := sqlstore.User{Name: "alice", Admin: true, CreatedBy: "phenix up", CreatedAt: hostTime}
	bob := sqlstore.User{Name: "bob", CreatedBy: "alice", CreatedAt: hostTime.Add(time.Minute)}
	for _, tt := range []struct {
		name     string
		user     sqlstore.User
		hash     string
		wantErr  string
		conflict bool
	}{
		{name: "bob", user: bob, hash: sha('b')},
		{name: "alice", user: alice, hash: sha('a')},
		{name: "a name taken", user: sqlstore.User{Name: "bob", CreatedBy: "alice"}, hash: sha('c'), wantErr: "user bob exists", conflict: true},
		{name: "a token hash taken", user: sqlstore.User{Name: "carol"}, hash: sha('a'), wantErr: "create user carol"},
		{name: "no name", user: sqlstore.User{}, hash: sha('d'), wantErr: "no name"},
		{name: "not a hash", user: sqlstore.User{Name: "dave"}, hash: "secret", wantErr: "token hash"},
	} {
		err := db.CreateUser(t.Context(), tt.user, tt.hash)
		if tt.wantErr == "" {
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, sqlstore.ErrConflict) != tt.conflict {
			t.Errorf("%s: error = %v, want one saying %q (ErrConflict: %v)", tt.name, err, tt.wantErr, tt.conflict)
		}
	}
	users := func() []sqlstore.User {
		t.Helper()
		us, err := db.Users(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return us
	}
	wantAlice, wantBob := alice, bob
	wantAlice.CreatedAt, wantBob.CreatedAt = stored(alice.CreatedAt), stored(bob.CreatedAt)
	if diff := cmp.Diff([]sqlstore.User{wantAlice, wantBob}, users()); diff != "" {
		t.Errorf("Users (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		hash string
		want sqlstore.User
	}{{sha('a'), wantAlice}, {sha('b'), wantBob}} {
		if got, err := db.UserByTokenHash(t.Context(), tt.hash); err != nil || !cmp.Equal(tt.want, got) {
			t.Errorf("UserByTokenHash(%.8s…) = %+v, %v; want %+v", tt.hash, got, err, tt.want)
		}
	}
	_, err := db.UserByTokenHash(t.Context(), sha('c'))
	if !errors.Is(err, sqlstore.ErrNotFound) || strings.Contains(err.Error(), sha('c')) {
		t.Errorf("UserByTokenHash of an unknown hash: error = %v, want ErrNotFound not repeating the hash", err)
	}

	if err := db.DeleteUser(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(t.Context(), "bob"); !errors.Is(err, sqlstore.ErrNotFound) || !strings.Contains(err.Error(), "bob") {
		t.Errorf("DeleteUser of a missing user: error = %v, want ErrNotFound naming it", err)
	}
	if _, err := db.UserByTokenHash(t.Context(), sha('b')); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("the token of a deleted user still works: %v", err)
	}
	if diff := cmp.Diff([]sqlstore.User{wantAlice}, users()); diff != "" {
		t.Errorf("Users after DeleteUser (-want +got):\n%s", diff)
	}
	// The name is free again, with a new token.
	if err := db.CreateUser(t.Context(), bob, sha('e')); err != nil {
		t.Errorf("CreateUser of a deleted name: %v", err)
	}
}
