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

func TestSecrets(t *testing.T) {
	db := sqlstoretest.Open(t)
	if ss, err := db.Secrets(t.Context()); err != nil || len(ss) != 0 {
		t.Errorf("Secrets of a new database = %v, %v; want none", ss, err)
	}
	all := sqlstore.Secret{Name: "db_password", Selector: "*", Sealed: allBytes(), UpdatedBy: "alice", UpdatedAt: hostTime}
	web := sqlstore.Secret{Name: "db_password", Selector: "role=web", Sealed: []byte{1}, UpdatedBy: "alice", UpdatedAt: hostTime}
	key := sqlstore.Secret{Name: "API_KEY", Selector: "*", Sealed: []byte{0}, UpdatedBy: "bob", UpdatedAt: hostTime}
	for _, s := range []sqlstore.Secret{web, all, key} {
		if err := db.PutSecret(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	// Putting again replaces the value of the same name and selector.
	web.Sealed, web.UpdatedBy, web.UpdatedAt = []byte{2, 3}, "carol", hostTime.Add(time.Hour)
	if err := db.PutSecret(t.Context(), web); err != nil {
		t.Fatal(err)
	}
	want := []sqlstore.Secret{key, all, web}
	for i := range want {
		want[i].UpdatedAt = stored(want[i].UpdatedAt)
	}
	got, err := db.Secrets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Secrets (-want +got):\n%s", diff)
	}

	if err := db.DeleteSecret(t.Context(), "db_password", "*"); err != nil {
		t.Fatal(err)
	}
	err = db.DeleteSecret(t.Context(), "db_password", "*")
	if !errors.Is(err, sqlstore.ErrNotFound) || !strings.Contains(err.Error(), "db_password") {
		t.Errorf("DeleteSecret of a missing secret: error = %v, want ErrNotFound naming it", err)
	}
	if got, err := db.Secrets(t.Context()); err != nil || !cmp.Equal([]sqlstore.Secret{want[0], want[2]}, got) {
		t.Errorf("Secrets after DeleteSecret = %v, %v", got, err)
	}
}

func TestPutSecretInvalid(t *testing.T) {
	db := sqlstoretest.Open(t)
	for _, tt := range []struct {
		s       sqlstore.Secret
		wantErr string
	}{
		{sqlstore.Secret{Name: "", Selector: "*", Sealed: []byte{1}}, `store secret "": name: want a letter or _ then letters, digits or _`},
		{sqlstore.Secret{Name: "1x", Selector: "*", Sealed: []byte{1}}, `store secret "1x": name:`},
		{sqlstore.Secret{Name: "a-b", Selector: "*", Sealed: []byte{1}}, `store secret "a-b": name:`},
		{sqlstore.Secret{Name: "x", Sealed: []byte{1}}, `store secret x: no selector ("*" selects every host)`},
		{sqlstore.Secret{Name: "x", Selector: "*"}, `store secret x for *: no sealed value`},
	} {
		t.Run(tt.s.Name, func(t *testing.T) {
			if err := db.PutSecret(t.Context(), tt.s); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("PutSecret(%+v) error = %v, want %q", tt.s, err, tt.wantErr)
			}
		})
	}
}
