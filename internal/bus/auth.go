package bus

import (
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/phenixhq/phenix/internal/pki"
)

// Usernames the bus gives connections, as NATS logs and reports them.
const (
	hostUserPrefix = "host:"
	serverUser     = "server"
)

// authenticator admits connections by their verified client certificate
// (server.Options.CustomClientAuthentication) and keeps, for Kick, the
// connection ids of every host it admitted.
//
// Lock order: authenticator.mu, then the NATS server's own locks
// (alive). NATS calls Check with none of its locks held.
type authenticator struct {
	log       *slog.Logger
	authorize func(hostID string) bool
	alive     func(cid uint64) bool // whether connection cid is still open; set before the server starts

	mu    sync.Mutex
	kicks uint64                         // number of kick calls, to detect one during authorize
	conns map[string]map[uint64]struct{} // host id → ids of the connections admitted for it
}

var _ server.Authentication = (*authenticator)(nil)

// Check admits a connection whose verified client certificate names the
// server, or a host that authorize accepts, and gives it the permissions
// of that identity. A connection may not outlive its certificate.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	log := a.log.With("remote", addr(c), "cid", c.GetID())
	st := c.GetTLSConnectionState()
	if st == nil || len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		log.Warn("connection refused: no verified client certificate")
		return false
	}
	leaf := st.PeerCertificates[0]
	id, isServer, err := pki.HostID(leaf)
	if err != nil {
		log.Warn("connection refused", "err", err)
		return false
	}
	if isServer {
		c.RegisterUser(&server.User{Username: serverUser, ConnectionDeadline: leaf.NotAfter})
		return true
	}
	if !a.admit(id, c.GetID()) {
		log.Info("connection refused: host not authorised", "host_id", id)
		return false
	}
	c.RegisterUser(&server.User{
		Username:           hostUserPrefix + id,
		Permissions:        hostPermissions(id),
		ConnectionDeadline: leaf.NotAfter,
	})
	return true
}

// hostPermissions returns what host id may do on the bus: publish under
// its up subjects, receive under its down subjects and its inbox, and
// answer once, within a minute, a request it received.
func hostPermissions(id string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{Up(id, ">")}},
		Subscribe: &server.SubjectPermission{Allow: []string{Down(id, ">"), InboxPrefix(id) + ".>"}},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// admit asks authorize about host id and, if it agrees, records connection
// cid as one of the host's. A kick of any host while authorize runs makes
// admit ask again: the caller of Kick revokes the host first, so either
// admit sees the revocation, or the kick finds cid.
func (a *authenticator) admit(id string, cid uint64) bool {
	for {
		a.mu.Lock()
		kicks := a.kicks
		a.mu.Unlock()
		if !a.authorize(id) {
			return false
		}
		a.mu.Lock()
		if a.kicks != kicks {
			a.mu.Unlock()
			continue
		}
		set := a.conns[id]
		if set == nil {
			set = map[uint64]struct{}{}
			a.conns[id] = set
		}
		for old := range set { // forget closed connections, so the map does not grow
			if !a.alive(old) {
				delete(set, old)
			}
		}
		set[cid] = struct{}{}
		a.mu.Unlock()
		return true
	}
}

// kick forgets the connections of host id and returns their ids.
func (a *authenticator) kick(id string) []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kicks++
	var cids []uint64
	for cid := range a.conns[id] {
		cids = append(cids, cid)
	}
	delete(a.conns, id)
	return cids
}

// addr returns the remote address of c for logs.
func addr(c server.ClientAuthentication) string {
	if a := c.RemoteAddress(); a != nil {
		return a.String()
	}
	return ""
}
