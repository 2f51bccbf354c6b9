package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/host"
)

// simIndex returns i for the id of simulated host i, else -1.
func simIndex(id string) int {
	s, ok := strings.CutPrefix(id, "sim-")
	if !ok || len(s) != 5 {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// reconcile leaves exactly the simulated hosts 0 … n-1 accepted, so that a
// job on "*" targets the fleet of this phase: in a work directory used
// before (-dir), hosts of a larger fleet, and the idle agent, are revoked;
// simulated hosts revoked then are accepted again.
func reconcile(ctx context.Context, c *api.Client, n int, logf func(string, ...any)) error {
	hl, err := c.Hosts(ctx, "")
	if err != nil {
		return fmt.Errorf("hosts: %w", err)
	}
	revoked, accepted := 0, 0
	for _, h := range hl.Hosts {
		i := simIndex(h.ID)
		want := i >= 0 && i < n
		action := ""
		switch {
		case want && (h.Status == string(host.Revoked) || h.Status == string(host.Pending)):
			action, accepted = "accept", accepted+1
		case !want && (h.Status == host.Online || h.Status == host.Offline):
			action, revoked = "revoke", revoked+1
		}
		if action == "" {
			continue
		}
		if err := c.Do(ctx, "POST", "/api/v1/hosts/"+url.PathEscape(h.ID)+"/"+action, nil, nil); err != nil {
			return fmt.Errorf("%s %s: %w", action, h.ID, err)
		}
	}
	if revoked+accepted > 0 {
		logf("%d hosts: revoked %d hosts outside the fleet, accepted %d again", n, revoked, accepted)
	}
	return nil
}

// fleetPresence counts the simulated hosts 0 … n-1 that the server shows
// online and seen since since; the others are stale.
func fleetPresence(ctx context.Context, c *api.Client, n int, since time.Time) (online, stale int, err error) {
	hl, err := c.Hosts(ctx, "")
	if err != nil {
		return 0, 0, fmt.Errorf("hosts: %w", err)
	}
	for _, h := range hl.Hosts {
		if i := simIndex(h.ID); i >= 0 && i < n && h.Status == host.Online && !h.LastSeen.Before(since) {
			online++
		}
	}
	return online, n - online, nil
}

// waitOnline waits until the server shows all n simulated hosts online.
func waitOnline(ctx context.Context, c *api.Client, n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		online, _, err := fleetPresence(ctx, c, n, time.Time{})
		if err != nil {
			return err
		}
		if online == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server shows %d of %d hosts online after %v", online, n, within)
		}
		if err := benchkit.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
