package server

import (
	"slices"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/selector"
)

// recount is what hostTable.accepted must agree with.
func recount(t *hostTable) int {
	n := 0
	for _, h := range t.hosts {
		if h.Status == host.Accepted {
			n++
		}
	}
	return n
}

func TestHostTableAccepted(t *testing.T) {
	tab := &hostTable{heartbeat: time.Second, hosts: map[string]*host.Host{}, dirty: map[string]time.Time{}}
	steps := []struct {
		name string
		do   func()
	}{
		{"put pending", func() { tab.put(host.Host{ID: "a", Status: host.Pending}) }},
		{"put accepted", func() { tab.put(host.Host{ID: "b", Status: host.Accepted}) }},
		{"put accepted again", func() { tab.put(host.Host{ID: "b", Status: host.Accepted, Hostname: "b2"}) }},
		{"accept", func() { tab.update("a", func(h *host.Host) { h.Status = host.Accepted }) }},
		{"label", func() { tab.update("a", func(h *host.Host) { h.Labels = map[string]string{"k": "v"} }) }},
		{"revoke", func() { tab.update("b", func(h *host.Host) { h.Status = host.Revoked }) }},
		{"enrol again", func() { tab.put(host.Host{ID: "b", Status: host.Accepted}) }},
		{"unknown", func() { tab.update("c", func(h *host.Host) { h.Status = host.Accepted }) }},
	}
	for _, st := range steps {
		st.do()
		if got, want := tab.accepted(), recount(tab); got != want {
			t.Fatalf("after %s: accepted() = %d, want %d", st.name, got, want)
		}
	}
}

func TestHostTableTargets(t *testing.T) {
	now := time.Now()
	tab := &hostTable{heartbeat: time.Second, hosts: map[string]*host.Host{}, dirty: map[string]time.Time{}}
	for _, h := range []host.Host{
		{ID: "web-2", Status: host.Accepted, LastSeen: now, Labels: map[string]string{"role": "web"}},
		{ID: "web-1", Status: host.Accepted, Labels: map[string]string{"role": "web"}}, // never seen: offline
		{ID: "web-3", Status: host.Revoked, LastSeen: now, Labels: map[string]string{"role": "web"}},
		{ID: "db-1", Status: host.Accepted, LastSeen: now, Labels: map[string]string{"role": "db"}},
	} {
		tab.put(h)
	}
	sel, err := selector.Parse("role=web")
	if err != nil {
		t.Fatal(err)
	}
	ids, offline := tab.targets(sel, now)
	if want := []string{"web-1", "web-2"}; !slices.Equal(ids, want) {
		t.Errorf("targets ids = %v, want %v", ids, want)
	}
	if want := []string{"web-1"}; !slices.Equal(offline, want) {
		t.Errorf("targets offline = %v, want %v", offline, want)
	}
}
