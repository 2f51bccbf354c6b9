package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/selector"
	"github.com/phenixhq/phenix/internal/sqlstore"
)

// hostTable is the in-memory view of the fleet: the store's hosts plus the
// heartbeats not written yet. Selectors are matched against it, so that a
// job on 10,000 hosts does not read 10,000 rows first.
type hostTable struct {
	heartbeat time.Duration
	mu        sync.RWMutex
	hosts     map[string]*host.Host
	nAccepted int                  // hosts with status accepted, kept by put and update: every Hello asks
	dirty     map[string]time.Time // heartbeats to write
}

func loadHosts(ctx context.Context, db *sqlstore.DB, heartbeat time.Duration) (*hostTable, error) {
	hs, err := db.Hosts(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	t := &hostTable{heartbeat: heartbeat, hosts: make(map[string]*host.Host, len(hs)), dirty: map[string]time.Time{}}
	for i := range hs {
		t.hosts[hs[i].ID] = &hs[i]
		if hs[i].Status == host.Accepted {
			t.nAccepted++
		}
	}
	return t, nil
}

// presenceTimeout is how long after its last heartbeat a host is offline.
func (t *hostTable) presenceTimeout() time.Duration { return 3*t.heartbeat + time.Second }

func (t *hostTable) authorized(id string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h := t.hosts[id]
	return h != nil && h.Status == host.Accepted
}

func (t *hostTable) count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.hosts)
}

// accepted returns how many hosts are accepted.
func (t *hostTable) accepted() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.nAccepted
}

// countLocked counts h, accepted or not, in nAccepted with sign +1 or -1.
func (t *hostTable) countLocked(h *host.Host, sign int) {
	if h != nil && h.Status == host.Accepted {
		t.nAccepted += sign
	}
}

// get returns a copy of host id.
func (t *hostTable) get(id string) (host.Host, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h := t.hosts[id]
	if h == nil {
		return host.Host{}, false
	}
	return clone(h), true
}

// lastSeen returns the last heartbeat of host id, without copying the host.
func (t *hostTable) lastSeen(id string) (time.Time, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h := t.hosts[id]
	if h == nil {
		return time.Time{}, false
	}
	return h.LastSeen, true
}

func clone(h *host.Host) host.Host {
	c := *h
	c.Labels = maps.Clone(h.Labels)
	c.Facts = maps.Clone(h.Facts)
	return c
}

// put stores a copy of h in the table (after the store has it).
func (t *hostTable) put(h host.Host) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := clone(&h)
	old := t.hosts[h.ID]
	if old != nil && old.LastSeen.After(c.LastSeen) {
		c.LastSeen = old.LastSeen
	}
	t.countLocked(old, -1)
	t.countLocked(&c, +1)
	t.hosts[h.ID] = &c
}

// update changes host id in the table with fn.
func (t *hostTable) update(id string, fn func(h *host.Host)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.hosts[id]; h != nil {
		t.countLocked(h, -1)
		fn(h)
		t.countLocked(h, +1)
	}
}

// seen records a heartbeat of host id; it is written to the store by flush.
func (t *hostTable) seen(id string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.hosts[id]; h != nil {
		h.LastSeen = at
		t.dirty[id] = at
	}
}

// match returns the hosts sel matches, sorted by id. Only accepted hosts
// match unless all is set (the hosts listing shows pending and revoked
// ones too).
func (t *hostTable) match(sel selector.Selector, all bool) []host.Host {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []host.Host
	for _, h := range t.hosts {
		if !all && h.Status != host.Accepted {
			continue
		}
		if sel.Match(h.Selectable()) {
			out = append(out, clone(h))
		}
	}
	slices.SortFunc(out, func(a, b host.Host) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// targets returns the ids of the accepted hosts sel matches, sorted, and
// those of them that are not online at now: the hosts of a job. Unlike
// match it copies no host, which for a job on 10,000 hosts is 20,000 maps
// cloned and dropped.
func (t *hostTable) targets(sel selector.Selector, now time.Time) (ids, offline []string) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	timeout := t.presenceTimeout()
	for id, h := range t.hosts {
		if h.Status == host.Accepted && sel.Match(h.Selectable()) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if t.hosts[id].Presence(now, timeout) != host.Online {
			offline = append(offline, id)
		}
	}
	return ids, offline
}

// hostname returns the host name of host id, "" for an unknown host.
func (t *hostTable) hostname(id string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if h := t.hosts[id]; h != nil {
		return h.Hostname
	}
	return ""
}

// acceptedIDs returns the ids of every accepted host.
func (t *hostTable) acceptedIDs() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for id, h := range t.hosts {
		if h.Status == host.Accepted {
			out = append(out, id)
		}
	}
	return out
}

// flush writes heartbeats to the store every second until ctx ends.
func (t *hostTable) flush(ctx context.Context, db *sqlstore.DB, log *slog.Logger) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.flushOnce(ctx, db, log)
		}
	}
}

func (t *hostTable) flushOnce(ctx context.Context, db *sqlstore.DB, log *slog.Logger) {
	t.mu.Lock()
	batch := t.dirty
	t.dirty = map[string]time.Time{}
	t.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := db.TouchHosts(ctx, batch); err != nil {
		log.Warn("store heartbeats", "hosts", len(batch), "err", err)
		t.mu.Lock()
		for id, at := range batch {
			if cur, ok := t.dirty[id]; !ok || cur.Before(at) {
				t.dirty[id] = at
			}
		}
		t.mu.Unlock()
	}
}

// randomToken returns prefix followed by n random bytes in hex.
func randomToken(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("server: random: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// newJobID returns a job id that sorts by time: j-20261122-061502-3fa9c1.
func newJobID(now time.Time) (string, error) {
	r, err := randomToken("", 3)
	if err != nil {
		return "", err
	}
	return "j-" + now.UTC().Format("20060102-150405") + "-" + r, nil
}
