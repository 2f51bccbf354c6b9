package host

import (
	"time"

	"github.com/phenixhq/phenix/internal/selector"
)

// Status is where a host stands in enrolment.
type Status string

const (
	// Pending is a host that enrolled and waits for an operator to accept it.
	Pending Status = "pending"
	// Accepted is a host the fleet manages.
	Accepted Status = "accepted"
	// Revoked is a host refused or removed; its credentials no longer work.
	Revoked Status = "revoked"
)

// Valid reports whether s is one of Pending, Accepted and Revoked.
func (s Status) Valid() bool {
	return s == Pending || s == Accepted || s == Revoked
}

// The presences of an accepted host; see Host.Presence.
const (
	Online  = "online"
	Offline = "offline"
)

// Host is a machine running phenix agent.
type Host struct {
	ID       string // stable, chosen at enrolment
	Hostname string
	Labels   map[string]string // given by operators and join tokens
	Facts    map[string]string // reported by the agent, flattened (selector.FlattenFacts)
	Status   Status

	EnrolledAt time.Time
	LastSeen   time.Time // the last heartbeat; zero if none yet
	LastResult string    // the result of the last run on the host: ok, changed, failed, …
}

// Presence returns "pending" or "revoked" for a host with that Status, and
// for an accepted host "online" when it was seen less than timeout before
// now, "offline" otherwise (or when it was never seen).
func (h Host) Presence(now time.Time, timeout time.Duration) string {
	if h.Status != Accepted {
		return string(h.Status)
	}
	if h.LastSeen.IsZero() || now.Sub(h.LastSeen) >= timeout {
		return Offline
	}
	return Online
}

// Selectable returns what a selector matches of h. It shares h's maps.
func (h Host) Selectable() selector.Host {
	return selector.Host{ID: h.ID, Labels: h.Labels, Facts: h.Facts}
}
