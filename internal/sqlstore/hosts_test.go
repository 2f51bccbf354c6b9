package sqlstore_test

import (
	"errors"
	"fmt"
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
		"SetFacts":      db.SetFacts(t.Context(), "web-2", "web2", map[string]string{"os": "linux"}),
		"SetLastResult": db.SetLastResult(t.Context(), "web-2", "ok"),
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

// TestTouchHosts records heartbeats of several hosts at once.
func TestTouchHosts(t *testing.T) {
	db := sqlstoretest.Open(t)
	before, after := hostTime.Add(-time.Hour), hostTime.Add(time.Hour)
	for _, h := range []host.Host{
		{ID: "never", Status: host.Accepted},
		{ID: "late", Status: host.Accepted, LastSeen: before},
		{ID: "ahead", Status: host.Accepted, LastSeen: after},
		{ID: "untouched", Status: host.Accepted, LastSeen: before},
	} {
		if err := db.UpsertHost(t.Context(), h); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.TouchHosts(t.Context(), nil); err != nil {
		t.Errorf("TouchHosts(nil): %v", err)
	}
	seen := map[string]time.Time{"never": hostTime, "late": hostTime, "ahead": hostTime, "unknown": hostTime}
	if err := db.TouchHosts(t.Context(), seen); err != nil {
		t.Fatal(err)
	}
	hs, err := db.Hosts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, h := range hs {
		got[h.ID] = h.LastSeen
	}
	want := map[string]time.Time{"never": stored(hostTime), "late": stored(hostTime), "ahead": stored(after), "untouched": stored(before)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LastSeen (-want +got):\n%s", diff)
	}
}

func TestSetFactsAndLastResult(t *testing.T) {
	db := sqlstoretest.Open(t)
	h := host.Host{ID: "web-1", Hostname: "old", Labels: map[string]string{"role": "web"}, Facts: map[string]string{"os": "bsd"}, Status: host.Accepted}
	if err := db.UpsertHost(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		hostname string
		facts    map[string]string
		result   string
	}{
		{"web1.example.com", map[string]string{"os": "linux", "cpu.count": "8"}, "changed"},
		{"web1", nil, "failed"},
	} {
		if err := db.SetFacts(t.Context(), "web-1", tt.hostname, tt.facts); err != nil {
			t.Fatal(err)
		}
		if err := db.SetLastResult(t.Context(), "web-1", tt.result); err != nil {
			t.Fatal(err)
		}
		want := h
		want.Hostname, want.Facts, want.LastResult = tt.hostname, tt.facts, tt.result
		if got, err := db.Host(t.Context(), "web-1"); err != nil || !cmp.Equal(want, got) {
			t.Errorf("Host = %+v, %v; want %+v", got, err, want)
		}
	}
}

// BenchmarkTouchHosts10k records the heartbeats of 10,000 hosts in one
// call.
func BenchmarkTouchHosts10k(b *testing.B) {
	db := sqlstoretest.Open(b)
	seen := map[string]time.Time{}
	for i := range 10000 {
		h := host.Host{ID: fmt.Sprintf("host-%05d", i), Status: host.Accepted}
		if err := db.UpsertHost(b.Context(), h); err != nil {
			b.Fatal(err)
		}
		seen[h.ID] = hostTime
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for id := range seen {
			seen[id] = hostTime.Add(time.Duration(i) * time.Second)
		}
		if err := db.TouchHosts(b.Context(), seen); err != nil {
			b.Fatal(err)
		}
	}
}
