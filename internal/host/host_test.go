package host

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/selector"
)

func TestPresence(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	const timeout = time.Minute
	for _, tt := range []struct {
		name string
		h    Host
		want string
	}{
		{"pending", Host{Status: Pending, LastSeen: now}, "pending"},
		{"revoked", Host{Status: Revoked, LastSeen: now}, "revoked"},
		{"never seen", Host{Status: Accepted}, Offline},
		{"just seen", Host{Status: Accepted, LastSeen: now}, Online},
		{"seen within timeout", Host{Status: Accepted, LastSeen: now.Add(-timeout + time.Nanosecond)}, Online},
		{"seen timeout ago", Host{Status: Accepted, LastSeen: now.Add(-timeout)}, Offline},
		{"seen long ago", Host{Status: Accepted, LastSeen: now.Add(-time.Hour)}, Offline},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.Presence(now, timeout); got != tt.want {
				t.Errorf("Presence = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSelectable(t *testing.T) {
	h := Host{
		ID: "web-1", Hostname: "web1.example.com", Status: Accepted,
		Labels: map[string]string{"role": "web"},
		Facts:  map[string]string{"os": "linux"},
	}
	want := selector.Host{ID: "web-1", Labels: map[string]string{"role": "web"}, Facts: map[string]string{"os": "linux"}}
	if diff := cmp.Diff(want, h.Selectable()); diff != "" {
		t.Errorf("Selectable (-want +got):\n%s", diff)
	}
	s, err := selector.Parse("role=web,os!=windows,id=web-1")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Match(h.Selectable()) {
		t.Errorf("%v does not match %+v", s, h)
	}
}

func TestStatusValid(t *testing.T) {
	for s, want := range map[Status]bool{Pending: true, Accepted: true, Revoked: true, "": false, "online": false} {
		if got := s.Valid(); got != want {
			t.Errorf("Status(%q).Valid() = %v, want %v", s, got, want)
		}
	}
}
