package sqlstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

// hostTime is a time below the microsecond, in another zone than UTC, to
// check that times are stored in UTC and truncated.
var hostTime = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))

// stored returns t as the store gives it back.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func TestHostsRoundTrip(t *testing.T) {
	db := sqlstoretest.Open(t)
	web := host.Host{
		ID: "web-1", Hostname: "web1.example.com",
		Labels: map[string]string{"role": "web", "env": "prod"},
		Facts:  map[string]string{"os": "linux", "note": `"quoted" \ é ☃`},
		Status: host.Accepted, EnrolledAt: hostTime, LastSeen: hostTime.Add(time.Minute), LastResult: "changed",
	}
	bare := host.Host{ID: "a-db", Status: host.Pending, Labels: map[string]string{}}
	for _, h := range []host.Host{web, bare} {
		if err := db.UpsertHost(t.Context(), h); err != nil {
			t.Fatal(err)
		}
	}
	wantWeb := web
	wantWeb.EnrolledAt, wantWeb.LastSeen = stored(web.EnrolledAt), stored(web.LastSeen)
	wantBare := bare
	wantBare.Labels = nil

	got, err := db.Host(t.Context(), "web-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantWeb, got); diff != "" {
		t.Errorf("Host (-want +got):\n%s", diff)
	}
	if got.LastSeen.Location() != time.UTC {
		t.Errorf("LastSeen is in %v, want UTC", got.LastSeen.Location())
	}
	all, err := db.Hosts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]host.Host{wantBare, wantWeb}, all); diff != "" {
		t.Errorf("Hosts (-want +got):\n%s", diff)
	}

	// Upserting again replaces every field.
	web2 := host.Host{ID: "web-1", Hostname: "web1", Status: host.Revoked, EnrolledAt: hostTime, LastResult: "failed"}
	if err := db.UpsertHost(t.Context(), web2); err != nil {
		t.Fatal(err)
	}
	web2.EnrolledAt = stored(web2.EnrolledAt)
	if got, err := db.Host(t.Context(), "web-1"); err != nil || !cmp.Equal(web2, got) {
		t.Errorf("Host after a second upsert = %+v, %v; want %+v", got, err, web2)
	}
}

func TestHostsEmpty(t *testing.T) {
	db := sqlstoretest.Open(t)
	hs, err := db.Hosts(t.Context())
	if err != nil || len(hs) != 0 {
		t.Errorf("Hosts = %v, %v; want none", hs, err)
	}
}

func TestUpsertHostInvalid(t *testing.T) {
	db := sqlstoretest.Open(t)
	for _, tt := range []struct {
		h       host.Host
		wantErr string
	}{
		{host.Host{Status: host.Pending}, "store host : host has no id"},
		{host.Host{ID: "x", Status: "online"}, `store host x: status "online": want pending, accepted or revoked`},
		{host.Host{ID: "x", Status: host.Pending, Labels: map[string]string{"Role": "web"}}, `store host x: label key "Role"`},
	} {
		if err := db.UpsertHost(t.Context(), tt.h); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("UpsertHost(%+v) error = %v, want %q", tt.h, err, tt.wantErr)
		}
	}
}

func TestHostNotFound(t *testing.T) {
	db := sqlstoretest.Open(t)
	if err := db.UpsertHost(t.Context(), host.Host{ID: "web-1", Status: host.Pending}); err != nil {
		t.Fatal(err)
	}
	_, err := db.Host(t.Context(), "web-2")
	errs := map[string]error{
		"Host":          err,
		"SetHostStatus": db.SetHostStatus(t.Context(), "web-2", host.Accepted),
		"SetLabels":     db.SetLabels(t.Context(), "web-2", map[string]string{"role": "web"}),
		"TouchHost":     db.TouchHost(t.Context(), "web-2", hostTime),
	}
	for name, err := range errs {
		if !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("%s of a missing host: error = %v, want ErrNotFound", name, err)
		} else if !strings.Contains(err.Error(), "web-2") {
			t.Errorf("%s of a missing host: error %q does not name it", name, err)
		}
	}
}

func TestHostUpdates(t *testing.T) {
	db := sqlstoretest.Open(t)
	h := host.Host{ID: "web-1", Hostname: "web1", Labels: map[string]string{"role": "web"}, Status: host.Pending, EnrolledAt: hostTime}
	if err := db.UpsertHost(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	other := host.Host{ID: "web-2", Status: host.Pending}
	if err := db.UpsertHost(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	if err := db.SetHostStatus(t.Context(), "web-1", host.Accepted); err != nil {
		t.Fatal(err)
	}
	if err := db.SetHostStatus(t.Context(), "web-1", "online"); err == nil {
		t.Errorf("SetHostStatus(online) succeeded")
	}
	if err := db.SetLabels(t.Context(), "web-1", map[string]string{"role": "db", "env": "prod"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetLabels(t.Context(), "web-1", map[string]string{"bad key": "x"}); err == nil {
		t.Errorf("SetLabels(bad key) succeeded")
	}
	seen := hostTime.Add(time.Hour)
	if err := db.TouchHost(t.Context(), "web-1", seen); err != nil {
		t.Fatal(err)
	}
	// An older heartbeat arriving late does not move LastSeen back.
	if err := db.TouchHost(t.Context(), "web-1", seen.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := h
	want.Status = host.Accepted
	want.Labels = map[string]string{"role": "db", "env": "prod"}
	want.EnrolledAt = stored(h.EnrolledAt)
	want.LastSeen = stored(seen)
	got, err := db.Host(t.Context(), "web-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Host after updates (-want +got):\n%s", diff)
	}
	if got.Presence(seen.Add(time.Second), time.Minute) != host.Online {
		t.Errorf("Presence = %s, want online", got.Presence(seen.Add(time.Second), time.Minute))
	}
	// Clearing labels stores none.
	if err := db.SetLabels(t.Context(), "web-1", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Host(t.Context(), "web-1"); err != nil || got.Labels != nil {
		t.Errorf("Labels after clearing = %v, %v; want nil", got.Labels, err)
	}
	// The other host was not touched.
	if got, err := db.Host(t.Context(), "web-2"); err != nil || !cmp.Equal(other, got) {
		t.Errorf("other host = %+v, %v; want %+v", got, err, other)
	}
}

// TestHostsSurviveReopen opens a database with hosts again: migrations are
// not applied twice and the rows stay.
func TestHostsSurviveReopen(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	first, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	h := host.Host{ID: "web-1", Status: host.Accepted}
	if err := first.UpsertHost(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	first.Close()
	for range 2 {
		db, err := sqlstore.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open again: %v", err)
		}
		got, err := db.Hosts(t.Context())
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]host.Host{h}, got); diff != "" {
			t.Errorf("Hosts after reopening (-want +got):\n%s", diff)
		}
	}
}
